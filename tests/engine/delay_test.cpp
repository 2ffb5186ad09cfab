// The RTT emulator's delay line: the timing wheel never hands a frame over
// early and at most one slot late, in due order, exactly once; the link
// models' delays follow their distributions; FIFO, loss bursts, rate
// limits and partitions behave as configured.
#include "engine/delay/delay_line.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace confab::delay {
namespace {

constexpr std::uint64_t ms = 1'000'000;
constexpr std::uint64_t slot_ns = std::uint64_t{1} << delay_line::slot_shift;

TEST(delay_line, every_frame_once_never_early_never_late) {
  delay_line d(7);
  seam::random rng(11);
  link_model m;
  m.jitter = jitter_kind::uniform;
  m.jitter_a_us = 3'000'000;
  m.flags = reorder;
  const auto near = d.add_link(m);
  m.base_us = 100'000'000;  // 100 s: through the upper levels of the wheel
  m.jitter_a_us = 5'000'000;
  const auto far = d.add_link(m);
  std::map<std::uint64_t, std::uint64_t> due_of;
  std::uint64_t now = 5 * ms, prev_now = 0, handle = 0, delivered = 0, last_due = 0;
  bool ordered = true, early = false, late = false;
  auto take = [&](std::uint64_t h, std::uint64_t due) {
    early |= due > now;  // handed over before its due time
    late |= due <= prev_now;  // was due at the previous call, yet not handed over then
    ordered &= (due >> delay_line::slot_shift) >= (last_due >> delay_line::slot_shift);
    last_due = std::max(last_due, due);
    ASSERT_TRUE(due_of.erase(h)) << "frame handed over twice";
    ++delivered;
  };
  for (int step = 0; step < 200000; ++step) {
    if (rng.below(3) == 0) {
      const auto l = rng.below(50) == 0 ? far : near;
      d.submit(l, now, 100, ++handle);
      due_of[handle] = now;
    }
    // Advance exactly to each next due time, or by a random step.
    prev_now = now;
    now = rng.below(2) ? std::min(d.next_due_ns(), now + 40 * ms) : now + rng.below(2 * slot_ns);
    d.advance(now, take);
  }
  while (d.pending() > 0) {
    prev_now = now;
    now = d.next_due_ns();
    d.advance(now, take);
  }
  EXPECT_EQ(delivered, handle);
  EXPECT_TRUE(due_of.empty());
  EXPECT_FALSE(early);
  EXPECT_FALSE(late);
  EXPECT_TRUE(ordered);
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

// 1 M samples of each model against its configured distribution: mean and
// quantiles within 2%.
TEST(delay_line, delays_follow_the_configured_distributions) {
  delay_line d(3);
  constexpr int n = 1'000'000;
  auto samples = [&](link_model m) {
    std::vector<double> v(n);
    for (auto& x : v) x = static_cast<double>(d.sample_delay_ns(m)) / ms;
    return v;
  };
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
  };
  link_model u{.base_us = 10'000, .jitter_a_us = 20'000, .jitter = jitter_kind::uniform};
  auto vu = samples(u);
  EXPECT_NEAR(quantile(vu, 0.5), 20.0, 0.4);
  EXPECT_NEAR(quantile(vu, 0.9), 28.0, 0.56);
  link_model g{.base_us = 50'000, .jitter_a_us = 5'000, .jitter = jitter_kind::normal};
  auto vg = samples(g);
  EXPECT_NEAR(mean(vg), 50.0, 1.0);
  EXPECT_NEAR(quantile(vg, 0.99), 50.0 + 2.3263 * 5.0, 0.02 * 61.6);
  link_model p{.base_us = 10'000, .jitter_a_us = 4'000, .jitter_b = 3.0f, .jitter = jitter_kind::pareto};
  auto vp = samples(p);
  // Pareto(xm = a, alpha = b) − a: median a·(2^(1/b) − 1), p99 a·(100^(1/b) − 1).
  EXPECT_NEAR(quantile(vp, 0.5), 10.0 + 4.0 * (std::pow(2.0, 1.0 / 3) - 1), 0.02 * 11.0);
  EXPECT_NEAR(quantile(vp, 0.99), 10.0 + 4.0 * (std::pow(100.0, 1.0 / 3) - 1), 0.02 * 24.6);
  link_model l{.base_us = 0, .jitter_a_us = 30'000, .jitter_b = 0.5f, .jitter = jitter_kind::lognormal};
  auto vl = samples(l);
  EXPECT_NEAR(quantile(vl, 0.5), 30.0, 0.6);
  EXPECT_NEAR(quantile(vl, 0.9), 30.0 * std::exp(0.5 * 1.2816), 0.02 * 57.0);
  link_model e{.base_us = 1'000, .jitter = jitter_kind::empirical};
  e.table = d.add_table({2 * ms, 4 * ms, 6 * ms, 8 * ms});
  auto ve = samples(e);
  EXPECT_NEAR(mean(ve), 6.0, 0.12);
}

TEST(delay_line, fifo_per_link_unless_reordering_is_asked_for) {
  delay_line d(5);
  link_model m{.base_us = 20'000, .jitter_a_us = 10'000, .jitter = jitter_kind::normal};
  const auto fifo = d.add_link(m);
  m.flags = reorder;
  const auto loose = d.add_link(m);
  std::vector<std::uint64_t> order_fifo, order_loose;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    d.submit(fifo, i * 100'000, 10, i);
    d.submit(loose, i * 100'000, 10, 100000 + i);
  }
  d.advance(10'000 * ms, [&](std::uint64_t h, std::uint64_t) { (h < 100000 ? order_fifo : order_loose).push_back(h); });
  EXPECT_TRUE(std::is_sorted(order_fifo.begin(), order_fifo.end()));
  EXPECT_FALSE(std::is_sorted(order_loose.begin(), order_loose.end()));
  EXPECT_EQ(order_fifo.size(), 2000u);
}

TEST(delay_line, gilbert_elliott_bursts_lose_at_the_stationary_rate) {
  delay_line d(9);
  link_model m{.ge_enter_bad = chance(0.01), .ge_leave_bad = chance(0.1), .ge_loss_bad = chance(0.5)};
  const auto l = d.add_link(m);
  int lost = 0, runs = 0;
  bool prev = false;
  constexpr int n = 1'000'000;
  for (int i = 0; i < n; ++i) {
    const bool x = d.submit(l, 0, 10, static_cast<std::uint64_t>(i)) == verdict::lost;
    lost += x;
    runs += x && !prev;
    prev = x;
  }
  const double expect = 0.01 / (0.01 + 0.1) * 0.5;  // P(bad) x loss while bad
  EXPECT_NEAR(static_cast<double>(lost) / n, expect, 0.05 * expect);
  EXPECT_LT(runs, lost);  // losses come in bursts
}

TEST(delay_line, rate_limit_spaces_frames_and_partition_drops_them) {
  delay_line d(1);
  link_model m{.base_us = 1'000, .rate_bytes_per_ms = 1000, .burst_bytes = 1000};
  const auto l = d.add_link(m);
  for (int i = 0; i < 10; ++i) d.submit(l, 0, 1000, static_cast<std::uint64_t>(i));
  std::vector<std::uint64_t> due;
  d.advance(100 * ms, [&](std::uint64_t, std::uint64_t t) { due.push_back(t); });
  ASSERT_EQ(due.size(), 10u);
  EXPECT_EQ(due.front(), 1 * ms);
  EXPECT_EQ(due.back(), 10 * ms);  // 1,000 B/ms: the tenth 1,000-byte frame leaves at 9 ms
  d.link(l).flags |= partitioned;
  EXPECT_EQ(d.submit(l, 200 * ms, 10, 99), verdict::partitioned);
  EXPECT_EQ(d.pending(), 0u);
}

}  // namespace
}  // namespace confab::delay
