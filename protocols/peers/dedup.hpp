// confab peers: the lock-free duplicate-suppression table.
//
// "Has peer P already seen gossip (origin, seq)?" for every peer of a
// process at once: one table shared by all peers of all reactor threads.
// A key is a 64-bit hash of (peer, origin, seq). The table is one
// open-addressing array of std::atomic<uint64_t>; a slot holds a 48-bit
// fingerprint of the key and the 16-bit number of the time bucket it was
// inserted in. An entry is live for `generations` buckets; after that its
// slot is reused in place, so expiry needs no sweeping and no clearing.
//
//   peers::dedup_table seen({.capacity = 1 << 20, .bucket = 30s});
//   if (seen.insert(seen.key(peer, origin, seq), now)) deliver(...);
//
// `insert` scans the key's probe path for a live copy, then claims the
// first free or expired slot with one compare-and-swap: two threads
// inserting the same key agree on exactly one winner, and no thread waits
// for another (a failed CAS means another thread made progress). The one
// subtle case, a bucket boundary passing between two threads' scans, is
// settled by a re-check under the newer bucket (see dedup.cpp).
//
// Memory: 8 bytes per slot, two slots per entry of `capacity`: 16 bytes
// per entry (the peers issue allows 32). One probe path per insert: one
// cache miss. Fingerprints compare only along one probe path, so a false
// duplicate needs a 48-bit collision among a handful of slots (~1e-14).
// Above `capacity` live entries a full probe path overwrites its oldest
// entry (counted in `overflows`).
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
  std::size_t generations = 4;       // an entry lives this many buckets (>= 2)
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

  std::size_t slots() const noexcept { return slots_; }
  double bytes_per_entry() const noexcept {
    return static_cast<double>(slots_ * sizeof(std::uint64_t)) / static_cast<double>(capacity_);
  }
  std::uint64_t overflows() const noexcept { return overflows_.load(std::memory_order_relaxed); }

 private:
  static constexpr int probe_max = 32;
  std::uint64_t bucket_of(seam::time_point now) noexcept;
  bool live(std::uint64_t v, std::uint64_t cur) const noexcept {
    return v != 0 && static_cast<std::uint16_t>(cur - (v & 0xffff)) < gens_;
  }
  std::size_t start(std::uint64_t k) const noexcept {
    return static_cast<std::size_t>((static_cast<unsigned __int128>(k) * slots_) >> 64);
  }
  std::size_t next(std::size_t at) const noexcept { return at + 1 == slots_ ? 0 : at + 1; }

  std::size_t capacity_, gens_, slots_;
  std::int64_t bucket_ns_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> table_;
  std::atomic<std::uint64_t> current_{0};
  std::atomic<std::uint64_t> overflows_{0};
};

}  // namespace confab::peers
