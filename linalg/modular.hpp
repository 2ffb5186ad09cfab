// confab linalg: exact step counts over a prime field, the oracle that
// float decisions are checked against.
//
// Every step count linalg reports (the observations node i needs without
// attacks, and with up to f compromised nodes) is a generic property of
// the graph: it holds for all weights off an algebraic set of measure
// zero. Computed over GF(p), p = 2^61 - 1, with weights drawn at random
// from the field (and rows normalised to sum to 1, as `random_weights`
// does), every rank is exact, and by the Schwartz-Zippel lemma it equals
// the generic rank except with probability about (matrix size) / p. So a
// float decision that disagrees with these counts is a float decision
// gone wrong, whatever BLAS kernel made it.
//
//   auto g = linalg::torus(5, 5);
//   int v = linalg::exact_min_observations(g, 0, seed);        // 6
//   auto a = linalg::exact_attack_steps(g, 0, 2, seed);        // a.steps == 12
//
// Nothing here touches floating point or BLAS; it is slow (plain
// elimination) and meant for tests and cross-checks, not for recovery.
#pragma once

#include <cstdint>
#include <vector>

#include "linalg/graph.hpp"

namespace confab::linalg {

// ## exact_min_observations
// The smallest v with rank O_{i,v-1} = n over GF(p), or -1 by vmax.
int exact_min_observations(const graph& g, int node, std::uint64_t seed, int vmax = -1);

// ## exact_attack_steps
// The observation length at node i for up to f compromised nodes (never
// i itself), by the rule plan_attack_recovery uses: the smallest L (up to
// L_max, default 2n) at which
//   - O_{i,L} has rank n,
//   - eq. 14 holds for every candidate subset S of size f:
//     rank [O M_S] = n + rank M_S,
//   - with `require_identifiable`, every node j outside S adds rank:
//     rank [O M_S M_j] > rank [O M_S], so errors at j are never explained
//     by S (for errors off a measure-zero set).
// `detecting_steps` is the first L+1 at which the first two hold (the
// paper's rule); `steps` the first at which all three do; -1 for none.
struct exact_attack {
  int detecting_steps = -1;
  int steps = -1;
};
exact_attack exact_attack_steps(const graph& g, int node, int f, std::uint64_t seed, int L_max = -1);

}  // namespace confab::linalg
