#include "linalg/malicious.hpp"  // first: the header compiles alone

#include <gtest/gtest.h>

#include "linalg/modular.hpp"
#include "harness/topology.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

using namespace confab::linalg;

namespace {

// One random trial at observer 0: x(0) uniform in [-1, 1], f compromised
// nodes drawn among the others, errors uniform in [-scale, scale] at every
// step; returns x(0), the compromised nodes (sorted) and what 0 observes.
struct attack_trial {
  std::vector<double> x0;
  std::vector<int> attackers;
  std::vector<double> y;
};
attack_trial random_attack(const graph& g, const matrix& W, const attack_plan& plan, double scale, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  attack_trial t;
  t.x0.resize(static_cast<std::size_t>(g.n()));
  for (auto& v : t.x0) v = u(rng);
  std::vector<int> nodes;
  for (int v = 1; v < g.n(); ++v) nodes.push_back(v);
  std::shuffle(nodes.begin(), nodes.end(), rng);
  t.attackers.assign(nodes.begin(), nodes.begin() + plan.f);
  std::sort(t.attackers.begin(), t.attackers.end());
  std::vector<std::vector<double>> err(static_cast<std::size_t>(plan.L), std::vector<double>(static_cast<std::size_t>(plan.f)));
  for (auto& r : err)
    for (auto& v : r) v = scale * u(rng);
  t.y = observe_attacked(g, W, 0, t.x0, plan.L, t.attackers, err);
  return t;
}

struct trial_counts {
  int exact = 0, ambiguous = 0, wrong = 0, agree = 0;
};

// The trials of the two long sweeps: all of them by default; the runs
// under other OpenBLAS kernels (tests/meson.build) take CONFAB_LINALG_TRIALS
// percent of them, the same seeds first, since what they look for is a
// decision that changes with the kernel, not a rarer attack.
int trials_of(int all) {
  const char* pct = std::getenv("CONFAB_LINALG_TRIALS");
  const int p = pct ? std::clamp(std::atoi(pct), 1, 100) : 100;
  return std::max(1, all * p / 100);
}

// 100 seeded trials: random x(0), f random compromised nodes (never the
// observer), uniform errors in [-1, 1] at every step.
trial_counts run_trials(const std::string& spec, int f, std::uint64_t seed) {
  graph g = confab::harness::parse_topology(spec, 1).value();
  matrix W = random_weights(g, seed);
  auto plan = plan_attack_recovery(g, W, 0, f);
  EXPECT_EQ(plan.status, attack_status::ok) << spec << " f=" << f << ": " << attack_status_name(plan.status);
  trial_counts c;
  if (plan.status != attack_status::ok) return c;
  std::mt19937_64 rng(seed * 1000 + static_cast<std::uint64_t>(f));
  for (int t = 0; t < trials_of(100); ++t) {
    auto [x0, att, y] = random_attack(g, W, plan, 1.0, rng);
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
      auto c = run_trials(spec, f, 1);
      EXPECT_EQ(c.exact, trials_of(100)) << spec << " f=" << f << " ambiguous " << c.ambiguous << " wrong " << c.wrong;
      EXPECT_EQ(c.agree, trials_of(100)) << spec << " f=" << f << ": batched and naive paths disagree";
    }
  }
}

TEST(malicious, the_step_counts_match_table_4_and_an_exact_computation) {
  // Table 4's steps: f = 1 as printed; f = 2 as printed for Torus 25 (12)
  // and Petersen (8). Torus 9 with f = 2 needs 4 where the paper prints 5:
  // every pair of subsets is already distinguishable at 4 (and the exact
  // computation agrees). Every count is also computed over GF(2^61 - 1)
  // with random field weights, so a float decision that rounding flipped
  // fails here whichever BLAS kernel runs.
  struct row {
    const char* spec;
    int f, steps;
  };
  const row rows[] = {{"ring:9", 1, 8},   {"torus:3x3", 1, 3}, {"torus:5x5", 1, 8}, {"petersen", 1, 5},
                      {"torus:3x3", 2, 4}, {"torus:5x5", 2, 12}, {"petersen", 2, 8}, {"hypercube:4", 2, 7}};
  for (auto [spec, f, steps] : rows) {
    graph g = confab::harness::parse_topology(spec, 1).value();
    matrix W = random_weights(g, 1);
    auto plan = plan_attack_recovery(g, W, 0, f);
    ASSERT_EQ(plan.status, attack_status::ok) << spec << " f=" << f;
    EXPECT_EQ(plan.L + 1, steps) << spec << " f=" << f;
    EXPECT_TRUE(plan.identifiable) << spec << " f=" << f;
    for (std::uint64_t field_seed : {3u, 4u})
      EXPECT_EQ(exact_attack_steps(g, 0, f, field_seed).steps, plan.L + 1) << spec << " f=" << f << " field seed " << field_seed;
  }
}

