// Deterministic simulation of the seed core: many seeds of the simulator,
// each with crashes and restarts (the log survives in a memory_store, as on
// disk), partitions, loss, duplication and racing registrations. After every
// event: no two seeds hold different entries at a committed index, a
// committed entry never changes, at most one leader per term. After healing
// and a quiet period: every seed holds the same PL, containing every
// acknowledged registration. A failure prints the seed that replays it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include "engine/sim/simulator.hpp"
#include "protocols/seeds/node.hpp"

namespace confab::seeds {
namespace {

using namespace std::chrono_literals;

// A peer that registers with a majority of seeds and retries until one
// answers; optionally reports a suspect once registered.
class test_peer final : public seam::node {
 public:
  test_peer(std::vector<node_id> seeds, seam::duration start_after) : seeds_(std::move(seeds)), start_after_(start_after) {}
  void on_start(seam::env& e) override { e.set_timer(e.now() + start_after_); }
  result<void> on_message(seam::env&, node_id, std::span<const std::byte> payload) override {
    auto m = decode(payload);
    if (!m) return m.error();
    if (auto* r = std::get_if<register_reply>(&*m); r && r->status == register_status::ok && !acked) {
      acked = true;
      if (!declare.empty()) declare_due = true;
    }
    if (auto* l = std::get_if<leave_reply>(&*m); l && l->status == leave_status::left && leave) left = true;
    return {};
  }
  void on_timer(seam::env& e) override {
    e.set_timer(e.now() + 700ms);
    if (declare_due) {
      declare_due = false;
      auto b = encode(neighbours{.ids = declare});
      for (auto s : seeds_) (void)e.send(s, b);
    }
    if (acked && report_suspect == no_node && !(leave && !left)) return;
    std::vector<node_id> order = seeds_;
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[e.rng().below(i)]);
    order.resize(seeds_.size() / 2 + 1);
    std::vector<std::byte> buf;
    if (!acked) {
      encode(register_request{.request_id = ++requests}, buf);
    } else if (leave && !left) {
      encode(leave_request{.request_id = ++requests, .peer = e.self()}, buf);
    } else {
      encode(dead_report{.suspect = report_suspect, .reporter = e.self()}, buf);
      report_suspect = no_node;  // once
    }
    for (auto s : order) (void)e.send(s, buf);
  }
  bool acked = false, declare_due = false;
  bool leave = false, left = false;  // once registered, leave (retrying until a seed confirms)
  std::vector<node_id> declare;
  std::uint64_t requests = 0;
  node_id report_suspect = no_node;

 private:
  std::vector<node_id> seeds_;
  seam::duration start_after_;
};

struct sim_run {
  std::uint64_t seed;
  std::size_t n_seeds, n_peers;
  sim::simulator s;
  std::vector<std::unique_ptr<memory_store>> disks;
  seed_config cfg;
  std::map<std::uint64_t, entry> committed;  // index -> the entry every seed must hold
  std::map<std::uint64_t, node_id> leader_of_term;
  std::string failure;

