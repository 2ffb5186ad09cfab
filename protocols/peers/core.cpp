#include "protocols/peers/core.hpp"

#include <algorithm>
#include <cmath>

#include "protocols/common/endpoints.hpp"

namespace confab::peers {

const char* event_name(peer_event::kind_t k) noexcept {
  static constexpr const char* names[] = {"registered", "linked",    "unlinked", "gossip_sent", "gossip_received",
                                          "suspected",  "refuted",   "confirmed", "reported",   "probe_declined"};
  return names[k];
}

namespace {
constexpr time_point never{std::chrono::nanoseconds::max()};
}

peer_core::peer_core(peer_config cfg, node_id self, dedup_table& seen)
    : cfg_(std::move(cfg)), self_(self), seen_(seen) {
  CONFAB_ASSERT(!cfg_.seeds.empty());
}

std::vector<node_id> peer_core::neighbours() const {
  std::vector<node_id> v;
  v.reserve(nbrs_.size());
  for (auto& [id, n] : nbrs_) v.push_back(id);
  return v;
}

void peer_core::start(time_point now, seam::random& rng, output& out) {
  last_now_ = now;
  // The documents' alternative overlay: draw this peer's degree k with
  // P(k) ∝ 40·1.5^(−k/10), k = 1..degree_max.
  if (cfg_.overlay == overlay_model::exponential) {
    double total = 0;
    for (std::size_t k = 1; k <= cfg_.degree_max; ++k) total += 40.0 * std::pow(1.5, -static_cast<double>(k) / 10.0);
    double u = rng.unit() * total;
    target_degree_ = cfg_.degree_max;
    for (std::size_t k = 1; k <= cfg_.degree_max; ++k) {
      u -= 40.0 * std::pow(1.5, -static_cast<double>(k) / 10.0);
      if (u <= 0) {
        target_degree_ = k;
        break;
      }
    }
  } else {
    target_degree_ = cfg_.attach;
  }
  send_register(now, rng, out);
}

void peer_core::send_register(time_point now, seam::random& rng, output& out) {
  // ⌊n/2⌋+1 seeds chosen at random.
  std::vector<node_id> order = cfg_.seeds;
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  order.resize(cfg_.seeds.size() / 2 + 1);
  ++register_id_;
  for (auto s : order) out.to_seeds.emplace_back(s, seeds::register_request{.request_id = register_id_});
  next_register_at_ = now + cfg_.register_retry;
}

void peer_core::on_seed_message(time_point now, seam::random& rng, node_id from, const seeds::client_message& m, output& out) {
  last_now_ = now;
  const auto* r = std::get_if<seeds::register_reply>(&m);
  if (!r || r->status != seeds::register_status::ok) return;
  for (std::size_t i = 0; i < r->peers.size(); ++i) {
    if (r->peers[i] == self_) continue;
    known_[r->peers[i]] = r->degrees.empty() ? 0 : r->degrees[i];
  }
  out.events.push_back({.kind = peer_event::registered, .at = now, .peer = from, .count = r->peers.size()});
  if (!registered_) {
    registered_ = true;
    next_gossip_at_ = now + (cfg_.gossip_first > duration::zero() ? cfg_.gossip_first : cfg_.gossip_interval);
    // Wait briefly for the other seeds' lists, then link.
    link_due_set_ = true;
    link_due_ = now + std::min<duration>(cfg_.register_retry / 4, 200ms);
  } else if (nbrs_.size() + pending_links_.size() < target_degree()) {
    link_more(now, rng, out);
  }
}

void peer_core::link_more(time_point now, seam::random& rng, output& out) {
  std::vector<std::pair<node_id, double>> cand;
  for (auto& [p, deg] : known_) {
    if (p == self_ || nbrs_.count(p) || pending_links_.count(p)) continue;
    auto d = down_.find(p);
    if (d != down_.end() && now - d->second < cfg_.ping_interval) continue;  // recently unreachable
    // Preferential attachment: chance ∝ degree + 1. The exponential model
    // picks uniformly (its power law comes from the drawn k).
    cand.emplace_back(p, cfg_.overlay == overlay_model::preferential ? static_cast<double>(deg) + 1.0 : 1.0);
  }
  std::size_t want = target_degree() > nbrs_.size() + pending_links_.size()
                         ? target_degree() - nbrs_.size() - pending_links_.size()
                         : 0;
  while (want > 0 && !cand.empty()) {
    double total = 0;
    for (auto& [p, w] : cand) total += w;
    double u = rng.unit() * total;
    std::size_t pick = cand.size() - 1;
    for (std::size_t i = 0; i < cand.size(); ++i) {
      u -= cand[i].second;
      if (u <= 0) {
        pick = i;
        break;
      }
    }
    const node_id p = cand[pick].first;
    cand.erase(cand.begin() + static_cast<std::ptrdiff_t>(pick));
    pending_links_[p] = now + 2 * cfg_.probe_timeout + 1s;
    out.to_peers.emplace_back(p, link_request{.incarnation = incarnation_});
    --want;
  }
}

void peer_core::keep(time_point now, const gossip& g) {
  const duration relink = cfg_.ping_misses * cfg_.ping_interval + 2 * cfg_.probe_timeout + 2 * cfg_.register_retry;
  const duration catch_up = std::max(cfg_.catch_up_keep, relink);
  const bool plumtree = cfg_.mode == dissemination::plumtree;
  const auto until = now + (plumtree ? std::max(cfg_.message_keep, catch_up) : catch_up);
  if (!store_.insert_or_assign({g.origin, g.seq}, kept{g, until}).second) return;
  kept_order_.push_back({g.origin, g.seq});
  // Flooding keeps messages only to catch new neighbours up: the newest
  // catch_up_max. Plumtree keeps what grafts may ask for (message_keep).
  while (!plumtree && store_.size() > cfg_.catch_up_max && !kept_order_.empty()) {
    store_.erase(kept_order_.front());
    kept_order_.pop_front();
  }
}

void peer_core::add_neighbour(time_point now, node_id p, output& out) {
  pending_links_.erase(p);
  if (p == self_ || nbrs_.count(p)) return;
  nbrs_[p] = neighbour{};
  // Catch the new neighbour up: announce the newest messages kept; it
  // grafts those it lacks (the ihave/graft repair, in both modes).
  std::vector<std::pair<time_point, std::pair<node_id, std::uint64_t>>> recent;
  for (auto& [key, k] : store_)
    if (k.until > now) recent.push_back({k.until, key});
  if (recent.size() > cfg_.catch_up_max) {
    std::nth_element(recent.begin(), recent.begin() + static_cast<std::ptrdiff_t>(cfg_.catch_up_max), recent.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    recent.resize(cfg_.catch_up_max);
  }
  for (auto& [until, key] : recent) {
    const auto& g = store_[key].g;
    out.to_peers.emplace_back(p, ihave{.origin = g.origin, .seq = g.seq, .hops = g.origin == self_ ? 0 : g.hops + 1});
    ++stats_.control_frames;
  }
  down_.erase(p);
  declare_dirty_ = true;
  out.events.push_back({.kind = peer_event::linked, .at = now, .peer = p, .count = nbrs_.size()});
  if (!pinging_) {
    pinging_ = true;
    next_ping_at_ = now + cfg_.ping_interval;
  }
}

void peer_core::drop_neighbour(time_point now, node_id p, output& out) {
  if (!nbrs_.erase(p)) return;
  suspects_.erase(p);
  declare_dirty_ = true;
  out.events.push_back({.kind = peer_event::unlinked, .at = now, .peer = p, .count = nbrs_.size()});
}

void peer_core::originate(time_point now, output& out) {
  gossip g;
  g.origin = self_;
  g.seq = ++seq_;
  g.hops = 0;
  g.created_ns = static_cast<std::uint64_t>(now.count());
  // The documents' body: <timestamp>:<IP>:<Msg#>.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  std::string ip = endpoints::id_string(self_);
  ip = ip.substr(0, ip.rfind(':'));
  g.body = std::to_string(ms) + ":" + ip + ":" + std::to_string(g.seq);
  if (cfg_.gossip_padding) g.body.append(std::min(cfg_.gossip_padding, max_body_bytes - g.body.size()), '.');
  (void)seen_.insert(dedup_table::key(self_, self_, g.seq), now);
  ++stats_.originated;
  out.events.push_back({.kind = peer_event::gossip_sent, .at = now, .peer = self_, .seq = g.seq});
  keep(now, g);
  forward(now, g, self_, out);
}

void peer_core::forward(time_point, const gossip& g, node_id except, output& out) {
  gossip f = g;
  f.hops = g.origin == self_ ? 0 : g.hops + 1;
  for (auto& [p, n] : nbrs_) {
    if (p == except) continue;
    // Plumtree: eager links carry the payload, lazy ones an announcement.
    // The first `eager_hops` hops go eagerly to every neighbour, so a
    // message outlives an origin (and its first relays) failing right after
    // sending it, before any lazy repair could run.
    if (cfg_.mode == dissemination::flood || n.eager || f.hops < cfg_.eager_hops) {
      out.to_peers.emplace_back(p, f);
      ++stats_.gossip_frames;
    } else {
      out.to_peers.emplace_back(p, ihave{.origin = g.origin, .seq = g.seq, .hops = f.hops});
      ++stats_.control_frames;
    }
  }
}

void peer_core::on_gossip(time_point now, node_id from, const gossip& g, output& out) {
  const auto k = dedup_table::key(self_, g.origin, g.seq);
  if (!seen_.insert(k, now)) {
    ++stats_.duplicates;
    if (cfg_.mode == dissemination::plumtree) {
      // A second eager copy: this link is redundant in the tree.
      auto it = nbrs_.find(from);
      if (it != nbrs_.end() && it->second.eager) {
        it->second.eager = false;
        out.to_peers.emplace_back(from, prune{});
        ++stats_.control_frames;
      }
    }
    return;
  }
  ++stats_.delivered;
  out.events.push_back(
      {.kind = peer_event::gossip_received, .at = now, .peer = g.origin, .other = from, .seq = g.seq, .hops = g.hops + 1});
  missing_.erase({g.origin, g.seq});
  keep(now, g);
  if (cfg_.mode == dissemination::plumtree)
    if (auto it = nbrs_.find(from); it != nbrs_.end()) it->second.eager = true;
  forward(now, g, from, out);
}

void peer_core::on_peer_message(time_point now, seam::random& rng, node_id from, const message& m, output& out) {
  last_now_ = now;
  if (auto* g = std::get_if<gossip>(&m)) return on_gossip(now, from, *g, out);
  if (auto* p = std::get_if<ping>(&m)) {
    pong r{.seq = p->seq, .incarnation = incarnation_};
    for (auto& [id, n] : nbrs_) {
      if (r.neighbours.size() >= max_neighbour_list) break;
      r.neighbours.push_back(id);
    }
    out.to_peers.emplace_back(from, std::move(r));
    return;
  }
  if (auto* p = std::get_if<pong>(&m)) {
    auto it = nbrs_.find(from);
    if (it == nbrs_.end()) return;
    if (p->seq == it->second.ping_seq) it->second.awaiting = false;
    it->second.misses = 0;
    it->second.failed_rounds = 0;
    it->second.incarnation = std::max(it->second.incarnation, p->incarnation);
    it->second.their = p->neighbours;
    // Neighbours of neighbours widen the view used to pick probers and links.
    for (auto q : p->neighbours)
      if (q != self_) known_.try_emplace(q, 0);
    if (suspects_.count(from)) refute(now, from, out);
    return;
  }
  if (std::get_if<link_request>(&m)) {
    known_.try_emplace(from, 0);
    add_neighbour(now, from, out);
    out.to_peers.emplace_back(from, link_accept{.incarnation = incarnation_});
    return;
  }
  if (std::get_if<link_accept>(&m)) {
    if (pending_links_.count(from)) add_neighbour(now, from, out);
    return;
  }
  if (std::get_if<link_close>(&m)) return drop_neighbour(now, from, out);
  if (auto* p = std::get_if<probe_request>(&m)) {
    // An overloaded prober (late on its own schedule, or with too many
    // probes in flight) declines rather than accusing.
    if (!healthy(now) || probes_.size() >= cfg_.probes_in_flight_max) {
      ++stats_.probes_declined;
      out.to_peers.emplace_back(from, probe_result{.suspect = p->suspect, .round = p->round, .v = verdict::busy});
      out.events.push_back({.kind = peer_event::probe_declined, .at = now, .peer = p->suspect, .other = from});
      return;
    }
    auto d = down_.find(p->suspect);
    if (d != down_.end() && now - d->second < cfg_.probe_timeout) {
      // The transport just failed to reach it: no need to wait.
      out.to_peers.emplace_back(from, probe_result{.suspect = p->suspect, .round = p->round, .v = verdict::dead});
      report_to_seeds(now, p->suspect, {}, out);
      return;
    }
    probes_.push_back({from, p->suspect, p->round, now + cfg_.probe_timeout});
    out.to_peers.emplace_back(p->suspect, probe_ping{.round = p->round});
    return;
  }
  if (auto* p = std::get_if<probe_ping>(&m)) {
    out.to_peers.emplace_back(from, probe_ack{.round = p->round, .incarnation = incarnation_});
    return;
  }
  if (auto* p = std::get_if<probe_ack>(&m)) {
    std::erase_if(probes_, [&](const probe& pr) {
      if (pr.suspect != from || pr.round != p->round) return false;
      out.to_peers.emplace_back(pr.requester, probe_result{.suspect = from, .round = pr.round, .v = verdict::alive});
      return true;
    });
    if (auto it = nbrs_.find(from); it != nbrs_.end()) it->second.misses = 0;
    return;
  }
  if (auto* p = std::get_if<probe_result>(&m)) {
    auto it = suspects_.find(p->suspect);
    if (it == suspects_.end() || it->second.round != p->round || !it->second.asked.count(from)) return;
    if (p->v == verdict::alive) return refute(now, p->suspect, out);
    if (p->v == verdict::dead) {
      it->second.dead.insert(from);
      if (it->second.dead.size() >= it->second.asked.size() / 2 + 1) confirm(now, p->suspect, out);
    }
    return;
  }
  if (std::get_if<suspect_notice>(&m)) {
    // Refute: a higher incarnation, told to every neighbour.
    ++incarnation_;
    for (auto& [id, n] : nbrs_) out.to_peers.emplace_back(id, alive_notice{.incarnation = incarnation_});
    if (!nbrs_.count(from)) out.to_peers.emplace_back(from, alive_notice{.incarnation = incarnation_});
    return;
  }
  if (auto* a = std::get_if<alive_notice>(&m)) {
    if (auto it = nbrs_.find(from); it != nbrs_.end()) {
      it->second.incarnation = std::max(it->second.incarnation, a->incarnation);
      it->second.misses = 0;
    }
    if (suspects_.count(from)) refute(now, from, out);
    return;
  }
  if (auto* h = std::get_if<ihave>(&m)) {
    if (seen_.contains(dedup_table::key(self_, h->origin, h->seq))) return;
    auto& ms = missing_[{h->origin, h->seq}];
    if (ms.announcers.empty()) {
      ms.deadline = now + cfg_.ihave_timeout;
      ms.origin = h->origin;
      ms.seq = h->seq;
    }
    if (std::find(ms.announcers.begin(), ms.announcers.end(), from) == ms.announcers.end()) ms.announcers.push_back(from);
    return;
  }
  if (auto* g = std::get_if<graft>(&m)) {
    if (auto it = nbrs_.find(from); it != nbrs_.end()) it->second.eager = true;
    auto k = store_.find({g->origin, g->seq});
    if (k != store_.end()) {
      gossip f = k->second.g;
      f.hops = f.origin == self_ ? 0 : f.hops + 1;
      out.to_peers.emplace_back(from, std::move(f));
      ++stats_.gossip_frames;
    }
    return;
  }
  if (std::get_if<prune>(&m)) {
    if (auto it = nbrs_.find(from); it != nbrs_.end()) it->second.eager = false;
    return;
  }
  (void)rng;
}

void peer_core::on_link_down(time_point now, seam::random& rng, node_id peer, output& out) {
  last_now_ = now;
  down_[peer] = now;
  pending_links_.erase(peer);
  // Probes waiting on it need not wait.
  std::erase_if(probes_, [&](const probe& pr) {
    if (pr.suspect != peer) return false;
    out.to_peers.emplace_back(pr.requester, probe_result{.suspect = peer, .round = pr.round, .v = verdict::dead});
    report_to_seeds(now, peer, {}, out);
    return true;
  });
  // A prober we cannot reach will not answer: the majority is counted
  // among those that can.
  std::vector<node_id> settle;
  for (auto& [s, su] : suspects_)
    if (su.asked.erase(peer)) settle.push_back(s);
  for (auto s : settle) {
    auto it = suspects_.find(s);
    if (it != suspects_.end() && it->second.dead.size() >= it->second.asked.size() / 2 + 1) confirm(now, s, out);
  }
  if (nbrs_.count(peer)) suspect(now, rng, peer, "connection reset", out);
}

void peer_core::suspect(time_point now, seam::random& rng, node_id s, const char* why, output& out) {
  auto it = nbrs_.find(s);
  if (it == nbrs_.end() || suspects_.count(s)) return;
  ++stats_.suspicions;
  out.events.push_back({.kind = peer_event::suspected, .at = now, .peer = s, .why = why});
  suspicion su;
  su.round = ++round_;
  su.deadline = now + 2 * cfg_.probe_timeout;
  for (auto o : it->second.their) {
    if (o == self_ || o == s) continue;
    auto d = down_.find(o);
    if (d != down_.end() && now - d->second < cfg_.ping_interval) continue;  // cannot answer
    su.asked.insert(o);
  }
  // Too few other neighbours to ask: add random peers from the PL (as SWIM
  // does), so a low-degree suspect is never judged by one witness.
  if (su.asked.size() < cfg_.probers_min) {
    std::vector<node_id> extra;
    for (auto& [p, deg] : known_) {
      if (p == self_ || p == s || su.asked.count(p)) continue;
      auto d = down_.find(p);
      if (d != down_.end() && now - d->second < cfg_.ping_interval) continue;
      extra.push_back(p);
    }
    while (su.asked.size() < cfg_.probers_min && !extra.empty()) {
      const auto k = static_cast<std::size_t>(rng.below(extra.size()));
      su.asked.insert(extra[k]);
      extra.erase(extra.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  out.to_peers.emplace_back(s, suspect_notice{.incarnation = it->second.incarnation});
  if (su.asked.empty()) {
    // No other neighbour to ask: this peer is the suspect's only witness.
    suspects_[s] = su;
    confirm(now, s, out);
    return;
  }
  for (auto o : su.asked) out.to_peers.emplace_back(o, probe_request{.suspect = s, .round = su.round});
  suspects_[s] = std::move(su);
}

void peer_core::refute(time_point now, node_id s, output& out) {
  if (!suspects_.erase(s)) return;
  ++stats_.refutations;
  if (auto it = nbrs_.find(s); it != nbrs_.end()) it->second.misses = 0;
  out.events.push_back({.kind = peer_event::refuted, .at = now, .peer = s});
}

void peer_core::confirm(time_point now, node_id s, output& out) {
  auto it = suspects_.find(s);
  if (it == suspects_.end()) return;
  std::vector<node_id> confirmers(it->second.dead.begin(), it->second.dead.end());
  ++stats_.confirmations;
  out.events.push_back({.kind = peer_event::confirmed, .at = now, .peer = s, .count = confirmers.size()});
  report_to_seeds(now, s, std::move(confirmers), out);
  suspects_.erase(s);
  drop_neighbour(now, s, out);
}

void peer_core::report_to_seeds(time_point now, node_id s, std::vector<node_id> confirmers, output& out) {
  if (confirmers.size() > seeds::max_confirmers) confirmers.resize(seeds::max_confirmers);
  const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  for (auto seed : cfg_.seeds)
    out.to_seeds.emplace_back(seed, seeds::dead_report{.suspect = s, .reporter = self_, .timestamp_ms = ms, .confirmers = confirmers});
  out.events.push_back({.kind = peer_event::reported, .at = now, .peer = s, .other = self_, .count = confirmers.size()});
}

void peer_core::on_tick(time_point now, seam::random& rng, output& out) {
  last_now_ = now;
  if (!registered_ && now >= next_register_at_) send_register(now, rng, out);
  if (link_due_set_ && now >= link_due_) {
    link_due_set_ = false;
    link_more(now, rng, out);
    next_refresh_at_ = now + cfg_.register_retry;
  }
  // Pending link requests that were never answered are given up.
  std::erase_if(pending_links_, [&](const auto& kv) { return now >= kv.second; });
  // Too few neighbours (deaths, refusals): refresh the PL from a seed, link more.
  if (registered_ && !link_due_set_ && nbrs_.size() + pending_links_.size() < target_degree() && now >= next_refresh_at_) {
    out.to_seeds.emplace_back(cfg_.seeds[rng.below(cfg_.seeds.size())], seeds::pl_request{.request_id = 0});
    link_more(now, rng, out);
    next_refresh_at_ = now + cfg_.register_retry;
  }
  if (declare_dirty_ && now >= next_declare_at_) {
    declare_dirty_ = false;
    next_declare_at_ = now + cfg_.declare_interval;
    seeds::neighbours d;
    for (auto& [id, n] : nbrs_) {
      if (d.ids.size() >= seeds::max_neighbours) break;
      d.ids.push_back(id);
    }
    for (auto s : cfg_.seeds) out.to_seeds.emplace_back(s, d);
  }
  if (registered_ && stats_.originated < cfg_.gossip_count && now >= next_gossip_at_) {
    originate(now, out);
    next_gossip_at_ += cfg_.gossip_interval;
    if (next_gossip_at_ <= now) next_gossip_at_ = now + cfg_.gossip_interval;
  }
  if (pinging_ && now >= next_ping_at_) {
    // A tick far behind its schedule means this peer was paused or starved:
    // its own missed pongs prove nothing about its neighbours.
    if (now - next_ping_at_ > cfg_.ping_interval / 2) unhealthy_until_ = now + cfg_.ping_interval;
    for (auto& [id, n] : nbrs_) {
      if (n.awaiting && healthy(now)) ++n.misses;
      if (!healthy(now)) n.misses = 0;
      n.awaiting = true;
      out.to_peers.emplace_back(id, ping{.seq = ++n.ping_seq});
    }
    std::vector<node_id> late;
    for (auto& [id, n] : nbrs_)
      if (n.misses >= cfg_.ping_misses) late.push_back(id);
    for (auto id : late) suspect(now, rng, id, "missed pings", out);
    next_ping_at_ += cfg_.ping_interval;
    if (next_ping_at_ <= now) next_ping_at_ = now + cfg_.ping_interval;
  }
  // Probe rounds that ran out: without a majority, no accusation.
  std::vector<node_id> expired;
  for (auto& [s, su] : suspects_)
    if (now >= su.deadline) expired.push_back(s);
  for (auto s : expired) {
    suspects_.erase(s);
    auto it = nbrs_.find(s);
    if (it == nbrs_.end()) continue;
    auto d = down_.find(s);
    if (d != down_.end() && now - d->second < cfg_.ping_interval) {
      // Unreachable, but no majority could be heard (a partition among the
      // probers): the next ping or reset starts another round. After a
      // long while (4 detection windows), let it go here (no report) and
      // link elsewhere.
      if (it->second.failed_rounds++ == 0) it->second.failing_since = now;
      if (now - it->second.failing_since > 4 * cfg_.ping_interval * cfg_.ping_misses) drop_neighbour(now, s, out);
      continue;
    }
    it->second.misses = 0;
  }
  // Probes of ours that got no ack: the suspect is dead as far as we can tell.
  std::erase_if(probes_, [&](const probe& pr) {
    if (now < pr.deadline) return false;
    out.to_peers.emplace_back(pr.requester, probe_result{.suspect = pr.suspect, .round = pr.round, .v = verdict::dead});
    report_to_seeds(now, pr.suspect, {}, out);
    return true;
  });
  for (auto it = missing_.begin(); it != missing_.end();) {
    auto& ms = it->second;
    if (now < ms.deadline) {
      ++it;
      continue;
    }
    if (seen_.contains(dedup_table::key(self_, ms.origin, ms.seq))) {
      it = missing_.erase(it);
      continue;
    }
    if (ms.next >= ms.announcers.size()) {
      if (ms.asked_all) {
        it = missing_.erase(it);
        continue;
      }
      // Every announcer failed us (died, cut off): ask every other
      // neighbour once, new links included; any that holds it answers.
      ms.asked_all = true;
      for (auto& [p, n] : nbrs_) {
        if (std::find(ms.announcers.begin(), ms.announcers.end(), p) != ms.announcers.end()) continue;
        out.to_peers.emplace_back(p, graft{.origin = ms.origin, .seq = ms.seq});
        ++stats_.control_frames;
      }
      ms.deadline = now + 4 * cfg_.ihave_timeout;
      ++it;
      continue;
    }
    // The eager copy did not come: repair the tree through an announcer.
    const node_id via = ms.announcers[ms.next++];
    if (auto n = nbrs_.find(via); n != nbrs_.end()) n->second.eager = true;
    out.to_peers.emplace_back(via, graft{.origin = ms.origin, .seq = ms.seq});
    ++stats_.control_frames;
    ms.deadline = now + cfg_.ihave_timeout;
    ++it;
  }
  // Kept in arrival order, so expiry pops from the front.
  while (!kept_order_.empty()) {
    auto it = store_.find(kept_order_.front());
    if (it != store_.end() && now < it->second.until) break;
    if (it != store_.end()) store_.erase(it);
    kept_order_.pop_front();
  }
}

time_point peer_core::next_tick() const {
  time_point t = never;
  auto take = [&t](time_point x) { t = std::min(t, x); };
  if (!registered_) take(next_register_at_);
  if (link_due_set_) take(link_due_);
  if (declare_dirty_) take(std::max(last_now_, next_declare_at_));
  for (auto& [p, at] : pending_links_) take(at);
  if (registered_ && !link_due_set_ && nbrs_.size() + pending_links_.size() < target_degree()) take(next_refresh_at_);
  if (registered_ && stats_.originated < cfg_.gossip_count) take(next_gossip_at_);
  if (pinging_) take(next_ping_at_);
  for (auto& [s, su] : suspects_) take(su.deadline);
  for (auto& pr : probes_) take(pr.deadline);
  for (auto& [k, ms] : missing_) take(ms.deadline);
  return t;
}

}  // namespace confab::peers
