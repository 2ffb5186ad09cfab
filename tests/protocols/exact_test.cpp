// Exact consensus over the network (protocols/exact): the linear rounds,
// the recovery at every node, and compromised nodes, in deterministic
// simulations over many seeds (delays, reordering, loss with resends,
// duplicates). Every honest node's answer is checked against linalg's
// single-process answer for the same graph, weights and injections.
// A failure prints the seed that replays it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/sim/simulator.hpp"
#include "linalg/exact.hpp"
#include "linalg/malicious.hpp"
#include "protocols/exact/node.hpp"

namespace confab::exact {
namespace {

using namespace std::chrono_literals;

int sweep(int normal) { return std::getenv("CONFAB_SWEEP_COUNT") ? std::min(normal, std::atoi(std::getenv("CONFAB_SWEEP_COUNT"))) : normal; }

double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double d = 0, s = 1;
  for (std::size_t k = 0; k < a.size(); ++k) d = std::max(d, std::fabs(a[k] - b[k])), s = std::max(s, std::fabs(b[k]));
  return d / s;
}

struct run {
  std::shared_ptr<const linalg::graph> g;
  std::shared_ptr<const linalg::matrix> W;
  std::vector<std::shared_ptr<const recoverer>> plans;
  std::vector<double> x0;
  std::vector<behaviour> lie;
  std::vector<decision> decisions;
  std::vector<int> decided;
  std::vector<exact_node*> nodes;
  int rounds = 0, f = 0;

  run(linalg::graph graph, int f_, std::uint64_t seed) : f(f_) {
    g = std::make_shared<const linalg::graph>(std::move(graph));
    W = std::make_shared<const linalg::matrix>(linalg::random_weights(*g, seed));
    seam::random rng(seed + 1);
    for (int i = 0; i < g->n(); ++i) x0.push_back(2 * rng.unit() - 1);
    for (int i = 0; i < g->n(); ++i) {
      plans.push_back(std::make_shared<const recoverer>(g, W, i, f));
      rounds = std::max(rounds, plans.back()->steps());
    }
    lie.resize(x0.size());
    decisions.resize(x0.size());
    decided.assign(x0.size(), 0);
  }

  void build(sim::simulator& s) {
    std::vector<seam::node_id> ids;
    for (int i = 0; i < g->n(); ++i) ids.push_back(static_cast<seam::node_id>(i));
    for (int i = 0; i < g->n(); ++i) {
      exact_config c{.g = g, .W = W, .self = i, .ids = ids, .f = f, .rounds = static_cast<std::uint32_t>(rounds),
                     .x0 = x0[static_cast<std::size_t>(i)], .lie = lie[static_cast<std::size_t>(i)], .stall_timeout = 20s};
      EXPECT_TRUE(validate(c)) << validate(c).error().text;
      s.add_node([this, c, i](seam::node_id) {
        auto n = std::make_unique<exact_node>(c, plans[static_cast<std::size_t>(i)], [this, i](const decision& d) {
          decisions[static_cast<std::size_t>(i)] = d;
          ++decided[static_cast<std::size_t>(i)];
        });
        nodes.push_back(n.get());
        return n;
      });
    }
  }

