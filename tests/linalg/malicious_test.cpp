#include "linalg/malicious.hpp"  // first: the header compiles alone

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace confab::linalg;

namespace {

struct trial_counts {
  int exact = 0, ambiguous = 0, wrong = 0, agree = 0;
};

// 100 seeded trials: random x(0), f random compromised nodes (never the
// observer), uniform errors in [-1, 1] at every step.
trial_counts run_trials(const std::string& spec, int f, std::uint64_t seed) {
  graph g = std::get<graph>(parse_topology(spec, 1));
  matrix W = random_weights(g, seed);
  auto plan = plan_attack_recovery(g, W, 0, f);
  EXPECT_EQ(plan.status, attack_status::ok) << spec << " f=" << f << ": " << attack_status_name(plan.status);
  trial_counts c;
  if (plan.status != attack_status::ok) return c;
  std::mt19937_64 rng(seed * 1000 + static_cast<std::uint64_t>(f));
  std::uniform_real_distribution<double> u(-1, 1);
  for (int t = 0; t < 100; ++t) {
    std::vector<double> x0(static_cast<std::size_t>(g.n()));
    for (auto& v : x0) v = u(rng);
    std::vector<int> nodes;
    for (int v = 1; v < g.n(); ++v) nodes.push_back(v);
    std::shuffle(nodes.begin(), nodes.end(), rng);
    std::vector<int> att(nodes.begin(), nodes.begin() + f);
    std::sort(att.begin(), att.end());
    std::vector<std::vector<double>> err(static_cast<std::size_t>(plan.L), std::vector<double>(static_cast<std::size_t>(f)));
    for (auto& r : err)
      for (auto& v : r) v = u(rng);
    auto y = observe_attacked(g, W, 0, x0, plan.L, att, err);
    auto rb = recover_batched(plan, y, 2);
    auto rn = recover_naive(plan, y);
    if (rb.status == rn.status && rb.found == rn.found && rb.identified == rn.identified) ++c.agree;
    if (rb.status == attack_status::ambiguous) {
      ++c.ambiguous;
      continue;
    }
    double e = 0, scale = 0;
    for (std::size_t i = 0; i < x0.size() && rb.status == attack_status::ok; ++i) {
      e = std::max(e, std::fabs(rb.x0[i] - x0[i]));
      scale = std::max(scale, std::fabs(x0[i]));
    }
    if (rb.status == attack_status::ok && e < 1e-8 * std::max(1.0, scale) * 1e2 && rb.identified == att)
      ++c.exact;
    else
      ++c.wrong;
  }
  return c;
}

TEST(malicious, one_and_two_compromised_nodes_are_identified_and_x0_recovered_in_100_trials) {
  for (const char* spec : {"torus:3x3", "torus:5x5", "petersen"}) {
    for (int f : {1, 2}) {
      if (std::string(spec) == "petersen" && f == 2) continue;  // below
      auto c = run_trials(spec, f, 1);
      EXPECT_EQ(c.exact, 100) << spec << " f=" << f << " ambiguous " << c.ambiguous << " wrong " << c.wrong;
      EXPECT_EQ(c.agree, 100) << spec << " f=" << f << ": batched and naive paths disagree";
    }
  }
}

TEST(malicious, petersen_with_two_compromised_nodes_is_reported_ambiguous_never_answered_wrongly) {
  // kappa = 3 < 2f: from one observer, some pairs of compromised sets
  // explain the same observations with different x(0) at every L.
  graph g = petersen();
  matrix W = random_weights(g, 1);
  auto plan = plan_attack_recovery(g, W, 0, 2);
  ASSERT_EQ(plan.status, attack_status::ok);
  EXPECT_FALSE(plan.identifiable);
  auto c = run_trials("petersen", 2, 1);
  EXPECT_EQ(c.wrong, 0);
  EXPECT_EQ(c.exact + c.ambiguous, 100);
  EXPECT_EQ(c.agree, 100);
}

TEST(malicious, the_step_counts_match_table_4_for_one_compromised_node) {
  const std::pair<const char*, int> rows[] = {{"ring:9", 8}, {"torus:3x3", 3}, {"torus:5x5", 8}, {"petersen", 5}};
  for (auto [spec, steps] : rows) {
    graph g = std::get<graph>(parse_topology(spec, 1));
    matrix W = random_weights(g, 1);
    auto plan = plan_attack_recovery(g, W, 0, 1);
    ASSERT_EQ(plan.status, attack_status::ok) << spec;
    EXPECT_EQ(plan.L + 1, steps) << spec;
    EXPECT_TRUE(plan.identifiable) << spec;
  }
}

TEST(malicious, cases_the_maths_cannot_serve_are_reported) {
  graph r25 = ring(25);
  matrix W25 = random_weights(r25, 1);
  EXPECT_EQ(plan_attack_recovery(r25, W25, 0, 1).status, attack_status::degenerate);
  graph r9 = ring(9);
  matrix W9 = random_weights(r9, 1);
  auto p = plan_attack_recovery(r9, W9, 0, 2);
  EXPECT_EQ(p.status, attack_status::disconnecting);
  EXPECT_NE(p.detail.find("vertex connectivity 2"), std::string::npos);
}

TEST(malicious, no_attack_passes_detection_and_recovers_directly) {
  graph g = torus(3, 3);
  matrix W = random_weights(g, 2);
  auto plan = plan_attack_recovery(g, W, 0, 1);
  ASSERT_EQ(plan.status, attack_status::ok);
  std::vector<double> x0 = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto y = observe_attacked(g, W, 0, x0, plan.L, {}, std::vector<std::vector<double>>(static_cast<std::size_t>(plan.L)));
  EXPECT_FALSE(attack_detected(plan, y));
  auto r = recover_batched(plan, y);
  ASSERT_EQ(r.status, attack_status::ok);
  EXPECT_TRUE(r.identified.empty());
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(r.x0[static_cast<std::size_t>(i)], x0[static_cast<std::size_t>(i)], 1e-9);
}

TEST(malicious, fault_matrix_matches_its_definition) {
  graph g = ring(5);
  matrix W = random_weights(g, 3);
  matrix M = fault_matrix(g, W, 0, {2}, 3);
  EXPECT_EQ(M.rows, 3 * 4);
  EXPECT_EQ(M.cols, 3);
  // Row block 0 is zero; block k, column l is C_0 W^{k-1-l} e_2.
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(M(r, c), 0.0);
  matrix C = selection(g, 0);
  matrix CW = multiply(C, W);
  for (int r = 0; r < 3; ++r) {
    EXPECT_DOUBLE_EQ(M(3 + r, 0), C(r, 2));       // k=1, l=0: C e_2
    EXPECT_DOUBLE_EQ(M(6 + r, 0), CW(r, 2));      // k=2, l=0: C W e_2
    EXPECT_DOUBLE_EQ(M(6 + r, 1), C(r, 2));       // k=2, l=1
  }
  EXPECT_EQ(subsets(5, 2).size(), 10u);
  EXPECT_EQ(subsets(24, 3).size(), 2024u);
}

}  // namespace
