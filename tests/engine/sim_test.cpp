#include "engine/sim/simulator.hpp"  // first: the header compiles alone

#include <gtest/gtest.h>

#include "tests/engine/flood_node.hpp"

#include <cstring>
#include <map>
#include <set>

using namespace confab;
using namespace std::chrono_literals;

namespace {

using confab::testing::flood_node;

struct outcome {
  std::uint64_t hash;
  std::size_t seen_min;
  sim::sim_stats stats;
};

outcome run_flood(std::uint64_t seed, sim::network_model m, std::size_t n, int rumours) {
  sim::simulator s(seed, m);
  for (std::size_t i = 0; i < n; ++i) s.add_node([n, rumours](seam::node_id) { return std::make_unique<flood_node>(n, rumours); });
  s.run_for(2s);
  std::size_t seen_min = SIZE_MAX;
  for (seam::node_id i = 0; i < n; ++i) seen_min = std::min(seen_min, static_cast<flood_node*>(s.get(i))->seen.size());
  return {s.trace_hash(), seen_min, s.stats()};
}

TEST(simulator, a_seed_replays_bit_for_bit_and_another_seed_differs) {
  sim::network_model m{.delay_min = 1ms, .delay_max = 20ms, .loss = 0.05, .duplicate = 0.05};
  auto a = run_flood(42, m, 12, 10);
  auto b = run_flood(42, m, 12, 10);
  auto c = run_flood(43, m, 12, 10);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.stats.delivered, b.stats.delivered);
  EXPECT_NE(a.hash, c.hash);
  EXPECT_GT(a.stats.lost, 0u);
  EXPECT_GT(a.stats.duplicated, 0u);
}

TEST(simulator, flooding_reaches_everyone_over_a_lossless_network_across_many_seeds) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    auto o = run_flood(seed, {.delay_min = 1ms, .delay_max = 30ms}, 8, 5);
    ASSERT_EQ(o.seen_min, 5u) << "seed " << seed;
  }
}

TEST(simulator, partitions_cut_links_until_healed_and_crashes_drop_state) {
  sim::simulator s(7, {.delay_min = 1ms, .delay_max = 2ms});
  for (int i = 0; i < 6; ++i) s.add_node([](seam::node_id) { return std::make_unique<flood_node>(6, 1); });
  s.partition({0, 1, 2}, {3, 4, 5});
  s.run_for(100ms);
  for (seam::node_id i = 0; i < 3; ++i) EXPECT_EQ(static_cast<flood_node*>(s.get(i))->seen.size(), 1u);
  for (seam::node_id i = 3; i < 6; ++i) EXPECT_EQ(static_cast<flood_node*>(s.get(i))->seen.size(), 0u);
  EXPECT_GT(s.stats().partitioned, 0u);

}

TEST(simulator, one_way_cuts_block_one_direction_only) {
  sim::simulator s(9, {.delay_min = 1ms, .delay_max = 2ms});
  for (int i = 0; i < 3; ++i) s.add_node([](seam::node_id) { return std::make_unique<flood_node>(3, 1); });
  s.partition({0}, {1}, /*symmetric=*/false);  // 0 -> 1 cut, 1 -> 0 open
  s.run_for(100ms);
  auto& n0 = *static_cast<flood_node*>(s.get(0));
  auto& n1 = *static_cast<flood_node*>(s.get(1));
  EXPECT_EQ(n1.seen.size(), 1u);  // reached through node 2
  EXPECT_EQ(s.stats().partitioned, 1u);
  ASSERT_EQ(n0.seen.size(), 1u);
  EXPECT_GE(n0.copies[*n0.seen.begin()], 1);  // 1 -> 0 was delivered
}

TEST(simulator, a_crashed_node_receives_nothing_and_restarts_empty) {
  sim::simulator s(11, {.delay_min = 1ms, .delay_max = 2ms});
  for (int i = 0; i < 4; ++i) s.add_node([](seam::node_id) { return std::make_unique<flood_node>(4, 1); });
  s.crash(2);
  EXPECT_FALSE(s.alive(2));
  s.run_for(100ms);
  EXPECT_GT(s.stats().to_crashed, 0u);
  for (seam::node_id i : {0u, 1u, 3u}) EXPECT_EQ(static_cast<flood_node*>(s.get(i))->seen.size(), 1u);
  s.restart(2);
  ASSERT_TRUE(s.alive(2));
  EXPECT_EQ(static_cast<flood_node*>(s.get(2))->seen.size(), 0u);
}

}  // namespace

// The fault vocabulary the fabric shares (engine/fault/fault.hpp): a clog
// holds what a partition would drop, and lets it go, in order, when lifted.
TEST(simulator, a_clog_holds_frames_that_a_partition_drops_and_releases_them) {
  for (auto cut : {fault::kind::partition, fault::kind::clog}) {
    sim::simulator s(7, {.delay_min = 1ms, .delay_max = 2ms});
    for (int i = 0; i < 6; ++i) s.add_node([](seam::node_id) { return std::make_unique<flood_node>(6, 1); });
    s.apply({.what = cut, .side_a = {0, 1, 2}, .side_b = {3, 4, 5}});
    s.run_for(100ms);
    for (seam::node_id i = 3; i < 6; ++i) EXPECT_EQ(static_cast<flood_node*>(s.get(i))->seen.size(), 0u) << fault::name(cut);
    s.apply({.what = cut == fault::kind::clog ? fault::kind::unclog : fault::kind::heal});
    s.run_for(100ms);
    const std::size_t expect = cut == fault::kind::clog ? 1u : 0u;  // flooding never resends what a cut dropped
    for (seam::node_id i = 3; i < 6; ++i) EXPECT_EQ(static_cast<flood_node*>(s.get(i))->seen.size(), expect) << fault::name(cut);
    EXPECT_GT(cut == fault::kind::clog ? s.stats().clogged : s.stats().partitioned, 0u);
  }
  EXPECT_EQ(fault::from_name("clog"), fault::kind::clog);
  EXPECT_FALSE(fault::from_name("kill").has_value());
}