  // linalg's single-process answer at node i for the injections in `lie`.
  decision reference(int i) const {
    std::vector<int> attackers;
    for (int j = 0; j < g->n(); ++j)
      if (lie[static_cast<std::size_t>(j)].how != strategy::honest) attackers.push_back(j);
    const auto& p = *plans[static_cast<std::size_t>(i)];
    std::vector<std::vector<double>> errs(static_cast<std::size_t>(p.steps()), std::vector<double>(attackers.size()));
    for (std::size_t a = 0; a < attackers.size(); ++a) {
      const auto u = injections(lie[static_cast<std::size_t>(attackers[a])], static_cast<std::uint32_t>(rounds));
      for (std::size_t k = 0; k < errs.size() && k < u.size(); ++k) errs[k][a] = u[k];
    }
    return p.decide(linalg::observe_attacked(*g, *W, i, x0, p.steps() - 1, attackers, errs));
  }
};

TEST(exact_config, validate_names_the_first_problem) {
  run r(linalg::ring(5), 0, 3);
  std::vector<seam::node_id> ids{0, 1, 2, 3, 4};
  exact_config c{.g = r.g, .W = r.W, .self = 0, .ids = ids, .f = 0, .rounds = 5, .x0 = 1};
  EXPECT_TRUE(validate(c));
  auto bad = c;
  bad.self = 5;
  EXPECT_EQ(validate(bad).error().text, "vertex 5 is not in the graph");
  bad = c;
  bad.f = 4;
  EXPECT_EQ(validate(bad).error().text, "f must be between 0 and 3");
  bad = c;
  bad.ids.pop_back();
  EXPECT_EQ(validate(bad).error().text, "the node ids do not cover every vertex");
  bad = c;
  bad.rounds = 0;
  EXPECT_EQ(validate(bad).error().text, "rounds must be between 1 and 4n+8 (got 0)");
  bad = c;
  bad.lie.how = strategy::crafted;
  EXPECT_EQ(validate(bad).error().text, "a crafted attack needs its errors");
  // The rounds' own check: a weight row that does not sum to 1.
  auto a = exact_node::rounds_config(c);
  EXPECT_TRUE(average::validate(a, 0));
  a.self_weight += 0.01;
  EXPECT_NE(average::validate(a, 0).error().text.find("weight row summing to 1"), std::string::npos);
}

TEST(exact_core, every_node_recovers_x0_from_observations_linalg_makes) {
  for (auto g : {linalg::ring(9), linalg::petersen(), linalg::torus(3, 3), linalg::hypercube(4)}) {
    run r(g, 0, 7);
    for (int i = 0; i < r.g->n(); ++i) {
      const auto& p = *r.plans[static_cast<std::size_t>(i)];
      ASSERT_GT(p.steps(), 0) << g.name << " node " << i << ": " << p.unusable();
      const auto d = p.decide(linalg::observe(*r.g, *r.W, i, r.x0, p.steps()));
      EXPECT_EQ(d.what, verdict::recovered) << g.name;
      EXPECT_LT(rel_diff(d.x0, r.x0), 1e-9) << g.name << " node " << i;
      EXPECT_FALSE(d.attack_detected);
    }
  }
}

// Honest runs: every node ends with x(0) equal to linalg's answer, under
// delay, reordering, loss (resends fill the gaps) and duplicates.
TEST(exact_sim, honest_nodes_recover_x0_under_delay_loss_and_duplicates) {
  const int count = sweep(200);
  for (int seed = 1; seed <= count; ++seed) {
    sim::network_model m{.delay_min = 1ms, .delay_max = 40ms, .loss = 0.05, .retransmit = (seed % 2) == 0, .duplicate = 0.05};
    sim::simulator s(static_cast<std::uint64_t>(seed), m);
    run r(seed % 2 ? linalg::petersen() : linalg::torus(3, 3), 0, static_cast<std::uint64_t>(seed));
    r.build(s);
    s.run_for(600s);
    for (int i = 0; i < r.g->n(); ++i) {
      ASSERT_EQ(r.decided[static_cast<std::size_t>(i)], 1) << "seed " << seed << " node " << i;
      const auto& d = r.decisions[static_cast<std::size_t>(i)];
      ASSERT_EQ(d.what, verdict::recovered) << "seed " << seed << " node " << i << ": " << d.detail;
      EXPECT_LT(rel_diff(d.x0, r.reference(i).x0), 1e-9) << "seed " << seed << " node " << i;
      EXPECT_LT(rel_diff(d.x0, r.x0), 1e-9) << "seed " << seed << " node " << i;
    }
  }
}

// One compromised node adding a constant or noise (f = 1): every honest
// node recovers x(0), names it, and agrees with linalg's answer.
TEST(exact_sim, honest_nodes_find_one_liar_and_still_recover_x0) {
  const int count = sweep(60);
  for (int seed = 1; seed <= count; ++seed) {
    sim::network_model m{.delay_min = 1ms, .delay_max = 20ms, .duplicate = 0.05};
    sim::simulator s(static_cast<std::uint64_t>(seed), m);
    run r(linalg::torus(3, 3), 1, static_cast<std::uint64_t>(seed));
    const int bad = seed % 9;
    r.lie[static_cast<std::size_t>(bad)] = {.how = seed % 2 ? strategy::offset : strategy::noise, .size = 0.5, .seed = 99};
    r.build(s);
    s.run_for(600s);
    for (int i = 0; i < r.g->n(); ++i) {
      if (i == bad) continue;
      const auto& d = r.decisions[static_cast<std::size_t>(i)];
      const auto ref = r.reference(i);
      ASSERT_EQ(r.decided[static_cast<std::size_t>(i)], 1) << "seed " << seed << " node " << i;
      EXPECT_EQ(d.what, ref.what) << "seed " << seed << " node " << i << ": " << d.detail;
      EXPECT_EQ(d.identified, ref.identified) << "seed " << seed << " node " << i;
      if (d.what == verdict::recovered) {
        EXPECT_TRUE(d.attack_detected);
        EXPECT_EQ(d.identified, std::vector<int>{bad}) << "seed " << seed << " node " << i;
        EXPECT_LT(rel_diff(d.x0, ref.x0), 1e-9) << "seed " << seed << " node " << i;
        EXPECT_LT(rel_diff(d.x0, r.x0), 1e-6) << "seed " << seed << " node " << i;
      }
    }
  }
}

// A node that falls silent is reported by its neighbours after the stall
// timeout and every node decides: its neighbours stalled, naming it; the
// others halted when told, or recovered x(0) when their observations were
// complete before the silence reached them (then x(0) is right): nobody
// waits for ever.
TEST(exact_sim, a_silent_node_is_reported_and_nobody_waits_for_ever) {
  sim::simulator s(5, sim::network_model{.delay_min = 1ms, .delay_max = 10ms});
  run r(linalg::petersen(), 0, 5);
  r.lie[4] = {.how = strategy::silent, .from_round = 2};
  r.build(s);
  s.run_for(300s);
  for (int i = 0; i < r.g->n(); ++i) {
    ASSERT_EQ(r.decided[static_cast<std::size_t>(i)], 1) << "node " << i;
    if (i == 4) continue;
    const auto& d = r.decisions[static_cast<std::size_t>(i)];
    if (r.g->has_edge(i, 4)) {
      EXPECT_EQ(d.what, verdict::stalled) << "node " << i;
      EXPECT_EQ(d.silent, 4) << "node " << i;
    } else if (d.what == verdict::recovered) {
      EXPECT_LT(rel_diff(d.x0, r.x0), 1e-9) << "node " << i;
    } else {
      EXPECT_EQ(d.what, verdict::halted) << "node " << i << ": " << name_of(d.what);
    }
  }
}

// A two-faced node is outside the linear model: with f = 1 the nodes that
// see it never take a wrong x(0) as certain.
TEST(exact_sim, a_two_faced_node_never_yields_a_wrong_x0) {
  sim::simulator s(9, sim::network_model{.delay_min = 1ms, .delay_max = 10ms});
  run r(linalg::torus(3, 3), 1, 9);
  r.lie[2] = {.how = strategy::two_faced, .size = 0.25};
  r.build(s);
  s.run_for(300s);
  int recovered = 0;
  for (int i = 0; i < r.g->n(); ++i) {
    if (i == 2) continue;
    const auto& d = r.decisions[static_cast<std::size_t>(i)];
    ASSERT_EQ(r.decided[static_cast<std::size_t>(i)], 1);
    if (d.what == verdict::recovered) {
      ++recovered;
      // Whoever answers names node 2 and has x(0) of the honest nodes.
      EXPECT_EQ(d.identified, std::vector<int>{2}) << "node " << i;
      for (int j = 0; j < r.g->n(); ++j)
        if (j != 2) {
          EXPECT_NEAR(d.x0[static_cast<std::size_t>(j)], r.x0[static_cast<std::size_t>(j)], 1e-6) << "node " << i;
        }
    }
  }
  RecordProperty("recovered", recovered);
}

// Frames from a stranger, a round far ahead, two values for one round,
// garbage: refused and counted; the run's answers are unchanged.
TEST(exact_node, bad_frames_are_refused_and_counted) {
  run r(linalg::ring(5), 0, 4);
  std::vector<seam::node_id> ids{0, 1, 2, 3, 4};
  exact_config c{.g = r.g, .W = r.W, .self = 0, .ids = ids, .f = 0, .rounds = static_cast<std::uint32_t>(r.rounds), .x0 = 1};
  exact_node n(c, r.plans[0], {});
  struct fake_env final : seam::env {
    seam::random r{1};
    seam::node_id self() const noexcept override { return 0; }
    seam::time_point now() const noexcept override { return 0ns; }
    seam::random& rng() noexcept override { return r; }
    result<void> send(seam::node_id, std::span<const std::byte>) override { return {}; }
    void set_timer(seam::time_point) override {}
  } e;
  n.on_start(e);
  const auto frame = [](average::state st) { return average::encode(average::message{st}); };
  EXPECT_FALSE(n.on_message(e, 2, frame({.round = 0, .x = 1, .dt = 1})));  // not a neighbour
  EXPECT_FALSE(n.on_message(e, 1, frame({.round = 9, .x = 1, .dt = 1})));  // far ahead
  EXPECT_TRUE(n.on_message(e, 1, frame({.round = 0, .x = 1, .dt = 1})));
  EXPECT_FALSE(n.on_message(e, 1, frame({.round = 0, .x = 2, .dt = 1})));  // a second value for round 0
  const std::byte junk[3]{std::byte{0x82}, std::byte{1}, std::byte{0}};
  EXPECT_FALSE(n.on_message(e, 1, junk));
  EXPECT_EQ(n.rejected(), 4u);
  EXPECT_FALSE(n.decided());
}

}  // namespace
}  // namespace confab::exact
