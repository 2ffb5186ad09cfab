#include "linalg/exact.hpp"  // first: the header compiles alone
#include "harness/topology.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace confab::linalg;

namespace {

double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / den);
}

TEST(graph, connectivity_and_diameter_of_the_papers_topologies) {
  EXPECT_EQ(vertex_connectivity(ring(9)), 2);
  EXPECT_EQ(diameter(ring(9)), 4);
  EXPECT_EQ(vertex_connectivity(torus(3, 3)), 4);
  EXPECT_EQ(vertex_connectivity(torus(5, 5)), 4);
  EXPECT_EQ(diameter(torus(5, 5)), 4);
  EXPECT_EQ(vertex_connectivity(petersen()), 3);
  EXPECT_EQ(diameter(petersen()), 2);
  EXPECT_EQ(petersen().edges(), 15u);
  EXPECT_EQ(vertex_connectivity(hypercube(4)), 4);
  EXPECT_EQ(vertex_connectivity(complete(6)), 5);
  EXPECT_FALSE(connected_without(ring(9), {0, 4}));
  EXPECT_TRUE(connected_without(torus(3, 3), {0, 4}));
}

TEST(graph, topology_specs_and_edge_lists_report_what_is_wrong) {
  EXPECT_TRUE(confab::harness::parse_topology("torus:5x5", 1).has_value());
  EXPECT_TRUE(confab::harness::parse_topology("ba:50x2", 1).has_value());
  auto bad = confab::harness::parse_topology("torus:5", 1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().text.find("unknown or malformed topology 'torus:5'"), std::string::npos);
  auto e1 = confab::harness::parse_edge_list("0 1\n1 2\n2 x\n", "g.txt");
  ASSERT_FALSE(e1.has_value());
  EXPECT_EQ(e1.error().text, "g.txt: line 3: expected exactly two node numbers");
  auto e2 = confab::harness::parse_edge_list("# a triangle\n0 1\n1 2\n2 0\n", "tri");
  ASSERT_TRUE(e2.has_value());
  EXPECT_EQ(e2.value().n(), 3);
}

TEST(exact, the_papers_four_node_ring_recovers_x0_at_node_1_in_two_steps) {
  graph g = ring(4);
  matrix W = metropolis_hastings(g);
  EXPECT_NEAR(W(0, 1), 1.0 / 3, 1e-15);
  matrix O = observability(g, W, 0, 2);
  EXPECT_EQ(O.rows, 6);
  EXPECT_EQ(numerical_rank(O).rank, 4);
  EXPECT_LT(numerical_rank(observability(g, W, 0, 1)).rank, 4);
  const std::vector<double> x0 = {1, 2, 3, 4};
  auto y = observe(g, W, 0, x0, 2);
  auto got = recovery_matrix(O).apply(y);
  EXPECT_LT(rel_error(got, x0), 1e-12);
  // The average through Q = [1/4 ...], the paper's f.
  matrix Q(1, 4);
  for (int c = 0; c < 4; ++c) Q(0, c) = 0.25;
  EXPECT_NEAR(recovery_matrix(O, Q).apply(y)[0], 2.5, 1e-12);
}

struct table1_row {
  const char* spec;
  int steps;
};

TEST(exact, table1_step_counts_hold_at_every_node_with_random_weights) {
  const table1_row rows[] = {{"ring:9", 4}, {"ring:25", 12}, {"torus:3x3", 2}, {"torus:5x5", 6}, {"petersen", 3}};
  for (auto r : rows) {
    graph g = confab::harness::parse_topology(r.spec, 1).value();
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      matrix W = random_weights(g, seed);
      for (int i = 0; i < g.n(); ++i) {
        EXPECT_EQ(observations_min(g, W, i, g.n()).steps, r.steps) << r.spec << " node " << i << " seed " << seed;
      }
    }
  }
}

TEST(exact, random_initial_states_are_recovered_to_1e_8_relative_error) {
  const table1_row rows[] = {{"ring:9", 4}, {"torus:3x3", 2}, {"torus:5x5", 6}, {"petersen", 3}, {"ring:25", 12}};
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-100, 100);
  for (auto r : rows) {
    graph g = confab::harness::parse_topology(r.spec, 1).value();
    matrix W = random_weights(g, 7);
    double worst = 0;
    for (int i = 0; i < g.n(); ++i) {
      std::vector<double> x0(static_cast<std::size_t>(g.n()));
      for (auto& v : x0) v = u(rng);
      auto got = recovery_matrix(observability(g, W, i, r.steps)).apply(observe(g, W, i, x0, r.steps));
      worst = std::max(worst, rel_error(got, x0));
    }
    std::printf("[ recover  ] %-10s worst relative error %.2e\n", r.spec, worst);
    EXPECT_LT(worst, 1e-8) << r.spec;
  }
}

