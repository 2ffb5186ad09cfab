#include "engine/core/histogram.hpp"  // first: the header compiles alone

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace {

// Against the exact order statistic of the same samples, every quantile is
// within the stated relative error, from nanoseconds to hours and past the
// old histogram's 20 ms overflow bucket.
TEST(latency_histogram, quantiles_stay_within_the_stated_relative_error_over_the_whole_range) {
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> d(12.0, 4.0);  // a tail many decades long
  confab::latency_histogram h;
  std::vector<std::uint64_t> v;
  for (int i = 0; i < 200000; ++i) {
    const auto x = static_cast<std::uint64_t>(std::min(d(rng), 1e15));
    v.push_back(x);
    h.add(x);
  }
  std::sort(v.begin(), v.end());
  for (double q : {0.0, 0.01, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    const auto k = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))));
    const double exact = static_cast<double>(v[k - 1]);
    EXPECT_LE(std::abs(h.quantile(q) - exact), exact * confab::latency_histogram::relative_error + 1.0) << "q " << q;
  }
  EXPECT_EQ(h.count(), v.size());
  EXPECT_EQ(h.max(), v.back());
  EXPECT_EQ(h.min(), v.front());
}

TEST(latency_histogram, buckets_tile_the_values_without_gaps_and_merge_adds_counts) {
  for (std::size_t i = 0; i + 1 < confab::latency_histogram::bucket_count; ++i) {
    ASSERT_EQ(confab::latency_histogram::upper(i) + 1, confab::latency_histogram::lower(i + 1)) << i;
    ASSERT_EQ(confab::latency_histogram::index(confab::latency_histogram::lower(i)), i);
    ASSERT_EQ(confab::latency_histogram::index(confab::latency_histogram::upper(i)), i);
  }
  EXPECT_EQ(confab::latency_histogram::index(~std::uint64_t{0}), confab::latency_histogram::bucket_count - 1);
  confab::latency_histogram a, b;
  a.add(10);
  b.add(30'000'000);  // 30 ms: past the old overflow bucket, still exact to 0.4%
  a.merge(b);
  EXPECT_EQ(a.count(), 2u);
  EXPECT_NEAR(a.quantile(1.0), 30'000'000.0, 30'000'000.0 * confab::latency_histogram::relative_error);
  EXPECT_EQ(confab::latency_histogram().quantile(0.5), 0.0);
}

}  // namespace
