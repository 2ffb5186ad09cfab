// The peers' legacy dialect translator, table-driven: every native message
// a peer sends and every text the original implementation sends, and the
// gossip identities that keep echoes from counting twice. Pure: no sockets.
#include "protocols/peers/legacy.hpp"

#include <gtest/gtest.h>

#include "protocols/common/endpoints.hpp"
#include "protocols/peers/wire.hpp"
#include "protocols/seeds/wire.hpp"

namespace confab::peers {
namespace {

seam::node_id id(const char* text) { return *endpoints::parse_endpoint(text); }

const seam::node_id self = id("127.0.4.20:9000");
const seam::node_id seed = id("127.0.0.1:7001");
const seam::node_id neighbour = id("127.0.4.11:9001");

std::string text_of(const legacy_translator::translation& t) { return t.texts.empty() ? "" : t.texts[0].text; }

TEST(legacy_translator, native_messages_become_the_original_texts) {
  struct row {
    const char* what;
    seam::node_id to;
    std::vector<std::byte> message;
    std::string text;  // "" when nothing is sent
  };
  gossip g;
  g.origin = self;
  g.seq = 3;
  g.body = "1700:127.0.4.20:3";
  const std::vector<row> rows = {
      {"registration", seed, seeds::encode(seeds::register_request{.request_id = 5}), "127.0.4.20:9000"},
      {"PL refresh", seed, seeds::encode(seeds::pl_request{.request_id = 6}), "127.0.4.20:9000"},
      {"dead report", seed, seeds::encode(seeds::dead_report{.suspect = neighbour, .reporter = self, .timestamp_ms = 77}),
       "Dead Node:127.0.4.11:9001:77:127.0.4.20"},
      {"ping", neighbour, encode(ping{.seq = 9}), "(PEER)PING:127.0.4.20:9000"},
      {"pong", neighbour, encode(pong{.seq = 9}), "(PEER)PING_REPLY:127.0.4.20:9000"},
      {"gossip", neighbour, encode(g), "1700:127.0.4.20:3"},
      {"prune (no legacy form)", neighbour, encode(prune{}), ""},
  };
  for (const auto& r : rows) {
    legacy_translator t(self, {seed});
    auto out = t.outgoing(r.to, r.message);
    ASSERT_TRUE(out) << r.what;
    EXPECT_EQ(text_of(*out), r.text) << r.what;
    if (!r.text.empty()) {
      EXPECT_EQ(out->texts[0].to, r.to) << r.what;
    }
  }
}

TEST(legacy_translator, a_link_request_is_accepted_at_once_on_the_peers_behalf) {
  legacy_translator t(self, {seed});
  auto out = t.outgoing(neighbour, encode(link_request{}));
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->texts.empty());
  ASSERT_EQ(out->messages.size(), 1u);
  EXPECT_EQ(out->messages[0].from, neighbour);
  auto m = decode(out->messages[0].message);
  ASSERT_TRUE(m);
  EXPECT_TRUE(std::holds_alternative<link_accept>(*m));
}

TEST(legacy_translator, a_seeds_answer_is_the_pl_for_the_pending_registration) {
  legacy_translator t(self, {seed});
  ASSERT_TRUE(t.outgoing(seed, seeds::encode(seeds::register_request{.request_id = 42})));
  auto in = t.incoming(seed, "127.0.4.11:9001\n127.0.4.20:9000\ngarbage\n");
  ASSERT_TRUE(in && *in);
  auto m = seeds::decode((*in)->message);
  ASSERT_TRUE(m);
  const auto& reply = std::get<seeds::register_reply>(*m);
  EXPECT_EQ(reply.request_id, 42u);
  EXPECT_EQ(reply.peers, (std::vector<seam::node_id>{neighbour, self}));
  EXPECT_EQ(reply.pl_size, 2u);
}

TEST(legacy_translator, texts_from_the_original_become_native_messages) {
  legacy_translator t(self, {seed});
  ASSERT_TRUE(t.outgoing(neighbour, encode(ping{.seq = 17})));
  const seam::node_id source = id("127.0.4.11:40000");  // an ephemeral port
  auto reply = t.incoming(source, "(PEER)PING_REPLY:127.0.4.11:9001");
  ASSERT_TRUE(reply && *reply);
  EXPECT_EQ((*reply)->from, neighbour);
  EXPECT_EQ(std::get<pong>(*decode((*reply)->message)).seq, 17u);  // answers the last ping sent

  auto pinged = t.incoming(source, "(PEER)PING:127.0.4.11:9001");
  ASSERT_TRUE(pinged && *pinged);
  EXPECT_TRUE(std::holds_alternative<ping>(*decode((*pinged)->message)));

  auto added = t.incoming(id("127.0.0.1:50000"), "(SEED)ADDED NEW NODE TO NETWORK:7001:127.0.4.12:9002");
  ASSERT_TRUE(added && *added);
  EXPECT_EQ((*added)->from, seed);
  EXPECT_EQ(std::get<seeds::register_reply>(*seeds::decode((*added)->message)).peers,
            std::vector<seam::node_id>{id("127.0.4.12:9002")});

  auto told_of_itself = t.incoming(id("127.0.0.1:50000"), "(SEED)ADDED NEW NODE TO NETWORK:7001:127.0.4.20:9000");
  ASSERT_TRUE(told_of_itself);
  EXPECT_FALSE(*told_of_itself);
}

TEST(legacy_translator, unreadable_texts_are_malformed_with_a_reason) {
  legacy_translator t(self, {seed});
  for (const char* text : {"hello", "(PEER)PING:nowhere", "(PEER)PING_REPLY:", "(SEED)ADDED NEW NODE TO NETWORK:7001"}) {
    auto in = t.incoming(neighbour, text);
    ASSERT_FALSE(in) << text;
    EXPECT_EQ(in.error().code, errc::malformed) << text;
  }
  EXPECT_FALSE(t.incoming(neighbour, std::string(body_bytes_max + 10, ':')));
}

TEST(legacy_translator, every_copy_of_a_text_is_one_message_and_an_echo_of_our_own_keeps_its_identity) {
  legacy_translator t(self, {seed});
  const seam::node_id source = id("127.0.4.11:40000");
  auto first = t.incoming(source, "1700:127.0.4.11:42");
  auto again = t.incoming(id("127.0.4.12:40001"), "1700:127.0.4.11:42\n");
  ASSERT_TRUE(first && *first && again && *again);
  const auto a = std::get<gossip>(*decode((*first)->message)), b = std::get<gossip>(*decode((*again)->message));
  EXPECT_EQ(a.origin, seam::endpoint_id(seam::endpoint_ipv4(neighbour), 0));  // the IP the text names
  EXPECT_EQ(a.origin, b.origin);
  EXPECT_EQ(a.seq, b.seq);

  gossip own;
  own.origin = self;
  own.seq = 3;
  own.body = "1800:127.0.4.20:3";
  ASSERT_TRUE(t.outgoing(neighbour, encode(own)));
  auto echo = t.incoming(source, "1800:127.0.4.20:3");
  ASSERT_TRUE(echo && *echo);
  const auto e = std::get<gossip>(*decode((*echo)->message));
  EXPECT_EQ(e.origin, self);  // so the core's dedup sees its own message again
  EXPECT_EQ(e.seq, 3u);
}

TEST(legacy_translator, remembers_a_bounded_number_of_texts) {
  legacy_translator t(self, {seed});
  gossip own;
  own.origin = self;
  own.seq = 1;
  own.body = "1:127.0.4.20:1";
  ASSERT_TRUE(t.outgoing(neighbour, encode(own)));
  for (std::size_t i = 0; i < legacy_translator::known_texts_max; ++i)
    ASSERT_TRUE(t.incoming(neighbour, std::to_string(i + 10) + ":127.0.4.11:" + std::to_string(i)));
  auto echo = t.incoming(neighbour, "1:127.0.4.20:1");  // forgotten: identified by its text again
  ASSERT_TRUE(echo && *echo);
  EXPECT_NE(std::get<gossip>(*decode((*echo)->message)).origin, self);
}

}  // namespace
}  // namespace confab::peers
