// confab engine: the per-link model of the RTT emulator.
//
// The kernel here has no netem, so delay, loss and rate come from user
// space: every frame on a link A→B gets a due time, its send time plus a
// sample of the link's model, and waits in the delay line's timing wheel
// (engine/delay/delay_line.hpp). A link's whole state fits in 64 bytes, so
// 100,000 peers with a few links each stay in cache-friendly arrays.
//
//   delay::link_model m;
//   m.base_us = 20'000;                          // 20 ms one way
//   m.jitter = delay::jitter_kind::normal; m.jitter_a_us = 2'000;
//   m.loss = delay::chance(0.01);
//
// Jitter (added to the base, never making a delay negative):
//   constant    nothing
//   uniform     U[0, a)
//   normal      N(0, a) (a = standard deviation), truncated at -base
//   pareto      a·(U^(−1/b) − 1): heavy tail with scale a and shape b
//   lognormal   exp(N(ln a, b)): median a, shape b
//   empirical   a sample from a shared table of delays (delay_line::add_table)
// Loss: random (`loss`) and Gilbert–Elliott bursts (`ge_*`: the chance to
// enter and leave the bad state per frame, and the loss rate while bad).
// Duplication (`dup`), a token-bucket rate (`rate_bytes_per_ms`, `burst_bytes`),
// partition and clog flags, FIFO per link unless `reorder` is set.
//
// Thread: values; a delay line owns its links.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>

namespace confab::delay {

enum class jitter_kind : std::uint8_t { constant, uniform, normal, pareto, lognormal, empirical };

// ## jitter_name / jitter_from_name
// The one spelling of each kind, for scenario files, command lines and reports.
inline constexpr const char* jitter_names[] = {"constant", "uniform", "normal", "pareto", "lognormal", "empirical"};
constexpr const char* jitter_name(jitter_kind k) noexcept { return jitter_names[static_cast<unsigned>(k)]; }
inline std::optional<jitter_kind> jitter_from_name(std::string_view name) noexcept {
  for (unsigned i = 0; i < std::size(jitter_names); ++i)
    if (name == jitter_names[i]) return static_cast<jitter_kind>(i);
  return std::nullopt;
}

enum link_flags : std::uint8_t {
  partitioned = 1,  // every frame is dropped
  clogged = 2,      // frames are held when due, and leave in order when the clog lifts (the host does it)
  reorder = 4,      // no FIFO: a frame may overtake an earlier one
};

// Probabilities are 16-bit fixed point (p × 65536, see `chance`), times in
// microseconds, so that model and state fit one cache line.
constexpr std::uint16_t chance(double p) noexcept {
  return p <= 0 ? 0 : p >= 1 ? 65535 : static_cast<std::uint16_t>(p * 65536.0);
}

struct link_model {
  // state
  std::uint64_t last_due_ns = 0;     // FIFO
  std::uint64_t last_refill_ns = 0;  // token bucket
  // model
  std::uint32_t base_us = 0;         // one-way base delay
  std::uint32_t jitter_a_us = 0;     // see the banner
  float jitter_b = 0;                // pareto shape, lognormal sigma
  std::uint32_t rate_bytes_per_ms = 0;  // token bucket; 0: unlimited
  std::uint32_t burst_bytes = 0;
  std::int32_t tokens = 0;
  std::uint16_t loss = 0;            // random loss, chance()
  std::uint16_t dup = 0;             // duplication, chance()
  std::uint16_t ge_enter_bad = 0;    // Gilbert–Elliott: P(good -> bad) per frame
  std::uint16_t ge_leave_bad = 0;    //                  P(bad -> good) per frame
  std::uint16_t ge_loss_bad = 0;     //                  loss while bad
  std::uint16_t table = 0;           // empirical table index
  jitter_kind jitter = jitter_kind::constant;
  std::uint8_t flags = 0;
  std::uint8_t ge_bad = 0;
};
static_assert(sizeof(link_model) <= 64, "a link's model and state fit in one cache line");

// A model of "delay ± jitter" as people say it: uniform spreads over
// [delay - jitter, delay + jitter); normal has sd = jitter around delay;
// pareto and lognormal take jitter as their scale and `shape`; constant
// ignores jitter. Negative bases are clamped to 0.
inline link_model around(double delay_ms, double jitter_ms, jitter_kind k, double shape = 0) noexcept {
  link_model m;
  double base = delay_ms, a = jitter_ms;
  if (k == jitter_kind::uniform) {
    base = delay_ms - jitter_ms;
    a = 2 * jitter_ms;
  }
  if (k == jitter_kind::constant) a = 0;
  m.base_us = static_cast<std::uint32_t>((base > 0 ? base : 0) * 1000);
  m.jitter_a_us = static_cast<std::uint32_t>(a * 1000);
  m.jitter = k;
  m.jitter_b = static_cast<float>(shape);
  return m;
}

}  // namespace confab::delay
