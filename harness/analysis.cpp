#include "harness/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/host/link.hpp"

namespace confab::harness {

namespace {

double to_s(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }
using message_key = std::pair<std::uint32_t, std::uint32_t>;  // origin, seq

// Which nodes count as live peers at the end: started, never killed.
std::vector<bool> live_peers(const run_record& run, const std::map<std::uint32_t, double>& killed_at) {
  std::vector<bool> live(run.nodes.size(), false);
  for (std::size_t g = run.scen.seeds; g < run.nodes.size(); ++g)
    live[g] = !killed_at.count(static_cast<std::uint32_t>(g)) && run.nodes[g].started;
  return live;
}

// The overlay's changes in time order: every peer's linked and unlinked
// steps, and every kill (a killed peer's links count as gone from then).
struct overlay_step {
  double t;
  enum kind_t : std::uint8_t { kill, link, unlink } kind;
  std::uint32_t by, about;
};
std::vector<overlay_step> overlay_steps(const run_record& run, const std::map<std::uint32_t, double>& killed_at) {
  std::vector<overlay_step> steps;
  for (const auto& n : run.notes) {
    const std::string_view what = n.what ? n.what : "";
    if (what == "linked") steps.push_back({to_s(n.t), overlay_step::link, n.by, n.about});
    else if (what == "unlinked") steps.push_back({to_s(n.t), overlay_step::unlink, n.by, n.about});
  }
  for (auto& [g, at] : killed_at) steps.push_back({at, overlay_step::kill, g, g});
  std::stable_sort(steps.begin(), steps.end(), [](const overlay_step& a, const overlay_step& b) { return a.t < b.t; });
  return steps;
}

// Who is held to a message: a peer live at the end, not its origin; a
// churn joiner only once it has linked (it cannot have anything sent
// before); and for a message sent during churn, only a peer the overlay
// connected to the origin when it was sent (a crash can cut a peer off
// until it relinks; what is sent meanwhile cannot reach it by any
// protocol that floods over its links). Outside churn every live peer is
// held to every message.
struct eligibility {
  std::vector<bool> live;
  std::vector<double> joined_at;  // s: -inf for the join window's peers, +inf for a joiner never linked
  std::map<message_key, std::vector<std::uint32_t>> cut_off;  // churn messages: live peers not connected at send, sorted
  std::size_t live_count = 0;
  std::vector<double> joiner_times;  // sorted joined_at of live joiners (finite or not)

