// The four parts of the peer core, each alone, table-driven: a row is a
// case (what came in) and what must go out. The whole core is exercised by
// peers_sim_test under faults; these pin each part's own rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>

#include "protocols/peers/detector.hpp"
#include "protocols/peers/disseminator.hpp"
#include "protocols/peers/overlay.hpp"
#include "protocols/peers/registration.hpp"

namespace confab::peers {
namespace {

using namespace std::chrono_literals;

constexpr time_point at(std::chrono::milliseconds ms) { return time_point{ms}; }

// One part's world: a configuration, counters, a random source.
struct bench {
  peer_config cfg;
  peer_stats stats;
  node_id self = 100;
  seam::random rng{7};
  part_context ctx{cfg, self, stats};
  explicit bench(std::size_t seeds = 3) {
    for (std::size_t i = 0; i < seeds; ++i) cfg.seeds.push_back(static_cast<node_id>(i + 1));
  }
};

template <class T>
std::size_t count_to_peers(const output& out, node_id to = 0) {
  return static_cast<std::size_t>(std::count_if(out.to_peers.begin(), out.to_peers.end(), [&](const auto& m) {
    return std::holds_alternative<T>(m.second) && (to == 0 || m.first == to);
  }));
}
template <class T>
std::size_t count_to_seeds(const output& out) {
  return static_cast<std::size_t>(std::count_if(out.to_seeds.begin(), out.to_seeds.end(),
                                                [](const auto& m) { return std::holds_alternative<T>(m.second); }));
}
std::size_t count_events(const output& out, peer_event::kind_t k) {
  return static_cast<std::size_t>(
      std::count_if(out.events.begin(), out.events.end(), [k](const peer_event& e) { return e.kind == k; }));
}

// ## registration

TEST(peers_registration, registers_with_a_majority_of_the_seeds) {
  struct row {
    std::size_t seeds, requests;
  };
  for (const row r : {row{1, 1}, row{2, 2}, row{3, 2}, row{4, 3}, row{5, 3}, row{7, 4}}) {
    bench b(r.seeds);
    registration reg(b.ctx);
    output out;
    reg.start(at(0ms), b.rng, out);
    EXPECT_EQ(count_to_seeds<seeds::register_request>(out), r.requests) << r.seeds << " seeds";
    std::set<node_id> distinct;
    for (auto& [to, m] : out.to_seeds) distinct.insert(to);
    EXPECT_EQ(distinct.size(), r.requests) << "each seed asked once";
  }
}

TEST(peers_registration, replies_register_once_and_fill_the_peer_list) {
  struct row {
    std::string name;
    std::vector<seeds::client_message> replies;
    registration::reply last;
    std::size_t known;
    bool registered;
  };
  const auto ok = [](std::vector<node_id> peers, std::vector<std::uint16_t> degrees = {}) {
    seeds::register_reply r;
    r.peers = std::move(peers);
    r.degrees = std::move(degrees);
    return seeds::client_message{r};
  };
  seeds::register_reply refused;
  refused.status = seeds::register_status::busy;
  refused.peers = {5, 6};
  const std::vector<row> rows = {
      {"a refusal registers nothing", {refused}, registration::reply::ignored, 0, false},
      {"the first reply registers", {ok({5, 6, 7})}, registration::reply::first, 3, true},
      {"this peer is left out of its own list", {ok({5, 100, 7})}, registration::reply::first, 2, true},
      {"a second seed's reply adds to the list", {ok({5}), ok({6, 7})}, registration::reply::again, 3, true},
      {"a pl_request is not a reply", {seeds::pl_request{}}, registration::reply::ignored, 0, false},
  };
  for (const auto& r : rows) {
    bench b;
    registration reg(b.ctx);
    output out;
    registration::reply last = registration::reply::ignored;
    for (const auto& m : r.replies) last = reg.on_reply(at(10ms), 1, m, out);
    EXPECT_EQ(last, r.last) << r.name;
    EXPECT_EQ(reg.known().size(), r.known) << r.name;
    EXPECT_EQ(reg.registered(), r.registered) << r.name;
  }
  bench b;
  registration reg(b.ctx);
  output out;
  (void)reg.on_reply(at(0ms), 1, ok({5, 6}, {4, 9}), out);
  EXPECT_EQ(reg.known().at(6), 9) << "the seeds' reported degree is kept for preferential attachment";
}

TEST(peers_registration, retries_until_registered_and_declares_at_most_once_per_interval) {
  bench b;
  b.cfg.register_retry = 2s;
  b.cfg.declare_interval = 1s;
  registration reg(b.ctx);
  output out;
  reg.start(at(0ms), b.rng, out);
  struct row {
    std::chrono::milliseconds now;
    bool dirty;
    std::size_t registers, declarations;
  };
  // Unregistered: a retry every register_retry. Then registered: a
  // declaration when neighbours changed, never two within declare_interval.
  const std::vector<row> rows = {{1000ms, false, 0, 0}, {2000ms, false, 2, 0}, {3999ms, false, 0, 0},
                                 {4000ms, false, 2, 0}};
  for (const auto& r : rows) {
    out.clear();
    reg.tick(at(r.now), b.rng, out);
    EXPECT_EQ(count_to_seeds<seeds::register_request>(out), r.registers) << r.now.count() << " ms";
  }
  (void)reg.on_reply(at(4100ms), 1, seeds::register_reply{.peers = {5}}, out);
  const std::set<node_id> neighbours = {5};
  const std::vector<row> declares = {{4200ms, true, 0, 3},  {4300ms, true, 0, 0}, {5100ms, false, 0, 0},
                                     {5199ms, false, 0, 0}, {5200ms, false, 0, 3}, {5300ms, false, 0, 0}};
  for (const auto& r : declares) {
    out.clear();
    if (r.dirty) reg.neighbours_changed();
    reg.tick(at(r.now), b.rng, out);
    reg.declare(at(r.now), neighbours, out);
    EXPECT_EQ(count_to_seeds<seeds::register_request>(out), 0u) << "registered: no more retries";
    EXPECT_EQ(count_to_seeds<seeds::neighbours>(out), r.declarations) << r.now.count() << " ms";
  }
}

TEST(peers_registration, renews_the_declaration_every_declare_refresh_unchanged) {
  // The seeds hold a declaration as a lease: a registered peer declares
  // again every declare_refresh even when nothing changed; an unregistered
  // or leaving one does not.
  bench b;
  b.cfg.declare_interval = 1s;
  b.cfg.declare_refresh = 10s;
  registration reg(b.ctx);
  output out;
  reg.start(at(0ms), b.rng, out);
  const std::set<node_id> neighbours = {5, 6};
  reg.declare(at(20000ms), neighbours, out);
  EXPECT_EQ(count_to_seeds<seeds::neighbours>(out), 0u) << "not registered yet";
  (void)reg.on_reply(at(20000ms), 1, seeds::register_reply{.peers = {5, 6}}, out);
  struct row {
    std::chrono::milliseconds now;
    std::size_t declarations;
  };
  for (const row r : {row{20001ms, 3}, row{25000ms, 0}, row{30000ms, 0}, row{30001ms, 3}, row{39000ms, 0}, row{40001ms, 3}}) {
    out.clear();
    reg.declare(at(r.now), neighbours, out);
    EXPECT_EQ(count_to_seeds<seeds::neighbours>(out), r.declarations) << r.now.count() << " ms";
  }
  EXPECT_LE(reg.next_deadline(at(40001ms)), at(50001ms)) << "the next renewal is a deadline";
  reg.leave(at(41000ms), out);
  out.clear();
  reg.declare(at(60000ms), neighbours, out);
  EXPECT_EQ(count_to_seeds<seeds::neighbours>(out), 0u) << "a leaving peer renews nothing";
}

// ## overlay

TEST(peers_overlay, draws_the_target_degree_by_model) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    bench b;
    b.rng.reseed(seed);
    b.cfg.overlay = overlay_model::preferential;
    b.cfg.attach = 3;
    overlay pa(b.ctx);
    pa.draw_degree(b.rng);
    EXPECT_EQ(pa.target_degree(), 3u);
    b.cfg.overlay = overlay_model::exponential;
    b.cfg.degree_max = 30;
    overlay ex(b.ctx);
    ex.draw_degree(b.rng);
    EXPECT_GE(ex.target_degree(), 1u);
    EXPECT_LE(ex.target_degree(), 30u);
  }
}

