// confab linalg: the Laplacian spectrum, for the rates of average consensus.
//
// L = D - A of an undirected graph. Forward Euler x <- x - dt L x contracts
// the disagreement per round by rho(dt) = max(|1 - dt l2|, |1 - dt lmax|),
// is stable iff dt < 2 / lmax, and is fastest at dt* = 2 / (l2 + lmax).
//
//   auto s = laplacian_spectrum(g);          // dense, LAPACK dsyev: n up to a few thousand
//   double rho = contraction(s, 0.1);
//
// Thread: values.
#pragma once

#include <vector>

#include "linalg/graph.hpp"

namespace confab::linalg {

struct spectrum {
  std::vector<double> eigenvalues;  // ascending; eigenvalues[0] = 0
  double l2 = 0;                    // algebraic connectivity (0 when disconnected)
  double lmax = 0;
};

// Dense symmetric eigenvalues of L (n^3 time: 2,000 nodes take seconds).
spectrum laplacian_spectrum(const graph& g);
// The closed form for a rows x cols torus (4-regular: 4 - 2cos(2 pi a/rows)
// - 2cos(2 pi b/cols)), for sizes dense LAPACK would take minutes over.
spectrum torus_spectrum(int rows, int cols);
// The closed form for the d-dimensional hypercube: 2k with multiplicity
// C(d, k), k = 0..d.
spectrum hypercube_spectrum(int d);

// Per-round contraction of the disagreement under step dt (d = 0).
double contraction(const spectrum& s, double dt);
// The largest stable step: forward Euler with the states d rounds stale,
// x(k+1) = x(k) - dt L x(k-d), is stable iff dt lmax < 2 cos(d pi / (2d + 1)).
double stable_step_max(const spectrum& s, int staleness);
// Rounds for the disagreement to fall by `factor` (< 1) at contraction rho.
int rounds_to(double factor, double rho);

}  // namespace confab::linalg
