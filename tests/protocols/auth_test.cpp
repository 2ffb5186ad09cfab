// The cluster key: sealed messages open only under the same key, the same
// sender and the receiver they were sealed for; a replay is refused however
// it comes back (again at once, from an earlier run of the sender, after
// the window, out of the bitmap); anything else is refused with a reason.
#include "protocols/common/auth.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace confab::protocols {
namespace {

using namespace std::chrono_literals;

std::vector<std::byte> bytes(const char* s) {
  std::vector<std::byte> v;
  for (; *s; ++s) v.push_back(static_cast<std::byte>(*s));
  return v;
}

// A clock the test moves.
struct test_clock {
  std::shared_ptr<std::uint64_t> ns = std::make_shared<std::uint64_t>(1'000'000'000'000'000'000ull);
  replay_options options(std::chrono::nanoseconds window = 60s) const {
    return {.window = window, .wall_ns = [n = ns] { return *n; }};
  }
  void advance(std::chrono::nanoseconds d) const { *ns += static_cast<std::uint64_t>(d.count()); }
};

TEST(cluster_key, parses_64_hex_digits_only) {
  EXPECT_TRUE(parse_cluster_key(std::string(64, 'a') + "\n"));
  EXPECT_STREQ(parse_cluster_key("abc").error().detail, "a cluster key is 64 hexadecimal digits");
  EXPECT_STREQ(parse_cluster_key(std::string(63, 'a') + "g").error().detail, "a cluster key holds only hexadecimal digits");
}

TEST(cluster_key, seal_open_and_every_refusal) {
  const auto k1 = *parse_cluster_key(std::string(64, '1'));
  const auto k2 = *parse_cluster_key(std::string(64, '2'));
  cluster_auth a(k1), b(k2);
  frame_sealer tx(a), rx(a), other(b);
  auto m = bytes("hello seeds");
  const auto plain = m;
  tx.seal(7, 9, m);
  ASSERT_EQ(m.size(), plain.size() + seal_bytes);
  EXPECT_EQ(other.open(7, 9, m).code(), errc::permission);  // another key
  EXPECT_EQ(rx.open(8, 9, m).code(), errc::permission);     // another sender
  EXPECT_STREQ(rx.open(7, 10, m).error().detail, "cluster key: the message was sealed for another node");
  auto t = m;
  t[0] ^= std::byte{1};
  EXPECT_EQ(rx.open(7, 9, t).code(), errc::permission);  // altered
  auto r = m;
  r[plain.size() + 31] ^= std::byte{1};                 // the receiver field rewritten
  EXPECT_EQ(rx.open(7, 10, r).code(), errc::permission);
  EXPECT_EQ(rx.open(7, 9, plain).code(), errc::permission);  // never sealed
  EXPECT_STREQ(rx.open(7, 9, std::span(m).first(5)).error().detail, "cluster key: message without a seal");
  EXPECT_EQ(rx.stats().refused_tag, 6u);
  auto ok = rx.open(7, 9, m);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(std::equal(ok->begin(), ok->end(), plain.begin(), plain.end()));
  EXPECT_STREQ(rx.open(7, 9, m).error().detail,
               "cluster key: the message was already taken, or is older than the last 64 taken (a replay)");
  EXPECT_EQ(rx.stats().refused_replay, 1u);
  // A tool speaking for many ids takes any receiver, still once.
  frame_sealer tool(a);
  EXPECT_TRUE(tool.open(7, frame_sealer::any_receiver, m));
  EXPECT_FALSE(tool.open(7, frame_sealer::any_receiver, m));
}

TEST(cluster_key, a_replay_is_refused_and_reordering_within_64_is_not) {
  test_clock clock;
  cluster_auth a(*parse_cluster_key(std::string(64, '3')), clock.options());
  frame_sealer tx(a), rx(a);
  std::vector<std::vector<std::byte>> sent;
  for (int i = 0; i < 300; ++i) {
    auto m = bytes("x");
    tx.seal(1, 2, m);
    sent.push_back(std::move(m));
  }
  // 0..99 in order, then 100..163 backwards, then each again: every frame
  // once, and every second copy refused.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(rx.open(1, 2, sent[i])) << i;
  for (int i = 163; i >= 100; --i) ASSERT_TRUE(rx.open(1, 2, sent[i])) << i;
  for (int i = 0; i < 164; ++i) ASSERT_FALSE(rx.open(1, 2, sent[i])) << i;
  EXPECT_EQ(rx.stats().refused_replay, 164u);
  // A jump of more than 64: the skipped ones more than 64 below are refused
  // (older than the bitmap), the ones within it are taken.
  ASSERT_TRUE(rx.open(1, 2, sent[299]));
  EXPECT_FALSE(rx.open(1, 2, sent[200]));  // 99 below the highest
  EXPECT_TRUE(rx.open(1, 2, sent[250]));   // 49 below
  EXPECT_FALSE(rx.open(1, 2, sent[250]));
  // Sequences are per receiver: frames to another receiver start at 1 and
  // are taken there.
  auto m = bytes("y");
  tx.seal(1, 3, m);
  EXPECT_TRUE(rx.open(1, 3, m));
}

TEST(cluster_key, an_earlier_run_and_a_stale_frame_are_refused) {
  test_clock clock;
  cluster_auth a(*parse_cluster_key(std::string(64, '4')), clock.options(10s));
  frame_sealer rx(a);
  auto old_run = std::make_unique<frame_sealer>(a);
  auto m1 = bytes("register");
  old_run->seal(1, 2, m1);
  ASSERT_TRUE(rx.open(1, 2, m1));
  clock.advance(1s);
  frame_sealer new_run(a);  // the sender restarted: a later epoch, sequences from 1
  auto m2 = bytes("register");
  new_run.seal(1, 2, m2);
  ASSERT_TRUE(rx.open(1, 2, m2));
  auto m3 = bytes("late");
  old_run->seal(1, 2, m3);  // a frame of the earlier run, never seen: still refused
  EXPECT_STREQ(rx.open(1, 2, m3).error().detail, "cluster key: the message is from an earlier run of its sender (a replay)");
  // After the window, a receiver that remembers nothing (restarted) still
  // refuses the old frames by their time.
  clock.advance(11s);
  frame_sealer restarted(a);
  EXPECT_STREQ(restarted.open(1, 2, m2).error().detail,
               "cluster key: the message was sealed longer ago than the replay window (a replay, or clocks apart)");
  // A clock far ahead of the receiver's is refused too.
  test_clock ahead;
  *ahead.ns = *clock.ns + 20'000'000'000ull;
  cluster_auth fast(*parse_cluster_key(std::string(64, '4')), ahead.options(10s));
  frame_sealer fast_tx(fast);
  auto m4 = bytes("from the future");
  fast_tx.seal(1, 2, m4);
  EXPECT_STREQ(rx.open(1, 2, m4).error().detail,
               "cluster key: the message was sealed later than the replay window allows (clocks apart)");
  EXPECT_EQ(rx.stats().refused_stale, 1u);
  EXPECT_EQ(rx.stats().refused_earlier_run, 1u);
}

TEST(cluster_key, a_silent_sender_is_forgotten_after_a_window) {
  test_clock clock;
  cluster_auth a(*parse_cluster_key(std::string(64, '5')), clock.options(10s));
  frame_sealer rx(a);
  for (seam::node_id s = 1; s <= 1000; ++s) {
    frame_sealer tx(a);
    auto m = bytes("hello");
    tx.seal(s, 2, m);
    ASSERT_TRUE(rx.open(s, 2, m));
  }
  EXPECT_EQ(rx.senders_remembered(), 1000u);
  clock.advance(11s);
  frame_sealer tx(a);
  auto m = bytes("still here");
  tx.seal(5000, 2, m);
  ASSERT_TRUE(rx.open(5000, 2, m));
  EXPECT_EQ(rx.senders_remembered(), 1u);
}

}  // namespace
}  // namespace confab::protocols
