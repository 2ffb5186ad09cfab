// confab peers: the lock-free duplicate-suppression table.
//
// "Has peer P already seen gossip (origin, seq)?" for every peer of a
// process at once: one table shared by all peers of all reactor threads.
// A key is a 64-bit fingerprint of (peer, origin, seq); the table is a set
// of open-addressing arrays of std::atomic<uint64_t>, one per time bucket
// (generation). `insert` probes the older generations read-only, then
// claims an empty slot of the current one with one compare-and-swap, so two
// threads inserting the same key agree on exactly one winner, and no thread
// ever waits for another: a failed CAS means another thread made progress,
// and a thread that finds a rotation in progress carries on in the current
// generation instead of waiting for it.
//
//   peers::dedup_table seen({.capacity = 1 << 20, .bucket = 30s});
//   if (seen.insert(seen.key(peer, origin, seq), now)) deliver(...);
//
// Memory: 8 bytes per slot; with `generations` buckets sized for
// `capacity` live entries at a load of at most 1/2, the table holds
// `capacity` entries in 16 bytes each plus one generation of slack
// (bytes_per_entry() reports it: 21.3 bytes at the default 4 buckets,
// under the 32 the peers issue allows). An insert reads one probe path per
// generation; the paths are prefetched together so their cache misses
// overlap.
//
// Expiry is time-bucketed: an entry lives for (generations - 1) to
// generations bucket lengths. Rotation clears the oldest array and only
// then publishes it as the current one; it is done by whichever thread
// first sees that the bucket ended (a CAS on a flag elects it). A lookup
// racing a rotation may miss a key that is expiring anyway. A full current
// generation rotates early rather than refusing (counted in `overflows`).
//
// Thread: any; all members are safe to call concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "engine/seam/env.hpp"

namespace confab::peers {

struct dedup_options {
  std::size_t capacity = 1u << 20;  // live entries the table must hold
  std::size_t generations = 4;       // time buckets (>= 2)
  seam::duration bucket = std::chrono::seconds(30);
};

class dedup_table {
 public:
  explicit dedup_table(dedup_options o = {});
  dedup_table(const dedup_table&) = delete;
  dedup_table& operator=(const dedup_table&) = delete;

  static std::uint64_t key(seam::node_id peer, seam::node_id origin, std::uint64_t seq) noexcept;

  // True when `k` was absent (the caller is the first to see it), false
  // for a duplicate. `now` drives expiry (any monotonic clock, shared).
  bool insert(std::uint64_t k, seam::time_point now) noexcept;
  bool contains(std::uint64_t k) const noexcept;

  std::size_t slots() const noexcept { return slots_per_gen_ * gens_; }
  double bytes_per_entry() const noexcept {
    return static_cast<double>(slots() * sizeof(std::uint64_t)) / static_cast<double>(capacity_);
  }
  std::uint64_t overflows() const noexcept { return overflows_.load(std::memory_order_relaxed); }

 private:
  void maybe_rotate(std::uint64_t bucket_now) noexcept;
  void advance_to(std::uint64_t cur, std::uint64_t target) noexcept;
  int claim(std::atomic<std::uint64_t>* g, std::uint64_t k) noexcept;
  // Probe positions: a multiply-shift maps the key onto [0, slots) without
  // rounding the array up to a power of two.
  std::size_t start(std::uint64_t k) const noexcept {
    return static_cast<std::size_t>((static_cast<unsigned __int128>(k) * slots_per_gen_) >> 64);
  }
  std::size_t next(std::size_t at) const noexcept { return at + 1 == slots_per_gen_ ? 0 : at + 1; }
  std::atomic<std::uint64_t>* gen(std::uint64_t bucket) const noexcept {
    return slots_.get() + (bucket % gens_) * slots_per_gen_;
  }
  std::size_t capacity_, gens_, slots_per_gen_, max_probe_;
  std::int64_t bucket_ns_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> slots_;
  std::atomic<std::uint64_t> current_{0};
  std::atomic<bool> rotating_{false};
  std::atomic<std::uint64_t> overflows_{0};
};

}  // namespace confab::peers
