#include "protocols/peers/detector.hpp"

#include <algorithm>

namespace confab::peers {

void detector::watch(time_point now, node_id peer) {
  watched_[peer] = watched{};
  if (!pinging_) {
    pinging_ = true;
    next_ping_at_ = now + ctx_.cfg.ping_interval;
  }
}

bool detector::on_message(time_point now, node_id from, const message& m, const reachability& reach, output& out) {
  if (auto* p = std::get_if<ping>(&m)) {
    pong reply{.seq = p->seq, .incarnation = incarnation_};
    for (auto& [id, w] : watched_) {
      if (reply.neighbours.size() >= neighbour_list_max) break;
      reply.neighbours.push_back(id);
    }
    out.to_peers.emplace_back(from, std::move(reply));
  } else if (auto* p = std::get_if<pong>(&m)) {
    auto it = watched_.find(from);
    if (it == watched_.end()) return true;
    if (p->seq == it->second.ping_seq) it->second.awaiting = false;
    it->second.misses = 0;
    it->second.failed_rounds = 0;
    it->second.incarnation = std::max(it->second.incarnation, p->incarnation);
    it->second.their = p->neighbours;
    if (suspects_.count(from)) refute(now, from, out);
  } else if (auto* p = std::get_if<probe_request>(&m)) {
    on_probe_request(now, from, *p, reach, out);
  } else if (auto* p = std::get_if<probe_ping>(&m)) {
    out.to_peers.emplace_back(from, probe_ack{.round = p->round, .incarnation = incarnation_});
  } else if (auto* p = std::get_if<probe_ack>(&m)) {
    std::erase_if(probes_, [&](const probe& pr) {
      if (pr.suspect != from || pr.round != p->round) return false;
      if (pr.requester != seeds::no_node)
        out.to_peers.emplace_back(pr.requester, probe_result{.suspect = from, .round = pr.round, .v = verdict::alive});
      return true;
    });
    if (auto it = watched_.find(from); it != watched_.end()) it->second.misses = 0;
  } else if (auto* p = std::get_if<probe_result>(&m)) {
    on_probe_result(now, from, *p, out);
  } else if (std::get_if<suspect_notice>(&m)) {
    // Refute: a higher incarnation, told to every neighbour.
    ++incarnation_;
    for (auto& [id, w] : watched_) out.to_peers.emplace_back(id, alive_notice{.incarnation = incarnation_});
    if (!watched_.count(from)) out.to_peers.emplace_back(from, alive_notice{.incarnation = incarnation_});
  } else if (auto* a = std::get_if<alive_notice>(&m)) {
    if (auto it = watched_.find(from); it != watched_.end()) {
      it->second.incarnation = std::max(it->second.incarnation, a->incarnation);
      it->second.misses = 0;
    }
    if (suspects_.count(from)) refute(now, from, out);
  } else {
    return false;
  }
  return true;
}

void detector::on_probe_request(time_point now, node_id from, const probe_request& p, const reachability& reach,
                                output& out) {
  // An overloaded prober (late on its own schedule, or with too many
  // probes in flight) declines rather than accusing.
  if (!healthy(now) || probes_.size() >= ctx_.cfg.probes_in_flight_max) {
    ++ctx_.stats.probes_declined;
    out.to_peers.emplace_back(from, probe_result{.suspect = p.suspect, .round = p.round, .v = verdict::busy});
    out.events.push_back({.kind = peer_event::probe_declined, .at = now, .peer = p.suspect, .other = from});
    return;
  }
  if (reach.lost_within(p.suspect, now, ctx_.cfg.probe_timeout)) {
    // The transport just failed to reach it: no need to wait.
    out.to_peers.emplace_back(from, probe_result{.suspect = p.suspect, .round = p.round, .v = verdict::dead});
    report_to_seeds(now, p.suspect, {}, out);
    return;
  }
  probes_.push_back({from, p.suspect, p.round, now + ctx_.cfg.probe_timeout});
  out.to_peers.emplace_back(p.suspect, probe_ping{.round = p.round});
}

void detector::watch_for_seeds(time_point now, node_id suspect, const reachability& reach, output& out) {
  // A late or overloaded peer does not accuse; one probe per suspect at a time.
  if (suspect == ctx_.self || !healthy(now) || probes_.size() >= ctx_.cfg.probes_in_flight_max) return;
  for (auto& pr : probes_)
    if (pr.suspect == suspect) return;
  if (reach.lost_within(suspect, now, ctx_.cfg.probe_timeout)) return report_to_seeds(now, suspect, {}, out);
  // Two probe timeouts: the suspect may be a stranger, so the link is new.
  const auto round = ++round_;
  probes_.push_back({seeds::no_node, suspect, round, now + 2 * ctx_.cfg.probe_timeout});
  out.to_peers.emplace_back(suspect, probe_ping{.round = round});
}

void detector::on_probe_result(time_point now, node_id from, const probe_result& p, output& out) {
  auto it = suspects_.find(p.suspect);
  if (it == suspects_.end() || it->second.round != p.round || !it->second.asked.count(from)) return;
  if (p.v == verdict::alive) return refute(now, p.suspect, out);
  if (p.v == verdict::dead) {
    it->second.dead.insert(from);
    settle_if_majority(now, p.suspect, out);
  }
}

void detector::settle_if_majority(time_point now, node_id peer, output& out) {
  auto it = suspects_.find(peer);
  if (it != suspects_.end() && it->second.dead.size() >= it->second.asked.size() / 2 + 1) confirm(now, peer, out);
}

void detector::on_link_down(time_point now, seam::random& rng, node_id peer,
                            const std::map<node_id, std::uint16_t>& known, const reachability& reach, output& out) {
  // Probes waiting on it need not wait.
  std::erase_if(probes_, [&](const probe& pr) {
    if (pr.suspect != peer) return false;
    if (pr.requester != seeds::no_node)
      out.to_peers.emplace_back(pr.requester, probe_result{.suspect = peer, .round = pr.round, .v = verdict::dead});
    report_to_seeds(now, peer, {}, out);
    return true;
  });
  // A prober we cannot reach will not answer: the majority is counted
  // among those that can, topped up with random peers so a suspect whose
  // neighbours died with it still gets a verdict.
  std::vector<node_id> settle;
  for (auto& [suspect_id, su] : suspects_)
    if (su.asked.erase(peer)) {
      su.unreachable.insert(peer);
      settle.push_back(suspect_id);
    }
  for (auto suspect_id : settle) {
    auto it = suspects_.find(suspect_id);
    if (it == suspects_.end()) continue;
    add_probers(now, rng, suspect_id, it->second, known, reach, out);
    if (it->second.asked.empty()) {
      confirm(now, suspect_id, out);  // nobody else to ask: this peer is the only witness
      continue;
    }
    settle_if_majority(now, suspect_id, out);
  }
  if (watched_.count(peer)) suspect(now, rng, peer, "connection reset", known, reach, out);
}

void detector::suspect(time_point now, seam::random& rng, node_id peer, const char* why,
                       const std::map<node_id, std::uint16_t>& known, const reachability& reach, output& out) {
  auto it = watched_.find(peer);
  if (it == watched_.end() || suspects_.count(peer)) return;
  ++ctx_.stats.suspicions;
  out.events.push_back({.kind = peer_event::suspected, .at = now, .peer = peer, .why = why});
  suspicion su;
  su.round = ++round_;
  su.deadline = now + 2 * ctx_.cfg.probe_timeout;
  for (auto other : it->second.their)
    if (can_probe(now, peer, other, reach)) su.asked.insert(other);
  out.to_peers.emplace_back(peer, suspect_notice{.incarnation = it->second.incarnation});
  for (auto other : su.asked) out.to_peers.emplace_back(other, probe_request{.suspect = peer, .round = su.round});
  auto& stored = suspects_[peer] = std::move(su);
  add_probers(now, rng, peer, stored, known, reach, out);
  // No other neighbour to ask: this peer is the suspect's only witness.
  if (stored.asked.empty()) confirm(now, peer, out);
}

bool detector::can_probe(time_point now, node_id suspect, node_id other, const reachability& reach) const {
  return other != ctx_.self && other != suspect && !reach.lost_within(other, now, ctx_.cfg.ping_interval);
}

void detector::add_probers(time_point now, seam::random& rng, node_id peer, suspicion& su,
                           const std::map<node_id, std::uint16_t>& known, const reachability& reach, output& out) {
  // Too few to ask: random peers from the PL (as SWIM does), so a
  // low-degree suspect is never judged by one witness. One that was asked
  // and could not be reached is not asked again this round.
  if (su.asked.size() >= ctx_.cfg.probers_min) return;
  std::vector<node_id> extra;
  for (auto& [other, degree] : known)
    if (can_probe(now, peer, other, reach) && !su.asked.count(other) && !su.unreachable.count(other)) extra.push_back(other);
  while (su.asked.size() < ctx_.cfg.probers_min && !extra.empty()) {
    const auto k = static_cast<std::size_t>(rng.below(extra.size()));
    su.asked.insert(extra[k]);
    out.to_peers.emplace_back(extra[k], probe_request{.suspect = peer, .round = su.round});
    extra.erase(extra.begin() + static_cast<std::ptrdiff_t>(k));
  }
}

void detector::refute(time_point now, node_id peer, output& out) {
  if (!suspects_.erase(peer)) return;
  ++ctx_.stats.refutations;
  if (auto it = watched_.find(peer); it != watched_.end()) it->second.misses = 0;
  out.events.push_back({.kind = peer_event::refuted, .at = now, .peer = peer});
}

void detector::confirm(time_point now, node_id peer, output& out) {
  auto it = suspects_.find(peer);
  if (it == suspects_.end()) return;
  std::vector<node_id> confirmers(it->second.dead.begin(), it->second.dead.end());
  ++ctx_.stats.confirmations;
  out.events.push_back({.kind = peer_event::confirmed, .at = now, .peer = peer, .count = confirmers.size()});
  report_to_seeds(now, peer, std::move(confirmers), out);
  suspects_.erase(peer);
  give_up(now, peer, out);
}

void detector::give_up(time_point now, node_id peer, output& out) {
  forget(peer);
  drop_(now, peer, out);
}

void detector::report_to_seeds(time_point now, node_id peer, std::vector<node_id> confirmers, output& out) {
  if (confirmers.size() > seeds::confirmers_max) confirmers.resize(seeds::confirmers_max);
  const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  for (auto seed : ctx_.cfg.seeds)
    out.to_seeds.emplace_back(
        seed, seeds::dead_report{.suspect = peer, .reporter = ctx_.self, .timestamp_ms = ms, .confirmers = confirmers});
  out.events.push_back({.kind = peer_event::reported, .at = now, .peer = peer, .other = ctx_.self, .count = confirmers.size()});
}

void detector::tick(time_point now, seam::random& rng, const std::map<node_id, std::uint16_t>& known,
                    const reachability& reach, output& out) {
  const peer_config& cfg = ctx_.cfg;
  if (pinging_ && now >= next_ping_at_) {
    // A tick far behind its schedule means this peer was paused or starved:
    // its own missed pongs prove nothing about its neighbours.
    if (now - next_ping_at_ > cfg.ping_interval / 2) unhealthy_until_ = now + cfg.ping_interval;
    for (auto& [id, w] : watched_) {
      if (w.awaiting && healthy(now)) ++w.misses;
      if (!healthy(now)) w.misses = 0;
      w.awaiting = true;
      out.to_peers.emplace_back(id, ping{.seq = ++w.ping_seq});
    }
    std::vector<node_id> late;
    for (auto& [id, w] : watched_)
      if (w.misses >= cfg.ping_misses) late.push_back(id);
    for (auto id : late) suspect(now, rng, id, "missed pings", known, reach, out);
    next_ping_at_ += cfg.ping_interval;
    if (next_ping_at_ <= now) next_ping_at_ = now + cfg.ping_interval;
  }
  // Probe rounds that ran out: without a majority, no accusation.
  std::vector<node_id> expired;
  for (auto& [suspect_id, su] : suspects_)
    if (now >= su.deadline) expired.push_back(suspect_id);
  for (auto suspect_id : expired) {
    suspects_.erase(suspect_id);
    auto it = watched_.find(suspect_id);
    if (it == watched_.end()) continue;
    if (reach.lost_within(suspect_id, now, cfg.ping_interval)) {
      // Unreachable, but no majority could be heard (a partition among the
      // probers): the next ping or reset starts another round. After a
      // long while (4 detection windows), let it go here (no report) and
      // link elsewhere.
      if (it->second.failed_rounds++ == 0) it->second.failing_since = now;
      if (now - it->second.failing_since > 4 * cfg.ping_interval * cfg.ping_misses) give_up(now, suspect_id, out);
      continue;
    }
    it->second.misses = 0;
  }
  // Probes of ours that got no ack: the suspect is dead as far as we can tell.
  std::erase_if(probes_, [&](const probe& pr) {
    if (now < pr.deadline) return false;
    if (pr.requester != seeds::no_node)
      out.to_peers.emplace_back(pr.requester, probe_result{.suspect = pr.suspect, .round = pr.round, .v = verdict::dead});
    report_to_seeds(now, pr.suspect, {}, out);
    return true;
  });
}

time_point detector::next_deadline() const {
  time_point t = never;
  if (pinging_) t = std::min(t, next_ping_at_);
  for (auto& [peer, su] : suspects_) t = std::min(t, su.deadline);
  for (auto& pr : probes_) t = std::min(t, pr.deadline);
  return t;
}

}  // namespace confab::peers