  sim_run(std::uint64_t sd, std::size_t seeds, std::size_t peers, sim::network_model m)
      : seed(sd), n_seeds(seeds), n_peers(peers), s(sd, m) {
    for (node_id i = 0; i < n_seeds; ++i) cfg.seeds.push_back(i);
    for (std::size_t i = 0; i < n_seeds; ++i) {
      disks.push_back(std::make_unique<memory_store>());
      auto* disk = disks.back().get();
      s.add_node([this, disk](seam::node_id) { return std::make_unique<seed_node>(cfg, *disk); });
    }
    for (std::size_t i = 0; i < n_peers; ++i) {
      const auto start = std::chrono::milliseconds(s.now().count() % 1 + static_cast<long>(i * 97 % 3000));
      s.add_node([this, start](seam::node_id) { return std::make_unique<test_peer>(cfg.seeds, start); });
    }
  }
  std::size_t durable_copies(std::uint64_t k, const entry& e) const {
    std::size_t n = 0;
    for (const auto& d : disks) {
      const auto& log = d->state().log;
      n += log.size() >= k && log[k - 1] == e;
    }
    return n;
  }
  // Every entry ever seen committed is still durable on a majority.
  void check_durable() {
    for (auto& [k, e] : committed)
      if (durable_copies(k, e) < cfg.quorum()) {
        failure = "committed index " + std::to_string(k) + " is no longer on a majority of disks";
        return;
      }
  }
  seed_node* seed_at(node_id i) { return static_cast<seed_node*>(s.get(i)); }
  // Splits seeds and peers into two random sides (one-way or both ways).
  void partition_at_random(seam::random& pick) {
    std::vector<seam::node_id> a, b;
    for (node_id i = 0; i < n_seeds + n_peers; ++i) (pick.below(2) ? a : b).push_back(i);
    s.partition(a, b, pick.below(4) != 0);
  }
  // Heal, restart every seed, then 8 s of a quiet network.
  void heal_and_settle(const std::function<void()>& checker) {
    s.heal();
    s.set_model({.delay_min = 1ms, .delay_max = 5ms});
    for (node_id i = 0; i < n_seeds; ++i)
      if (!s.alive(i)) s.restart(i);
    s.run_for(8s, checker);
  }
  test_peer* peer_at(std::size_t i) { return static_cast<test_peer*>(s.get(n_seeds + i)); }