TEST(peers_overlay, links_only_to_peers_it_may_link_to) {
  struct row {
    std::string name;
    std::size_t attach;
    std::vector<node_id> known, neighbours, lost;
    std::size_t requests;
  };
  const std::vector<row> rows = {
      {"up to the target", 2, {5, 6, 7, 8}, {}, {}, 2},
      {"no more than are known", 5, {5, 6}, {}, {}, 2},
      {"never itself", 3, {100, 5}, {}, {}, 1},
      {"not a neighbour again", 3, {5, 6, 7}, {5}, {}, 2},
      {"not a peer just lost", 3, {5, 6, 7}, {}, {6, 7}, 1},
      {"nothing at the target", 2, {5, 6, 7}, {5, 6}, {}, 0},
  };
  for (const auto& r : rows) {
    bench b;
    b.cfg.attach = r.attach;
    overlay ov(b.ctx);
    ov.draw_degree(b.rng);
    for (auto n : r.neighbours) ASSERT_TRUE(ov.add(n));
    reachability reach;
    for (auto l : r.lost) reach.lost(l, at(900ms));
    std::map<node_id, std::uint16_t> known;
    for (auto k : r.known) known[k] = 1;
    output out;
    ov.link_more(at(1000ms), b.rng, known, reach, 0, out);
    EXPECT_EQ(count_to_peers<link_request>(out), r.requests) << r.name;
    for (auto& [to, m] : out.to_peers) {
      EXPECT_NE(to, b.self) << r.name;
      EXPECT_FALSE(ov.is_neighbour(to)) << r.name;
      EXPECT_TRUE(ov.requested(to)) << r.name;
    }
  }
}

