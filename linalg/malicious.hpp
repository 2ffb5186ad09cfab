// confab linalg: exact consensus with malicious nodes (the paper's section 4).
//
// Compromised nodes add errors u_j(k) to their updates:
// x(k+1) = W x(k) + B_F u_F(k). Node i then observes
// y_i(0:L) = O_{i,L} x(0) + M^F_{i,L} u_F(0:L-1).
//
//   auto setup = linalg::attack_setup(g, W, i, f);       // picks L by eq. 14
//   auto y = linalg::observe_attacked(g, W, i, x0, setup.L, attackers, errors);
//   auto r = linalg::recover_batched(setup, y);          // or recover_naive
//   // r.found: the subset; r.x0: the recovered state; r.identified: nodes with errors
//
// Two paths decide each subset S (Algorithm 1, step 2a: does
// rank [O M_S y] = rank [O M_S]?), both as a residual relative to ||y||:
// - naive: an SVD of [O M_S] per subset, and y's residual outside its
//   column space;
// - batched: once per observer, project every node's fault columns onto
//   the orthogonal complement of col(O) (BLAS-3), orthonormalise each
//   node's block and then each subset's span (SVD); a subset test is then
//   y's projection and its residual outside that span, two GEMVs.
// Both are kept; tests check they agree.
//
// Cases the maths cannot serve are reported, never answered wrongly:
// `degenerate` when the rank test has no clear gap (the paper's Ring 25),
// `disconnecting` when some f nodes can cut the graph (Ring 9 with f = 2),
// `no_L` when eq. 14 fails for every L up to the limit.
#pragma once

#include <string>
#include <vector>

#include "linalg/exact.hpp"

namespace confab::linalg {

enum class attack_status { ok, degenerate, disconnecting, no_L, not_found, ambiguous };
const char* attack_status_name(attack_status s) noexcept;

// M^S_{i,L}: (deg_i+1)(L+1) x |S|L; block (k, l) = C_i W^{k-1-l} B_S for l < k.
matrix fault_matrix(const graph& g, const matrix& W, int i, const std::vector<int>& S, int L);

// Every subset of size f of 0..n-1, lexicographic order.
std::vector<std::vector<int>> subsets(int n, int f);
// The subsets of size f an observer must consider: those of the other
// nodes (a compromised observer cannot trust its own recovery).
std::vector<std::vector<int>> candidate_subsets(int n, int f, int observer);

struct attack_plan {
  const graph* g = nullptr;
  const matrix* W = nullptr;
  int node = 0;
  int f = 0;
  int L = -1;  // observations are y(0:L), so L+1 steps
  attack_status status = attack_status::ok;
  std::string detail;
  // Every pair of distinct candidate subsets is distinguishable for errors
  // off a measure-zero set. Eq. 14 alone does not give this: Petersen with
  // f = 2 never has it (some node's fault span lies inside another pair's).
  bool identifiable = false;
  matrix O;  // O_{i,L}
  // Batched precomputation (filled by prepare_batched).
  int m = 0, n = 0;
  matrix U_perp;                      // m x (m - n): orthonormal complement of col(O)
  std::vector<int> block_start;       // per node: first column in Qall
  std::vector<int> block_rank;        // per node: rank of its projected fault block
  matrix Qall;                        // (m-n) x sum(rank): orthonormal bases, node after node
  // Per candidate subset (candidate order), an orthonormal basis of
  // span(P_S) (c x span_rank, from an SVD of the nodes' bases side by side;
  // overlapping spans inside S are simply one span). Empty for every subset
  // when they would take more than `basis_budget_bytes` (f = 3 on Torus 25):
  // each test then makes its subset's basis.
  std::vector<std::vector<double>> span_basis;
  std::vector<int> span_rank;
  std::vector<matrix> powers;  // C_i W^d, d = 0..L: the fault columns of any subset, built without products
  static constexpr std::size_t basis_budget_bytes = 64u << 20;