  void check() {
    if (!failure.empty()) return;
    for (node_id i = 0; i < n_seeds; ++i) {
      auto* n = seed_at(i);
      if (!n || !n->started()) continue;
      const auto& c = n->core();
      if (c.current_role() == role::leader) {
        auto [it, fresh] = leader_of_term.emplace(c.term(), i);
        if (!fresh && it->second != i) {
          failure = "two leaders in term " + std::to_string(c.term());
          return;
        }
      }
      // Committed entries: the same at every seed, and never changed; when
      // an index first commits it is on the disks of a majority (so no crash
      // pattern that leaves a majority can lose it).
      for (std::uint64_t k = 1; k <= c.commit_index(); ++k) {
        auto [it, fresh] = committed.emplace(k, c.at(k));
        if (!fresh && !(it->second == c.at(k))) {
          failure = "seed " + std::to_string(i) + " holds a different entry at committed index " + std::to_string(k);
          return;
        }
        if (fresh && durable_copies(k, c.at(k)) < cfg.quorum()) {
          failure = "index " + std::to_string(k) + " committed while on the disks of fewer than a majority";
          return;
        }
      }
    }
  }
};

// CONFAB_SWEEP_FIRST / CONFAB_SWEEP_COUNT move or narrow the sweep (the
// optimised CI build runs seeds 1..1000; the sanitised one fewer).
std::uint64_t sweep_first() {
  const char* v = std::getenv("CONFAB_SWEEP_FIRST");
  return v ? std::strtoull(v, nullptr, 10) : 1;
}
std::uint64_t sweep_count() {
  const char* v = std::getenv("CONFAB_SWEEP_COUNT");
  return v ? std::strtoull(v, nullptr, 10) : 1000;
}

void run_one(std::uint64_t seed) {
  seam::random pick(seed * 7919 + 1);
  const std::size_t seeds = 3 + 2 * pick.below(3);  // 3, 5 or 7
  const std::size_t peers = 12 + pick.below(12);
  sim::network_model m{.delay_min = 1ms, .delay_max = 5ms + std::chrono::milliseconds(pick.below(25)),
                       .loss = 0.05 * pick.unit(), .duplicate = 0.02 * pick.unit()};
  sim_run r(seed, seeds, peers, m);
  auto checker = [&] { r.check(); };
  // A quarter of the peers leave as soon as they are registered, racing
  // their own registrations' retries and forwards through the faults.
  std::set<std::size_t> leavers;
  for (std::size_t p = 0; p < peers; ++p)
    if (pick.below(4) == 0) leavers.insert(p);
  // 12 s of faults: every 400 ms, maybe crash or restart a seed, maybe
  // partition a random minority or majority, maybe heal.
  for (int round = 0; round < 30 && r.failure.empty(); ++round) {
    const auto roll = pick.below(10);
    const node_id victim = static_cast<node_id>(pick.below(seeds));
    if (roll < 2) {
      if (r.s.alive(victim)) r.s.crash(victim);
      r.check_durable();
    } else if (roll < 4) {
      if (!r.s.alive(victim)) r.s.restart(victim);
    } else if (roll < 5) {
      r.partition_at_random(pick);
    } else if (roll < 7) {
      r.s.heal();
    }
    if (round == 0)
      for (auto p : leavers) r.peer_at(p)->leave = true;
    r.s.run_for(400ms, checker);
  }
  r.heal_and_settle(checker);
  r.check_durable();
  ASSERT_TRUE(r.failure.empty()) << r.failure << " (replay: seed " << seed << ")";
  // Every seed holds the same PL, with every acknowledged peer in it.
  const auto& pl0 = r.seed_at(0)->core().members();
  for (node_id i = 0; i < seeds; ++i) {
    ASSERT_EQ(r.seed_at(i)->core().members(), pl0) << "seed " << i << " holds another PL (replay: seed " << seed << ")";
    ASSERT_EQ(r.seed_at(i)->core().commit_index(), r.seed_at(0)->core().commit_index()) << "replay: seed " << seed;
  }
  for (std::size_t p = 0; p < peers; ++p) {
    const node_id id = seeds + p;
    ASSERT_TRUE(r.peer_at(p)->acked) << "peer " << id << " never registered (replay: seed " << seed << ")";
    if (leavers.count(p)) {
      ASSERT_TRUE(r.peer_at(p)->left) << "peer " << id << " never had its leave confirmed (replay: seed " << seed << ")";
      ASSERT_FALSE(pl0.count(id)) << "peer " << id << " left but is in the PL (replay: seed " << seed << ")";
    } else {
      ASSERT_TRUE(pl0.count(id)) << "acknowledged peer " << id << " missing from the PL (replay: seed " << seed << ")";
    }
  }
  EXPECT_EQ(pl0.size(), peers - leavers.size()) << "replay: seed " << seed;
}

TEST(seeds_sim, sweep_1000_seeds_with_crashes_partitions_loss_and_racing_registrations) {
  for (std::uint64_t seed = sweep_first(); seed < sweep_first() + sweep_count(); ++seed) {
    run_one(seed);
    if (HasFatalFailure()) return;
  }
}

TEST(seeds_sim, same_seed_replays_bit_for_bit) {
  auto trace = [](std::uint64_t seed) {
    sim_run r(seed, 5, 10, {.delay_min = 1ms, .delay_max = 20ms, .loss = 0.02});
    r.s.run_for(2s);
    r.s.crash(0);
    r.s.run_for(2s);
    r.s.restart(0);
    r.s.run_for(3s);
    return r.s.trace_hash();
  };
  EXPECT_EQ(trace(42), trace(42));
  EXPECT_NE(trace(42), trace(43));
}

// A follower restarted on a shortened log (it lost entries it had synced
// and acknowledged) is brought back by the leader's backtracking, however
// many it lost, and never loops on rejections: over many seeds, each
// cluster ends with every seed at the same commit index and PL, within a
// bounded time after the restart, with the appends bounded too.
TEST(seeds_sim, a_follower_that_lost_acknowledged_entries_catches_up) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    seam::random pick(seed * 104729 + 3);
    const std::size_t seeds = 3 + 2 * pick.below(2);
    sim_run r(seed, seeds, 16 + pick.below(16), {.delay_min = 1ms, .delay_max = 4ms + std::chrono::milliseconds(pick.below(10)),
                                                 .loss = 0.02 * pick.unit()});
    r.s.run_for(4s);
    node_id leader = no_node;
    for (node_id i = 0; i < seeds; ++i)
      if (r.seed_at(i)->core().current_role() == role::leader) leader = i;
    ASSERT_NE(leader, no_node) << "replay: seed " << seed;
    const node_id victim = (leader + 1 + pick.below(seeds - 1)) % seeds;
    const std::uint64_t held = r.seed_at(victim)->core().last_index();
    r.s.crash(victim);
    const std::size_t lost = 1 + pick.below(held);  // anything from one entry to the whole log
    r.disks[victim]->lose_last(lost);
    r.s.restart(victim);
    r.s.run_for(2s, [&] { r.check(); });
    ASSERT_TRUE(r.failure.empty()) << r.failure << " (replay: seed " << seed << ")";
    const auto& lead = r.seed_at(leader)->core();
    for (node_id i = 0; i < seeds; ++i) {
      EXPECT_EQ(r.seed_at(i)->core().commit_index(), lead.commit_index())
          << "seed " << i << " did not catch up after seed " << victim << " lost " << lost << " of " << held
          << " entries (replay: seed " << seed << ")";
      EXPECT_EQ(r.seed_at(i)->core().members(), lead.members()) << "replay: seed " << seed;
    }
    // A reject-resend loop would keep the network busy: after the repair,
    // a quiet second carries heartbeats only.
    const auto sent_before = r.s.stats().sent;
    r.s.run_for(1s);
    const auto heartbeats = (seeds - 1) * 2 * (1000 / std::chrono::duration_cast<std::chrono::milliseconds>(r.cfg.heartbeat).count() + 2);
    EXPECT_LE(r.s.stats().sent - sent_before, heartbeats + 4 * (r.n_peers + 1)) << "replay: seed " << seed;
    if (HasFailure()) return;
  }
}