TEST(peers_overlay, gives_up_unanswered_requests_and_tops_up_from_the_seeds) {
  bench b;
  b.cfg.attach = 2;
  b.cfg.probe_timeout = 1s;
  b.cfg.register_retry = 2s;
  overlay ov(b.ctx);
  ov.draw_degree(b.rng);
  reachability reach;
  const std::map<node_id, std::uint16_t> known = {{5, 0}, {6, 0}, {7, 0}};
  output out;
  ov.on_registered(at(0ms));
  ov.tick(at(200ms), b.rng, true, known, reach, 0, out);
  ASSERT_EQ(count_to_peers<link_request>(out), 2u);
  node_id accepted = out.to_peers[0].first;
  EXPECT_TRUE(ov.add(accepted));
  EXPECT_FALSE(ov.add(accepted)) << "a neighbour is added once";
  EXPECT_FALSE(ov.add(b.self)) << "never itself";
  struct row {
    std::chrono::milliseconds now;
    std::size_t pending_after, pl_requests;
  };
  // The other request expires at 200 ms + 2·probe_timeout + 1 s; the top-up
  // (a PL refresh from one seed and new requests) waits for register_retry.
  for (const row r : {row{3000ms, 1, 0}, row{3200ms, 0, 1}}) {
    out.clear();
    ov.tick(at(r.now), b.rng, true, known, reach, 0, out);
    EXPECT_EQ(count_to_seeds<seeds::pl_request>(out), r.pl_requests) << r.now.count() << " ms";
  }
  EXPECT_EQ(count_to_peers<link_request>(out), 1u) << "one more link wanted";
  EXPECT_TRUE(ov.drop(accepted));
  EXPECT_FALSE(ov.drop(accepted));
}

