// confab exact: the pure core of one node's recovery.
//
// A `recoverer` is planned once per node from the graph, W, the node and f
// (linalg: the fewest observations with a full-rank observability matrix
// when f = 0; the paper's L by eq. 14, grown until every pair of subsets
// is distinguishable, when f > 0). `decide` then turns the node's own
// observations into its conclusion; no clock, socket or randomness.
//
//   recoverer r(g, W, node, f);          // r.steps(): observations it needs (-1: cannot)
//   decision d = r.decide(y);            // y: y(0), y(1), ... stacked
//
// Thread: values; `decide` is const and may run on any thread.
#pragma once

#include <memory>
#include <span>

#include "protocols/exact/api.hpp"

namespace confab::exact {

class recoverer {
 public:
  recoverer(std::shared_ptr<const linalg::graph> g, std::shared_ptr<const linalg::matrix> W, int node, int f);
  recoverer(const recoverer&) = delete;
  recoverer& operator=(const recoverer&) = delete;

  // Observations needed, y(0 .. steps-1); -1 when the node cannot recover
  // x(0) (`unusable()` says why).
  int steps() const noexcept { return steps_; }
  const std::string& unusable() const noexcept { return why_; }
  int node() const noexcept { return node_; }
  // f = 0: the condition number of the observability matrix used (x(0)
  // is good to about cond x 1e-16 relative).
  double condition() const noexcept { return condition_; }
  // f = 0: the most ill-conditioned O a node recovers from (about 1e-8
  // relative in x(0)); above it the node answers not-identifiable.
  static constexpr double cond_max = 1e8;
  // Entries per observation: the node and its neighbours.
  int width() const noexcept { return g_->degree(node_) + 1; }

  // The node's conclusion from y (at least steps() observations; later
  // ones are not used).
  decision decide(std::span<const double> y) const;

 private:
  std::shared_ptr<const linalg::graph> g_;
  std::shared_ptr<const linalg::matrix> W_;
  int node_ = 0, f_ = 0, steps_ = -1;
  double condition_ = 0;
  std::string why_;
  linalg::matrix O_, gamma_;  // f = 0
  std::unique_ptr<linalg::attack_plan> plan_;  // f > 0 (points into g_ and W_)
};

// The rounds a run needs: the most any node's recoverer asks for (every
// node runs the same rounds). -1 (and `why`) when some node cannot recover.
int plan_rounds(const std::shared_ptr<const linalg::graph>& g, const std::shared_ptr<const linalg::matrix>& W, int f,
                std::string* why = nullptr);

// "STRATEGY[:VALUE]" (offset:0.5, silent:4, small): the behaviour with
// VALUE as its size, or for silent its first silent round (default 3).
// A problem says which part is wrong; callers put the option's name first.
result<behaviour, problem> parse_behaviour(std::string_view spec);

// A compromised node's errors u(k), k = 0 .. rounds-1, for the strategies
// that inject (offset, noise, small, crafted); empty for the others.
std::vector<double> injections(const behaviour& b, std::uint32_t rounds);

}  // namespace confab::exact