// Storage faults over many seeds: besides crashes, partitions and loss, a
// seed restarts having found its log damaged from a random entry on (the
// store keeps the verified prefix and makes it a learner, as file_store
// does). At most one seed is a learner at a time (a damaged majority needs
// an operator: docs/seeds.md). No committed entry ever differs between
// seeds, no term has two leaders, no learner stands, and after healing every
// seed is a voter again with every acknowledged peer in its PL.
TEST(seeds_sim, damaged_disks_over_300_seeds_lose_no_committed_entry) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    seam::random pick(seed * 6151 + 17);
    const std::size_t seeds = 3 + 2 * pick.below(2);
    sim_run r(seed, seeds, 10 + pick.below(10),
              {.delay_min = 1ms, .delay_max = 5ms + std::chrono::milliseconds(pick.below(20)), .loss = 0.03 * pick.unit()});
    std::size_t damaged = 0;
    auto learners = [&] {
      std::size_t n = 0;
      for (node_id i = 0; i < seeds; ++i) n += r.s.alive(i) ? r.seed_at(i)->core().learner() : r.disks[i]->state().hard.learner;
      return n;
    };
    auto checker = [&] {
      r.check();
      for (node_id i = 0; i < seeds && r.failure.empty(); ++i) {
        auto* n = r.seed_at(i);
        if (n && n->started() && n->core().learner() && n->core().current_role() != role::follower)
          r.failure = "learner " + std::to_string(i) + " stood for election";
      }
    };
    r.s.run_for(2s, checker);
    for (int round = 0; round < 30 && r.failure.empty(); ++round) {
      const auto roll = pick.below(10);
      const node_id victim = static_cast<node_id>(pick.below(seeds));
      if (roll < 3) {
        if (r.s.alive(victim)) r.s.crash(victim);
      } else if (roll < 6) {
        if (!r.s.alive(victim)) {
          if (pick.below(2) && learners() == 0) {
            r.disks[victim]->damage(pick.below(r.disks[victim]->state().log.size() + 1));
            ++damaged;
          }
          r.s.restart(victim);
        }
      } else if (roll < 7) {
        r.partition_at_random(pick);
      } else if (roll < 8) {
        r.s.heal();
      }
      r.s.run_for(400ms, checker);
    }
    r.heal_and_settle(checker);
    ASSERT_TRUE(r.failure.empty()) << r.failure << " (replay: seed " << seed << ", " << damaged << " damaged restarts)";
    const auto& pl0 = r.seed_at(0)->core().members();
    for (node_id i = 0; i < seeds; ++i) {
      ASSERT_FALSE(r.seed_at(i)->core().learner()) << "seed " << i << " still a learner (replay: seed " << seed << ")";
      ASSERT_EQ(r.seed_at(i)->core().members(), pl0) << "replay: seed " << seed;
    }
    for (std::size_t p = 0; p < r.n_peers; ++p) {
      if (r.peer_at(p)->acked) {
        ASSERT_TRUE(pl0.count(r.n_seeds + p)) << "acknowledged peer lost (replay: seed " << seed << ")";
      }
    }
  }
}