TEST(peers_overlay, a_lost_neighbour_is_replaced_at_once_and_a_refusal_asks_another) {
  bench b;
  b.cfg.attach = 2;
  overlay ov(b.ctx);
  ov.draw_degree(b.rng);
  reachability reach;
  const std::map<node_id, std::uint16_t> known = {{5, 0}, {6, 0}, {7, 0}, {8, 0}};
  ASSERT_TRUE(ov.add(5));
  ASSERT_TRUE(ov.add(6));
  output out;
  // Lost 5: below the target, so the next tick (now) asks a known peer and
  // refreshes the PL from one seed; no wait for register_retry.
  ASSERT_TRUE(ov.drop(5));
  reach.lost(5, at(1000ms));
  ov.on_lost(at(1000ms));
  EXPECT_EQ(ov.next_deadline(true), at(1000ms));
  ov.tick(at(1000ms), b.rng, true, known, reach, 0, out);
  ASSERT_EQ(count_to_peers<link_request>(out), 1u);
  EXPECT_EQ(count_to_seeds<seeds::pl_request>(out), 1u);
  const node_id asked = out.to_peers[0].first;
  EXPECT_TRUE(asked == 7 || asked == 8) << "not the lost one, nor a neighbour: " << asked;
  // It refuses (full): another is asked at once.
  ov.request_failed(at(1010ms), asked, true);
  out.clear();
  ov.tick(at(1010ms), b.rng, true, known, reach, 0, out);
  ASSERT_EQ(count_to_peers<link_request>(out), 1u);
  EXPECT_NE(out.to_peers[0].first, asked);
  // The transport cannot reach that one either: the last known one is asked.
  const node_id second = out.to_peers[0].first;
  reach.lost(second, at(1020ms));
  ov.request_failed(at(1020ms), second, true);
  out.clear();
  ov.tick(at(1020ms), b.rng, true, known, reach, 0, out);
  ASSERT_EQ(count_to_peers<link_request>(out), 1u);
  EXPECT_EQ(count_to_seeds<seeds::pl_request>(out), 0u) << "one PL refresh per half register_retry";
  // At the target, a loss above it asks nobody.
  ASSERT_TRUE(ov.add(out.to_peers[0].first));
  ASSERT_TRUE(ov.add(9));
  ASSERT_TRUE(ov.drop(9));
  ov.on_lost(at(2000ms));
  out.clear();
  ov.tick(at(2000ms), b.rng, true, known, reach, 0, out);
  EXPECT_EQ(count_to_peers<link_request>(out), 0u);
}

TEST(peers_overlay, a_full_peer_is_full_only_with_a_cap) {
  bench b;
  overlay ov(b.ctx);
  for (node_id p = 5; p < 10; ++p) ASSERT_TRUE(ov.add(p));
  EXPECT_FALSE(ov.full()) << "no cap by default";
  b.cfg.degree_cap = 5;
  EXPECT_TRUE(ov.full());
  b.cfg.degree_cap = 6;
  EXPECT_FALSE(ov.full());
}

// ## detector

struct detector_bench : bench {
  std::vector<node_id> dropped;
  reachability reach;
  std::map<node_id, std::uint16_t> known;
  detector fd{ctx, [this](time_point, node_id peer, output&) { dropped.push_back(peer); }};
  detector_bench() {
    cfg.ping_interval = 1s;
    cfg.ping_misses = 3;
    cfg.probe_timeout = 500ms;
    cfg.probers_min = 2;
  }
  // Watches `peer` and gives it the neighbours a pong would report.
  void neighbour(node_id peer, std::vector<node_id> theirs, output& out) {
    fd.watch(at(0ms), peer);
    (void)fd.on_message(at(0ms), peer, pong{.seq = 0, .neighbours = std::move(theirs)}, reach, out);
  }
};

TEST(peers_detector, answers_pings_probes_and_suspicion_of_itself) {
  struct row {
    std::string name;
    message in;
    std::function<void(const output&, const detector&)> check;
  };
  const std::vector<row> rows = {
      {"a ping is answered by a pong naming the neighbours", ping{.seq = 9},
       [](const output& out, const detector&) {
         ASSERT_EQ(out.to_peers.size(), 1u);
         const auto& p = std::get<pong>(out.to_peers[0].second);
         EXPECT_EQ(p.seq, 9u);
         EXPECT_EQ(p.neighbours, (std::vector<node_id>{5, 6}));
       }},
      {"a probe ping is acked", probe_ping{.round = 4},
       [](const output& out, const detector&) { EXPECT_EQ(count_to_peers<probe_ack>(out, 9), 1u); }},
      {"a suspicion of itself is refuted to every neighbour with a higher incarnation", suspect_notice{},
       [](const output& out, const detector& fd) {
         EXPECT_EQ(fd.incarnation(), 1u);
         EXPECT_EQ(count_to_peers<alive_notice>(out), 3u) << "neighbours 5, 6 and the accuser 9";
       }},
      {"a probe request sends a probe ping to the suspect", probe_request{.suspect = 5, .round = 1},
       [](const output& out, const detector& fd) {
         EXPECT_EQ(count_to_peers<probe_ping>(out, 5), 1u);
         EXPECT_EQ(fd.probes_in_flight(), 1u);
       }},
  };
  for (const auto& r : rows) {
    detector_bench b;
    output out;
    b.fd.watch(at(0ms), 5);
    b.fd.watch(at(0ms), 6);
    ASSERT_TRUE(b.fd.on_message(at(10ms), 9, r.in, b.reach, out)) << r.name;
    SCOPED_TRACE(r.name);
    r.check(out, b.fd);
  }
  detector_bench b;
  output out;
  EXPECT_FALSE(b.fd.on_message(at(0ms), 9, gossip{}, b.reach, out)) << "gossip is not the detector's";
}