  bool held(std::uint32_t g, const message_key& key, double t_sent) const {
    if (g >= live.size() || !live[g] || g == key.first || joined_at[g] > t_sent) return false;
    auto it = cut_off.find(key);
    return it == cut_off.end() || !std::binary_search(it->second.begin(), it->second.end(), g);
  }
  std::size_t count(const message_key& key, double t_sent) const {
    std::size_t n = live_count - (key.first < live.size() && live[key.first] ? 1 : 0);
    n -= static_cast<std::size_t>(joiner_times.end() - std::upper_bound(joiner_times.begin(), joiner_times.end(), t_sent));
    if (auto it = cut_off.find(key); it != cut_off.end()) n -= it->second.size();
    return n;
  }
};

eligibility eligibility_of(const run_record& run, const std::map<std::uint32_t, double>& killed_at) {
  eligibility e;
  e.live = live_peers(run, killed_at);
  e.live_count = static_cast<std::size_t>(std::count(e.live.begin(), e.live.end(), true));
  const std::size_t n = run.nodes.size(), first_joiner = run.scen.seeds + run.scen.peers;
  e.joined_at.assign(n, -std::numeric_limits<double>::infinity());
  for (std::size_t g = first_joiner; g < n; ++g) e.joined_at[g] = std::numeric_limits<double>::infinity();
  for (const auto& x : run.notes)
    if (x.by >= first_joiner && x.by < n && x.what && std::string_view(x.what) == "linked")
      e.joined_at[x.by] = std::min(e.joined_at[x.by], to_s(x.t));
  for (std::size_t g = first_joiner; g < n; ++g)
    if (e.live[g]) e.joined_at[g] < std::numeric_limits<double>::infinity() ? e.joiner_times.push_back(e.joined_at[g])
                                                                           : e.joiner_times.push_back(std::numeric_limits<double>::infinity());
  std::sort(e.joiner_times.begin(), e.joiner_times.end());
  // During churn (its first crash to a second after its last): replay the
  // overlay to each message's send and walk the links from its origin (a
  // message goes from a peer to the peers it lists).
  std::vector<std::pair<double, double>> windows;
  for (const auto& p : run.plan)
    if (p.what.kind == fault::churn && !p.nodes.empty())
      windows.push_back({p.what.at_s, churn_step_at(p.what, p.nodes.size() - 1) + 1.0});
  if (windows.empty()) return e;
  auto in_churn = [&](double t) {
    for (auto& [a, b] : windows)
      if (t >= a && t <= b) return true;
    return false;
  };
  std::vector<const run_record::send*> sends;
  for (const auto& x : run.sends)
    if (in_churn(to_s(x.t))) sends.push_back(&x);
  std::stable_sort(sends.begin(), sends.end(), [](auto* a, auto* b) { return a->t < b->t; });
  const auto steps = overlay_steps(run, killed_at);
  std::vector<std::set<std::uint32_t>> nbrs(n);
  std::vector<bool> dead(n, false), seen(n, false);
  std::vector<std::uint32_t> todo, visited;
  std::size_t next = 0;
  for (const auto* x : sends) {
    const double t = to_s(x->t);
    for (; next < steps.size() && steps[next].t <= t; ++next) {
      const auto& s = steps[next];
      if (s.by >= n || s.about >= n) continue;
      if (s.kind == overlay_step::kill) dead[s.by] = true;
      else if (s.kind == overlay_step::link) nbrs[s.by].insert(s.about);
      else nbrs[s.by].erase(s.about);
    }
    if (x->origin >= n) continue;
    todo.assign(1, x->origin);
    visited.assign(1, x->origin);
    seen[x->origin] = true;
    while (!todo.empty()) {
      const auto y = todo.back();
      todo.pop_back();
      for (auto z : nbrs[y])
        if (!dead[z] && !seen[z]) seen[z] = true, todo.push_back(z), visited.push_back(z);
    }
    std::vector<std::uint32_t> cut;
    const message_key key{x->origin, x->seq};
    for (std::size_t g = run.scen.seeds; g < n; ++g)
      if (e.live[g] && !seen[g] && g != x->origin && e.joined_at[g] <= t) cut.push_back(static_cast<std::uint32_t>(g));
    for (auto v : visited) seen[v] = false;
    if (!cut.empty()) e.cut_off[key] = std::move(cut);
  }
  return e;
}

// Dissemination: per message, the receipt times of the peers held to it
// (`eligibility`), for messages sent after the join window (earlier ones
// race the joins and are not counted).
void analyse_delivery(const run_record& run, const eligibility& elig, report& rep) {
  std::map<message_key, std::int64_t> sent_at;
  for (const auto& x : run.sends) sent_at[{x.origin, x.seq}] = x.t;
  std::map<message_key, std::vector<std::pair<double, std::uint32_t>>> got;  // (ms after sending, hops)
  std::map<message_key, std::set<std::uint32_t>> reached;
  for (const auto& x : run.receipts) {
    reached[{x.origin, x.seq}].insert(x.who);
    auto it = sent_at.find({x.origin, x.seq});
    if (it == sent_at.end() || !elig.held(x.who, it->first, to_s(it->second))) continue;
    got[{x.origin, x.seq}].push_back({static_cast<double>(x.t - it->second) / 1e6, x.hops});
  }
  std::vector<double> t50, t90, t99, t100, h50, h90, h99, h100;
  std::vector<std::vector<double>> curves;
  std::uint64_t eligible_pairs = 0, eligible_got = 0;
  for (const auto& [key, t_sent] : sent_at) {
    if (to_s(t_sent) < run.scen.join_end_s()) continue;
    const std::size_t eligible = elig.count(key, to_s(t_sent));
    if (auto it = elig.cut_off.find(key); it != elig.cut_off.end()) {
      ++rep.messages_cut_off;
      rep.pairs_cut_off += it->second.size();
    }
    if (eligible == 0) continue;
    auto& v = got[key];
    std::sort(v.begin(), v.end());
    eligible_pairs += eligible;
    eligible_got += v.size();
    ++rep.messages;
    if (v.size() >= eligible) {
      ++rep.messages_complete;
    } else {
      std::vector<std::uint32_t> missing;
      const auto& seen = reached[key];
      for (std::size_t g = run.scen.seeds; g < elig.live.size(); ++g)
        if (elig.held(static_cast<std::uint32_t>(g), key, to_s(t_sent)) && !seen.count(static_cast<std::uint32_t>(g)))
          missing.push_back(static_cast<std::uint32_t>(g));
      rep.incomplete.push_back({key.first, key.second, t_sent, std::move(missing)});
    }
    // The time (or hops) by which a fraction q of the eligible peers had it.
    auto at = [&](double q, bool hops) {
      const auto need = static_cast<std::size_t>(std::ceil(q * static_cast<double>(eligible)));
      if (need == 0) return 0.0;
      if (v.size() < need) return std::numeric_limits<double>::infinity();
      if (!hops) return v[need - 1].first;
      std::uint32_t most = 0;
      for (std::size_t i = 0; i < need; ++i) most = std::max(most, v[i].second);
      return static_cast<double>(most);
    };
    t50.push_back(at(0.5, false)), t90.push_back(at(0.9, false)), t99.push_back(at(0.99, false)), t100.push_back(at(1.0, false));
    h50.push_back(at(0.5, true)), h90.push_back(at(0.9, true)), h99.push_back(at(0.99, true)), h100.push_back(at(1.0, true));
    std::vector<double> curve;  // time to reach k% for k = 1..100
    for (int k = 1; k <= 100; ++k) curve.push_back(at(k / 100.0, false));
    curves.push_back(std::move(curve));
  }
  rep.delivery_ratio = eligible_pairs ? static_cast<double>(eligible_got) / static_cast<double>(eligible_pairs) : 0;
  rep.t50 = quantiles_of(t50), rep.t90 = quantiles_of(t90), rep.t99 = quantiles_of(t99), rep.t100 = quantiles_of(t100);
  rep.h50 = quantiles_of(h50), rep.h90 = quantiles_of(h90), rep.h99 = quantiles_of(h99), rep.h100 = quantiles_of(h100);
  if (curves.empty()) return;
  for (std::size_t k = 0; k < 100; ++k) {
    std::vector<double> at_k;
    for (const auto& curve : curves) at_k.push_back(curve[k]);
    std::sort(at_k.begin(), at_k.end());
    const double percent = static_cast<double>(k + 1);
    auto put = [percent](std::vector<std::pair<double, double>>& dst, double v) {
      if (std::isfinite(v)) dst.push_back({v, percent});
    };
    put(rep.curve_fastest, at_k.front());
    put(rep.curve_median, at_k[at_k.size() / 2]);
    put(rep.curve_slowest, at_k.back());
  }
}

// After the first kill: how long until every live peer had `attach` live
// neighbours again (rebuilt from every peer's linked/unlinked steps, a
// neighbour counting as dead from its kill; a churn joiner counts from its
// first link), the overlay's exponent just before the kill, and the share
// of receipts due for messages sent in the 10 s after it.
void analyse_repair(const run_record& run, const eligibility& elig, const std::map<std::uint32_t, double>& killed_at,
                    report& rep) {
  if (killed_at.empty()) return;
  const auto& live = elig.live;
  double first_kill = 1e300;
  for (auto& [g, at] : killed_at) first_kill = std::min(first_kill, at);
  rep.first_kill_s = first_kill;
  const auto steps = overlay_steps(run, killed_at);
  const std::size_t n = run.nodes.size();
  std::vector<std::set<std::uint32_t>> nbrs(n), rev(n);
  std::vector<bool> dead(n, false), counted(n, false);
  for (std::size_t g = 0; g < n; ++g) counted[g] = live[g] && elig.joined_at[g] < 0;  // the join window's peers
  std::vector<std::size_t> live_degree(n, 0);
  const std::size_t attach = run.scen.attach;
  std::size_t below = 0;
  bool at_kill = false;
  double repaired_at = -1;
  auto set_degree = [&](std::uint32_t g, std::size_t d) {
    if (!at_kill || !counted[g]) {
      live_degree[g] = d;
      return;
    }
    const bool was = live_degree[g] < attach, is = d < attach;
    live_degree[g] = d;
    below = below + is - was;
  };
  for (const auto& s : steps) {
    if (!at_kill && s.t >= first_kill) {
      // The overlay just before the kill, then the count of peers below the minimum.
      std::vector<std::size_t> degrees;
      for (std::uint32_t g = static_cast<std::uint32_t>(run.scen.seeds); g < n; ++g)
        if (run.nodes[g].started && !dead[g] && elig.joined_at[g] <= s.t) degrees.push_back(nbrs[g].size());
      rep.powerlaw_alpha_before_kill = powerlaw_mle(degrees, attach);
      at_kill = true;
      for (std::uint32_t g = 0; g < n; ++g) below += counted[g] && live_degree[g] < attach;
    }
    if (s.by >= n || s.about >= n) continue;
    if (s.kind == overlay_step::kill) {
      dead[s.by] = true;
      for (auto p : rev[s.by]) set_degree(p, live_degree[p] - 1);
    } else if (s.kind == overlay_step::link) {
      if (!counted[s.by] && live[s.by]) {  // a joiner's first link: from now on it is held to the minimum
        counted[s.by] = true;
        if (at_kill) below += live_degree[s.by] < attach;
      }
      if (nbrs[s.by].insert(s.about).second) {
        rev[s.about].insert(s.by);
        if (!dead[s.about]) set_degree(s.by, live_degree[s.by] + 1);
      }
    } else if (nbrs[s.by].erase(s.about)) {
      rev[s.about].erase(s.by);
      if (!dead[s.about]) set_degree(s.by, live_degree[s.by] - 1);
    }
    if (at_kill) {
      if (below == 0 && repaired_at < 0) repaired_at = s.t;
      if (below > 0) repaired_at = -1;
    }
  }
  rep.below_min_degree_at_end = below;
  rep.repair_s = repaired_at < 0 ? -1 : std::max(0.0, repaired_at - first_kill);
  // Delivery of what was sent in the 10 s after the kill, by live origins.
  std::map<message_key, double> window;
  for (const auto& x : run.sends)
    if (x.origin < n && live[x.origin] && to_s(x.t) >= first_kill && to_s(x.t) < first_kill + 10.0)
      window[{x.origin, x.seq}] = to_s(x.t);
  std::size_t got = 0, due = 0;
  for (const auto& x : run.receipts)
    if (auto it = window.find({x.origin, x.seq}); it != window.end() && elig.held(x.who, it->first, it->second)) ++got;
  for (const auto& [key, t] : window) due += elig.count(key, t);
  rep.messages_after_kill = window.size();
  rep.delivery_after_kill = due > 0 ? static_cast<double>(got) / static_cast<double>(due) : -1;
}

// The overlay among live peers: degrees, the power-law exponent's maximum
// likelihood estimate above `attach`, and whether it is connected.
void analyse_overlay(const run_record& run, const std::vector<bool>& live, report& rep) {
  std::map<std::size_t, std::size_t> histogram;
  std::vector<std::size_t> degrees;
  std::size_t live_count = 0, first_live = live.size();
  for (std::size_t g = run.scen.seeds; g < live.size(); ++g) {
    if (!live[g]) continue;
    ++live_count;
    first_live = std::min(first_live, g);
    std::size_t degree = 0;
    for (auto n : run.nodes[g].neighbours) degree += live[n];
    ++histogram[degree];
    degrees.push_back(degree);
  }
  for (const auto& [degree, count] : histogram) rep.degree_histogram.push_back({degree, count});
  double sum = 0;
  for (auto d : degrees) {
    sum += static_cast<double>(d);
    rep.degree_max = std::max(rep.degree_max, d);
  }
  rep.mean_degree = degrees.empty() ? 0 : sum / static_cast<double>(degrees.size());
  rep.powerlaw_alpha = powerlaw_mle(degrees, run.scen.attach);
  std::vector<bool> visited(live.size(), false);
  std::vector<std::uint32_t> todo;
  std::size_t reached = 0;
  if (first_live < live.size()) todo.push_back(static_cast<std::uint32_t>(first_live)), visited[first_live] = true;
  while (!todo.empty()) {
    const auto x = todo.back();
    todo.pop_back();
    ++reached;
    for (auto n : run.nodes[x].neighbours)
      if (live[n] && !visited[n]) visited[n] = true, todo.push_back(n);
  }
  rep.overlay_connected = reached == live_count;
}

// Crash to removal (by the first seed, and by every live seed), false
// removals, and whether the live seeds agree on the PL.
void analyse_membership(const run_record& run, const std::vector<bool>& live,
                        const std::map<std::uint32_t, double>& killed_at, report& rep) {
  const std::size_t seed_count = run.scen.seeds;
  std::set<std::uint32_t> paused;
  for (const auto& p : run.plan)
    if (p.what.kind == fault::pause) paused.insert(p.nodes.begin(), p.nodes.end());
  std::size_t live_seed_count = 0;
  for (std::size_t g = 0; g < seed_count; ++g) live_seed_count += run.nodes[g].alive;
  std::map<std::uint32_t, std::map<std::uint32_t, std::int64_t>> removed_by;  // peer -> seed -> first time
  for (const auto& x : run.removals) removed_by[x.peer].try_emplace(x.seed, x.t);
  rep.killed = killed_at.size();
  std::vector<double> first_latency, all_latency;
  for (const auto& [g, at] : killed_at) {
    auto it = removed_by.find(g);
    if (it == removed_by.end()) continue;
    ++rep.removed;
    std::int64_t first = INT64_MAX, last = 0;
    std::size_t seeds_done = 0;
    for (const auto& [seed, t] : it->second) {
      first = std::min(first, t);
      if (run.nodes[seed].alive) last = std::max(last, t), ++seeds_done;
    }
    first_latency.push_back(to_s(first) - at);
    rep.removal_latencies_s.push_back(to_s(first) - at);
    if (seeds_done == live_seed_count) all_latency.push_back(to_s(last) - at);
  }
  rep.removal_first_s = quantiles_of(first_latency);
  rep.removal_all_s = quantiles_of(all_latency);
  for (const auto& [g, by] : removed_by) {
    if (killed_at.count(g)) continue;
    if (paused.count(g)) ++rep.removed_while_paused;
    else ++rep.false_removals;
  }
  std::set<std::uint64_t> digests;
  const std::vector<seam::node_id>* pl = nullptr;
  for (std::size_t g = 0; g < seed_count; ++g) {
    const auto& seed = run.nodes[g];
    if (!seed.alive || !seed.core_started) continue;
    ++rep.live_seeds;
    digests.insert(seed.pl_digest);
    if (!pl || pl->empty()) pl = &seed.members;
  }
  rep.distinct_pls = digests.size();
  rep.pl_size = pl ? pl->size() : 0;
  for (std::size_t g = seed_count; g < run.nodes.size(); ++g) {
    const bool in = pl && std::binary_search(pl->begin(), pl->end(), run.ids[g]);
    if (live[g] && !in) ++rep.pl_missing_live;
    if (killed_at.count(static_cast<std::uint32_t>(g)) && in) ++rep.pl_holding_dead;
  }
  rep.members_over_time = run.members_over_time;
  // Live peers by the plan: started so far (the join window's, then churn's
  // joiners) minus killed so far.
  const auto& scen = run.scen;
  const auto joins = join_times(run.plan);
  for (double t = 0.5; t <= scen.end_s(); t += 0.5) {
    double up = 0;
    for (std::size_t i = 0; i < scen.peer_nodes(); ++i) {
      const auto g = static_cast<std::uint32_t>(seed_count + i);
      auto j = joins.find(g);
      const double start = j != joins.end() ? j->second
                                            : scen.join_start_s() + (scen.join_end_s() - scen.join_start_s()) *
                                                                        static_cast<double>(i) / static_cast<double>(scen.peers);
      auto k = killed_at.find(g);
      if (start <= t && (k == killed_at.end() || k->second > t)) up += 1;
    }
    rep.live_over_time.push_back({t, up});
  }
}

void analyse_cost(const run_record& run, report& rep) {
  const auto& tr = run.traffic;
  rep.frames_sent = tr.frames_sent, rep.bytes_sent = tr.bytes_sent;
  rep.dropped_loss = tr.dropped_loss, rep.dropped_partition = tr.dropped_partition;
  rep.dropped_dead = tr.dropped_dead, rep.dropped_queue = tr.dropped_queue;
  rep.frames_out_of_order = tr.frames_out_of_order, rep.frames_lost_on_links = tr.frames_lost_on_links;
  rep.bad_input = tr.bad_input, rep.connects = tr.connects, rep.connect_failures = tr.connect_failures;
  rep.idle_closed = tr.idle_closed, rep.peak_connections = tr.peak_connections;
  const double nodes = static_cast<double>(run.nodes.size());
  const double run_s = std::max(1e-3, std::min(run.wall_s, run.scen.end_s()));
  rep.frames_per_peer_s = static_cast<double>(rep.frames_sent) / nodes / run_s;
  rep.bytes_per_peer_s = static_cast<double>(rep.bytes_sent) / nodes / run_s;
  rep.cpu_s = run.cpu_s;
  rep.cpu_s_per_1000 = rep.cpu_s / (nodes / 1000.0);
  rep.rss_mb = run.rss_mb;
  rep.rss_mb_per_1000 = rep.rss_mb / (nodes / 1000.0);
  const auto& late = run.lateness;
  rep.emulated_frames = late.count();
  rep.lateness_p50_us = late.quantile(0.5) / 1e3;
  rep.lateness_p90_us = late.quantile(0.9) / 1e3;
  rep.lateness_p99_us = late.quantile(0.99) / 1e3;
  rep.lateness_p999_us = late.quantile(0.999) / 1e3;
  rep.lateness_max_us = static_cast<double>(late.max()) / 1000.0;
  // Faithful when frames leave on time to within a fraction of the
  // shortest emulated delay: beyond it the run measures the emulator's
  // host, not the protocol over the links it was asked to emulate.
  rep.lateness_budget_us = std::max(lateness_budget_floor_us, lateness_budget_fraction * run.one_way_ms_min * 1000.0);
  rep.faithful = rep.lateness_p99_us <= rep.lateness_budget_us;
}

void list_problems(const run_record& run, report& rep) {
  if (rep.interrupted) rep.problems.push_back("the run was interrupted before its planned end");
  if (!rep.faithful) {
    char b[200];
    std::snprintf(b, sizeof b,
                  "emulation not faithful: lateness p99 %.0f us is over %.0f us (%.0f%% of the shortest one-way delay, %.1f ms)",
                  rep.lateness_p99_us, rep.lateness_budget_us, lateness_budget_fraction * 100, run.one_way_ms_min);
    rep.problems.push_back(b);
  }
  if (rep.frames_lost_on_links)
    rep.problems.push_back(std::to_string(rep.frames_lost_on_links) + " frames were lost on live TCP links (sequence gaps)");
  if (rep.messages_complete < rep.messages)
    rep.problems.push_back(std::to_string(rep.messages - rep.messages_complete) + " of " + std::to_string(rep.messages) +
                           " messages did not reach every live peer");
  if (rep.joiners_unlinked)
    rep.problems.push_back(std::to_string(rep.joiners_unlinked) + " peers that joined during churn never linked");
  if (rep.removed < rep.killed)
    rep.problems.push_back(std::to_string(rep.killed - rep.removed) + " of " + std::to_string(rep.killed) +
                           " killed peers were not removed");
  if (rep.false_removals) rep.problems.push_back(std::to_string(rep.false_removals) + " live peers were removed");
  if (rep.distinct_pls > 1) rep.problems.push_back("the live seeds disagree on the PL");
  if (rep.pl_missing_live) rep.problems.push_back(std::to_string(rep.pl_missing_live) + " live peers are missing from the PL");
}

}  // namespace

double powerlaw_mle(const std::vector<std::size_t>& degrees, std::size_t kmin) {
  double log_sum = 0;
  std::size_t above = 0;
  for (auto d : degrees)
    if (d >= kmin && kmin > 0) {
      log_sum += std::log(static_cast<double>(d) / (static_cast<double>(kmin) - 0.5));
      ++above;
    }
  return above && log_sum > 0 ? 1.0 + static_cast<double>(above) / log_sum : 0;
}

report analyse(const run_record& run) {
  report rep;
  const auto& scen = run.scen;
  rep.scenario_text = describe(scen, run.threads);
  rep.transport = host::transport_name(scen.transport);
  rep.backend = run.backend;
  rep.seeds = scen.seeds;
  rep.peers = scen.peers;
  rep.threads = run.threads;
  rep.wall_s = run.wall_s;
  rep.planned_s = scen.end_s();
  rep.interrupted = run.interrupted;
  for (const auto& p : run.plan) rep.faults.push_back({p.what.at_s, describe(p)});
  const auto killed_at = kill_times(run.plan);
  const auto elig = eligibility_of(run, killed_at);
  const auto& live = elig.live;
  analyse_delivery(run, elig, rep);
  for (const auto& p : run.plan)
    if (p.what.kind == fault::churn) rep.churn_left += p.nodes.size(), rep.churn_joined += p.side_a.size();
  for (std::size_t g = scen.seeds + scen.peers; g < run.nodes.size(); ++g)
    rep.joiners_unlinked += live[g] && elig.joined_at[g] == std::numeric_limits<double>::infinity();
  for (std::size_t g = scen.seeds; g < run.nodes.size(); ++g) {
    const auto& peer = run.nodes[g];
    if (!peer.core_started) continue;
    rep.gossip_frames += peer.stats.gossip_frames;
    rep.deliveries += peer.stats.delivered;
    rep.suspicions += peer.stats.suspicions;
    rep.confirmations += peer.stats.confirmations;
  }
  rep.redundancy = rep.deliveries ? static_cast<double>(rep.gossip_frames) / static_cast<double>(rep.deliveries) - 1.0 : 0;
  analyse_overlay(run, live, rep);
  analyse_membership(run, live, killed_at, rep);
  rep.attach = scen.attach;
  analyse_repair(run, elig, killed_at, rep);
  analyse_cost(run, rep);
  list_problems(run, rep);
  return rep;
}

namespace {
std::string repair_line(const report& rep) {
  if (rep.first_kill_s < 0) return "";
  char buf[512];
  const std::string repair = rep.repair_s < 0 ? "not by the end (" + std::to_string(rep.below_min_degree_at_end) + " below)"
                                              : std::to_string(rep.repair_s).substr(0, 5) + " s";
  std::snprintf(buf, sizeof buf,
                "  after the kill: every live peer back at %zu live neighbours in %s; delivery of the %zu messages sent in "
                "the next 10 s %.4f; power-law exponent %.2f before, %.2f at the end\n",
                rep.attach, repair.c_str(), rep.messages_after_kill, rep.delivery_after_kill, rep.powerlaw_alpha_before_kill,
                rep.powerlaw_alpha);
  std::string out = buf;
  if (rep.churn_left + rep.churn_joined > 0) {
    std::snprintf(buf, sizeof buf,
                  "  churn: %zu crashed, %zu joined (%zu never linked); %zu messages sent while a crash had cut %llu "
                  "(peer, message) pairs off from the origin, not held to them\n",
                  rep.churn_left, rep.churn_joined, rep.joiners_unlinked, rep.messages_cut_off,
                  static_cast<unsigned long long>(rep.pairs_cut_off));
    out += buf;
  }
  return out;
}
}  // namespace

std::string summary_text(const report& rep, const std::string& out_dir) {
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "confab sim: %zu seeds + %zu peers over %s (%s), %.1f s\n"
      "  delivery: %zu/%zu messages reached every live peer (%.4f of receipts); time to 99%%: median %.1f ms, worst %.1f ms; "
      "hops to 100%%: median %.0f\n"
      "  redundancy: %.2f frames per delivery minus one; %.1f frames and %.0f bytes per peer per second\n"
      "  failures: %zu killed, %zu removed (crash to removal median %.2f s, max %.2f s), %zu false removals\n"
      "  seeds: %zu live, %zu distinct PLs of %zu peers; %zu live peers missing, %zu dead peers held\n"
      "%s"
      "  cost: %.1f CPU s (%.2f per 1,000 nodes), peak RSS %.0f MiB (%.1f per 1,000 nodes)\n"
      "  links: %llu frames lost on live TCP links, %llu out of order\n"
      "  emulator: %llu frames, lateness p50 %.0f us, p99 %.0f us, max %.0f us (budget %.0f us: %s)\n",
      rep.seeds, rep.peers, rep.transport.c_str(), rep.backend.c_str(), rep.wall_s, rep.messages_complete, rep.messages,
      rep.delivery_ratio, rep.t99.p50, rep.t99.max, rep.h100.p50, rep.redundancy, rep.frames_per_peer_s,
      rep.bytes_per_peer_s, rep.killed, rep.removed, rep.removal_first_s.p50, rep.removal_first_s.max, rep.false_removals,
      rep.live_seeds, rep.distinct_pls, rep.pl_size, rep.pl_missing_live, rep.pl_holding_dead, repair_line(rep).c_str(), rep.cpu_s,
      rep.cpu_s_per_1000, rep.rss_mb, rep.rss_mb_per_1000, static_cast<unsigned long long>(rep.frames_lost_on_links),
      static_cast<unsigned long long>(rep.frames_out_of_order), static_cast<unsigned long long>(rep.emulated_frames),
      rep.lateness_p50_us, rep.lateness_p99_us, rep.lateness_max_us, rep.lateness_budget_us,
      rep.faithful ? "faithful" : "NOT faithful");
  std::string out = buf;
  out += "  report: " + out_dir + "/report.html, " + out_dir + "/report.json and trace.jsonl\n";
  for (const auto& p : rep.problems) out += "  problem: " + p + "\n";
  return out;
}

