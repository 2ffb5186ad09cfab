// Seeds wire messages and seed lists: round trips, every refusal with its
// detail, a deterministic fuzz run. (The durable log: seeds_storage_test.)
#include "protocols/seeds/wire.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <type_traits>

#include "protocols/common/endpoints.hpp"
#include "protocols/seeds/legacy.hpp"
#include "protocols/seeds/storage.hpp"

extern "C" int confab_fuzz_seeds_decoder(const std::uint8_t* data, std::size_t size);

namespace confab::seeds {
namespace {

std::vector<message> samples() {
  return {
      request_vote{.term = 7, .last_index = 100, .last_term = 6, .pre_vote = true},
      vote_reply{.term = 7, .granted = true},
      append_entries{.term = 9, .prev_index = 4, .prev_term = 8, .leader_commit = 3,
                     .entries = {{9, entry_kind::add, 12345}, {9, entry_kind::remove, seam::endpoint_id(0x7f000002, 9000)},
                                 {9, entry_kind::noop, no_node}}},
      append_reply{.term = 9, .success = false, .match_index = 3},
      register_request{.request_id = 99},
      dead_report{.suspect = 5, .reporter = 6, .timestamp_ms = 1700000000000, .confirmers = {7, 8}},
      neighbours{.ids = {1, 2, 3}},
      register_reply{.request_id = 99, .status = register_status::busy, .leader = 2, .commit_index = 5, .pl_size = 9, .pl_digest = 77, .peers = {10, 11}, .degrees = {3, 1}},
      pl_request{.request_id = 3},
      forward{.origin = 44, .inner = dead_report{.suspect = 5, .reporter = 44}},
      forward{.origin = 45, .inner = register_request{.request_id = 1}},
      forward{.origin = 46, .inner = leave_request{.request_id = 2, .peer = 12345}},
      leave_request{.request_id = 4, .peer = seam::endpoint_id(0x7f000002, 9000)},
      leave_reply{.request_id = 4, .status = leave_status::busy, .peer = 12345, .commit_index = 17},
      members_request{.request_id = 5, .after = 10, .limit = 100},
      members_reply{.request_id = 5, .role = 3, .learner = false, .term = 4, .leader = 2, .commit_index = 30,
                    .pl_size = 3, .pl_digest = 99,
                    .members = {{11, member_state::alive, 3, 0}, {12, member_state::suspected, 1, 2},
                                {13, member_state::leaving, 0, 0}},
                    .more = true},
      watch_request{.suspect = seam::endpoint_id(0x7f000003, 9001)},
  };
}

TEST(seeds_wire, every_message_round_trips) {
  for (const auto& m : samples()) {
    const auto bytes = encode(m);
    auto back = decode(bytes);
    ASSERT_TRUE(back) << name(m) << ": " << back.error().message();
    EXPECT_EQ(encode(*back), bytes) << name(m);
    EXPECT_EQ(back->index(), m.index());
  }
}

TEST(seeds_wire, the_client_side_encodes_the_same_bytes_and_refuses_raft_messages) {
  std::size_t client = 0, raft = 0;
  for (const auto& m : samples()) {
    const auto bytes = encode(m);
    auto c = decode_client(bytes);
    const bool is_client = std::visit(
        [](const auto& x) { return std::is_constructible_v<client_message, std::decay_t<decltype(x)>>; }, m);
    if (is_client) {
      ++client;
      ASSERT_TRUE(c) << name(m);
      EXPECT_EQ(encode_client(*c), bytes) << name(m);
    } else {
      ++raft;
      ASSERT_FALSE(c) << name(m);
      EXPECT_EQ(c.error().message(), "malformed: a seed-to-seed message where a client message was expected");
    }
  }
  EXPECT_GE(client, 9u);  // register, pl_request, dead_report, neighbours, register_reply, leave and members
  EXPECT_GE(raft, 5u);    // the four Raft messages and forward
}

TEST(seeds_wire, every_truncation_and_extension_is_refused) {
  for (const auto& m : samples()) {
    const auto bytes = encode(m);
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
      auto r = decode(std::span(bytes).first(cut));
      ASSERT_FALSE(r) << name(m) << " cut at " << cut;
      EXPECT_EQ(r.code(), errc::malformed);
    }
    auto longer = bytes;
    longer.push_back(std::byte{0});
    auto r = decode(longer);
    ASSERT_FALSE(r);
    EXPECT_STREQ(r.error().detail, "trailing bytes after the message");
  }
}

TEST(seeds_wire, refusals_name_what_was_wrong) {
  auto bytes = encode(vote_reply{.term = 1});
  bytes[0] = std::byte{2};
  EXPECT_STREQ(decode(bytes).error().detail, "unsupported wire version");
  bytes = encode(vote_reply{.term = 1});
  bytes[1] = std::byte{99};
  EXPECT_STREQ(decode(bytes).error().detail, "unknown message type");
  // A list that claims more items than allowed.
  std::vector<std::byte> big{std::byte{1}, std::byte{12}, std::byte{0xff}, std::byte{0xff}};
  EXPECT_STREQ(decode(big).error().detail, "neighbours: more ids than allowed");
  // A list that claims more items than the message holds.
  std::vector<std::byte> short_list{std::byte{1}, std::byte{12}, std::byte{0}, std::byte{3}};
  EXPECT_STREQ(decode(short_list).error().detail, "list longer than the message");
  // Forwards do not nest.
  auto f = encode(forward{.origin = 1, .inner = register_request{}});
  std::vector<std::byte> nested{std::byte{1}, std::byte{20}};
  for (int i = 0; i < 8; ++i) nested.push_back(std::byte{0});
  nested.insert(nested.end(), f.begin() + 1, f.end());
  EXPECT_STREQ(decode(nested).error().detail, "forward: carries a message that cannot be forwarded");
  EXPECT_STREQ(decode({}).error().detail, "empty message");
  // An unknown member state.
  auto mr = encode(members_reply{.members = {{1, member_state::alive, 0, 0}}});
  mr[mr.size() - 6] = std::byte{7};  // the state byte: before degree (2), reporters (2) and `more` (1)
  EXPECT_STREQ(decode(mr).error().detail, "members_reply: unknown member state");
}

TEST(seeds_wire, decoder_survives_300000_random_and_mutated_inputs) {
  seam::random rng(4242);
  const auto base = samples();
  std::vector<std::uint8_t> buf;
  for (int i = 0; i < 300000; ++i) {
    if (i % 2) {
      const auto b = encode(base[rng.below(base.size())]);
      buf.assign(reinterpret_cast<const std::uint8_t*>(b.data()), reinterpret_cast<const std::uint8_t*>(b.data()) + b.size());
      for (int k = static_cast<int>(rng.below(4)); k > 0 && !buf.empty(); --k) buf[rng.below(buf.size())] ^= 1u << rng.below(8);
      if (rng.below(3) == 0) buf.resize(rng.below(buf.size() + 1));
    } else {
      buf.resize(rng.below(64));
      for (auto& c : buf) c = static_cast<std::uint8_t>(rng.below(4) ? rng.below(24) : rng.next());
      if (buf.size() > 0) buf[0] = 1;
    }
    confab_fuzz_seeds_decoder(buf.data(), buf.size());
  }
}

TEST(endpoints, seed_lists_parse_and_errors_name_the_line) {
  auto r = endpoints::parse_seed_list("# seeds\n127.0.0.1:7000\n\n127.0.0.2, 7001  # second\n");
  ASSERT_TRUE(r.has_value()) << r.error().text;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(endpoints::id_string((*r)[0]), "127.0.0.1:7000");
  EXPECT_EQ(endpoints::id_string((*r)[1]), "127.0.0.2:7001");
  EXPECT_EQ(endpoints::parse_seed_list("127.0.0.1:7000\n127.0.0.300:1\n").error().text,
            "line 2: '127.0.0.300:1': the IP is not a dotted IPv4 address");
  EXPECT_EQ(endpoints::parse_seed_list("127.0.0.1:0\n").error().text, "line 1: '127.0.0.1:0': the port is not a number in 1..65535");
  EXPECT_EQ(endpoints::parse_seed_list("127.0.0.1:1\n127.0.0.1,1\n").error().text, "line 2: '127.0.0.1,1' is listed twice");
  EXPECT_EQ(endpoints::parse_seed_list("# nothing\n").error().text, "the seed list names no seed");
  EXPECT_EQ(endpoints::parse_seed_list("localhost\n").error().text, "line 1: 'localhost': expected IP:PORT or IP,PORT");
}

}  // namespace
}  // namespace confab::seeds