TEST(peers_detector, probes_decide_by_majority) {
  struct row {
    std::string name;
    std::vector<node_id> theirs;                 // the suspect's neighbours (the probers)
    std::vector<std::pair<node_id, verdict>> verdicts;
    bool confirmed, refuted;
  };
  const std::vector<row> rows = {
      {"two of three dead: confirmed", {7, 8, 9}, {{7, verdict::dead}, {8, verdict::dead}}, true, false},
      {"one of three dead: still open", {7, 8, 9}, {{7, verdict::dead}}, false, false},
      {"one alive refutes", {7, 8, 9}, {{7, verdict::dead}, {8, verdict::alive}}, false, true},
      {"busy is no verdict", {7, 8, 9}, {{7, verdict::busy}, {8, verdict::busy}}, false, false},
      {"a verdict from one not asked is ignored", {7, 8, 9}, {{11, verdict::dead}, {12, verdict::dead}}, false, false},
      {"no prober at all: its only witness confirms", {}, {}, true, false},
  };
  for (const auto& r : rows) {
    detector_bench b;
    b.cfg.probers_min = 0;
    output out;
    b.neighbour(5, r.theirs, out);
    out.clear();
    // Three silent ping rounds: suspected.
    for (int i = 1; i <= 4; ++i) b.fd.tick(at(std::chrono::milliseconds(1000 * i)), b.rng, b.known, b.reach, out);
    EXPECT_EQ(count_events(out, peer_event::suspected), 1u) << r.name;
    EXPECT_EQ(count_to_peers<suspect_notice>(out, 5), 1u) << r.name;
    EXPECT_EQ(count_to_peers<probe_request>(out), r.theirs.size()) << r.name;
    for (auto [from, v] : r.verdicts)
      (void)b.fd.on_message(at(4100ms), from, probe_result{.suspect = 5, .round = 1, .v = v}, b.reach, out);
    EXPECT_EQ(count_events(out, peer_event::confirmed), r.confirmed ? 1u : 0u) << r.name;
    EXPECT_EQ(count_to_seeds<seeds::dead_report>(out), r.confirmed ? 3u : 0u) << r.name << ": a report to every seed";
    EXPECT_EQ(b.dropped, r.confirmed ? std::vector<node_id>{5} : std::vector<node_id>{}) << r.name;
    EXPECT_EQ(count_events(out, peer_event::refuted), r.refuted ? 1u : 0u) << r.name;
  }
}

TEST(peers_detector, a_late_or_busy_peer_does_not_accuse) {
  struct row {
    std::string name;
    std::chrono::milliseconds tick_late;  // how late each ping tick runs
    std::size_t in_flight_max;
    bool lost;                            // the transport just lost the suspect
    verdict answer;
  };
  const std::vector<row> rows = {
      {"on time: probes", 0ms, 64, false, verdict::alive},
      {"late by more than half an interval: declines", 700ms, 64, false, verdict::busy},
      {"too many probes in flight: declines", 0ms, 0, false, verdict::busy},
      {"suspect just lost by the transport: dead at once", 0ms, 64, true, verdict::dead},
  };
  for (const auto& r : rows) {
    detector_bench b;
    b.cfg.probes_in_flight_max = r.in_flight_max;
    output out;
    b.fd.watch(at(0ms), 5);
    b.fd.tick(at(1000ms + r.tick_late), b.rng, b.known, b.reach, out);
    if (r.lost) b.reach.lost(6, at(1000ms + r.tick_late));
    out.clear();
    (void)b.fd.on_message(at(1000ms + r.tick_late), 9, probe_request{.suspect = 6, .round = 3}, b.reach, out);
    if (r.answer == verdict::alive) {
      EXPECT_EQ(count_to_peers<probe_ping>(out, 6), 1u) << r.name;
      (void)b.fd.on_message(at(1100ms), 6, probe_ack{.round = 3}, b.reach, out);
    }
    ASSERT_EQ(count_to_peers<probe_result>(out, 9), 1u) << r.name;
    for (auto& [to, m] : out.to_peers)
      if (auto* pr = std::get_if<probe_result>(&m)) {
        EXPECT_EQ(pr->v, r.answer) << r.name;
      }
  }
}

