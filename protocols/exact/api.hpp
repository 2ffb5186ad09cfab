// confab exact: exact consensus over the network (source document 004).
//
// Every node runs the linear iteration x_i(k+1) = w_ii x_i(k) + sum_j w_ij
// x_j(k) with its neighbours, in lock-step rounds over the seam (the rounds,
// their resends, stall reports and refusals are protocols/average's `linear`
// mode, and its `state` frames are the wire: exact consensus adds no frame
// of its own). Each node records what it observes, y_i(k) = (x_i(k), x_j(k)
// for its neighbours in ascending order), for `rounds` rounds, and from those
// observations alone computes x(0), its average, and with up to f
// compromised nodes the set that injected errors (linalg's Algorithm 1).
//
// What a node knows of the network (docs/exact.md): the paper's setting, in
// its config: the graph and the weight matrix W (random weights from a seed
// every node shares, or Metropolis). Its own row drives its updates; the
// whole W builds its observability matrix.
//
//   exact_config c{.g = g, .W = W, .self = 3, .ids = ids, .f = 1, .rounds = plan_rounds(*g, *W, 1)};
//   if (auto ok = validate(c); !ok) die(ok.error().text);
//
// Thread: values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/seam/env.hpp"
#include "protocols/common/names.hpp"
#include "linalg/graph.hpp"
#include "linalg/malicious.hpp"

namespace confab::exact {

using namespace std::chrono_literals;
using seam::duration;
using seam::node_id;

// ## how a compromised node behaves
//   honest     follows the protocol
//   offset     adds `size` to its state every round
//   noise      adds uniform noise in [-size, size] every round (seeded)
//   crafted    adds the given errors (linalg::craft_ambiguous_attack: two
//              subsets explain the observations with different x(0))
//   two-faced  sends x + size to its even-indexed neighbours and x - size
//              to the odd ones: no single state explains what they saw
//   silent     sends nothing at all from its state of round `from_round` on
//   small      `offset` of 1e-9 x size (x(0) values are of order 1)
enum class strategy : std::uint8_t { honest, offset, noise, crafted, two_faced, silent, small };
inline constexpr std::pair<const char*, strategy> strategy_names[] = {
    {"honest", strategy::honest}, {"offset", strategy::offset},       {"noise", strategy::noise}, {"crafted", strategy::crafted},
    {"two-faced", strategy::two_faced}, {"silent", strategy::silent}, {"small", strategy::small}};
const char* name_of(strategy s) noexcept;
std::optional<strategy> strategy_from_name(std::string_view name) noexcept;
std::string strategy_list();

struct behaviour {
  strategy how = strategy::honest;
  double size = 1.0;
  std::uint32_t from_round = 0;
  std::uint64_t seed = 1;
  std::vector<double> errors;  // crafted: u(k), k = 0..
  friend bool operator==(const behaviour&, const behaviour&) = default;
};

// The graph and W are shared by every node of a process (a 1,000-node W
// is 8 MB): read-only once the nodes exist.
struct exact_config {
  std::shared_ptr<const linalg::graph> g;
  std::shared_ptr<const linalg::matrix> W;
  int self = 0;
  // Node ids of the vertices: ids[j] is vertex j's.
  std::vector<node_id> ids;
  int f = 0;
  // Rounds every node runs (all run the same number: a node that stopped
  // early would strand a neighbour still observing). Observations y(0) ..
  // y(rounds-1).
  std::uint32_t rounds = 0;
  double x0 = 0;
  behaviour lie;
  duration stall_timeout = 5s;
  duration resend_interval = 200ms;
};

inline constexpr int f_max = 3;
inline constexpr int vertices_max = 4096;

// A sentence naming the first thing wrong with `c`.
result<void, problem> validate(const exact_config& c);

// ## what a node concludes
//   recovered       x(0) found (every subset that explains y agrees on it)
//   ambiguous       subsets explain y with different x(0)s: not decided
//   not_identifiable  the maths cannot serve this node (`detail` says why:
//                   degenerate rank, f nodes that disconnect the graph, no L)
//   not_found       no subset of size <= f explains y (more than f lied, or a
//                   node lied differently to different neighbours)
//   stalled         a neighbour fell silent; `silent` names it
//   halted          a neighbour stalled or diverged and said so
enum class verdict : std::uint8_t { recovered, ambiguous, not_identifiable, not_found, stalled, halted };
const char* name_of(verdict v) noexcept;

struct decision {
  int node = 0;
  verdict what = verdict::recovered;
  std::vector<double> x0;
  double average = 0;
  bool attack_detected = false;
  std::vector<int> identified;  // the compromised nodes it named
  int steps = 0;                // observations used: it could decide after y(0..steps-1)
  int silent = -1;              // stalled: the vertex that fell silent
  std::string detail;
};

}  // namespace confab::exact
