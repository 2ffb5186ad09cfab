// Average consensus (protocols/average): the wire, the pure core from
// tables, and deterministic simulations over many seeds.
//   - lock-step rounds give, bit for bit, the matrix iteration
//     x(k+1) = x(k) - dt L x(k-d) whatever the delays and reordering;
//   - push-sum conserves mass (held + in flight) to 1e-12 with 10% of
//     frames lost and 10% duplicated, and converges to the average;
//   - bad input is refused by name and a silent neighbour is reported,
//     never waited on forever.
// A failure prints the seed that replays it.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "engine/sim/simulator.hpp"
#include "protocols/average/node.hpp"

extern "C" int confab_fuzz_average_decoder(const std::uint8_t* data, std::size_t size);

namespace confab::average {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------- wire

std::vector<message> samples() {
  return {state{.round = 7, .x = -2.5, .dt = 0.25}, state{.round = 1, .x = 3, .dt = 1, .again = true}, push{.seq = 3, .s = 12.5, .w = 0.75},
          halt{.reason = halt_reason::stalled, .round = 9}};
}

TEST(average_wire, every_message_round_trips_and_every_truncation_is_refused) {
  for (const auto& m : samples()) {
    const auto bytes = encode(m);
    auto back = decode(bytes);
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, m);
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) EXPECT_FALSE(decode(std::span(bytes).first(cut))) << "cut " << cut;
    auto longer = bytes;
    longer.push_back(std::byte{0});
    ASSERT_FALSE(decode(longer));
    EXPECT_STREQ(decode(longer).error().detail, "trailing bytes after the message");
  }
}

TEST(average_wire, refusals_name_what_was_wrong) {
  auto nan_state = encode(state{.round = 1, .x = 1, .dt = 0.1});
  const auto nan_bits = std::bit_cast<std::uint64_t>(std::numeric_limits<double>::quiet_NaN());
  for (int i = 0; i < 8; ++i) nan_state[6 + i] = static_cast<std::byte>(nan_bits >> (56 - 8 * i));
  EXPECT_STREQ(decode(nan_state).error().detail, "state: x is not finite");
  EXPECT_STREQ(decode(encode(state{.round = 1, .x = 1, .dt = -0.1})).error().detail, "state: dt is not positive");
  EXPECT_STREQ(decode(encode(push{.seq = 0, .s = 1, .w = 1})).error().detail, "push: sequence number 0");
  std::vector<std::byte> peers_msg{std::byte{0x81}, std::byte{1}};
  EXPECT_STREQ(decode(peers_msg).error().detail, "not an average-consensus message (wrong version byte)");
  std::vector<std::byte> unknown{std::byte{0x82}, std::byte{99}};
  EXPECT_STREQ(decode(unknown).error().detail, "unknown average-consensus message type");
  auto bad_again = encode(state{.round = 1, .x = 1, .dt = 0.1});
  bad_again.back() = std::byte{2};
  EXPECT_STREQ(decode(bad_again).error().detail, "state: again is neither 0 nor 1");
  auto bad_reason = encode(halt{});
  bad_reason[2] = std::byte{7};
  EXPECT_STREQ(decode(bad_reason).error().detail, "halt: unknown reason");
}

TEST(average_wire, fuzz_deterministic_run_never_crashes_and_accepts_only_canonical_bytes) {
  seam::random rng(42);
  std::vector<std::uint8_t> buf;
  for (int i = 0; i < 200000; ++i) {
    if (i % 3 == 0) {
      const auto m = samples()[rng.below(4)];
      auto b = encode(m);
      buf.assign(reinterpret_cast<const std::uint8_t*>(b.data()), reinterpret_cast<const std::uint8_t*>(b.data()) + b.size());
      for (int f = 0; f < 1 + static_cast<int>(rng.below(3)); ++f)
        if (!buf.empty()) buf[rng.below(buf.size())] ^= static_cast<std::uint8_t>(1u << rng.below(8));
    } else {
      buf.resize(rng.below(40));
      for (auto& c : buf) c = static_cast<std::uint8_t>(rng.next());
      if (!buf.empty()) buf[0] = 0x82;
    }
    confab_fuzz_average_decoder(buf.data(), buf.size());
  }
}

// ---------------------------------------------------------------- config

