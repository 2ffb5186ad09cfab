// confab linalg: exact consensus by linear iterative encoding and
// observability (the paper's sections 2 and 3).
//
// Each node i observes y_i(k) = C_i x(k) while the network iterates
// x(k+1) = W x(k). After v steps the stacked observations are
// y_i(0:v-1) = O_{i,v-1} x(0), with O the observability matrix. Once O has
// full column rank, x(0) = Gamma_i y_i with Gamma_i = Q O^+ (Q = I).
//
//   auto g = linalg::petersen();
//   auto W = linalg::random_weights(g, seed);
//   int v = linalg::observations_min(g, W, node, g.n()).steps;  // 3
//   auto gamma = linalg::recovery_matrix(linalg::observability(g, W, node, v));
//   auto x0 = gamma.apply(linalg::observe(g, W, node, x, v));
//
// Matrices are dense, column-major, computed with OpenBLAS (cblas) and
// LAPACKE. The rank test counts singular values above
// tol = max(rows, cols) * sigma_max * DBL_EPSILON (the usual numerical-rank
// threshold); `rank_report` also returns the gap around it so callers can
// tell a clear rank from a degenerate one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "linalg/graph.hpp"

namespace confab::linalg {

struct matrix {
  int rows = 0, cols = 0;
  std::vector<double> data;  // column-major
  matrix() = default;
  matrix(int r, int c) : rows(r), cols(c), data(static_cast<std::size_t>(r) * static_cast<std::size_t>(c), 0.0) {}
  double& operator()(int r, int c) { return data[static_cast<std::size_t>(c) * static_cast<std::size_t>(rows) + static_cast<std::size_t>(r)]; }
  double operator()(int r, int c) const { return data[static_cast<std::size_t>(c) * static_cast<std::size_t>(rows) + static_cast<std::size_t>(r)]; }
  std::vector<double> apply(const std::vector<double>& x) const;  // this * x
};

matrix multiply(const matrix& a, const matrix& b);  // dgemm
matrix identity(int n);

// ## weights
// Metropolis-Hastings (the paper's eq. 16): W_ij = 1/(1+max(d_i,d_j)) on
// edges, W_ii = 1 - sum. Symmetric and doubly stochastic. It keeps the
// graph's symmetry, so on symmetric graphs its eigenvalues repeat; an
// eigenvalue of multiplicity above deg_i + 1 has an eigenvector vanishing on
// all node i observes, and node i can never recover x(0) (PBH test). Tested:
// every node of Torus 9, Torus 25, Petersen and the 4-cube is unobservable
// under these weights (rings are not). Hence the paper's random weights.
matrix metropolis_hastings(const graph& g);
// Seeded random weights: uniform in [0.1, 1) on edges and the diagonal, each
// row scaled to sum to 1 (row-stochastic, generic).
matrix random_weights(const graph& g, std::uint64_t seed);

// C_i: rows select node i then its neighbours in ascending order.
matrix selection(const graph& g, int i);
// O_{i,v-1}: v blocks C_i W^k stacked, (deg_i+1)v x n.
matrix observability(const graph& g, const matrix& W, int i, int v);

struct rank_report {
  int rank = 0;
  double tolerance = 0;
  double sigma_max = 0;
  double sigma_last_kept = 0;   // smallest singular value counted
  double sigma_first_dropped = 0;  // largest singular value not counted (0 if none)
};
rank_report numerical_rank(const matrix& a);

struct observation_steps {
  int steps = -1;  // smallest v with rank n, or -1 when not reached by vmax
  rank_report at_steps;
};
observation_steps observations_min(const graph& g, const matrix& W, int i, int vmax);

// Gamma = Q O^+ by SVD with the rank tolerance above (Q = I when empty).
matrix recovery_matrix(const matrix& O, const matrix& Q = {});

// ## recovery at every node in one GEMM
// Node i's observations are entries of the network's trajectory
// X = [x(0) ... x(v-1)] (node i and its neighbours, each step), so its
// recovery Gamma_i, written against vec(X) (n*v entries, step after step),
// is Gamma_i scattered into the columns of the entries it sees. Stacking
// those n-row blocks for every node gives R (n*n x n*v): one GEMM then
// recovers x(0) at every node for T runs at once,
//   X0hat (n*n x T) = R * [vec X_1 ... vec X_T],
// node i's estimate in rows i*n .. i*n+n-1. `steps` is shared by all nodes
// (at least the largest observations_min); -1 when some node cannot
// recover x(0) within n steps.
struct all_nodes_plan {
  int n = 0, steps = -1;
  matrix R;
};
all_nodes_plan all_nodes_recovery(const graph& g, const matrix& W, int steps = -1);
matrix recover_all_nodes(const all_nodes_plan& p, const matrix& trajectories);
// vec(X) of one run of `steps` iterations from x0 (a column for the above).
std::vector<double> trajectory(const matrix& W, const std::vector<double>& x0, int steps);

// One step x(k+1) = W x(k) summed as the network's nodes sum it: node i
// takes w_ii x_i, then adds w_ij x_j for its neighbours in ascending
// order (a sparse loop over the graph, no BLAS). protocols/exact's nodes
// make the same sums, so a run over the network and these functions give
// the same bits, whatever OpenBLAS kernel the machine picks.
std::vector<double> network_step(const graph& g, const matrix& W, const std::vector<double>& x);

// The observations node i records while the network runs v steps from x0:
// y_i(0:v-1), computed by iterating (network_step), not from O.
std::vector<double> observe(const graph& g, const matrix& W, int i, const std::vector<double>& x0, int v);

// ## bounds (section 3)
struct node_bounds {
  int node = 0;
  int diameter = 0;          // data availability (lower)
  int intake = 0;            // ceil((n-1)/min deg) (lower)
  // ceil(n/(deg_i+1)): the per-node intake lower bound (n values,
  // deg_i+1 per observation). Not the paper's eq. 9, which is the upper
  // bound n - deg_i + 1.
  int node_intake = 0;
  int upper = 0;             // n - deg_i: one tighter than the paper's eq. 9 (Sundaram and Hadjicostis, 2008)
  // The paper's conjecture (balanced spanning-tree branch size), from a
  // seeded search: it can overestimate (random 3-regular graph: 10 to 15
  // against an exact 10), so it stands beside `exact`, never for it.
  int largest_branch = 0;
  int exact = -1;            // found by the rank test with random weights
};
std::vector<node_bounds> bounds(const graph& g, const matrix& W_random);
// The conjecture's bound: the smallest possible largest branch of a
// spanning tree rooted at i. Searched, not proven minimal: trees are grown
// layer by layer (each node joins the branch of one of its parents at the
// previous distance, the smallest one, ties and order broken by a seeded
// shuffle) over `tries` restarts, keeping the best.
int largest_branch(const graph& g, int i, int tries = 300);

// ## asymptotic baseline
// Iterations of x(k+1) = W x(k) until ||x(k) - avg 1||_inf <= tol *
// ||x(0) - avg 1||_inf (relative to the initial spread), or -1 by iter_max.
int asymptotic_iterations(const matrix& W, const std::vector<double>& x0, double tol, int iter_max = 1000000);

}  // namespace confab::linalg
