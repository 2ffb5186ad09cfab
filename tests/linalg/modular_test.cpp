#include "linalg/modular.hpp"  // first: the header compiles alone

#include <gtest/gtest.h>

#include "linalg/exact.hpp"
#include "harness/topology.hpp"

using namespace confab::linalg;

// Without attacks, every node's float step count (rank by SVD) equals the
// exact one over GF(2^61 - 1), on the paper's topologies and a few more.
TEST(modular, float_step_counts_without_attacks_equal_the_exact_ones_at_every_node) {
  for (const char* spec : {"ring:9", "ring:25", "torus:3x3", "torus:5x5", "petersen", "hypercube:4", "regular:12x3", "ba:20x2"}) {
    graph g = confab::harness::parse_topology(spec, 1).value();
    matrix W = random_weights(g, 1);
    for (int i = 0; i < g.n(); ++i)
      EXPECT_EQ(observations_min(g, W, i, g.n()).steps, exact_min_observations(g, i, 11)) << spec << " node " << i;
  }
}

TEST(modular, exact_counts_are_the_generic_ones_and_do_not_depend_on_the_field_weights) {
  EXPECT_EQ(exact_min_observations(ring(9), 0, 1), 4);
  EXPECT_EQ(exact_min_observations(torus(5, 5), 0, 1), 6);
  EXPECT_EQ(exact_min_observations(petersen(), 0, 1), 3);
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    auto a = exact_attack_steps(petersen(), 0, 2, seed);
    EXPECT_EQ(a.steps, 8);
    EXPECT_EQ(a.detecting_steps, 7);
    EXPECT_EQ(exact_attack_steps(torus(3, 3), 0, 1, seed).steps, 3);
  }
  // A path: some pair of subsets is never told apart, at any L.
  EXPECT_EQ(exact_attack_steps(ring(9), 0, 2, 1).steps, -1);
}