TEST(average_config, validate_names_the_first_problem) {
  struct row {
    average_config c;
    const char* contains;
  };
  const node_id self = 9;
  std::vector<row> rows = {
      {{.x0 = 1, .dt = 0, .neighbours = {{1}}}, "step size dt must be a positive number"},
      {{.x0 = 1, .dt = -0.5, .neighbours = {{1}}}, "(got -0.5)"},
      {{.x0 = NAN, .dt = 0.1, .neighbours = {{1}}}, "x0 is not a finite number"},
      {{.x0 = 1, .dt = 0.1, .neighbours = {}}, "at least one neighbour"},
      {{.x0 = 1, .dt = 0.1, .neighbours = {{9}}}, "lists itself"},
      {{.x0 = 1, .dt = 0.1, .neighbours = {{1}, {1}}}, "listed twice"},
      {{.x0 = 1, .dt = 0.1, .neighbours = {{1, -1.0}}}, "weight that is not a positive number"},
      {{.x0 = 1, .dt = 0.1, .neighbours = {{1}}, .rounds = 0}, "rounds must be between"},
      {{.x0 = 1, .dt = 0.1, .neighbours = {{1}}, .staleness = 65}, "staleness must be at most"},
      {{.x0 = 1, .neighbours = {{1, 0.5}}, .how = mode::linear, .self_weight = 0.6}, "weight row summing to 1"},
      {{.x0 = 1, .neighbours = {{1}}, .how = mode::push_sum, .observe = true}, "for the lock-step modes"},
      {{.x0 = 1, .neighbours = {{1}}, .injections = {1, NAN}}, "injection is not a finite number"},
      {{.x0 = 1, .neighbours = {{1}}, .staleness = 1, .observe = true}, "without staleness"},
  };
  for (const auto& r : rows) {
    auto ok = validate(r.c, self);
    ASSERT_FALSE(ok) << r.contains;
    EXPECT_NE(ok.error().text.find(r.contains), std::string::npos) << ok.error().text;
  }
  EXPECT_TRUE(validate({.x0 = 1, .dt = 0, .neighbours = {{1}}, .how = mode::push_sum}, self)) << "push-sum has no step";
  EXPECT_TRUE(validate({.x0 = 1, .neighbours = {{1, 0.25}, {2, 0.5}}, .how = mode::linear, .self_weight = 0.25}, self));
  EXPECT_EQ(mode_from_name("average-preserving"), mode::average_preserving);
  EXPECT_FALSE(mode_from_name("average"));
  EXPECT_EQ(mode_list(), "laplacian, average-preserving, push-sum, linear");
}

// ---------------------------------------------------------------- core, by hand

// Two nodes, laplacian, mismatched steps: each round is the document's
// update, and the sum of x/dt is what stays.
TEST(average_core, two_nodes_step_by_the_formula_and_keep_sum_x_over_dt) {
  average_core a({.x0 = 0, .dt = 0.25, .neighbours = {{2}}, .rounds = 3}, 1);
  average_core b({.x0 = 10, .dt = 0.5, .neighbours = {{1}}, .rounds = 3}, 2);
  output oa, ob;
  a.start(0ns, oa);
  b.start(0ns, ob);
  double xa = 0, xb = 10;
  for (int k = 0; k < 3; ++k) {
    ASSERT_EQ(oa.sends.size(), 1u);
    ASSERT_EQ(ob.sends.size(), 1u);
    auto ma = oa.sends[0].second, mb = ob.sends[0].second;
    oa.clear(), ob.clear();
    ASSERT_TRUE(a.on_message(1ms, 2, mb, oa));
    ASSERT_TRUE(b.on_message(1ms, 1, ma, ob));
    const double na = xa + 0.25 * (xb - xa), nb = xb + 0.5 * (xa - xb);
    xa = na, xb = nb;
    EXPECT_EQ(a.x(), xa) << "round " << k + 1;
    EXPECT_EQ(b.x(), xb) << "round " << k + 1;
    EXPECT_NEAR(a.x() / 0.25 + b.x() / 0.5, 10 / 0.5, 1e-12);
  }
  EXPECT_EQ(a.status(), outcome::finished);
  EXPECT_EQ(a.history().size(), 4u);
}

TEST(average_core, refuses_strangers_skipped_rounds_and_conflicting_states) {
  average_core a({.x0 = 1, .dt = 0.1, .neighbours = {{2}, {3}}, .rounds = 10}, 1);
  output out;
  a.start(0ns, out);
  auto stranger = a.on_message(0ns, 7, state{.round = 0, .x = 1, .dt = 0.1}, out);
  ASSERT_FALSE(stranger);
  EXPECT_STREQ(stranger.error().detail, "a message from a node that is not a neighbour");
  auto ahead = a.on_message(0ns, 2, state{.round = 2, .x = 1, .dt = 0.1}, out);
  ASSERT_FALSE(ahead);
  EXPECT_NE(std::string(ahead.error().detail).find("rounds ahead"), std::string::npos);
  ASSERT_TRUE(a.on_message(0ns, 2, state{.round = 0, .x = 3, .dt = 0.1}, out));
  ASSERT_TRUE(a.on_message(0ns, 2, state{.round = 0, .x = 3, .dt = 0.1}, out)) << "a duplicate is dropped quietly";
  EXPECT_EQ(a.stale_frames(), 1u);
  auto conflict = a.on_message(0ns, 2, state{.round = 0, .x = 4, .dt = 0.1}, out);
  ASSERT_FALSE(conflict);
  EXPECT_STREQ(conflict.error().detail, "two different states for one round");
  auto wrong_mode = a.on_message(0ns, 2, push{.seq = 1, .s = 1, .w = 1}, out);
  ASSERT_FALSE(wrong_mode);
  EXPECT_EQ(a.round(), 0u) << "still waiting for node 3";
}