// One removal rule for every dialect, on the pure core of a lone seed: a
// legacy report (an IP, no port) counts as the report of the PL member
// with that IP, a declared neighbour of the suspect first. Two reports
// from addresses outside the PL remove nobody (they used to remove a
// natively registered peer); one host is one voice however often it
// reports; a majority of the declared neighbours removes the suspect.
TEST(seeds_core, a_legacy_report_counts_only_as_a_member_with_that_ip) {
  const node_id self = seam::endpoint_id(0x7f000001, 7000);
  seed_config cfg;
  cfg.seeds = {self};
  cfg.legacy_reports = true;
  seed_core core(cfg, self, recovered_state{});
  seam::random rng(1);
  output out;
  seam::time_point t{};
  core.start(t, rng, out);
  EXPECT_FALSE(core.learner()) << "a lone new seed is its own majority";
  t = core.next_tick();
  core.on_tick(t, rng, out);
  ASSERT_EQ(core.current_role(), role::leader);
  const node_id victim = seam::endpoint_id(0x7f000001, 9000);
  const node_id n1 = seam::endpoint_id(0x7f000002, 9001), n2 = seam::endpoint_id(0x7f000003, 9002),
                n3 = seam::endpoint_id(0x7f000004, 9003);
  for (auto p : {victim, n1, n2, n3}) core.on_message(t, rng, p, register_request{.request_id = 1}, out);
  core.on_message(t, rng, victim, neighbours{.ids = {n1, n2, n3}}, out);
  ASSERT_EQ(core.members().size(), 4u);
  std::vector<std::string> ignored;
  auto legacy_report = [&](std::uint32_t ip) {
    t += std::chrono::seconds(1);
    output o;
    const node_id rep = seam::endpoint_id(ip, 0);
    core.on_message(t, rng, rep, dead_report{.suspect = victim, .reporter = rep}, o);
    for (auto& e : o.events)
      if (e.kind == seed_event::report_ignored) ignored.push_back(e.why);
  };
  legacy_report(0x7f000005);
  legacy_report(0x7f000006);
  EXPECT_TRUE(core.members().count(victim)) << "two hosts outside the PL removed a member";
  ASSERT_EQ(ignored.size(), 2u);
  EXPECT_EQ(ignored[0], std::string("no member of the PL other than the suspect has the legacy reporter's IP"));
  legacy_report(0x7f000002);
  legacy_report(0x7f000002);
  EXPECT_TRUE(core.members().count(victim)) << "one neighbour's host, twice, removed it";
  legacy_report(0x7f000003);
  EXPECT_FALSE(core.members().count(victim)) << "two of three declared neighbours did not remove it";
}

