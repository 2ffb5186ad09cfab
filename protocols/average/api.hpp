// confab average: average consensus (source document 000) on the seam.
//
// Every node holds a real number and talks only to its neighbours. Three
// modes, each with its maths in docs/average.md:
//
//   laplacian           the document's update, in lock-step rounds:
//                       x_i(k+1) = x_i(k) + dt_i * sum_j a_ij (x_j(k-d) - x_i(k-d))
//                       (d = `staleness`, 0 unless link delay is modelled).
//                       With mismatched steps the limit is
//                       sum(x_i/dt_i) / sum(1/dt_i), not the average.
//   average-preserving  the same rounds with a symmetric gain on each edge,
//                       g_ij = a_ij * min(dt_i, dt_j), so the sum is invariant
//                       and the limit is the average whatever the steps.
//   push-sum            asynchronous, no rounds: each node keeps (s, w),
//                       halves them at each push and sends the half to one
//                       neighbour (round-robin), as running totals per edge,
//                       so a lost or duplicated frame changes nothing but
//                       the time; s/w tends to the average.
//   linear              the lock-step rounds of a linear iteration with the
//                       node's own weight row (exact consensus, document 004):
//                       x_i(k+1) = w_ii x_i(k) + sum_j w_ij x_j(k) (+ u_i(k)),
//                       the row summing to 1. With `observe` the node keeps
//                       what it saw each round, y_i(k) = (x_i(k), x_j(k) for
//                       its neighbours in config order), for protocols/exact.
//
//   average_config c{.x0 = 10, .dt = 0.1, .neighbours = {peer}, .how = mode::laplacian};
//   if (auto ok = validate(c); !ok) die(ok.error().text);
//
// Thread: values.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/seam/env.hpp"
#include "protocols/common/names.hpp"

namespace confab::average {

using namespace std::chrono_literals;
using seam::duration;
using seam::node_id;
using seam::time_point;

enum class mode : std::uint8_t { laplacian, average_preserving, push_sum, linear };
inline constexpr std::pair<const char*, mode> mode_names[] = {{"laplacian", mode::laplacian},
                                                              {"average-preserving", mode::average_preserving},
                                                              {"push-sum", mode::push_sum},
                                                              {"linear", mode::linear}};
const char* name_of(mode m) noexcept;
std::optional<mode> mode_from_name(std::string_view name) noexcept;
// "laplacian, average-preserving, push-sum": for error messages and help.
std::string mode_list();

struct neighbour {
  node_id id = 0;
  double weight = 1.0;  // a_ij (a_ij = a_ji: both ends must say the same); linear: w_ij
};

struct average_config {
  double x0 = 0;
  double dt = 0.1;  // the node's own step size (lock-step modes)
  std::vector<neighbour> neighbours;
  mode how = mode::laplacian;
  // Lock-step: rounds to run (x(0) .. x(rounds)). Push-sum: pushes to make.
  std::uint32_t rounds = 100;
  // Lock-step: round k+1 uses the round k-d states (d rounds stale), so a
  // node may run up to d rounds ahead of a neighbour whose link is slow.
  std::uint32_t staleness = 0;
  // The document's sleep between rounds: stretches wall time only.
  duration pause = 0ns;
  // Push-sum: one push per interval.
  duration push_interval = 10ms;
  // A neighbour silent this long while it is needed is reported: the
  // lock-step modes stop (their maths needs every neighbour each round) and
  // tell their neighbours; push-sum stops sending to it and goes on.
  // Lock-step: a neighbour that is not silent (it sends its own resends:
  // it is blocked too, on someone further away) is given up to
  // `blocked_stall_factor` times as long, so the one next to the silent
  // node reports it and the halt reaches the others before they report
  // a neighbour that was only waiting.
  duration stall_timeout = 5s;
  // Lock-step: while blocked, the node sends its recent states again this
  // often (0: never), so a frame lost to a link that was down (a neighbour
  // not yet started, a reset) or to emulated loss costs time, not the run.
  // Receivers drop the copies they already hold.
  duration resend_interval = 200ms;
  // |x - x0 scale| beyond this factor of the initial spread: diverged.
  double divergence_factor = 1e6;
  // linear: w_ii; with the neighbours' weights the row sums to 1.
  double self_weight = 0;
  // Lock-step: u(k) added to x(k+1) (a compromised node's errors, the
  // paper's x(k+1) = W x(k) + B u(k)); none past the vector's end.
  std::vector<double> injections;
  // Lock-step, no staleness: keep y(k) for every round stepped from.
  bool observe = false;
};

inline constexpr std::uint32_t rounds_max = 10'000'000;
inline constexpr std::uint32_t staleness_max = 64;
inline constexpr std::size_t neighbours_max = 4096;
// A lock-step node reports a silent neighbour only after the stall timeout
// and this many resends of its own while blocked.
inline constexpr std::uint32_t stall_resends_min = 3;
inline constexpr int blocked_stall_factor = 3;

// A sentence naming the first thing wrong with `c` for node `self`.
result<void, problem> validate(const average_config& c, node_id self);

// ## outcome
// running; finished (every round or push made); diverged (|x| beyond the
// bound: the step is above the stability limit); stalled (a neighbour fell
// silent); halted (a neighbour diverged or stalled and said so).
enum class outcome : std::uint8_t { running, finished, diverged, stalled, halted };
const char* name_of(outcome o) noexcept;

// What a node records: its value after each round (lock-step: index = the
// round) or after each change (push-sum: its estimate s/w).
struct sample {
  time_point at{};
  double x = 0;
};

struct average_event {
  enum class kind : std::uint8_t { round, finished, diverged, stalled, halted } what = kind::round;
  time_point at{};
  std::uint32_t round = 0;
  double x = 0;
  node_id who = 0;  // stalled: the silent neighbour; halted: who told us
};

}  // namespace confab::average