namespace confab::seeds {
namespace {

// The legacy port's decisions, case by case: what each text sends to the
// local seed, and what a registration's connection and the other legacy
// peers are told once the seed commits it.
TEST(legacy_gateway_core, each_text_becomes_a_native_message_or_a_logged_refusal) {
  const auto ip = [](const char* text) { return seam::endpoint_ipv4(*endpoints::parse_endpoint(std::string(text) + ":1")); };
  struct row {
    std::string name, text, source;
    bool native, awaits;
    std::string log_has;
  };
  const std::vector<row> rows = {
      {"a registration", "127.0.0.5:7100", "127.0.0.5", true, true, "registration of 127.0.0.5:7100"},
      {"a registration of another IP than the source", "10.9.9.9:1234", "127.0.0.5", false, false,
       "refused the registration of 10.9.9.9:1234 from 127.0.0.5:40000: the IP is not the connection's source"},
      {"a dead report from its reporter", "Dead Node:127.0.0.6:7100:12:30:45:127.0.0.5", "127.0.0.5", true, false,
       "Dead Node:127.0.0.6:7100:12:30:45:127.0.0.5"},
      {"a dead report naming another reporter", "Dead Node:127.0.0.6:7100:1:127.0.0.9", "127.0.0.5", false, false,
       "naming another reporter IP"},
      {"garbage", "hello", "127.0.0.5", false, false, "neither IP:PORT nor a Dead Node report"},
      {"an empty text", "", "127.0.0.5", false, false, "empty message"},
  };
  for (const auto& r : rows) {
    legacy::gateway_core gw(7000);
    auto step = gw.on_text(1, ip(r.source.c_str()), 40000, r.text);
    EXPECT_EQ(step.native.has_value(), r.native) << r.name;
    EXPECT_EQ(step.awaits_reply, r.awaits) << r.name;
    EXPECT_NE(step.log.find(r.log_has), std::string::npos) << r.name << ": " << step.log;
    EXPECT_EQ(gw.waiting(), r.awaits ? 1u : 0u) << r.name;
    if (step.native && !r.awaits) {
      const auto decoded = decode_client(step.native->bytes);
      ASSERT_TRUE(decoded.has_value()) << r.name;
      const auto* report = std::get_if<dead_report>(&*decoded);
      ASSERT_NE(report, nullptr) << r.name;
      EXPECT_EQ(report->reporter, legacy::reporter_id(ip(r.source.c_str()))) << r.name << ": the reporter counts by its IP";
      EXPECT_EQ(step.native->sender, report->reporter) << r.name;
    }
  }
}

TEST(legacy_gateway_core, a_committed_registration_answers_its_connection_and_tells_the_others) {
  legacy::gateway_core gw(7000);
  const auto a = *endpoints::parse_endpoint("127.0.0.5:7100"), b = *endpoints::parse_endpoint("127.0.0.6:7100");
  auto first = gw.on_text(11, seam::endpoint_ipv4(a), 1, "127.0.0.5:7100");
  auto second = gw.on_text(12, seam::endpoint_ipv4(b), 1, "127.0.0.6:7100");
  const auto id_of = [](const legacy::gateway_core::step& s) {
    const auto decoded = decode_client(s.native->bytes);
    const auto* request = decoded ? std::get_if<register_request>(&*decoded) : nullptr;
    return request ? request->request_id : 0;
  };
  struct row {
    std::string name;
    register_reply reply;
    std::optional<std::uint64_t> conn;
    std::optional<std::string> text;
    std::size_t notices;
  };
  const std::vector<row> rows = {
      {"an unknown request is nobody's", register_reply{.request_id = 99}, std::nullopt, std::nullopt, 0},
      {"the first: its PL with itself added", register_reply{.request_id = id_of(first), .peers = {}}, 11,
       "127.0.0.5:7100", 0},
      {"the second: both, and the first is told", register_reply{.request_id = id_of(second), .peers = {a}}, 12,
       "127.0.0.5:7100\n127.0.0.6:7100", 1},
      {"an answer comes once", register_reply{.request_id = id_of(second), .peers = {a}}, std::nullopt, std::nullopt, 0},
  };
  for (const auto& r : rows) {
    auto answer = gw.on_reply(r.reply);
    ASSERT_EQ(answer.has_value(), r.conn.has_value()) << r.name;
    if (!answer) continue;
    EXPECT_EQ(answer->conn, *r.conn) << r.name;
    EXPECT_EQ(answer->reply, r.text) << r.name;
    ASSERT_EQ(answer->notices.size(), r.notices) << r.name;
    if (r.notices) {
      EXPECT_EQ(answer->notices[0].first, a) << r.name;
      EXPECT_EQ(answer->notices[0].second, "(SEED)ADDED NEW NODE TO NETWORK:7000:127.0.0.6:7100") << r.name;
    }
  }
  auto busy = gw.on_text(13, seam::endpoint_ipv4(a), 1, "127.0.0.5:7101");
  auto refused = gw.on_reply(register_reply{.request_id = id_of(busy), .status = register_status::busy});
  ASSERT_TRUE(refused.has_value());
  EXPECT_FALSE(refused->reply.has_value()) << "a busy seed's refusal answers nothing";
  auto late = gw.on_text(14, seam::endpoint_ipv4(a), 1, "127.0.0.5:7102");
  gw.forget(14);
  EXPECT_EQ(gw.waiting(), 0u);
  EXPECT_FALSE(gw.on_reply(register_reply{.request_id = id_of(late)}).has_value()) << "given up: the reply is nobody's";
}

}  // namespace
}  // namespace confab::seeds