// The declaration lease (docs/peers.md, "Orphans"): a member that stops
// renewing is nobody's witness and is watched by three live members the
// leader picks; two of their reports remove it; a suspect with one live
// declared neighbour gets watchers, and that neighbour plus a stranger
// cannot remove it.
TEST(seeds_core, a_lapsed_member_is_watched_and_removed_by_a_majority_of_live_witnesses) {
  const node_id self = 1000;
  seed_config cfg;
  cfg.seeds = {self};
  cfg.declare_lease = 30s;
  cfg.watch_retry = 5s;
  seed_core core(cfg, self, recovered_state{});
  seam::random rng(3);
  output out;
  seam::time_point t{};
  core.start(t, rng, out);
  t = core.next_tick();
  core.on_tick(t, rng, out);
  ASSERT_EQ(core.current_role(), role::leader);
  // A zone (1, 2, 3: neighbours of each other) and the rest (10..17).
  const std::vector<node_id> zone = {1, 2, 3}, rest = {10, 11, 12, 13, 14, 15, 16, 17};
  for (auto p : zone) core.on_message(t, rng, p, register_request{.request_id = 1}, out);
  for (auto p : rest) core.on_message(t, rng, p, register_request{.request_id = 1}, out);
  ASSERT_EQ(core.members().size(), 11u);
  for (auto p : zone) {
    neighbours nb;
    for (auto q : zone)
      if (q != p) nb.ids.push_back(q);
    core.on_message(t, rng, p, nb, out);
  }
  // The zone dies; the rest renew every 10 s.
  std::map<node_id, std::set<node_id>> watchers;  // suspect -> asked
  for (int s = 1; s <= 35; ++s) {
    t += 1s;
    if (s % 10 == 0)
      for (auto p : rest) core.on_message(t, rng, p, neighbours{.ids = {rest[0]}}, out);
    out.clear();
    core.on_tick(t, rng, out);
    for (auto& [to, m] : out.sends)
      if (auto* w = std::get_if<watch_request>(&m)) {
        EXPECT_TRUE(std::find(rest.begin(), rest.end(), to) != rest.end()) << "asked a lapsed member or the suspect";
        watchers[w->suspect].insert(to);
      }
    if (s < 30) {
      ASSERT_TRUE(watchers.empty()) << "watched before the lease lapsed (" << s << " s)";
    }
  }
  ASSERT_EQ(watchers.size(), 3u) << "every lapsed zone member is watched";
  for (auto& [suspect, by] : watchers) EXPECT_EQ(by.size(), 3u) << "suspect " << suspect;
  // Two of a suspect's three watchers report it: removed.
  for (node_id suspect : zone) {
    auto it = watchers[suspect].begin();
    core.on_message(t, rng, *it, dead_report{.suspect = suspect, .reporter = *it}, out);
    EXPECT_TRUE(core.members().count(suspect)) << "one watcher removed " << suspect;
    ++it;
    core.on_message(t, rng, *it, dead_report{.suspect = suspect, .reporter = *it}, out);
    EXPECT_FALSE(core.members().count(suspect)) << "two of three watchers did not remove " << suspect;
  }
  // A live member (10) whose only declared neighbour (11) reports it, with
  // a stranger (12): three live witnesses are needed, so the leader asks
  // watchers, and the two reports are one witness's.
  core.on_message(t, rng, 10, neighbours{.ids = {11}}, out);
  out.clear();
  core.on_message(t, rng, 11, dead_report{.suspect = 10, .reporter = 11}, out);
  core.on_message(t, rng, 12, dead_report{.suspect = 10, .reporter = 12}, out);
  std::set<node_id> asked;
  for (auto& [to, m] : out.sends)
    if (auto* w = std::get_if<watch_request>(&m); w && w->suspect == 10) asked.insert(to);
  EXPECT_GE(asked.size(), 2u) << "no watchers for a suspect with one live witness";
  EXPECT_TRUE(core.members().count(10)) << "its own neighbour and a stranger removed a live member";
}

