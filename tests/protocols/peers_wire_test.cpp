// Peers wire messages: round trips, refusals with their detail, and a
// deterministic fuzz run of the decoder.
#include "protocols/peers/wire.hpp"

#include <gtest/gtest.h>

extern "C" int confab_fuzz_peers_decoder(const std::uint8_t* data, std::size_t size);

namespace confab::peers {
namespace {

std::vector<message> samples() {
  return {link_request{3}, link_accept{4}, link_close{}, ping{9},
          pong{.seq = 9, .incarnation = 2, .neighbours = {1, 2, 3}},
          probe_request{.suspect = 5, .round = 7}, probe_ping{7}, probe_ack{.round = 7, .incarnation = 1},
          probe_result{.suspect = 5, .round = 7, .v = verdict::busy}, suspect_notice{1}, alive_notice{2},
          gossip{.origin = 11, .seq = 3, .hops = 4, .created_ns = 99, .body = "1700000000:127.0.0.1:3"},
          ihave{.origin = 11, .seq = 3, .hops = 2}, graft{.origin = 11, .seq = 3}, prune{}};
}

TEST(peers_wire, every_message_round_trips_and_every_truncation_is_refused) {
  for (const auto& m : samples()) {
    const auto bytes = encode(m);
    auto back = decode(bytes);
    ASSERT_TRUE(back) << name(m) << ": " << back.error().message();
    EXPECT_EQ(encode(*back), bytes) << name(m);
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) EXPECT_FALSE(decode(std::span(bytes).first(cut))) << name(m) << " cut " << cut;
  }
}

TEST(peers_wire, refusals_name_what_was_wrong) {
  std::vector<std::byte> seeds_msg{std::byte{1}, std::byte{10}};
  EXPECT_STREQ(decode(seeds_msg).error().detail, "a seeds message where a peers message was expected");
  std::vector<std::byte> unknown{std::byte{0x81}, std::byte{99}};
  EXPECT_STREQ(decode(unknown).error().detail, "unknown peers message type");
  auto p = encode(probe_result{.suspect = 1, .round = 1});
  p.back() = std::byte{7};
  EXPECT_STREQ(decode(p).error().detail, "probe_result: unknown verdict");
  std::vector<std::byte> big{std::byte{0x81}, std::byte{5}};
  for (int i = 0; i < 16; ++i) big.push_back(std::byte{0});
  big.push_back(std::byte{0xff});
  big.push_back(std::byte{0xff});
  EXPECT_STREQ(decode(big).error().detail, "pong: more neighbours than allowed");
}

TEST(peers_wire, decoder_survives_300000_random_and_mutated_inputs) {
  seam::random rng(8181);
  const auto base = samples();
  std::vector<std::uint8_t> buf;
  for (int i = 0; i < 300000; ++i) {
    if (i % 2) {
      const auto b = encode(base[rng.below(base.size())]);
      buf.assign(reinterpret_cast<const std::uint8_t*>(b.data()), reinterpret_cast<const std::uint8_t*>(b.data()) + b.size());
      for (int k = static_cast<int>(rng.below(4)); k > 0 && !buf.empty(); --k) buf[rng.below(buf.size())] ^= 1u << rng.below(8);
      if (rng.below(3) == 0) buf.resize(rng.below(buf.size() + 1));
    } else {
      buf.resize(rng.below(48));
      for (auto& c : buf) c = static_cast<std::uint8_t>(rng.below(4) ? rng.below(20) : rng.next());
      if (!buf.empty()) buf[0] = 0x81;
    }
    confab_fuzz_peers_decoder(buf.data(), buf.size());
  }
}

}  // namespace
}  // namespace confab::peers