// A neighbour that never answers: the node sends its states again while
// it waits, then reports the neighbour by name, stops, and tells the
// others; it never waits forever.
TEST(average_core, a_silent_neighbour_is_reported_and_the_others_are_told) {
  average_core a({.x0 = 1, .dt = 0.1, .neighbours = {{2}, {3}}, .rounds = 10, .stall_timeout = 1s}, 1);
  output out;
  a.start(0ns, out);
  ASSERT_TRUE(a.on_message(0ns, 2, state{.round = 0, .x = 3, .dt = 0.1}, out));
  out.clear();
  EXPECT_EQ(a.next_tick(), 200ms) << "the first resend";
  a.on_tick(200ms, out);
  EXPECT_EQ(out.sends.size(), 2u) << "round 0 again, to both";
  for (auto t : {400ms, 600ms, 800ms}) {
    out.clear();
    a.on_tick(t, out);
    EXPECT_EQ(a.status(), outcome::running) << "before the stall timeout";
  }
  out.clear();
  a.on_tick(1s, out);
  EXPECT_EQ(a.status(), outcome::stalled);
  ASSERT_FALSE(out.events.empty());
  EXPECT_EQ(out.events[0].what, average_event::kind::stalled);
  EXPECT_EQ(out.events[0].who, 3u);
  bool told = false;
  for (auto& [to, m] : out.sends) told |= std::holds_alternative<halt>(m);
  EXPECT_TRUE(told);
  EXPECT_EQ(a.next_tick(), time_point::max());
  // Node 2 hears the halt and stops too.
  average_core b({.x0 = 3, .dt = 0.1, .neighbours = {{1}}, .rounds = 10}, 2);
  output ob;
  b.start(0ns, ob);
  ASSERT_TRUE(b.on_message(1s, 1, halt{halt_reason::stalled, 0}, ob));
  EXPECT_EQ(b.status(), outcome::halted);
}

// A host that stopped the whole process for longer than the stall timeout
// (every node's timer fires late at once) is not a silent neighbour: the
// node must also have resent three times while it ran.
TEST(average_core, a_paused_host_is_not_taken_for_a_silent_neighbour) {
  average_core a({.x0 = 1, .dt = 0.1, .neighbours = {{2}}, .rounds = 10, .stall_timeout = 1s}, 1);
  output out;
  a.start(0ns, out);
  out.clear();
  a.on_tick(30s, out);  // the first tick after a 30 s stop
  EXPECT_EQ(a.status(), outcome::running);
  ASSERT_TRUE(a.on_message(30s, 2, state{.round = 0, .x = 3, .dt = 0.1}, out)) << "the frame queued behind the stop";
  EXPECT_EQ(a.round(), 1u);
  EXPECT_EQ(a.status(), outcome::running);
}

// ---------------------------------------------------------------- simulation

struct sim_world {
  sim::simulator s;
  std::vector<average_node*> nodes;
  sim_world(std::uint64_t seed, sim::network_model m) : s(seed, m) {}
};

// Petersen: 10 nodes, 3-regular.
const std::vector<std::vector<std::uint32_t>> petersen = {
    {1, 4, 5}, {0, 2, 6}, {1, 3, 7}, {2, 4, 8}, {0, 3, 9}, {0, 7, 8}, {1, 8, 9}, {2, 5, 9}, {3, 5, 6}, {4, 6, 7}};

void build(sim_world& w, const std::vector<std::vector<std::uint32_t>>& adj, average_config base, const std::vector<double>& x0) {
  for (std::size_t i = 0; i < adj.size(); ++i) {
    auto c = base;
    c.x0 = x0[i];
    for (auto j : adj[i]) c.neighbours.push_back({j, 1.0});
    w.s.add_node([&w, c](seam::node_id) {
      auto n = std::make_unique<average_node>(c);
      w.nodes.push_back(n.get());
      return n;
    });
  }
}