// A minority side cannot add anyone; the majority side keeps serving; the
// healed minority catches up.
TEST(seeds_sim, minority_partition_cannot_change_the_pl) {
  sim_run r(7, 5, 0, {.delay_min = 1ms, .delay_max = 5ms});
  r.s.run_for(3s);
  // Cut seeds {0,1} plus a new peer off from {2,3,4} plus another new peer.
  const node_id minority_peer = r.s.add_node([&](seam::node_id) {
    return std::make_unique<test_peer>(std::vector<node_id>{0, 1}, 10ms);  // asks only the minority seeds
  });
  const node_id majority_peer = r.s.add_node([&](seam::node_id) {
    return std::make_unique<test_peer>(std::vector<node_id>{2, 3, 4}, 10ms);
  });
  r.s.partition({0, 1, minority_peer}, {2, 3, 4, majority_peer});
  r.s.run_for(5s, [&] { r.check(); });
  ASSERT_TRUE(r.failure.empty()) << r.failure;
  for (node_id i : {0, 1}) EXPECT_EQ(r.seed_at(i)->core().members().count(minority_peer), 0u);
  for (node_id i : {2, 3, 4}) EXPECT_EQ(r.seed_at(i)->core().members().count(majority_peer), 1u);
  EXPECT_FALSE(static_cast<test_peer*>(r.s.get(minority_peer))->acked);
  r.s.heal();
  r.s.run_for(4s, [&] { r.check(); });
  ASSERT_TRUE(r.failure.empty()) << r.failure;
  for (node_id i = 0; i < 5; ++i) {
    EXPECT_EQ(r.seed_at(i)->core().members().count(majority_peer), 1u);
    EXPECT_EQ(r.seed_at(i)->core().members().count(minority_peer), 1u);  // its retries go through once healed
  }
}

// Removal needs a majority of the suspect's declared neighbours: one
// reporter removes nobody, reports from non-neighbours do not count, a
// neighbour majority removes the suspect from every seed's PL.
TEST(seeds_sim, one_reporter_removes_nobody_and_a_neighbour_majority_does) {
  sim_run r(11, 3, 9, {.delay_min = 1ms, .delay_max = 5ms});
  const node_id suspect = 3;  // the first peer
  r.peer_at(0)->declare = {4, 5, 6, 7};  // four neighbours: three must report
  r.s.run_for(6s);
  for (std::size_t p = 0; p < 9; ++p) ASSERT_TRUE(r.peer_at(p)->acked);
  auto in_pl_everywhere = [&] {
    std::size_t n = 0;
    for (node_id i = 0; i < 3; ++i) n += r.seed_at(i)->core().members().count(suspect);
    return n;
  };
  r.peer_at(1)->report_suspect = suspect;  // neighbour 4
  r.peer_at(6)->report_suspect = suspect;  // peer 9: not a neighbour
  r.peer_at(7)->report_suspect = suspect;  // peer 10: not a neighbour
  r.s.run_for(3s);
  EXPECT_EQ(in_pl_everywhere(), 3u) << "a minority of the suspect's neighbours removed it";
  r.peer_at(2)->report_suspect = suspect;  // neighbour 5: two of four, still a minority... of a majority
  r.s.run_for(3s);
  EXPECT_EQ(in_pl_everywhere(), 3u) << "two of four neighbours removed it";
  r.peer_at(3)->report_suspect = suspect;  // neighbour 6: three of four
  r.s.run_for(3s);
  EXPECT_EQ(in_pl_everywhere(), 0u) << "a majority of neighbours did not remove it";
}

// A tool on the seeds' client wire: sends one message to one seed, keeps
// every reply.
class tool_node final : public seam::node {
 public:
  void on_start(seam::env& e) override { e.set_timer(e.now() + 20ms); }
  result<void> on_message(seam::env&, node_id, std::span<const std::byte> payload) override {
    auto m = decode_client(payload);
    if (!m) return m.error();
    replies.push_back(std::move(*m));
    return {};
  }
  void on_timer(seam::env& e) override {
    e.set_timer(e.now() + 20ms);
    if (to != no_node) (void)e.send(to, encode_client(next));
    to = no_node;
  }
  // Sent at the tool's next timer (within 20 ms).
  void ask(node_id seed, client_message m) {
    to = seed;
    next = std::move(m);
  }
  std::vector<client_message> replies;

