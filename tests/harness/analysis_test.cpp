// The harness's analysis on records built by hand: every figure a reader of
// a `confab sim` report relies on, checked against what the record says
// happened. No cluster runs here; the analysis is a pure function.
#include "harness/analysis.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace confab::harness {
namespace {

constexpr std::int64_t ms = 1'000'000;  // ns

// 3 seeds (0..2) and 5 peers (3..7), every node started and alive, a ring
// overlay among the peers, every seed holding every peer in its PL.
run_record small_cluster() {
  run_record run;
  run.scen.seeds = 3;
  run.scen.peers = 5;
  run.scen.attach = 1;
  run.scen.join_window_s = 2;  // join ends at 3 s
  run.scen.faults.clear();
  run.threads = 1;
  run.backend = "test";
  run.one_way_ms_min = 10;
  run.one_way_ms_max = 20;
  run.wall_s = 20;
  for (std::uint32_t g = 0; g < 8; ++g) run.ids.push_back(seam::endpoint_id(0x7f000001 + g, 9000));
  run.nodes.resize(8);
  for (std::uint32_t g = 0; g < 8; ++g) {
    auto& n = run.nodes[g];
    n.started = n.alive = n.core_started = true;
    if (g < 3) {
      n.pl_digest = 42;
      n.members.assign(run.ids.begin() + 3, run.ids.end());
    } else {
      n.neighbours = {g == 3 ? 7u : g - 1, g == 7 ? 3u : g + 1};
    }
  }
  return run;
}

// Peer 7 killed at 5 s: gone from the overlay and (at `removed`) the PL.
void kill_peer_7(run_record& run, bool removed) {
  planned_fault kill{};
  kill.what.kind = fault::kill;
  kill.what.at_s = 5;
  kill.what.count = 1;
  kill.nodes = {7};
  run.plan.push_back(kill);
  run.nodes[7].alive = false;
  run.nodes[3].neighbours = {4};
  run.nodes[6].neighbours = {5};
  if (!removed) return;
  for (std::uint32_t seed = 0; seed < 3; ++seed) {
    run.removals.push_back({seed, 7, (7000 + 100 * seed) * ms});
    run.nodes[seed].members.pop_back();
  }
}

void deliver(run_record& run, std::uint32_t origin, std::uint32_t seq, std::int64_t sent, std::vector<std::uint32_t> to) {
  run.sends.push_back({origin, seq, sent});
  std::uint32_t hops = 1;
  for (auto who : to) run.receipts.push_back({origin, seq, who, hops++, sent + hops * 10 * ms});
}

TEST(analysis, a_clean_run_has_no_problems_and_counts_every_message) {
  auto run = small_cluster();
  deliver(run, 3, 1, 4000 * ms, {4, 5, 6, 7});
  deliver(run, 5, 1, 4500 * ms, {3, 4, 6, 7});
  deliver(run, 5, 0, 1000 * ms, {3});  // sent during the join window: not counted
  const auto rep = analyse(run);
  EXPECT_EQ(rep.messages, 2u);
  EXPECT_EQ(rep.messages_complete, 2u);
  EXPECT_DOUBLE_EQ(rep.delivery_ratio, 1.0);
  EXPECT_DOUBLE_EQ(rep.t100.max, 50.0);  // the fourth receipt, 50 ms after sending
  EXPECT_DOUBLE_EQ(rep.h100.max, 4.0);
  EXPECT_TRUE(rep.overlay_connected);
  EXPECT_DOUBLE_EQ(rep.mean_degree, 2.0);
  EXPECT_EQ(rep.distinct_pls, 1u);
  EXPECT_EQ(rep.pl_size, 5u);
  EXPECT_EQ(rep.pl_missing_live, 0u);
  EXPECT_TRUE(rep.problems.empty()) << rep.problems.front();
  EXPECT_TRUE(rep.incomplete.empty());
}

TEST(analysis, a_message_that_misses_a_live_peer_is_a_problem_naming_the_peer) {
  auto run = small_cluster();
  deliver(run, 3, 1, 4000 * ms, {4, 5, 7});  // 6 never gets it
  const auto rep = analyse(run);
  EXPECT_EQ(rep.messages_complete, 0u);
  EXPECT_DOUBLE_EQ(rep.delivery_ratio, 0.75);
  ASSERT_EQ(rep.incomplete.size(), 1u);
  EXPECT_EQ(rep.incomplete[0].missing, std::vector<std::uint32_t>{6});
  ASSERT_EQ(rep.problems.size(), 1u);
  EXPECT_EQ(rep.problems[0], "1 of 1 messages did not reach every live peer");
}

TEST(analysis, a_dead_peer_need_not_receive_and_its_removal_is_timed_from_the_kill) {
  auto run = small_cluster();
  kill_peer_7(run, true);
  deliver(run, 3, 1, 6000 * ms, {4, 5, 6});  // after the kill: 7 is not eligible
  const auto rep = analyse(run);
  EXPECT_EQ(rep.messages_complete, 1u);
  EXPECT_EQ(rep.killed, 1u);
  EXPECT_EQ(rep.removed, 1u);
  EXPECT_DOUBLE_EQ(rep.removal_first_s.max, 2.0);        // 7.0 s - 5 s
  EXPECT_NEAR(rep.removal_all_s.max, 2.2, 1e-9);         // the last live seed at 7.2 s
  EXPECT_EQ(rep.pl_holding_dead, 0u);
  EXPECT_TRUE(rep.overlay_connected);  // 3-4-5-6 still a path
  EXPECT_TRUE(rep.problems.empty()) << rep.problems.front();
}

TEST(analysis, a_dead_peer_left_in_the_pl_and_a_removed_live_peer_are_both_problems) {
  auto run = small_cluster();
  kill_peer_7(run, false);
  run.removals.push_back({0, 4, 9000 * ms});  // a live peer removed
  const auto rep = analyse(run);
  EXPECT_EQ(rep.removed, 0u);
  EXPECT_EQ(rep.pl_holding_dead, 1u);
  EXPECT_EQ(rep.false_removals, 1u);
  std::vector<std::string> want{"1 of 1 killed peers were not removed", "1 live peers were removed"};
  EXPECT_EQ(rep.problems, want);
}

TEST(analysis, seeds_that_disagree_and_an_unfaithful_emulation_are_problems) {
  auto run = small_cluster();
  run.nodes[1].pl_digest = 43;
  for (int i = 0; i < 1000; ++i) run.lateness.add(5 * ms);  // p99 5 ms against a 1 ms budget
  const auto rep = analyse(run);
  EXPECT_EQ(rep.distinct_pls, 2u);
  EXPECT_FALSE(rep.faithful);
  EXPECT_DOUBLE_EQ(rep.lateness_budget_us, 1000.0);  // 10% of the 10 ms shortest delay
  ASSERT_EQ(rep.problems.size(), 2u);
  EXPECT_NE(rep.problems[0].find("emulation not faithful"), std::string::npos);
  EXPECT_EQ(rep.problems[1], "the live seeds disagree on the PL");
}

TEST(analysis, a_split_overlay_is_reported_unconnected) {
  auto run = small_cluster();
  run.nodes[3].neighbours = {4};
  run.nodes[4].neighbours = {3};
  run.nodes[5].neighbours = {6, 7};
  run.nodes[6].neighbours = {5, 7};
  run.nodes[7].neighbours = {5, 6};
  EXPECT_FALSE(analyse(run).overlay_connected);
}

// The ring's link steps, as the peers logged them (both ends of each link).
void link_ring(run_record& run) {
  for (std::uint32_t g = 3; g <= 7; ++g) {
    const std::uint32_t next = g == 7 ? 3 : g + 1;
    run.notes.push_back({g, next, ~0u, 1000 * ms, "linked", nullptr});
    run.notes.push_back({next, g, ~0u, 1000 * ms, "linked", nullptr});
  }
}

TEST(analysis, repair_is_timed_from_the_kill_to_the_last_live_peer_back_at_attach_live_neighbours) {
  auto run = small_cluster();
  run.scen.attach = 2;
  link_ring(run);
  kill_peer_7(run, true);
  // Peer 3 and 6 each lost 7 at 5 s; 3 relinks to 5 at 5.4 s, 6 to 4 at 6.2 s.
  run.notes.push_back({3, 7, ~0u, 5100 * ms, "unlinked", nullptr});
  run.notes.push_back({3, 5, ~0u, 5400 * ms, "linked", nullptr});
  run.notes.push_back({5, 3, ~0u, 5400 * ms, "linked", nullptr});
  run.notes.push_back({6, 4, ~0u, 6200 * ms, "linked", nullptr});
  run.notes.push_back({4, 6, ~0u, 6200 * ms, "linked", nullptr});
  // Sent 1 s after the kill by peer 4: due at 3, 5 and 6; reached 5 and 6.
  run.sends.push_back({4, 1, 6000 * ms});
  run.receipts.push_back({4, 1, 5, 1, 6010 * ms});
  run.receipts.push_back({4, 1, 6, 1, 6020 * ms});
  const auto rep = analyse(run);
  EXPECT_DOUBLE_EQ(rep.first_kill_s, 5.0);
  EXPECT_NEAR(rep.repair_s, 1.2, 1e-9);
  EXPECT_EQ(rep.below_min_degree_at_end, 0u);
  EXPECT_EQ(rep.messages_after_kill, 1u);
  EXPECT_NEAR(rep.delivery_after_kill, 2.0 / 3.0, 1e-9);
  EXPECT_GT(rep.powerlaw_alpha_before_kill, 0.0);
  EXPECT_NE(summary_text(rep, "x").find("back at 2 live neighbours in 1.2"), std::string::npos) << summary_text(rep, "x");
}

TEST(analysis, a_live_peer_never_back_at_attach_is_counted_and_has_no_repair_time) {
  auto run = small_cluster();
  run.scen.attach = 2;
  link_ring(run);
  kill_peer_7(run, true);
  run.notes.push_back({3, 5, ~0u, 5400 * ms, "linked", nullptr});
  run.notes.push_back({5, 3, ~0u, 5400 * ms, "linked", nullptr});
  const auto rep = analyse(run);
  EXPECT_LT(rep.repair_s, 0.0);
  EXPECT_EQ(rep.below_min_degree_at_end, 1u);  // peer 6
}

// Churn on the ring: peer 7 crashes at 5 s and peer 8 (a joiner) starts
// then; 5 drops its link to 6 at 5.1 s, so 6 is cut off from everyone
// until it links to 3 at 5.8 s; 8 links to 3 at 5.5 s (when `links`).
run_record churn_on_the_ring(bool joiner_links) {
  auto run = small_cluster();
  run.scen.attach = 1;
  link_ring(run);
  fault churn{};
  churn.kind = fault::churn;
  churn.at_s = 5;
  churn.for_s = 1;
  churn.rate = 1;
  run.scen.faults.push_back(churn);
  planned_fault p{};
  p.what = churn;
  p.nodes = {7};
  p.side_a = {8};
  run.plan.push_back(p);
  run.ids.push_back(seam::endpoint_id(0x7f000001 + 8, 9000));
  run.nodes.resize(9);
  run.nodes[8].started = run.nodes[8].alive = run.nodes[8].core_started = true;
  run.nodes[7].alive = false;
  for (std::uint32_t seed = 0; seed < 3; ++seed) {
    run.removals.push_back({seed, 7, 6000 * ms});
    run.nodes[seed].members = {run.ids[3], run.ids[4], run.ids[5], run.ids[6], run.ids[8]};
  }
  run.notes.push_back({5, 6, ~0u, 5100 * ms, "unlinked", nullptr});
  run.notes.push_back({6, 5, ~0u, 5100 * ms, "unlinked", nullptr});
  run.notes.push_back({6, 3, ~0u, 5800 * ms, "linked", nullptr});
  run.notes.push_back({3, 6, ~0u, 5800 * ms, "linked", nullptr});
  run.nodes[3].neighbours = {4, 6};
  run.nodes[5].neighbours = {4};
  run.nodes[6].neighbours = {3};
  if (joiner_links) {
    run.notes.push_back({8, 3, ~0u, 5500 * ms, "linked", nullptr});
    run.notes.push_back({3, 8, ~0u, 5500 * ms, "linked", nullptr});
    run.nodes[3].neighbours.push_back(8);
    run.nodes[8].neighbours = {3};
  }
  return run;
}

TEST(analysis, during_churn_a_peer_is_held_only_to_messages_sent_after_it_linked_and_while_connected_to_the_origin) {
  auto run = churn_on_the_ring(true);
  deliver(run, 4, 1, 5200 * ms, {3, 5});        // 6 was cut off, 8 had not linked: neither is held to it
  deliver(run, 4, 2, 6000 * ms, {3, 5, 6, 8});  // both are
  auto rep = analyse(run);
  EXPECT_EQ(rep.messages, 2u);
  EXPECT_EQ(rep.messages_complete, 2u);
  EXPECT_DOUBLE_EQ(rep.delivery_ratio, 1.0);
  EXPECT_EQ(rep.messages_cut_off, 1u);
  EXPECT_EQ(rep.pairs_cut_off, 1u);
  EXPECT_EQ(rep.churn_left, 1u);
  EXPECT_EQ(rep.churn_joined, 1u);
  EXPECT_EQ(rep.joiners_unlinked, 0u);
  EXPECT_TRUE(rep.problems.empty()) << rep.problems.front();
  EXPECT_NE(summary_text(rep, "x").find("churn: 1 crashed, 1 joined (0 never linked)"), std::string::npos);
  // 6 connected again by 6 s and missing the second message: a problem naming it.
  run.receipts.erase(std::remove_if(run.receipts.begin(), run.receipts.end(),
                                    [](const run_record::receipt& x) { return x.seq == 2 && x.who == 6; }),
                     run.receipts.end());
  rep = analyse(run);
  EXPECT_EQ(rep.messages_complete, 1u);
  ASSERT_EQ(rep.incomplete.size(), 1u);
  EXPECT_EQ(rep.incomplete[0].missing, std::vector<std::uint32_t>{6});
}

TEST(analysis, outside_churn_a_cut_off_peer_is_still_held_and_a_joiner_that_never_links_is_a_problem) {
  auto run = churn_on_the_ring(false);
  deliver(run, 4, 1, 6000 * ms, {3, 5, 6});  // 8 never linked: not held, but reported
  deliver(run, 4, 2, 8000 * ms, {3, 5});     // after churn: 6 is held and missed it
  const auto rep = analyse(run);
  EXPECT_EQ(rep.joiners_unlinked, 1u);
  EXPECT_EQ(rep.messages_complete, 1u);
  ASSERT_EQ(rep.incomplete.size(), 1u);
  EXPECT_EQ(rep.incomplete[0].missing, std::vector<std::uint32_t>{6});
  EXPECT_NE(std::find(rep.problems.begin(), rep.problems.end(), "1 peers that joined during churn never linked"),
            rep.problems.end());
}

TEST(faults, churn_crashes_relays_only_and_its_joiners_take_new_numbers_and_later_steps) {
  scenario scen;
  scen.seeds = 3;
  scen.peers = 20;
  scen.originators = 5;
  fault churn{};
  churn.kind = fault::churn;
  churn.at_s = 10;
  churn.for_s = 10;
  churn.rate = 3;  // 30 steps: more than the 15 relays, so joiners must be crashed too
  scen.faults.push_back(churn);
  EXPECT_EQ(scen.joiners(), 30u);
  EXPECT_EQ(scen.peer_nodes(), 50u);
  seam::random a(3), b(3);
  const auto plan = plan_faults(scen, a);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].nodes, plan_faults(scen, b)[0].nodes);
  EXPECT_EQ(describe(plan[0]), "churn: 30 peers crash and 30 join over 10.0 s (3.00 per s)");
  const auto originates = originator_mask(scen);
  const auto kills = kill_times(plan), joins = join_times(plan);
  ASSERT_EQ(kills.size(), 30u);  // never one twice
  ASSERT_EQ(joins.size(), 30u);
  bool crashed_a_joiner = false;
  for (std::size_t k = 0; k < 30; ++k) {
    const auto victim = plan[0].nodes[k], joiner = plan[0].side_a[k];
    EXPECT_EQ(joiner, 23u + k);
    EXPECT_DOUBLE_EQ(joins.at(joiner), 10.0 + static_cast<double>(k) / 3.0);
    if (victim < 23) {
      EXPECT_FALSE(originates[victim - 3]) << "an originator crashed";
    } else {
      crashed_a_joiner = true;
      EXPECT_LT(joins.at(victim), kills.at(victim)) << "a joiner crashed before it started";
    }
  }
  EXPECT_TRUE(crashed_a_joiner);
  scen.originators = 20;
  EXPECT_FALSE(validate(scen).has_value());  // no relay left to crash
}

