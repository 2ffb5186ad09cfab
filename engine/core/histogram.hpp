// confab engine: one latency histogram for every figure.
//
// A log-linear histogram (as HdrHistogram lays it out): values below 128
// have a bucket each; above, every power of two is split into 128 equal
// buckets. So a quantile is off by at most 1/128 (0.78%) of its value,
// from 1 ns to 2^63 ns, with no overflow bucket where a tail would vanish.
// 7,424 counters (58 KiB) per histogram; adding is a few instructions.
//
//   confab::latency_histogram h;
//   h.add(ns);
//   double p99_us = h.quantile(0.99) / 1e3;
//
// Thread: not synchronised; one writer, merge copies afterwards.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

namespace confab {

class latency_histogram {
 public:
  static constexpr int sub_bits = 7;
  static constexpr std::uint64_t sub_buckets = std::uint64_t{1} << sub_bits;
  static constexpr std::size_t bucket_count = (64 - sub_bits + 1) * sub_buckets;
  // The largest relative error of a quantile (half a bucket's width, as
  // quantiles report a bucket's midpoint).
  static constexpr double relative_error = 0.5 / static_cast<double>(sub_buckets);

  // ## add
  void add(std::uint64_t v) noexcept {
    ++counts_[index(v)];
    ++n_;
    max_ = std::max(max_, v);
    min_ = std::min(min_, v);
  }
  void merge(const latency_histogram& o) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
    n_ += o.n_;
    max_ = std::max(max_, o.max_);
    min_ = std::min(min_, o.min_);
  }

  // ## queries
  std::uint64_t count() const noexcept { return n_; }
  std::uint64_t max() const noexcept { return n_ ? max_ : 0; }
  std::uint64_t min() const noexcept { return n_ ? min_ : 0; }
  // The q-quantile (0 <= q <= 1): the midpoint of the bucket holding the
  // ceil(q * n)-th smallest value, clamped to the values seen; 0 when empty.
  double quantile(double q) const noexcept {
    if (n_ == 0) return 0;
    const auto want = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= want) {
        const double mid = (static_cast<double>(lower(i)) + static_cast<double>(upper(i))) / 2;
        return std::clamp(mid, static_cast<double>(min_), static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }
  // Bucket i holds the values lower(i) .. upper(i).
  static std::size_t index(std::uint64_t v) noexcept {
    if (v < sub_buckets) return static_cast<std::size_t>(v);
    const int shift = std::bit_width(v) - 1 - sub_bits;
    return static_cast<std::size_t>((static_cast<std::uint64_t>(shift) + 1) * sub_buckets + ((v >> shift) - sub_buckets));
  }
  static std::uint64_t lower(std::size_t i) noexcept {
    if (i < sub_buckets) return i;
    const auto shift = i / sub_buckets - 1;
    return (sub_buckets + i % sub_buckets) << shift;
  }
  static std::uint64_t upper(std::size_t i) noexcept {
    if (i < sub_buckets) return i;
    const auto shift = i / sub_buckets - 1;
    return ((sub_buckets + i % sub_buckets + 1) << shift) - 1;
  }

 private:
  std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>(bucket_count, 0);
  std::uint64_t n_ = 0, max_ = 0, min_ = ~std::uint64_t{0};
};

}  // namespace confab