 private:
  node_id to = no_node;
  client_message next;
};

// Members in pages, with their states; a force-leave by an operator (not a
// member) asked of a follower; a leave of a peer not in the PL answered at
// once; a removed peer's late registration held off for rejoin_hold.
TEST(seeds_sim, members_pages_force_leave_and_rejoin_hold) {
  sim_run r(5, 3, 10, {.delay_min = 1ms, .delay_max = 5ms});
  const auto tool_id = static_cast<seam::node_id>(r.s.add_node([](seam::node_id) { return std::make_unique<tool_node>(); }));
  auto* tool = static_cast<tool_node*>(r.s.get(tool_id));
  r.peer_at(0)->declare = {4, 5, 6};
  r.s.run_for(6s);
  for (std::size_t p = 0; p < 10; ++p) ASSERT_TRUE(r.peer_at(p)->acked);
  node_id leader = no_node, follower = no_node;
  for (node_id i = 0; i < 3; ++i)
    (r.seed_at(i)->core().current_role() == role::leader ? leader : follower) = i;
  ASSERT_NE(leader, no_node);
  // One dead report about peer 3 (the first peer): suspected, not removed.
  r.peer_at(1)->report_suspect = 3;
  r.s.run_for(2s);
  // Pages of 4 from the follower: 10 members in three pages, ids ascending.
  std::vector<member_info> all;
  node_id after = no_node;
  for (int page = 0; page < 5; ++page) {
    tool->replies.clear();
    tool->ask(follower, members_request{.request_id = 7, .after = after, .limit = 4});
    r.s.run_for(200ms);
    ASSERT_EQ(tool->replies.size(), 1u);
    const auto& m = std::get<members_reply>(tool->replies[0]);
    EXPECT_EQ(m.pl_size, 10u);
    EXPECT_EQ(m.leader, leader);
    all.insert(all.end(), m.members.begin(), m.members.end());
    if (!m.more) break;
    after = m.members.back().id;
  }
  ASSERT_EQ(all.size(), 10u);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].id, 3 + i);
  EXPECT_EQ(all[0].state, member_state::suspected);
  EXPECT_EQ(all[0].reporters, 1u);
  EXPECT_EQ(all[0].degree, 3u);
  EXPECT_EQ(all[1].state, member_state::alive);
  // Force-leave of peer 5 asked of the follower by the tool.
  tool->replies.clear();
  tool->ask(follower, leave_request{.request_id = 8, .peer = 5});
  r.s.run_for(300ms);
  ASSERT_EQ(tool->replies.size(), 1u);
  EXPECT_EQ(std::get<leave_reply>(tool->replies[0]).status, leave_status::left);
  for (node_id i = 0; i < 3; ++i) EXPECT_EQ(r.seed_at(i)->core().members().count(5), 0u);
  // Its registration arrives again at once (every 700 ms, as a late
  // duplicate would): held off within rejoin_hold (2 s), not re-added.
  auto* p5 = r.peer_at(2);
  p5->acked = false;
  r.s.run_for(800ms);
  for (node_id i = 0; i < 3; ++i) EXPECT_EQ(r.seed_at(i)->core().members().count(5), 0u) << "re-added within rejoin_hold";
  // After the hold, a registration is a real rejoin and gets in.
  r.s.run_for(3s);
  EXPECT_TRUE(p5->acked);
  for (node_id i = 0; i < 3; ++i) EXPECT_EQ(r.seed_at(i)->core().members().count(5), 1u);
  // A leave of a peer never in the PL is answered at once.
  tool->replies.clear();
  tool->ask(leader, leave_request{.request_id = 9, .peer = 999});
  r.s.run_for(200ms);
  ASSERT_EQ(tool->replies.size(), 1u);
  EXPECT_EQ(std::get<leave_reply>(tool->replies[0]).status, leave_status::left);
}

}  // namespace
}  // namespace confab::seeds