result<void, problem> write_trace(const run_record& run, const report& rep, const std::string& path) {
  using json = nlohmann::ordered_json;
  const auto killed_at = kill_times(run.plan);
  std::vector<std::pair<double, json>> lines;
  auto address = [&](std::uint32_t g) { return host::endpoint_address(run.ids[g]).to_string(); };
  auto address_list = [&](const std::vector<std::uint32_t>& v) {
    json a = json::array();
    for (auto g : v) a.push_back(address(g));
    return a;
  };
  auto to_us = [](double t_s) { return std::round(t_s * 1e6) / 1e6; };
  for (std::size_t i = 0; i < run.plan.size(); ++i) {
    const auto& p = run.plan[i];
    const double at = i < run.applied_at_s.size() ? run.applied_at_s[i] : -1;
    json line = {{"t_s", to_us(at)}, {"event", "fault"}, {"kind", fault_name(p.what.kind)}, {"planned_s", p.what.at_s},
                 {"what", describe(p)}};
    if (!p.nodes.empty()) line["nodes"] = address_list(p.nodes);
    if (!p.side_a.empty()) {
      line["a"] = p.side_a.size();
      line["b"] = p.side_b.size();
    }
    lines.push_back({at, std::move(line)});
  }
  for (const auto& x : run.sends)
    lines.push_back({to_s(x.t), {{"t_s", to_us(to_s(x.t))}, {"event", "gossip"}, {"origin", address(x.origin)}, {"seq", x.seq}}});
  for (const auto& x : run.notes)
    lines.push_back({to_s(x.t),
                     {{"t_s", to_us(to_s(x.t))},
                      {"event", x.what},
                      {"by", address(x.by)},
                      {"suspect", address(x.about)},
                      {"reporter", x.other == ~0u ? std::string() : address(x.other)},
                      {"why", x.why ? x.why : ""}}});
  for (const auto& x : run.removals)
    lines.push_back({to_s(x.t),
                     {{"t_s", to_us(to_s(x.t))},
                      {"event", "removed"},
                      {"seed", address(x.seed)},
                      {"peer", address(x.peer)},
                      {"killed", killed_at.count(x.peer) > 0}}});
  for (const auto& m : rep.incomplete)
    lines.push_back({to_s(m.t),
                     {{"t_s", to_us(to_s(m.t))},
                      {"event", "incomplete"},
                      {"origin", address(m.origin)},
                      {"seq", m.seq},
                      {"missing", address_list(m.missing)}}});
  std::stable_sort(lines.begin(), lines.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::ofstream out(path);
  for (const auto& [t, line] : lines) out << line.dump() << "\n";
  if (!out) {
    return problem{path + ": cannot be written"};
  }
  return {};
}

}  // namespace confab::harness
