#include "protocols/peers/dedup.hpp"

#include <bit>

namespace confab::peers {

namespace {
std::uint64_t mix(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

dedup_table::dedup_table(dedup_options o)
    : capacity_(o.capacity), gens_(o.generations < 2 ? 2 : o.generations), bucket_ns_(o.bucket.count()) {
  // Each generation holds a share of the live entries at load <= 1/2.
  const std::size_t per_gen = (capacity_ + gens_ - 2) / (gens_ - 1);
  slots_per_gen_ = per_gen * 2;  // exact: positions come from a multiply-shift, not a mask
  max_probe_ = 64;
  slots_ = std::make_unique<std::atomic<std::uint64_t>[]>(slots_per_gen_ * gens_);
  for (std::size_t i = 0; i < slots_per_gen_ * gens_; ++i) slots_[i].store(0, std::memory_order_relaxed);
}

std::uint64_t dedup_table::key(seam::node_id peer, seam::node_id origin, std::uint64_t seq) noexcept {
  const std::uint64_t k = mix(mix(mix(peer + 0x9e3779b97f4a7c15ull) ^ origin) + seq);
  return k == 0 ? 1 : k;  // 0 marks an empty slot
}

void dedup_table::advance_to(std::uint64_t cur, std::uint64_t target) noexcept {
  // Called by the one thread holding rotating_: clear each generation
  // before publishing it as current, so no insert lands in it mid-clear.
  if (target - cur >= gens_) {
    for (std::size_t i = 0; i < slots_per_gen_ * gens_; ++i) slots_[i].store(0, std::memory_order_relaxed);
    current_.store(target, std::memory_order_release);
    return;
  }
  for (std::uint64_t b = cur + 1; b <= target; ++b) {
    auto* g = gen(b);
    for (std::size_t i = 0; i < slots_per_gen_; ++i) g[i].store(0, std::memory_order_relaxed);
    current_.store(b, std::memory_order_release);
  }
}

void dedup_table::maybe_rotate(std::uint64_t bucket_now) noexcept {
  if (bucket_now <= current_.load(std::memory_order_acquire)) return;
  bool idle = false;
  if (!rotating_.compare_exchange_strong(idle, true, std::memory_order_acq_rel)) return;  // another thread rotates
  const std::uint64_t cur = current_.load(std::memory_order_acquire);
  if (bucket_now > cur) advance_to(cur, bucket_now);
  rotating_.store(false, std::memory_order_release);
}

bool dedup_table::contains(std::uint64_t k) const noexcept {
  const std::uint64_t cur = current_.load(std::memory_order_acquire);
  for (std::size_t age = 0; age < gens_ && age <= cur; ++age) {
    const auto* g = gen(cur - age);
    for (std::size_t i = 0, at = start(k); i < max_probe_; ++i, at = next(at)) {
      const auto v = g[at].load(std::memory_order_acquire);
      if (v == k) return true;
      if (v == 0) break;
    }
  }
  return false;
}

// Claims k in one generation: 0 claimed, 1 already there, 2 probe path full.
int dedup_table::claim(std::atomic<std::uint64_t>* g, std::uint64_t k) noexcept {
  for (std::size_t i = 0, at = start(k); i < max_probe_; ++i, at = next(at)) {
    std::uint64_t v = g[at].load(std::memory_order_acquire);
    if (v == k) return 1;
    if (v != 0) continue;
    if (g[at].compare_exchange_strong(v, k, std::memory_order_acq_rel)) return 0;
    if (v == k) return 1;  // another thread inserted this very key
  }
  return 2;
}

bool dedup_table::insert(std::uint64_t k, seam::time_point now) noexcept {
  maybe_rotate(bucket_ns_ > 0 ? static_cast<std::uint64_t>(now.count() / bucket_ns_) : 0);
  std::uint64_t cur = current_.load(std::memory_order_acquire);
  // One cache miss per generation, overlapped rather than in sequence.
  const std::size_t at0 = start(k);
  for (std::size_t age = 0; age < gens_ && age <= cur; ++age) __builtin_prefetch(gen(cur - age) + at0);
  // Older generations: read only.
  for (std::size_t age = 1; age < gens_ && age <= cur; ++age) {
    const auto* g = gen(cur - age);
    for (std::size_t i = 0, at = start(k); i < max_probe_; ++i, at = next(at)) {
      const auto v = g[at].load(std::memory_order_acquire);
      if (v == k) return false;
      if (v == 0) break;
    }
  }
  for (;;) {
    const int r = claim(gen(cur), k);
    if (r == 1) return false;
    if (r == 2) {
      // The current generation is too full along this probe path: open the
      // next one early (the oldest entries expire sooner) and retry there.
      overflows_.fetch_add(1, std::memory_order_relaxed);
      bool idle = false;
      if (rotating_.compare_exchange_strong(idle, true, std::memory_order_acq_rel)) {
        if (current_.load(std::memory_order_acquire) == cur) advance_to(cur, cur + 1);
        rotating_.store(false, std::memory_order_release);
      }
      cur = current_.load(std::memory_order_acquire);
      continue;
    }
    // Claimed. If a rotation published a newer generation meanwhile, a
    // thread that started after it may have missed our slot; the newest
    // generation decides who was first.
    const std::uint64_t latest = current_.load(std::memory_order_acquire);
    if (latest == cur) return true;
    cur = latest;
  }
}

}  // namespace confab::peers