TEST(peers_detector, a_reset_suspects_at_once_and_drops_the_reset_prober) {
  detector_bench b;
  output out;
  b.neighbour(5, {7, 8, 9}, out);
  b.reach.lost(5, at(100ms));
  out.clear();
  b.fd.on_link_down(at(100ms), b.rng, 5, b.known, b.reach, out);
  EXPECT_TRUE(b.fd.suspected(5));
  EXPECT_EQ(count_to_peers<probe_request>(out), 3u);
  (void)b.fd.on_message(at(150ms), 7, probe_result{.suspect = 5, .round = 1, .v = verdict::dead}, b.reach, out);
  EXPECT_TRUE(b.dropped.empty()) << "one of three";
  // Two probers unreachable: the majority is counted among the one left.
  b.fd.on_link_down(at(200ms), b.rng, 8, b.known, b.reach, out);
  EXPECT_TRUE(b.dropped.empty()) << "one of two";
  b.fd.on_link_down(at(200ms), b.rng, 9, b.known, b.reach, out);
  EXPECT_EQ(b.dropped, std::vector<node_id>{5});
}

TEST(peers_detector, an_unreachable_prober_is_replaced_by_a_random_peer) {
  // The suspect's other neighbours died with it: each one lost is replaced
  // from the PL, so the round still reaches a verdict.
  detector_bench b;
  b.known = {{5, 0}, {7, 0}, {8, 0}, {20, 0}, {21, 0}};
  output out;
  b.neighbour(5, {7, 8}, out);
  b.reach.lost(5, at(100ms));
  out.clear();
  b.fd.on_link_down(at(100ms), b.rng, 5, b.known, b.reach, out);
  ASSERT_EQ(count_to_peers<probe_request>(out), 2u);
  out.clear();
  b.reach.lost(7, at(110ms));
  b.fd.on_link_down(at(110ms), b.rng, 7, b.known, b.reach, out);
  b.reach.lost(8, at(110ms));
  b.fd.on_link_down(at(110ms), b.rng, 8, b.known, b.reach, out);
  EXPECT_TRUE(b.dropped.empty()) << "nobody answered yet";
  std::set<node_id> replacements;
  for (auto& [to, m] : out.to_peers)
    if (std::holds_alternative<probe_request>(m)) replacements.insert(to);
  EXPECT_EQ(replacements, (std::set<node_id>{20, 21}));
  (void)b.fd.on_message(at(150ms), 20, probe_result{.suspect = 5, .round = 1, .v = verdict::dead}, b.reach, out);
  EXPECT_TRUE(b.dropped.empty()) << "one of two";
  (void)b.fd.on_message(at(160ms), 21, probe_result{.suspect = 5, .round = 1, .v = verdict::dead}, b.reach, out);
  EXPECT_EQ(b.dropped, std::vector<node_id>{5});
}