// Every node's recovery of x(0), for 16 runs at once, in one GEMM: equal
// to each node's own Gamma_i y_i, and to x(0) within 1e-8.
TEST(exact, all_nodes_recover_x0_in_one_gemm) {
  for (const char* spec : {"ring:9", "torus:3x3", "torus:5x5", "petersen"}) {
    const graph g = confab::harness::parse_topology(spec, 1).value();
    const matrix W = random_weights(g, 3);
    const auto plan = all_nodes_recovery(g, W);
    ASSERT_GT(plan.steps, 0) << spec;
    const int n = g.n(), T = 16;
    std::mt19937_64 rng(9);
    std::uniform_real_distribution<double> u(-5, 5);
    std::vector<std::vector<double>> x0s(T, std::vector<double>(static_cast<std::size_t>(n)));
    matrix traj(n * plan.steps, T);
    for (int t = 0; t < T; ++t) {
      for (auto& v : x0s[static_cast<std::size_t>(t)]) v = u(rng);
      const auto tr = trajectory(W, x0s[static_cast<std::size_t>(t)], plan.steps);
      std::copy(tr.begin(), tr.end(), traj.data.begin() + static_cast<std::ptrdiff_t>(t) * traj.rows);
    }
    const matrix est = recover_all_nodes(plan, traj);
    ASSERT_EQ(est.rows, n * n);
    for (int i = 0; i < n; ++i) {
      const matrix gamma = recovery_matrix(observability(g, W, i, plan.steps));
      for (int t = 0; t < T; ++t) {
        std::vector<double> mine(static_cast<std::size_t>(n));
        for (int a = 0; a < n; ++a) mine[static_cast<std::size_t>(a)] = est(i * n + a, t);
        const auto own = gamma.apply(observe(g, W, i, x0s[static_cast<std::size_t>(t)], plan.steps));
        EXPECT_LT(rel_error(mine, own), 1e-10) << spec << " node " << i;
        EXPECT_LT(rel_error(mine, x0s[static_cast<std::size_t>(t)]), 1e-8) << spec << " node " << i;
      }
    }
  }
}

TEST(exact, metropolis_hastings_leaves_highly_symmetric_graphs_unobservable) {
  // An eigenvalue of W repeated more than deg_i + 1 times has an eigenvector
  // that vanishes on everything node i sees (PBH test). Metropolis-Hastings
  // weights keep the graph's symmetry, so on the torus, Petersen graph and
  // 4-cube no node can ever observe x(0); random weights fix every one.
  for (const char* spec : {"torus:3x3", "torus:5x5", "petersen", "hypercube:4"}) {
    graph g = confab::harness::parse_topology(spec, 1).value();
    for (int i = 0; i < g.n(); ++i) {
      EXPECT_EQ(observations_min(g, metropolis_hastings(g), i, g.n()).steps, -1) << spec << " node " << i;
    }
    EXPECT_GT(observations_min(g, random_weights(g, 1), 0, g.n()).steps, 0) << spec;
  }
  // Rings have eigenvalues of multiplicity 2 only, within what a node sees.
  graph r = ring(9);
  EXPECT_EQ(observations_min(r, metropolis_hastings(r), 0, r.n()).steps, 4);
}

TEST(exact, bounds_bracket_the_exact_step_count) {
  for (const char* spec : {"ring:9", "torus:5x5", "petersen", "hypercube:4"}) {
    graph g = confab::harness::parse_topology(spec, 1).value();
    for (auto& b : bounds(g, random_weights(g, 3))) {
      EXPECT_GE(b.exact, b.intake) << spec << " node " << b.node;
      EXPECT_GE(b.exact, b.diameter) << spec << " node " << b.node;  // data availability (regular graphs)
      EXPECT_GE(b.exact, b.node_intake) << spec << " node " << b.node;
      EXPECT_LE(b.exact, b.upper) << spec << " node " << b.node;
      EXPECT_EQ(b.exact, b.largest_branch) << spec << " node " << b.node;
    }
  }
}

TEST(exact, asymptotic_baseline_needs_many_more_iterations) {
  graph g = ring(9);
  std::vector<double> x0(9);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& v : x0) v = u(rng);
  const int coarse = asymptotic_iterations(metropolis_hastings(g), x0, 1e-2);
  const int fine = asymptotic_iterations(metropolis_hastings(g), x0, 1e-10);
  EXPECT_GT(coarse, 4);
  EXPECT_GT(fine, coarse * 3);
}

}  // namespace