TEST(faults, plans_replay_from_the_seed_and_never_kill_a_peer_twice) {
  scenario scen;
  scen.seeds = 3;
  scen.peers = 50;
  for (double at : {10.0, 20.0, 30.0}) {
    fault kill{};
    kill.kind = fault::kill;
    kill.at_s = at;
    kill.count = 15;
    scen.faults.push_back(kill);
  }
  seam::random a(7), b(7);
  const auto plan = plan_faults(scen, a);
  const auto again = plan_faults(scen, b);
  ASSERT_EQ(plan.size(), 3u);
  std::set<std::uint32_t> killed;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(plan[i].nodes, again[i].nodes);
    EXPECT_EQ(describe(plan[i]), "kill 15 peers");
    for (auto g : plan[i].nodes) {
      EXPECT_GE(g, 3u);
      EXPECT_TRUE(killed.insert(g).second) << "peer " << g << " killed twice";
    }
  }
  EXPECT_EQ(kill_times(plan).size(), 45u);
}

TEST(scenario, command_line_overrides_apply_after_the_file_and_transport_names_parse_once) {
  auto scen = default_scenario();
  overrides set;
  set.peers = 300;
  set.transport = host::transport_from_name("inproc");
  apply(set, scen);
  EXPECT_EQ(scen.peers, 300u);
  EXPECT_EQ(scen.transport, host::transport_kind::inproc);
  EXPECT_FALSE(host::transport_from_name("udp").has_value());
  const auto valid = validate(scen);
  EXPECT_TRUE(valid.has_value()) << valid.error().text;
  ASSERT_EQ(scen.faults.size(), 1u);  // the default kill, sized from the final peer count
  EXPECT_EQ(scen.faults[0].count, 6u);
}

TEST(settings, timeouts_grow_with_the_emulated_round_trip) {
  scenario scen;
  const auto quick = derive_settings(scen, std::chrono::milliseconds(1), {});
  const auto slow = derive_settings(scen, std::chrono::milliseconds(400), {});
  EXPECT_EQ(quick.seed.election_timeout_min, seeds::seed_config{}.election_timeout_min);
  EXPECT_EQ(slow.seed.election_timeout_min, std::chrono::milliseconds(4000));
  EXPECT_GE(slow.peer.probe_timeout, std::chrono::milliseconds(1650));
  EXPECT_DOUBLE_EQ(std::chrono::duration<double>(quick.peer.ping_interval).count(), scen.ping_interval_s());
}

}  // namespace
}  // namespace confab::harness
