// The lock-free dedup table: exactly one first insert per key under
// threads racing on the same keys, expiry by time buckets, bounded memory.
#include "protocols/peers/dedup.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace confab::peers {
namespace {

using namespace std::chrono_literals;

TEST(dedup, first_insert_wins_and_repeats_are_duplicates) {
  dedup_table t({.capacity = 1000, .generations = 4, .bucket = 10s});
  const auto k = dedup_table::key(1, 2, 3);
  EXPECT_TRUE(t.insert(k, 0s));
  EXPECT_FALSE(t.insert(k, 1s));
  EXPECT_TRUE(t.contains(k));
  EXPECT_NE(dedup_table::key(1, 2, 3), dedup_table::key(2, 1, 3));  // the peer is part of the key
  EXPECT_TRUE(t.insert(dedup_table::key(2, 2, 3), 1s));
}

TEST(dedup, entries_expire_after_the_buckets_and_not_before) {
  dedup_table t({.capacity = 1000, .generations = 4, .bucket = 10s});
  const auto k = dedup_table::key(7, 8, 9);
  ASSERT_TRUE(t.insert(k, 5s));
  EXPECT_FALSE(t.insert(k, 35s));  // three buckets later: still remembered
  EXPECT_TRUE(t.insert(dedup_table::key(7, 8, 10), 45s));
  EXPECT_TRUE(t.insert(k, 45s));   // four buckets later: forgotten
}

TEST(dedup, memory_is_bounded_and_under_32_bytes_per_entry) {
  dedup_table t({.capacity = 1 << 20, .generations = 4, .bucket = 30s});
  EXPECT_LE(t.bytes_per_entry(), 32.0);
  // Far more inserts than the capacity in one bucket: the table rotates
  // early instead of growing or failing, and keeps accepting.
  std::size_t fresh = 0;
  for (std::uint64_t i = 0; i < 4 * (1u << 20); ++i) fresh += t.insert(dedup_table::key(1, 1, i), 0s);
  EXPECT_EQ(fresh, 4u * (1u << 20));
  EXPECT_GT(t.overflows(), 0u);
}

// Threads race on the same keys in different orders; each key must be
// "first" for exactly one of them. Time (shared, as a clock is) advances
// through several buckets meanwhile, so rotations race the inserts too.
// Keys are walked in chunks of 1,000 so every insert of a key happens within
// one bucket of the others, as copies of one gossip arrive within seconds.
TEST(dedup, stress_no_lost_or_duplicated_insert_across_threads) {
  const unsigned threads = std::max(2u, std::min(4u, std::thread::hardware_concurrency()));
  constexpr std::uint64_t keys = 400000, chunk = 1000;
  dedup_table t({.capacity = 1 << 19, .generations = 4, .bucket = 100ms});
  std::vector<std::atomic<std::uint8_t>> wins(keys);
  for (auto& w : wins) w.store(0);
  std::atomic<unsigned> ready{0};
  std::vector<std::thread> ts;
  for (unsigned th = 0; th < threads; ++th) {
    ts.emplace_back([&, th] {
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }
      for (std::uint64_t i = 0; i < keys; ++i) {
        const std::uint64_t base = i / chunk * chunk, off = i % chunk;
        // Within a chunk: ascending, descending, or strided, by thread.
        const std::uint64_t j = base + (th % 3 == 0 ? off : th % 3 == 1 ? chunk - 1 - off : (off * 7 + th) % chunk);
        const auto now = std::chrono::microseconds(base);  // 100,000 keys per 100 ms bucket: 4 rotations
        if (t.insert(dedup_table::key(42, 0, j), now))
          wins[j].fetch_add(1);
      }
    });
  }
  for (auto& x : ts) x.join();
  std::uint64_t lost = 0, doubled = 0;
  for (auto& w : wins) {
    lost += w.load() == 0;
    doubled += w.load() > 1;
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(doubled, 0u);
}

}  // namespace
}  // namespace confab::peers