// x(k+1) = x(k) + dt * sum_j (x_j(k-d) - x_i(k-d)), in the neighbours' order.
std::vector<std::vector<double>> matrix_iteration(const std::vector<std::vector<std::uint32_t>>& adj, std::vector<double> x,
                                                  double dt, std::uint32_t d, std::uint32_t rounds) {
  std::vector<std::vector<double>> xs{x};
  for (std::uint32_t k = 0; k < rounds; ++k) {
    const auto& old = xs[k >= d ? k - d : 0];
    std::vector<double> next(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      double acc = 0;
      for (auto j : adj[i]) acc += (old[j] - old[i]);
      next[i] = xs[k][i] + dt * acc;
    }
    xs.push_back(next);
  }
  return xs;
}

TEST(average_sim, lock_step_equals_the_matrix_iteration_bit_for_bit_under_delay_reordering_and_duplicates) {
  const int count = std::getenv("CONFAB_SWEEP_COUNT") ? std::atoi(std::getenv("CONFAB_SWEEP_COUNT")) : 200;
  for (int seed = 1; seed <= count; ++seed) {
    const std::uint32_t d = static_cast<std::uint32_t>(seed % 3);
    sim::network_model m{.delay_min = 1ms, .delay_max = 40ms, .loss = 0.05, .retransmit = (seed % 2) == 0, .duplicate = 0.05};
    sim_world w(static_cast<std::uint64_t>(seed), m);
    seam::random rng(static_cast<std::uint64_t>(seed));
    std::vector<double> x0;
    for (int i = 0; i < 10; ++i) x0.push_back(10 * rng.unit());
    const double dt = 0.05 + 0.1 * rng.unit();
    build(w, petersen, {.dt = dt, .rounds = 40, .staleness = d, .stall_timeout = 60s}, x0);
    w.s.run_for(600s);
    const auto want = matrix_iteration(petersen, x0, dt, d, 40);
    for (std::size_t i = 0; i < w.nodes.size(); ++i) {
      const auto& h = w.nodes[i]->core().history();
      ASSERT_EQ(w.nodes[i]->core().status(), outcome::finished) << "seed " << seed << " node " << i;
      ASSERT_EQ(h.size(), 41u) << "seed " << seed;
      for (std::size_t k = 0; k <= 40; ++k) ASSERT_EQ(h[k].x, want[k][i]) << "seed " << seed << " node " << i << " round " << k;
    }
  }
}

TEST(average_sim, push_sum_conserves_mass_with_loss_and_duplicates_and_reaches_the_average) {
  const int count = std::getenv("CONFAB_SWEEP_COUNT") ? std::atoi(std::getenv("CONFAB_SWEEP_COUNT")) : 200;
  for (int seed = 1; seed <= count; ++seed) {
    sim::network_model m{.delay_min = 1ms, .delay_max = 30ms, .loss = 0.10, .duplicate = 0.10};
    sim_world w(static_cast<std::uint64_t>(seed), m);
    seam::random rng(static_cast<std::uint64_t>(seed) * 7);
    std::vector<double> x0;
    double sum = 0, sum_abs = 0;
    for (int i = 0; i < 10; ++i) {
      x0.push_back(100 * rng.unit() - 50);
      sum += x0.back();
      sum_abs += std::fabs(x0.back());
    }
    build(w, petersen, {.how = mode::push_sum, .rounds = 300, .push_interval = 5ms, .stall_timeout = 60s}, x0);
    // Mass checked mid-run too, with frames on the wire.
    for (int step = 1; step <= 4; ++step) {
      w.s.run_for(step < 4 ? 400ms : 5s);
      double s = 0, wsum = 0;
      for (std::size_t i = 0; i < w.nodes.size(); ++i) {
        s += w.nodes[i]->core().s();
        wsum += w.nodes[i]->core().w();
        for (auto j : petersen[i]) {
          const auto sent = w.nodes[i]->core().sent_to(j);
          const auto taken = w.nodes[j]->core().taken_from(i);
          s += sent.first - taken.first;
          wsum += sent.second - taken.second;
        }
      }
      ASSERT_NEAR(s, sum, 1e-12 * sum_abs) << "seed " << seed << " step " << step;
      ASSERT_NEAR(wsum, 10.0, 1e-12 * 10) << "seed " << seed << " step " << step;
    }
    ASSERT_GT(w.s.stats().lost, 0u);
    ASSERT_GT(w.s.stats().duplicated, 0u);
    const double avg = sum / 10;
    for (std::size_t i = 0; i < w.nodes.size(); ++i) {
      EXPECT_EQ(w.nodes[i]->core().status(), outcome::finished);
      EXPECT_NEAR(w.nodes[i]->core().x(), avg, 1e-6 * sum_abs / 10) << "seed " << seed << " node " << i;
    }
  }
}

}  // namespace
}  // namespace confab::average
