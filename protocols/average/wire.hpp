// confab average: wire messages between nodes.
//
// [u8 protocol-version (0x82)][u8 type][body], integers big-endian, reals
// as IEEE-754 binary64 bit patterns (docs/wire.md). Every message has a
// fixed size, so a longer one is refused as trailing bytes; a non-finite
// real is refused (a node never sends one: it stops at divergence).
//
//   state  (1): u32 round, f64 x, f64 dt, u8 again   lock-step: x_i(round);
//               again = 1 on a resend by a blocked node, which a neighbour
//               holding it answers with the state the sender waits for
//   push   (2): u64 seq, f64 s, f64 w         push-sum: running totals sent on this edge
//   halt   (3): u8 reason, u32 round          lock-step: stop, and why
//
// Thread: values.
#pragma once

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "engine/core/result.hpp"

namespace confab::average {

inline constexpr std::uint8_t wire_version = 0x82;

struct state {
  std::uint32_t round = 0;
  double x = 0;
  double dt = 0;
  bool again = false;
  friend bool operator==(const state&, const state&) = default;
};
struct push {
  std::uint64_t seq = 0;  // per edge, from 1; a frame with seq <= the last taken is stale
  double s = 0;           // running total of s sent on this edge
  double w = 0;           // running total of w sent on this edge
  friend bool operator==(const push&, const push&) = default;
};
enum class halt_reason : std::uint8_t { diverged = 1, stalled = 2 };
struct halt {
  halt_reason reason = halt_reason::diverged;
  std::uint32_t round = 0;
  friend bool operator==(const halt&, const halt&) = default;
};
using message = std::variant<state, push, halt>;

void encode(const message& m, std::vector<std::byte>& out);
std::vector<std::byte> encode(const message& m);
result<message> decode(std::span<const std::byte> in);

}  // namespace confab::average