  // ## margins (every decision is relative to the data's own scale)
  // A subset explains y when y's residual outside col([O M_S]) is at most
  // explain_tolerance * ||y||. Rounding leaves at most about 2e-15 * ||y||
  // (measured on the paper's topologies at attack scales 1e-13 to 1e3,
  // under five OpenBLAS kernels), a 50x margin; attacks of about 1e-8 of
  // x(0) and more are then identified in every trial. Smaller ones are at
  // the edge of what doubles tell from no attack: recovery answers as for
  // a smaller attack (x(0) within about 1e5 times the attack) or, when
  // explanations disagree, `ambiguous`; never a wrong subset as certain.
  static constexpr double explain_tolerance = 1e-13;
  // Passing subsets agree on x(0) when within agree_tolerance * max|x(0)|.
  static constexpr double agree_tolerance = 1e-6;
  // A node of the found subset is named when its recovered errors exceed
  // identify_tolerance * max(1, max|y|).
  static constexpr double identify_tolerance = 1e-9;
  // Identifiability: node j's span escapes span(P_S) when the sine of the
  // largest principal angle exceeds escape_min; a sine between
  // escape_floor (rounding) and escape_min is an unclear decision, and a
  // longer L is tried.
  static constexpr double escape_min = 1e-6;
  static constexpr double escape_floor = 1e-12;
};

// Finds the observation length at node i. The paper's rule: the smallest L
// (up to L_max, default 2n) at which O_{i,L} has full rank and eq. 14 holds
// for every subset of size f, every rank decided clearly (else
// `degenerate`). With `require_identifiable`, L grows further until every
// pair of subsets is distinguishable (identification then holds for errors
// off a measure-zero set); if no L up to L_max gets there, the paper's L is
// returned with identifiable = false. Subsets exclude the observer itself.
// Reports `disconnecting` first when some f nodes cut the graph. Fills the
// batched precomputation.
attack_plan plan_attack_recovery(const graph& g, const matrix& W, int node, int f, bool require_identifiable = true,
                                 int L_max = -1);
void prepare_batched(attack_plan& p);

// y_i(0:L) with errors[k][j] added by attacker j at iteration k (k < L).
std::vector<double> observe_attacked(const graph& g, const matrix& W, int i, const std::vector<double>& x0, int L,
                                     const std::vector<int>& attackers, const std::vector<std::vector<double>>& errors);

// ## craft_ambiguous_attack
// Errors at the nodes of F (errors[k][a]: node F[a] at iteration k) under
// which the subset S explains node i's observations as well as F does,
// with x(0) shifted by `shift`: a null vector (d, u_F, u_S) of
// [O  M_F  -M_S] with the largest d, scaled to max |u_F| = scale. Such
// attacks exist whenever [O M_F M_S] has more columns than independent
// rows, which identifiability (a generic property) does not exclude; the
// recovery must answer `ambiguous`. `found` is false when every null
// vector leaves x(0) unchanged (then F and S explain y alike anyway).
struct crafted_attack {
  bool found = false;
  std::vector<std::vector<double>> errors;
  std::vector<double> shift;
};
crafted_attack craft_ambiguous_attack(const attack_plan& p, const std::vector<int>& F, const std::vector<int>& S,
                                      double scale = 1.0);

// Eq. 15: is y consistent with no attack?
bool attack_detected(const attack_plan& p, const std::vector<double>& y);

// Both paths test every subset (Algorithm 1 stops at the first; confab does
// not, because two subsets may explain y with different x(0)): the answer
// stands only when all passing subsets agree on x(0), else `ambiguous`.
struct recovery {
  attack_status status = attack_status::not_found;
  int passing = 0;              // subsets that explain y
  std::vector<int> found;       // the first subset passing the test
  std::vector<double> x0;       // recovered initial state
  std::vector<int> identified;  // nodes of `found` whose recovered errors are non-zero
  int subsets_tested = 0;
};

recovery recover_naive(const attack_plan& p, const std::vector<double>& y);
recovery recover_batched(const attack_plan& p, const std::vector<double>& y, int threads = 1);

}  // namespace confab::linalg
