#include "protocols/peers/dedup.hpp"

namespace confab::peers {

namespace {
std::uint64_t mix(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
// The fingerprint kept in a slot: the key's top 48 bits, never 0.
std::uint64_t fingerprint(std::uint64_t k) noexcept {
  const std::uint64_t f = k >> 16;
  return (f == 0 ? 1 : f) << 16;
}
}  // namespace

dedup_table::dedup_table(dedup_options o)
    : capacity_(o.capacity ? o.capacity : 1),
      gens_(o.generations < 2 ? 2 : o.generations > 1000 ? 1000 : o.generations),
      slots_(2 * capacity_ < 64 ? 64 : 2 * capacity_),
      bucket_ns_(o.bucket.count()) {
  table_ = std::make_unique<std::atomic<std::uint64_t>[]>(slots_);
  for (std::size_t i = 0; i < slots_; ++i) table_[i].store(0, std::memory_order_relaxed);
}

std::uint64_t dedup_table::key(seam::node_id peer, seam::node_id origin, std::uint64_t seq) noexcept {
  return mix(mix(mix(peer + 0x9e3779b97f4a7c15ull) ^ origin) + seq);
}

std::uint64_t dedup_table::bucket_of(seam::time_point now) noexcept {
  const std::uint64_t b = bucket_ns_ > 0 && now.count() > 0 ? static_cast<std::uint64_t>(now.count() / bucket_ns_) : 0;
  // The table's clock only moves forward (threads may pass slightly older
  // times; they use the newest bucket anyone has seen).
  std::uint64_t cur = current_.load(std::memory_order_acquire);
  while (b > cur && !current_.compare_exchange_weak(cur, b, std::memory_order_acq_rel)) {
  }
  return b > cur ? b : cur;
}

bool dedup_table::contains(std::uint64_t k) const noexcept {
  const std::uint64_t cur = current_.load(std::memory_order_acquire), fp = fingerprint(k);
  for (std::size_t i = 0, at = start(k); i < probe_max; ++i, at = next(at)) {
    const auto v = table_[at].load(std::memory_order_acquire);
    if (v == 0) return false;
    if ((v & ~std::uint64_t{0xffff}) == fp && live(v, cur)) return true;
  }
  return false;
}

bool dedup_table::insert(std::uint64_t k, seam::time_point now) noexcept {
  const std::uint64_t fp = fingerprint(k);
  std::uint64_t cur = bucket_of(now);
  for (;;) {
    // Scan the probe path: a live copy means duplicate; remember the first
    // slot we may take (empty, or holding an expired entry), and the
    // oldest one in case the path is full of live entries.
    std::size_t free_at = slots_, oldest_at = slots_;
    std::uint64_t free_v = 0, oldest_v = 0, oldest_age = 0;
    std::size_t at = start(k);
    for (int i = 0; i < probe_max; ++i, at = next(at)) {
      const auto v = table_[at].load(std::memory_order_acquire);
      if (v == 0) {
        if (free_at == slots_) free_at = at, free_v = 0;
        break;  // nothing lies beyond an empty slot
      }
      if (live(v, cur)) {
        if ((v & ~std::uint64_t{0xffff}) == fp) return false;
        const std::uint64_t age = static_cast<std::uint16_t>(cur - (v & 0xffff));
        if (oldest_at == slots_ || age > oldest_age) oldest_at = at, oldest_v = v, oldest_age = age;
      } else if (free_at == slots_) {
        free_at = at, free_v = v;
      }
    }
    if (free_at == slots_) {
      // More live entries than the table was sized for: give up the oldest.
      overflows_.fetch_add(1, std::memory_order_relaxed);
      free_at = oldest_at, free_v = oldest_v;
    }
    std::uint64_t expect = free_v;
    if (!table_[free_at].compare_exchange_strong(expect, fp | (cur & 0xffff), std::memory_order_acq_rel)) continue;
    // Claimed. Threads that scanned under the same bucket cannot both
    // claim (they race for the same first free slot). If the bucket moved
    // on while we worked, a thread under a newer bucket may have seen as
    // expired a slot we saw as live, and claimed another slot for this very
    // key. Rule: the copy with the newest bucket wins. Its owner either
    // saw no bucket change (and returns true) or re-checks and finds only
    // older copies; every older owner has seen the bucket change (it is
    // older than another copy), re-checks and yields.
    const std::uint64_t latest = current_.load(std::memory_order_acquire);
    if (latest == cur) return true;
    at = start(k);
    for (int i = 0; i < probe_max; ++i, at = next(at)) {
      if (at == free_at) continue;
      const auto v = table_[at].load(std::memory_order_acquire);
      if (v == 0) break;
      const auto newer = static_cast<std::int16_t>(static_cast<std::uint16_t>((v & 0xffff) - (cur & 0xffff)));
      if ((v & ~std::uint64_t{0xffff}) == fp && live(v, latest) && newer > 0) return false;
    }
    return true;
  }
}

}  // namespace confab::peers
