#include "engine/delay/delay_line.hpp"

#include <algorithm>
#include <cmath>

namespace confab::delay {

delay_line::delay_line(std::uint64_t seed) : rng_(seed) {}

link_id delay_line::add_link(const link_model& m) {
  links_.push_back(m);
  links_.back().tokens = static_cast<std::int32_t>(m.burst_bytes);
  return static_cast<link_id>(links_.size() - 1);
}

std::uint16_t delay_line::add_table(std::vector<std::uint64_t> delays_ns) {
  CONFAB_ASSERT(!delays_ns.empty());
  tables_.push_back(std::move(delays_ns));
  return static_cast<std::uint16_t>(tables_.size() - 1);
}

namespace {
constexpr double two_pi = 6.283185307179586;
}

double delay_line::gaussian() {
  // Box–Muller gives two independent normals per draw; the second is kept
  // for the next call (half the logarithms and roots).
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double u1 = 1.0 - rng_.unit(), u2 = rng_.unit();  // u1 in (0, 1]
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(two_pi * u2);
  has_spare_ = true;
  return r * std::cos(two_pi * u2);
}

std::uint64_t delay_line::sample_delay_ns(link_model& m) {
  double j = 0;
  const double a = static_cast<double>(m.jitter_a_us) * 1000.0;
  switch (m.jitter) {
    case jitter_kind::constant: break;
    case jitter_kind::uniform: j = rng_.unit() * a; break;
    case jitter_kind::normal: j = a * gaussian(); break;
    case jitter_kind::pareto: {
      const double u = 1.0 - rng_.unit();
      j = a * (std::pow(u, -1.0 / static_cast<double>(m.jitter_b)) - 1.0);
      break;
    }
    case jitter_kind::lognormal: j = a * std::exp(static_cast<double>(m.jitter_b) * gaussian()); break;
    case jitter_kind::empirical: {
      const auto& t = tables_[m.table];
      j = static_cast<double>(t[rng_.below(t.size())]);
      break;
    }
  }
  const double d = static_cast<double>(m.base_us) * 1000.0 + j;
  return d <= 0 ? 0 : static_cast<std::uint64_t>(d);
}

verdict delay_line::submit(link_id l, std::uint64_t now_ns, std::uint32_t bytes, std::uint64_t handle) {
  auto& m = links_[l];
  ++stats_.submitted;
  if (!started_) {
    started_ = true;
    cur_tick_ = now_ns >> slot_shift;
  }
  // Draw every random number whatever the outcome, so a seed replays
  // the same sequence under any flags.
  const std::uint64_t draws = rng_.next();  // four 16-bit draws at once
  const auto loss_draw = static_cast<std::uint16_t>(draws), ge_draw = static_cast<std::uint16_t>(draws >> 16),
             ge_loss_draw = static_cast<std::uint16_t>(draws >> 32), dup_draw = static_cast<std::uint16_t>(draws >> 48);
  if (m.flags & partitioned) {
    ++stats_.partitioned;
    return verdict::partitioned;
  }
  if (m.ge_enter_bad > 0 || m.ge_bad) {
    if (m.ge_bad ? ge_draw < m.ge_leave_bad : ge_draw < m.ge_enter_bad) m.ge_bad ^= 1;
  }
  if (loss_draw < m.loss || (m.ge_bad && ge_loss_draw < m.ge_loss_bad)) {
    ++stats_.lost;
    return verdict::lost;
  }
  std::uint64_t send_at = now_ns;
  if (m.rate_bytes_per_ms > 0) {
    // Token bucket: a frame beyond the burst waits for its tokens (queueing
    // delay), as on a rate-limited link.
    const auto elapsed = now_ns > m.last_refill_ns ? now_ns - m.last_refill_ns : 0;
    m.tokens = static_cast<std::int32_t>(std::min<std::int64_t>(
        m.burst_bytes, m.tokens + static_cast<std::int64_t>(elapsed * m.rate_bytes_per_ms / 1'000'000)));
    m.last_refill_ns = now_ns;
    m.tokens -= static_cast<std::int32_t>(bytes);
    if (m.tokens < 0) send_at += static_cast<std::uint64_t>(-m.tokens) * 1'000'000 / m.rate_bytes_per_ms;
  }
  auto due = send_at + sample_delay_ns(m);
  if (!(m.flags & reorder)) due = std::max(due, m.last_due_ns);  // FIFO per link
  m.last_due_ns = due;
  file(due, handle);
  ++stats_.queued;
  if (dup_draw < m.dup) {
    auto due2 = send_at + sample_delay_ns(m);
    if (!(m.flags & reorder)) due2 = std::max(due2, m.last_due_ns);
    m.last_due_ns = due2;
    file(due2, handle);
    ++stats_.duplicated;
    return verdict::duplicated;
  }
  return verdict::queued;
}

std::uint32_t delay_line::alloc() {
  if (free_ != none) {
    const auto i = free_;
    free_ = items_[i].next;
    return i;
  }
  items_.push_back({});
  return static_cast<std::uint32_t>(items_.size() - 1);
}

void delay_line::file(std::uint64_t due_ns, std::uint64_t handle) {
  const auto i = alloc();
  items_[i] = {due_ns, handle, none};
  ++pending_;
  place(i);
}

void delay_line::place(std::uint32_t i) {
  std::uint64_t due_tick = items_[i].due_ns >> slot_shift;
  if (due_tick < cur_tick_) due_tick = cur_tick_;  // late: serve in the current slot
  int level = 0;
  while (level < levels - 1 && (due_tick >> (8 * (level + 1))) != (cur_tick_ >> (8 * (level + 1)))) ++level;
  std::uint64_t idx = (due_tick >> (8 * level)) & 255;
  if (level == levels - 1 && (due_tick >> (8 * levels)) != (cur_tick_ >> (8 * levels))) {
    idx = ((cur_tick_ >> (8 * level)) + 255) & 255;  // beyond the wheel's span (39 h): the farthest slot
  }
  auto& s = wheel_[static_cast<std::size_t>(level)][idx];
  items_[i].next = none;
  if (s.tail == none) s.head = s.tail = i;
  else items_[s.tail].next = i, s.tail = i;
  occupied_[static_cast<std::size_t>(level)][idx / 64] |= std::uint64_t{1} << (idx % 64);
}

void delay_line::cascade(int level) {
  if (level >= levels) return;
  // Entering a new block of this level: open the next level's block first.
  if (level + 1 < levels && ((cur_tick_ >> (8 * level)) & 255) == 0) cascade(level + 1);
  const auto idx = static_cast<std::size_t>((cur_tick_ >> (8 * level)) & 255);
  auto& s = wheel_[static_cast<std::size_t>(level)][idx];
  std::uint32_t i = s.head;
  s.head = s.tail = none;
  occupied_[static_cast<std::size_t>(level)][idx / 64] &= ~(std::uint64_t{1} << (idx % 64));
  while (i != none) {
    const auto next = items_[i].next;
    place(i);  // lands at a lower level, in filing order
    i = next;
  }
}

std::uint64_t delay_line::next_due_ns() const noexcept {
  if (pending_ == 0) return ~std::uint64_t{0};
  // Level 0, from the current slot to the end of its block: the earliest
  // due time in the first occupied slot.
  const auto pos = static_cast<std::size_t>(cur_tick_ & 255);
  for (std::size_t w = pos / 64; w < 4; ++w) {
    std::uint64_t bits = occupied_[0][w];
    if (w == pos / 64) bits &= ~std::uint64_t{0} << (pos % 64);
    if (bits) {
      const auto idx = w * 64 + static_cast<std::size_t>(__builtin_ctzll(bits));
      std::uint64_t best = ~std::uint64_t{0};
      for (auto i = wheel_[0][idx].head; i != none; i = items_[i].next) best = std::min(best, items_[i].due_ns);
      // A late frame (filed into the current slot) is due now.
      return std::max(best, idx == pos ? std::uint64_t{0} : ((cur_tick_ & ~std::uint64_t{255}) | idx) << slot_shift);
    }
  }
  // Otherwise the next block boundary, where a cascade brings items down.
  return ((cur_tick_ | 255) + 1) << slot_shift;
}

}  // namespace confab::delay