namespace {
struct sweep_counts {
  int agree = 0, ok = 0, identified = 0, ambiguous = 0, trials = 0;
  double worst_error = 0;
};
// `trials` random attacks with errors uniform in [-scale, scale] at every
// step: both paths' answers, and how far an answered x(0) is off.
sweep_counts sweep(const graph& g, const matrix& W, const attack_plan& plan, double scale, int trials, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  sweep_counts c;
  for (int t = 0; t < trials; ++t, ++c.trials) {
    auto [x0, att, y] = random_attack(g, W, plan, scale, rng);
    auto rb = recover_batched(plan, y, 2);
    auto rn = recover_naive(plan, y);
    bool same = rb.status == rn.status && rb.identified == rn.identified;
    if (same && rb.status == attack_status::ok)
      for (std::size_t i = 0; i < x0.size(); ++i) same = same && std::fabs(rb.x0[i] - rn.x0[i]) <= 1e-9 * std::max(1.0, scale);
    c.agree += same;
    if (rb.status == attack_status::ambiguous) ++c.ambiguous;
    if (rb.status != attack_status::ok) continue;
    ++c.ok;
    c.identified += rb.identified == att;
    for (std::size_t i = 0; i < x0.size(); ++i) c.worst_error = std::max(c.worst_error, std::fabs(rb.x0[i] - x0[i]));
    // Whatever it names was compromised.
    for (int v : rb.identified) EXPECT_TRUE(std::binary_search(att.begin(), att.end(), v)) << "named honest node " << v;
  }
  return c;
}
}  // namespace

TEST(malicious, naive_and_batched_agree_at_every_attack_scale_from_1e_minus_11_to_1e3) {
  const std::pair<const char*, int> cases[] = {{"torus:3x3", 2}, {"torus:5x5", 1}, {"torus:5x5", 2}, {"petersen", 2}, {"ring:9", 1}};
  for (auto [spec, f] : cases) {
    graph g = confab::harness::parse_topology(spec, 1).value();
    matrix W = random_weights(g, 1);
    auto plan = plan_attack_recovery(g, W, 0, f);
    ASSERT_EQ(plan.status, attack_status::ok) << spec;
    for (int e = -11; e <= 3; ++e) {
      const double scale = std::pow(10.0, e);
      auto c = sweep(g, W, plan, scale, trials_of(12), static_cast<std::uint64_t>(e + 50) * 31 + static_cast<std::uint64_t>(f));
      const std::string what = std::string(spec) + " f=" + std::to_string(f) + " scale 1e" + std::to_string(e);
      EXPECT_EQ(c.agree, c.trials) << what << ": batched and naive paths disagree";
      // An answer is never far off: within the attack's own size amplified
      // (below what the observations resolve) or 1e-9 of the data.
      EXPECT_LE(c.worst_error, 1e5 * scale + 1e-9 * std::max(1.0, scale)) << what;
      if (e >= -7) {
        // Well above rounding: every attack found, every attacker named.
        EXPECT_EQ(c.ok, c.trials) << what << " (" << c.ambiguous << " ambiguous)";
        EXPECT_EQ(c.identified, c.trials) << what;
      }
    }
  }
}

TEST(malicious, crafted_attacks_that_two_subsets_explain_are_answered_ambiguous_by_both_paths) {
  const std::pair<const char*, int> cases[] = {{"torus:5x5", 2}, {"petersen", 2}, {"torus:3x3", 2}, {"torus:5x5", 1}};
  for (auto [spec, f] : cases) {
    graph g = confab::harness::parse_topology(spec, 1).value();
    matrix W = random_weights(g, 1);
    auto plan = plan_attack_recovery(g, W, 0, f);
    ASSERT_EQ(plan.status, attack_status::ok) << spec;
    auto cands = candidate_subsets(g.n(), f, 0);
    std::mt19937_64 rng(7);
    int crafted = 0;
    for (int tries = 0; tries < 200 && crafted < 5; ++tries) {
      const auto& F = cands[rng() % cands.size()];
      const auto& S = cands[rng() % cands.size()];
      bool disjoint = true;
      for (int v : F) disjoint = disjoint && std::find(S.begin(), S.end(), v) == S.end();
      if (!disjoint) continue;
      auto a = craft_ambiguous_attack(plan, F, S);
      if (!a.found) continue;
      ++crafted;
      std::vector<double> x0(static_cast<std::size_t>(g.n()));
      for (auto& v : x0) v = static_cast<double>(rng() % 1000) / 1000.0;
      auto y = observe_attacked(g, W, 0, x0, plan.L, F, a.errors);
      auto rb = recover_batched(plan, y, 2);
      auto rn = recover_naive(plan, y);
      EXPECT_EQ(rb.status, attack_status::ambiguous) << spec << " f=" << f << ": " << attack_status_name(rb.status);
      EXPECT_EQ(rn.status, attack_status::ambiguous) << spec << " f=" << f << ": " << attack_status_name(rn.status);
      EXPECT_GE(rb.passing, 2);
      EXPECT_TRUE(rb.x0.empty());
    }
    EXPECT_EQ(crafted, 5) << spec << " f=" << f << ": attacks crafted";
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