TEST(peers_detector, a_seeds_watch_request_probes_and_reports_only_silence) {
  detector_bench b;
  output out;
  // Answered: nothing reported, nothing sent back to a peer.
  b.fd.watch_for_seeds(at(0ms), 40, b.reach, out);
  ASSERT_EQ(count_to_peers<probe_ping>(out, 40), 1u);
  const auto round = std::get<probe_ping>(out.to_peers[0].second).round;
  b.fd.watch_for_seeds(at(10ms), 40, b.reach, out);
  EXPECT_EQ(count_to_peers<probe_ping>(out, 40), 1u) << "one probe per suspect at a time";
  out.clear();
  (void)b.fd.on_message(at(20ms), 40, probe_ack{.round = round}, b.reach, out);
  b.fd.tick(at(5000ms), b.rng, b.known, b.reach, out);
  EXPECT_EQ(count_to_seeds<seeds::dead_report>(out), 0u);
  EXPECT_EQ(count_to_peers<probe_result>(out), 0u);
  // Silent for two probe timeouts: a dead report to every seed.
  out.clear();
  b.fd.watch_for_seeds(at(6000ms), 41, b.reach, out);
  b.fd.tick(at(6999ms), b.rng, b.known, b.reach, out);
  EXPECT_EQ(count_to_seeds<seeds::dead_report>(out), 0u);
  b.fd.tick(at(7000ms), b.rng, b.known, b.reach, out);
  EXPECT_EQ(count_to_seeds<seeds::dead_report>(out), 3u);
  EXPECT_EQ(count_to_peers<probe_result>(out), 0u);
  // A peer running late on its own schedule does not accuse.
  detector_bench late;
  late.neighbour(5, {}, out);
  late.fd.tick(at(1000ms), late.rng, late.known, late.reach, out);  // pinging from 1 s
  out.clear();
  late.fd.tick(at(3000ms), late.rng, late.known, late.reach, out);  // a tick 1 s late
  late.fd.watch_for_seeds(at(3000ms), 42, late.reach, out);
  EXPECT_EQ(count_to_peers<probe_ping>(out, 42), 0u);
}

// ## disseminator

struct gossip_bench : bench {
  dedup_table seen{{.capacity = 1 << 10, .generations = 4, .bucket = 60s}};
  disseminator d{ctx, seen};
  explicit gossip_bench(dissemination mode) { cfg.mode = mode; }
};

TEST(peers_disseminator, relays_first_receipts_by_mode) {
  struct row {
    std::string name;
    dissemination mode;
    std::uint32_t hops;  // of the copy received
    std::size_t gossip_out, ihave_out;
  };
  // Neighbours 5, 6, 7; the copy comes from 5. Plumtree pushes the first
  // eager_hops hops to everyone, then announces over links made lazy.
  const std::vector<row> rows = {
      {"flooding: to every other neighbour", dissemination::flood, 4, 2, 0},
      {"plumtree, early hop: to every other neighbour", dissemination::plumtree, 0, 2, 0},
      {"plumtree, eager links: payload", dissemination::plumtree, 4, 2, 0},
  };
  for (const auto& r : rows) {
    gossip_bench b(r.mode);
    output out;
    for (node_id n : {5, 6, 7}) b.d.add(at(0ms), n, out);
    out.clear();
    ASSERT_TRUE(b.d.on_message(at(10ms), 5, gossip{.origin = 42, .seq = 1, .hops = r.hops}, out));
    EXPECT_EQ(count_to_peers<gossip>(out), r.gossip_out) << r.name;
    EXPECT_EQ(count_to_peers<gossip>(out, 5), 0u) << r.name << ": never back to the sender";
    EXPECT_EQ(count_to_peers<ihave>(out), r.ihave_out) << r.name;
    EXPECT_EQ(b.stats.delivered, 1u) << r.name;
    out.clear();
    (void)b.d.on_message(at(20ms), 6, gossip{.origin = 42, .seq = 1, .hops = r.hops}, out);
    EXPECT_EQ(b.stats.duplicates, 1u) << r.name;
    EXPECT_EQ(count_to_peers<gossip>(out), 0u) << r.name << ": a duplicate is not relayed";
    EXPECT_EQ(count_to_peers<prune>(out, 6), r.mode == dissemination::plumtree ? 1u : 0u) << r.name;
    EXPECT_EQ(b.d.eager(6), r.mode != dissemination::plumtree) << r.name;
  }
}

TEST(peers_disseminator, a_lazy_link_announces_and_a_missing_payload_is_grafted) {
  gossip_bench b(dissemination::plumtree);
  b.cfg.ihave_timeout = 100ms;
  output out;
  for (node_id n : {5, 6, 7}) b.d.add(at(0ms), n, out);
  (void)b.d.on_message(at(0ms), 6, prune{}, out);
  out.clear();
  (void)b.d.on_message(at(10ms), 5, gossip{.origin = 42, .seq = 1, .hops = 4}, out);
  EXPECT_EQ(count_to_peers<ihave>(out, 6), 1u) << "the pruned link gets an announcement";
  EXPECT_EQ(count_to_peers<gossip>(out, 7), 1u);
  struct row {
    std::chrono::milliseconds now;
    node_id graft_to;  // 0: none
  };
  // Announced by 6 then 7, payload never comes: graft from 6, then from 7,
  // then once from every other neighbour, then give up.
  (void)b.d.on_message(at(20ms), 6, ihave{.origin = 43, .seq = 1}, out);
  (void)b.d.on_message(at(30ms), 7, ihave{.origin = 43, .seq = 1}, out);
  EXPECT_EQ(b.d.awaited(), 1u);
  const std::vector<row> rows = {{100ms, 0}, {120ms, 6}, {219ms, 0}, {220ms, 7}, {320ms, 5}, {720ms, 0}};
  for (const auto& r : rows) {
    out.clear();
    b.d.tick_repair(at(r.now), out);
    EXPECT_EQ(count_to_peers<graft>(out), r.graft_to ? 1u : 0u) << r.now.count() << " ms";
    if (r.graft_to) {
      EXPECT_EQ(count_to_peers<graft>(out, r.graft_to), 1u) << r.now.count() << " ms";
    }
  }
  EXPECT_EQ(b.d.awaited(), 0u) << "given up after asking everyone once";
  out.clear();
  (void)b.d.on_message(at(800ms), 6, graft{.origin = 42, .seq = 1}, out);
  EXPECT_EQ(count_to_peers<gossip>(out, 6), 1u) << "a kept message answers a graft";
  EXPECT_TRUE(b.d.eager(6)) << "and the link is eager again";
}

TEST(peers_disseminator, originates_on_schedule_and_catches_new_neighbours_up) {
  gossip_bench b(dissemination::flood);
  b.cfg.gossip_interval = 1s;
  b.cfg.gossip_count = 3;
  output out;
  b.d.add(at(0ms), 5, out);
  b.d.on_registered(at(0ms));
  struct row {
    std::chrono::milliseconds now;
    bool registered;
    std::uint64_t originated;
  };
  const std::vector<row> rows = {{999ms, true, 0}, {1000ms, false, 0}, {1000ms, true, 1},
                                 {2500ms, true, 2}, {3000ms, true, 3}, {9000ms, true, 3}};
  for (const auto& r : rows) {
    b.d.tick_originate(at(r.now), r.registered, out);
    EXPECT_EQ(b.stats.originated, r.originated) << r.now.count() << " ms";
  }
  EXPECT_EQ(count_to_peers<gossip>(out, 5), 3u);
  const auto& body = std::get<gossip>(out.to_peers.back().second).body;
  EXPECT_NE(body.find(":3"), std::string::npos) << "the documents' body <timestamp>:<IP>:<Msg#>: " << body;
  out.clear();
  b.d.add(at(9000ms), 6, out);
  EXPECT_EQ(count_to_peers<ihave>(out, 6), 3u) << "a new neighbour hears of every message kept";
}

TEST(peers_disseminator, a_message_on_request_does_not_use_up_the_schedule) {
  gossip_bench b(dissemination::flood);
  b.cfg.gossip_interval = 1s;
  b.cfg.gossip_count = 2;
  output out;
  b.d.add(at(0ms), 5, out);
  b.d.on_registered(at(0ms));
  b.d.originate_now(at(10ms), out);
  b.d.originate_now(at(20ms), out);
  EXPECT_EQ(b.stats.originated, 2u);
  EXPECT_EQ(count_to_peers<gossip>(out, 5), 2u) << "sent at once";
  for (auto t : {1000ms, 2000ms, 3000ms, 4000ms}) b.d.tick_originate(at(t), true, out);
  EXPECT_EQ(b.stats.originated, 4u) << "two on request, then the schedule's two";
  const auto& body = std::get<gossip>(out.to_peers.back().second).body;
  EXPECT_NE(body.find(":4"), std::string::npos) << "sequence numbers go on: " << body;
}

}  // namespace
}  // namespace confab::peers
