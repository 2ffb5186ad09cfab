#include "protocols/seeds/core.hpp"

#include <algorithm>
#include <unordered_set>

namespace confab::seeds {

const char* role_name(role r) noexcept {
  switch (r) {
    case role::follower: return "follower";
    case role::pre_candidate: return "pre-candidate";
    case role::candidate: return "candidate";
    case role::leader: return "leader";
  }
  return "?";
}

const char* event_name(seed_event::kind_t k) noexcept {
  static constexpr const char* names[] = {"follower", "candidate", "leader",    "vote",           "propose",
                                          "commit",   "add",       "remove",    "register",       "report",
                                          "report_ignored", "register_answered", "follower_behind", "learner_ended", "storage_refused",
                                          "leave_received", "watch_asked"};
  return names[k];
}

seed_core::seed_core(seed_config cfg, node_id self, recovered_state recovered)
    : cfg_(std::move(cfg)), self_(self), hard_(recovered.hard), log_(std::move(recovered.log)) {
  CONFAB_ASSERT(is_seed(self_));
  CONFAB_ASSERT(cfg_.election_timeout_min > cfg_.heartbeat && cfg_.election_timeout_max >= cfg_.election_timeout_min);
  commit_ = std::min<std::uint64_t>(hard_.commit, log_.size());
  // Entries known committed before the restart are applied silently: they
  // were logged when they first committed.
  for (; applied_ < commit_; ++applied_) {
    const auto& e = log_[applied_];
    if (e.kind == entry_kind::add) add_member(e.peer);
    if (e.kind == entry_kind::remove) remove_member(e.peer);
  }
}

void seed_core::add_member(node_id p) {
  if (!members_.insert(p).second) return;
  digest_ += member_digest(p);
  member_pos_[p] = member_list_.size();
  member_list_.push_back(p);
}

void seed_core::remove_member(node_id p) {
  if (!members_.erase(p)) return;
  digest_ -= member_digest(p);
  const auto at = member_pos_[p];
  member_pos_.erase(p);
  if (at + 1 != member_list_.size()) {
    member_list_[at] = member_list_.back();
    member_pos_[member_list_[at]] = at;
  }
  member_list_.pop_back();
}

bool seed_core::is_seed(node_id id) const noexcept {
  return std::find(cfg_.seeds.begin(), cfg_.seeds.end(), id) != cfg_.seeds.end();
}

void seed_core::start(time_point now, seam::random& rng, output& out) {
  reset_election(now, rng);
  if (hard_.learner) probe(now, out);
}

bool seed_core::never_held_anything() const noexcept { return hard_.term == 0 && log_.empty(); }

void seed_core::probe(time_point now, output& out) {
  // Pre-vote requests change nothing at their receivers; the replies carry
  // terms, which tell a new cluster (every term 0) from a running one.
  if (!never_held_anything()) return;
  if (fresh_seeds_.size() + 1 >= cfg_.quorum())  // a lone seed is its own majority
    return end_learning(now, "a majority of seeds, this one included, never held anything: a new cluster", out);
  for (auto s : cfg_.seeds)
    if (s != self_) out.sends.emplace_back(s, request_vote{.term = 1, .last_index = 0, .last_term = 0, .pre_vote = true});
}

void seed_core::end_learning(time_point now, const char* why, output& out) {
  hard_.learner = false;
  // It may have voted in this term before its storage was lost.
  hard_.vote_floor = hard_.term;
  persist_hard(out);
  out.events.push_back({.kind = seed_event::learner_ended, .at = now, .term = hard_.term, .index = commit_, .why = why});
}

time_point seed_core::next_tick() const noexcept {
  if (role_ == role::leader) return heartbeat_due_;
  return election_deadline_;
}

void seed_core::persist_hard(output& out) {
  hard_.commit = commit_;
  out.persist.hard_changed = true;
  out.persist.hard = hard_;
}

void seed_core::reset_election(time_point now, seam::random& rng) {
  const auto span = static_cast<std::uint64_t>((cfg_.election_timeout_max - cfg_.election_timeout_min).count());
  election_deadline_ = now + cfg_.election_timeout_min + duration(rng.below(span + 1));
}

void seed_core::become_follower(time_point now, std::uint64_t term, node_id leader, output& out) {
  if (term > hard_.term) {
    hard_.term = term;
    hard_.voted_for = no_node;
    persist_hard(out);
  }
  const bool changed = role_ != role::follower || leader_ != leader;
  if (leader_ != leader) heard_leader_ = false;
  role_ = role::follower;
  leader_ = leader;
  votes_.clear();
  if (changed) out.events.push_back({.kind = seed_event::became_follower, .at = now, .term = hard_.term, .peer = leader});
}

void seed_core::start_pre_vote(time_point now, seam::random& rng, output& out) {
  role_ = role::pre_candidate;
  leader_ = no_node;
  heard_leader_ = false;
  votes_ = {self_};
  reset_election(now, rng);
  if (votes_.size() >= cfg_.quorum()) return start_election(now, rng, out);
  for (auto s : cfg_.seeds)
    if (s != self_)
      out.sends.emplace_back(s, request_vote{.term = hard_.term + 1, .last_index = last_index(), .last_term = last_term(),
                                             .pre_vote = true});
}

void seed_core::start_election(time_point now, seam::random& rng, output& out) {
  ++hard_.term;
  hard_.voted_for = self_;
  persist_hard(out);
  role_ = role::candidate;
  leader_ = no_node;
  votes_ = {self_};
  reset_election(now, rng);
  out.events.push_back({.kind = seed_event::became_candidate, .at = now, .term = hard_.term});
  if (votes_.size() >= cfg_.quorum()) return become_leader(now, rng, out);
  for (auto s : cfg_.seeds)
    if (s != self_)
      out.sends.emplace_back(s, request_vote{.term = hard_.term, .last_index = last_index(), .last_term = last_term()});
}

void seed_core::become_leader(time_point now, seam::random& rng, output& out) {
  role_ = role::leader;
  leader_ = self_;
  next_index_.clear();
  match_index_.clear();
  last_ack_.clear();
  for (auto s : cfg_.seeds) {
    if (s == self_) continue;
    next_index_[s] = last_index() + 1;
    match_index_[s] = 0;
  }
  leader_since_ = now;
  watches_.clear();
  out.events.push_back({.kind = seed_event::became_leader, .at = now, .term = hard_.term});
  append(now, entry{.term = hard_.term, .kind = entry_kind::noop}, out);
  // Requests this seed holds go in at once (the rest arrive by forward).
  for (auto& [peer, p] : pending_)
    if (!projected_member(peer)) append(now, entry{.term = hard_.term, .kind = entry_kind::add, .peer = peer}, out);
  propose_leaves(now, out);
  broadcast_append(now, out);
  heartbeat_due_ = now + cfg_.heartbeat;
  advance_commit(now, rng, out);  // a lone seed commits at once
}

void seed_core::append(time_point now, entry e, output& out) {
  log_.push_back(e);
  drop_superseded(now, e);
  if (out.persist.entries.empty()) out.persist.first_index = log_.size();
  out.persist.entries.push_back(e);
  if (e.kind != entry_kind::noop)
    out.events.push_back({.kind = seed_event::proposed, .at = now, .term = e.term, .index = log_.size(), .peer = e.peer,
                          .entry = e.kind});
}

void seed_core::drop_superseded(time_point now, const entry& e) {
  // A registration that waited here while the log went on to remove the
  // peer is older than that removal (it arrived before the entry did): it
  // must not add the peer back, from a forward or when this seed leads. A
  // peer that really rejoins was never answered, so it asks again. The
  // rejoin hold starts now too, so a registration another seed still holds
  // (forwarded before that seed saw the removal) is held off as well.
  if (e.kind != entry_kind::remove) return;
  pending_.erase(e.peer);
  departed_[e.peer] = now;
}

void seed_core::send_append(node_id to, output& out) {
  auto& ni = next_index_[to];
  const std::uint64_t prev = ni - 1;
  append_entries m{.term = hard_.term, .prev_index = prev, .prev_term = term_at(prev), .leader_commit = commit_};
  const std::uint64_t last = std::min<std::uint64_t>(last_index(), prev + entries_per_append_max);
  for (std::uint64_t i = prev + 1; i <= last; ++i) m.entries.push_back(log_[i - 1]);
  ni = last + 1;  // optimistic: a rejection brings it back
  out.sends.emplace_back(to, std::move(m));
}

void seed_core::broadcast_append(time_point, output& out) {
  for (auto s : cfg_.seeds)
    if (s != self_) send_append(s, out);
}

void seed_core::advance_commit(time_point now, seam::random& rng, output& out) {
  for (std::uint64_t n = last_index(); n > commit_; --n) {
    if (term_at(n) != hard_.term) break;  // only entries of this term commit by counting
    std::size_t holders = 1;
    for (auto& [s, m] : match_index_) holders += m >= n;
    if (holders >= cfg_.quorum()) {
      commit_ = n;
      out.events.push_back({.kind = seed_event::committed, .at = now, .term = hard_.term, .index = n});
      break;
    }
  }
  apply(now, rng, out);
}

void seed_core::apply(time_point now, seam::random& rng, output& out) {
  while (applied_ < commit_) {
    const entry e = log_[applied_++];
    if (e.kind == entry_kind::add) {
      add_member(e.peer);
      renewed_[e.peer] = now;
      out.events.push_back(
          {.kind = seed_event::applied_add, .at = now, .term = e.term, .index = applied_, .peer = e.peer, .entry = e.kind});
      if (auto it = pending_.find(e.peer); it != pending_.end()) {
        const auto id = it->second.request_id;
        pending_.erase(it);
        answer_register(now, rng, e.peer, id, out);
      }
    } else if (e.kind == entry_kind::remove) {
      remove_member(e.peer);
      reports_.erase(e.peer);
      declared_.erase(e.peer);
      renewed_.erase(e.peer);
      watches_.erase(e.peer);
      departed_[e.peer] = now;
      if (auto it = leaving_.find(e.peer); it != leaving_.end()) {
        out.sends.emplace_back(it->second.asker, leave_reply{.request_id = it->second.request_id, .status = leave_status::left,
                                                             .peer = e.peer, .commit_index = commit_});
        leaving_.erase(it);
      }
      out.events.push_back({.kind = seed_event::applied_remove, .at = now, .term = e.term, .index = applied_,
                            .peer = e.peer, .entry = e.kind});
      removed_since_check_ = true;
    }
  }
}

bool seed_core::projected_member(node_id p) const {
  bool in = members_.count(p) != 0;
  for (std::uint64_t i = applied_ + 1; i <= last_index(); ++i) {
    const auto& e = log_[i - 1];
    if (e.peer != p) continue;
    if (e.kind == entry_kind::add) in = true;
    if (e.kind == entry_kind::remove) in = false;
  }
  return in;
}

void seed_core::answer_register(time_point now, seam::random& rng, node_id peer, std::uint64_t request_id, output& out) {
  // A follower that knows the leader has committed more than one append
  // carries says so, and the asker takes the PL from a seed that is current.
  const bool behind = role_ != role::leader && leader_commit_seen_ > commit_ + entries_per_append_max;
  register_reply r{.request_id = request_id, .status = behind ? register_status::behind : register_status::ok,
                   .leader = leader_, .commit_index = commit_,
                   .pl_size = members_.size(), .pl_digest = digest_};
  const std::size_t n = members_.size(), k = std::min(n, std::min(cfg_.pl_sample_max, peers_per_reply_max));
  r.peers.reserve(k);
  if (k == n) {
    r.peers.assign(members_.begin(), members_.end());
  } else {
    // Floyd's sampling: k distinct positions of n, uniformly, in O(k).
    std::unordered_set<std::size_t> chosen;
    chosen.reserve(2 * k);
    for (std::size_t j = n - k; j < n; ++j) {
      const auto t = static_cast<std::size_t>(rng.below(j + 1));
      const auto pick = chosen.insert(t).second ? t : (chosen.insert(j), j);
      r.peers.push_back(member_list_[pick]);
    }
  }
  r.degrees.reserve(r.peers.size());
  for (auto p : r.peers) {
    auto d = declared_.find(p);
    r.degrees.push_back(static_cast<std::uint16_t>(d == declared_.end() ? 0 : std::min<std::size_t>(d->second.size(), 65535)));
  }
  out.sends.emplace_back(peer, std::move(r));
  out.events.push_back({.kind = seed_event::register_answered, .at = now, .term = hard_.term, .peer = peer});
}

void seed_core::handle_register(time_point now, seam::random& rng, node_id peer, std::uint64_t request_id, bool direct,
                                output& out) {
  if (direct) out.events.push_back({.kind = seed_event::register_received, .at = now, .term = hard_.term, .peer = peer});
  // A registration that left the peer before its removal (a late forward,
  // a duplicate) must not bring it back: for `rejoin_hold` after a removal
  // is applied the peer is not re-added; a peer that really restarts retries.
  if (auto d = departed_.find(peer); d != departed_.end()) {
    if (now - d->second < cfg_.rejoin_hold) return;
    departed_.erase(d);
  }
  if (members_.count(peer)) {
    if (direct) answer_register(now, rng, peer, request_id, out);
    return;
  }
  if (direct) {
    auto it = pending_.find(peer);
    if (it == pending_.end() && pending_.size() >= cfg_.pending_max) {
      out.sends.emplace_back(peer, register_reply{.request_id = request_id, .status = register_status::busy, .leader = leader_});
      return;
    }
    pending_[peer] = pending_request{.request_id = request_id, .last_sent = now};
  }
  if (role_ == role::leader) {
    if (!projected_member(peer)) {
      append(now, entry{.term = hard_.term, .kind = entry_kind::add, .peer = peer}, out);
      broadcast_append(now, out);
      advance_commit(now, rng, out);
    }
  } else if (direct && leader_ != no_node) {
    out.sends.emplace_back(leader_, forward{.origin = peer, .inner = register_request{.request_id = request_id}});
  }
}

void seed_core::handle_report(time_point now, seam::random& rng, const dead_report& r, node_id sender, bool direct,
                              output& out) {
  auto ignore = [&](const char* why) {
    out.events.push_back({.kind = seed_event::report_ignored, .at = now, .term = hard_.term, .peer = r.suspect,
                          .other = sender, .why = why});
  };
  const bool legacy = seam::is_endpoint(sender) && seam::endpoint_port(sender) == 0;
  if (direct && r.reporter != sender) return ignore("the reporter field names another node than the sender");
  if (!projected_member(r.suspect)) return ignore("the suspect is not in the PL");
  // One rule for every dialect: a legacy report (an IP, no port) counts as
  // the report of the member with that IP, and only if there is one.
  node_id reporter = sender;
  if (legacy) {
    if (!cfg_.legacy_reports) return ignore("legacy reports are not accepted");
    reporter = legacy_reporter(seam::endpoint_ipv4(sender), r.suspect);
    if (reporter == no_node) return ignore("no member of the PL other than the suspect has the legacy reporter's IP");
  }
  if (reporter == r.suspect) return ignore("a peer cannot report itself");
  if (!members_.count(reporter)) return ignore("the reporter is not in the PL");
  reports_[r.suspect].reporters[reporter] = now;
  out.events.push_back(
      {.kind = seed_event::report_received, .at = now, .term = hard_.term, .peer = r.suspect, .other = sender});
  if (role_ == role::leader) {
    evaluate_removal(now, rng, r.suspect, out);
  } else if (direct && leader_ != no_node) {
    dead_report fwd = r;
    fwd.reporter = sender;
    out.sends.emplace_back(leader_, forward{.origin = sender, .inner = std::move(fwd)});
  }
}

void seed_core::handle_leave(time_point now, seam::random& rng, node_id asker, const leave_request& l, bool direct,
                             output& out) {
  if (l.peer == no_node || is_seed(l.peer)) return;
  if (direct) out.events.push_back({.kind = seed_event::leave_received, .at = now, .term = hard_.term, .peer = l.peer, .other = asker});
  // A registration still waiting is withdrawn: the peer changed its mind.
  pending_.erase(l.peer);
  if (role_ == role::leader && gone(l.peer)) {
    // The leader's log holds every committed entry: the peer is not in the
    // PL and nothing will put it there. (A follower cannot say so; it may
    // not yet hold the add. It answers once caught up, in on_append_entries.)
    if (direct)
      out.sends.emplace_back(asker, leave_reply{.request_id = l.request_id, .status = leave_status::left, .peer = l.peer,
                                                .commit_index = commit_});
    return;
  }
  if (direct) {
    if (!leaving_.count(l.peer) && leaving_.size() >= cfg_.pending_max) {
      out.sends.emplace_back(asker, leave_reply{.request_id = l.request_id, .status = leave_status::busy, .peer = l.peer,
                                                .commit_index = commit_});
      return;
    }
    leaving_[l.peer] = leave_wait{.asker = asker, .request_id = l.request_id, .last_sent = now};
  }
  if (role_ == role::leader) {
    if (projected_member(l.peer)) {
      append(now, entry{.term = hard_.term, .kind = entry_kind::remove, .peer = l.peer}, out);
      broadcast_append(now, out);
      advance_commit(now, rng, out);
    }
  } else if (direct && leader_ != no_node) {
    out.sends.emplace_back(leader_, forward{.origin = asker, .inner = l});
  }
}

void seed_core::propose_leaves(time_point now, output& out) {
  for (auto& [peer, w] : leaving_)
    if (projected_member(peer)) append(now, entry{.term = hard_.term, .kind = entry_kind::remove, .peer = peer}, out);
  answer_gone_leaves(out);
}

bool seed_core::gone(node_id peer) const {
  // Not applied, and no add waiting in the log (a remove appended but not
  // yet applied leaves the peer in members_: not gone until it commits).
  return !members_.count(peer) && !projected_member(peer);
}

void seed_core::answer_gone_leaves(output& out) {
  for (auto it = leaving_.begin(); it != leaving_.end();) {
    if (!gone(it->first)) {
      ++it;
      continue;
    }
    out.sends.emplace_back(it->second.asker, leave_reply{.request_id = it->second.request_id, .status = leave_status::left,
                                                         .peer = it->first, .commit_index = commit_});
    it = leaving_.erase(it);
  }
}

void seed_core::answer_members(time_point now, node_id asker, const members_request& q, output& out) const {
  members_reply r{.request_id = q.request_id, .role = static_cast<std::uint8_t>(role_), .learner = hard_.learner,
                  .term = hard_.term, .leader = leader_, .commit_index = commit_, .pl_size = members_.size(),
                  .pl_digest = digest_};
  const std::size_t limit = std::min<std::size_t>(q.limit == 0 ? members_per_reply_max : q.limit, members_per_reply_max);
  auto it = q.after == no_node ? members_.begin() : members_.upper_bound(q.after);
  for (; it != members_.end() && r.members.size() < limit; ++it) {
    member_info m{.id = *it};
    if (auto d = declared_.find(*it); d != declared_.end())
      m.degree = static_cast<std::uint16_t>(std::min<std::size_t>(d->second.size(), 65535));
    if (auto rs = reports_.find(*it); rs != reports_.end()) {
      // The report window as evaluate_removal counts it (not yet pruned here).
      std::size_t live = 0;
      for (auto& [rep, t] : rs->second.reporters) live += now - t <= cfg_.report_window;
      m.reporters = static_cast<std::uint16_t>(std::min<std::size_t>(live, 65535));
      if (live > 0) m.state = member_state::suspected;
    }
    if (leaving_.count(*it)) m.state = member_state::leaving;
    r.members.push_back(m);
  }
  r.more = it != members_.end();
  out.sends.emplace_back(asker, std::move(r));
}

node_id seed_core::legacy_reporter(std::uint32_t ip, node_id suspect) const {
  // The suspect's declared neighbours with that IP first, then any member
  // with it; the lowest id, so one IP always stands for the same member
  // (one host, one voice, however often it reports).
  auto same_ip = [ip](node_id v) { return seam::is_endpoint(v) && seam::endpoint_ipv4(v) == ip; };
  if (auto d = declared_.find(suspect); d != declared_.end())
    for (auto v : d->second)
      if (same_ip(v) && members_.count(v)) return v;
  for (auto it = members_.lower_bound(seam::endpoint_id(ip, 0)); it != members_.end() && same_ip(*it); ++it)
    if (*it != suspect) return *it;
  return no_node;
}

time_point seed_core::lease_end(node_id p) const {
  // Counted from this leader's election at the earliest: a seed that was
  // down or partitioned may have missed declarations.
  time_point t = leader_since_;
  if (auto it = renewed_.find(p); it != renewed_.end()) t = std::max(t, it->second);
  return t + cfg_.declare_lease;
}

bool seed_core::lease_fresh(time_point now, node_id p) const {
  return cfg_.declare_lease == duration::zero() || now <= lease_end(p);
}

std::vector<node_id> seed_core::witnesses(time_point now, node_id suspect) const {
  std::vector<node_id> w;
  if (auto d = declared_.find(suspect); d != declared_.end())
    for (auto v : d->second)
      if (projected_member(v) && lease_fresh(now, v)) w.push_back(v);
  if (auto it = watches_.find(suspect); it != watches_.end())
    for (auto v : it->second.by)
      if (projected_member(v) && std::find(w.begin(), w.end(), v) == w.end()) w.push_back(v);
  return w;
}

void seed_core::ask_watchers(time_point now, seam::random& rng, node_id suspect, bool again, const char* why,
                             output& out) {
  auto& wa = watches_[suspect];
  std::erase_if(wa.by, [&](node_id v) { return !projected_member(v) || !lease_fresh(now, v); });
  const auto have = witnesses(now, suspect);
  const std::size_t others = members_.size() - (members_.count(suspect) ? 1 : 0);
  const std::size_t want = std::min(cfg_.watchers, others);
  std::vector<node_id> asked;
  if (again) asked = wa.by;
  // Random members with a fresh lease (live as far as the seeds know), not
  // already witnesses; a bounded number of draws.
  for (std::size_t tries = 0, need = want > have.size() ? want - have.size() : 0; need > 0 && tries < 8 * want + 16;
       ++tries) {
    if (member_list_.empty()) break;
    const node_id v = member_list_[static_cast<std::size_t>(rng.below(member_list_.size()))];
    if (v == suspect || !lease_fresh(now, v) || reports_.count(v)) continue;
    if (std::find(have.begin(), have.end(), v) != have.end() || std::find(wa.by.begin(), wa.by.end(), v) != wa.by.end())
      continue;
    wa.by.push_back(v);
    asked.push_back(v);
    --need;
  }
  wa.asked = now;
  for (auto v : asked) {
    out.sends.emplace_back(v, watch_request{.suspect = suspect});
    out.events.push_back({.kind = seed_event::watch_asked, .at = now, .term = hard_.term, .peer = suspect, .other = v,
                          .why = why});
  }
}

void seed_core::check_leases(time_point now, seam::random& rng, output& out) {
  if (cfg_.declare_lease == duration::zero() || now < next_lease_check_) return;
  const time_point previous = last_lease_check_;
  last_lease_check_ = now;
  next_lease_check_ = now + std::clamp<duration>(cfg_.declare_lease / 10, 100ms, 1s);
  // Bounded per check: at most this many members are asked about (the
  // rest on the next check), so a mass death does not flood the survivors.
  std::size_t budget = std::max<std::size_t>(256, members_.size() / 20);
  bool lapsed_since = false;
  for (auto p : member_list_) {
    const time_point end = lease_end(p);
    if (now <= end) continue;
    lapsed_since = lapsed_since || end >= previous;
    auto it = watches_.find(p);
    if (it != watches_.end() && now - it->second.asked < cfg_.watch_retry) continue;
    if (budget == 0) continue;  // the rest are asked about at the next check
    --budget;
    ask_watchers(now, rng, p, true, "its neighbour declaration lapsed", out);
  }
  // Members that lapsed since the last check no longer count as witnesses:
  // weigh open reports again (once; later lapses bring the next).
  if (lapsed_since) removed_since_check_ = true;
}

void seed_core::evaluate_removal(time_point now, seam::random& rng, node_id suspect, output& out) {
  auto it = reports_.find(suspect);
  if (it == reports_.end() || !projected_member(suspect)) return;
  auto& rs = it->second.reporters;
  std::erase_if(rs, [&](const auto& kv) { return now - kv.second > cfg_.report_window; });
  if (rs.empty()) return;
  // Never on one peer's word alone (while there is anyone else to ask).
  const std::size_t reporters = rs.size();
  const std::size_t floor = std::min(cfg_.reporters_without_neighbours, members_.size() > 1 ? members_.size() - 1 : 1);
  // The legacy dialect declares no neighbours: a suspect that never
  // declared is removed on `reporters_without_neighbours` reports there.
  auto propose_remove = [&] {
    append(now, entry{.term = hard_.term, .kind = entry_kind::remove, .peer = suspect}, out);
    broadcast_append(now, out);
    advance_commit(now, rng, out);
  };
  if (cfg_.legacy_reports && !declared_.count(suspect) && !watches_.count(suspect)) {
    if (reporters >= floor) propose_remove();
    return;
  }
  // The live witnesses: declared neighbours that still renew their lease
  // (a dead one cannot report, so it does not count either way), and
  // members the leader asked to watch. Fewer than cfg_.watchers: ask more,
  // so a majority is never one or two peers of the suspect's own choosing.
  auto w = witnesses(now, suspect);
  const std::size_t others = members_.size() - (members_.count(suspect) ? 1 : 0);
  auto wi = watches_.find(suspect);
  const bool stale = wi != watches_.end() && now - wi->second.asked >= cfg_.watch_retry;
  if ((w.size() < std::min(cfg_.watchers, others) && wi == watches_.end()) || stale) {
    // Watchers asked long ago probed then; a new report asks them again.
    ask_watchers(now, rng, suspect, stale, "too few live witnesses for a report", out);
    w = witnesses(now, suspect);
  }
  std::size_t count = 0;
  for (auto v : w) count += rs.count(v);
  if (!w.empty() && count >= w.size() / 2 + 1 && reporters >= floor) propose_remove();
}

void seed_core::on_message(time_point now, seam::random& rng, node_id from, const message& m, output& out) {
  if (auto* rv = std::get_if<request_vote>(&m)) return is_seed(from) ? on_request_vote(now, rng, from, *rv, out) : void();
  if (auto* vr = std::get_if<vote_reply>(&m)) return is_seed(from) ? on_vote_reply(now, rng, from, *vr, out) : void();
  if (auto* ae = std::get_if<append_entries>(&m))
    return is_seed(from) ? on_append_entries(now, rng, from, *ae, out) : void();
  if (auto* ar = std::get_if<append_reply>(&m)) return is_seed(from) ? on_append_reply(now, rng, from, *ar, out) : void();
  if (auto* rr = std::get_if<register_request>(&m)) return handle_register(now, rng, from, rr->request_id, true, out);
  if (auto* dr = std::get_if<dead_report>(&m)) return handle_report(now, rng, *dr, from, true, out);
  if (auto* q = std::get_if<pl_request>(&m)) {
    answer_register(now, rng, from, q->request_id, out);
    return;
  }
  if (auto* l = std::get_if<leave_request>(&m)) return handle_leave(now, rng, from, *l, true, out);
  if (auto* q = std::get_if<members_request>(&m)) {
    answer_members(now, from, *q, out);
    return;
  }
  if (auto* nb = std::get_if<neighbours>(&m)) {
    // Bounded: declarations are kept for members and a pending-sized margin.
    if (!declared_.count(from) && declared_.size() >= members_.size() + cfg_.pending_max) return;
    auto& d = declared_[from];
    d.clear();
    for (auto id : nb->ids)
      if (id != from) d.insert(id);
    renewed_[from] = now;
    return;
  }
  if (auto* fw = std::get_if<forward>(&m)) {
    if (!is_seed(from) || role_ != role::leader) return;  // only seeds forward, only to a leader
    if (auto* reg = std::get_if<register_request>(&fw->inner)) return handle_register(now, rng, fw->origin, reg->request_id, false, out);
    if (auto* l = std::get_if<leave_request>(&fw->inner)) return handle_leave(now, rng, fw->origin, *l, false, out);
    return handle_report(now, rng, std::get<dead_report>(fw->inner), fw->origin, false, out);
  }
  // register_reply, leave_reply, members_reply: seeds never ask, so a reply is ignored.
}

void seed_core::on_tick(time_point now, seam::random& rng, output& out) {
  std::erase_if(departed_, [&](const auto& kv) { return now - kv.second >= cfg_.rejoin_hold; });
  if (role_ == role::leader) check_leases(now, rng, out);
  if (role_ == role::leader && removed_since_check_) {
    // A removal shrinks other suspects' sets of living neighbours: weigh
    // their reports again.
    removed_since_check_ = false;
    std::vector<node_id> suspects;
    for (auto& [sus, rs] : reports_) suspects.push_back(sus);
    for (auto sus : suspects) evaluate_removal(now, rng, sus, out);
  }
  if (role_ == role::leader) {
    if (now < heartbeat_due_) return;
    // Check quorum: a leader that has not heard a majority for an election
    // timeout steps down, so a minority side stops claiming to lead.
    std::size_t in_touch = 1;
    for (auto& [s, t] : last_ack_) in_touch += now - t <= cfg_.election_timeout_max;
    if (in_touch < cfg_.quorum() && now - leader_since_ >= cfg_.election_timeout_max) {
      become_follower(now, hard_.term, no_node, out);
      reset_election(now, rng);
      return;
    }
    for (auto& [peer, p] : pending_)
      if (!projected_member(peer)) append(now, entry{.term = hard_.term, .kind = entry_kind::add, .peer = peer}, out);
    propose_leaves(now, out);
    advance_commit(now, rng, out);
    for (auto s : cfg_.seeds) {
      if (s == self_) continue;
      // Heartbeats resend from the last known match, so a lost append is retried.
      next_index_[s] = std::min(next_index_[s], match_index_[s] + 1);
      send_append(s, out);
    }
    heartbeat_due_ = now + cfg_.heartbeat;
    return;
  }
  if (now >= election_deadline_) {
    if (hard_.learner) {
      reset_election(now, rng);
      probe(now, out);
      return;
    }
    start_pre_vote(now, rng, out);
    return;
  }
}

void seed_core::on_request_vote(time_point now, seam::random& rng, node_id from, const request_vote& m, output& out) {
  const bool up_to_date = m.last_term > last_term() || (m.last_term == last_term() && m.last_index >= last_index());
  // A seed that hears from a live leader ignores candidates (Raft §4.2.3),
  // so a returning seed cannot disrupt a healthy majority.
  const bool leader_alive =
      role_ == role::leader || (heard_leader_ && now - last_leader_contact_ < cfg_.election_timeout_min);
  if (m.pre_vote) {
    // A grant echoes the asked term; a refusal carries the voter's own, so
    // a candidate that fell behind in terms catches up.
    const bool grant = m.term > hard_.term && up_to_date && !leader_alive && !hard_.learner && m.term > hard_.vote_floor;
    out.sends.emplace_back(from, vote_reply{.term = grant ? m.term : hard_.term, .granted = grant, .pre_vote = true});
    return;
  }
  if (leader_alive && m.term > hard_.term) return;
  if (m.term > hard_.term) {
    become_follower(now, m.term, no_node, out);
  }
  bool grant = false;
  if (m.term == hard_.term && (hard_.voted_for == no_node || hard_.voted_for == from) && up_to_date && !hard_.learner &&
      m.term > hard_.vote_floor) {
    grant = true;
    if (hard_.voted_for != from) {
      hard_.voted_for = from;
      persist_hard(out);
    }
    reset_election(now, rng);
    out.events.push_back({.kind = seed_event::vote_granted, .at = now, .term = hard_.term, .peer = from});
  }
  out.sends.emplace_back(from, vote_reply{.term = hard_.term, .granted = grant});
}

void seed_core::on_vote_reply(time_point now, seam::random& rng, node_id from, const vote_reply& m, output& out) {
  if (m.pre_vote && hard_.learner) {
    // A probe's answer: a higher term says the cluster is running; a
    // voter's term 0 (a refusal carries it, a grant of term 1 implies it)
    // says it never held anything either.
    if (!m.granted && m.term > hard_.term) {
      become_follower(now, m.term, no_node, out);
      reset_election(now, rng);
      return;
    }
    if (never_held_anything() && (m.granted ? m.term == 1 : m.term == 0)) {
      fresh_seeds_.insert(from);
      if (fresh_seeds_.size() + 1 >= cfg_.quorum())
        end_learning(now, "a majority of seeds, this one included, never held anything: a new cluster", out);
    }
    return;
  }
  if (m.pre_vote) {
    if (role_ != role::pre_candidate) return;
    if (!m.granted && m.term > hard_.term) {
      become_follower(now, m.term, no_node, out);
      reset_election(now, rng);
    } else if (m.granted && m.term == hard_.term + 1) {
      votes_.insert(from);
      if (votes_.size() >= cfg_.quorum()) start_election(now, rng, out);
    }
    return;
  }
  if (m.term > hard_.term) {
    become_follower(now, m.term, no_node, out);
    reset_election(now, rng);
    return;
  }
  if (role_ == role::candidate && m.term == hard_.term && m.granted) {
    votes_.insert(from);
    if (votes_.size() >= cfg_.quorum()) become_leader(now, rng, out);
  }
}

void seed_core::on_append_entries(time_point now, seam::random& rng, node_id from, const append_entries& m, output& out) {
  if (m.term < hard_.term) {
    out.sends.emplace_back(from, append_reply{.term = hard_.term, .success = false, .match_index = last_index()});
    return;
  }
  CONFAB_ASSERT(!(role_ == role::leader && m.term == hard_.term));  // two leaders in one term
  if (m.term > hard_.term || role_ != role::follower || leader_ != from) become_follower(now, m.term, from, out);
  const bool new_leader = !heard_leader_;
  heard_leader_ = true;
  last_leader_contact_ = now;
  reset_election(now, rng);
  leader_commit_seen_ = std::max(leader_commit_seen_, m.leader_commit);
  if (hard_.learner && !catch_up_to_) catch_up_to_ = m.leader_commit;
  if (m.prev_index > last_index()) {
    out.sends.emplace_back(from, append_reply{.term = hard_.term, .success = false, .match_index = last_index()});
    return;
  }
  if (term_at(m.prev_index) != m.prev_term) {
    // Skip back over the whole conflicting term in one round trip.
    const auto bad = term_at(m.prev_index);
    std::uint64_t hint = m.prev_index - 1;
    while (hint > commit_ && term_at(hint) == bad) --hint;
    out.sends.emplace_back(from, append_reply{.term = hard_.term, .success = false, .match_index = hint});
    return;
  }
  std::uint64_t idx = m.prev_index;
  for (const auto& e : m.entries) {
    ++idx;
    if (idx <= last_index()) {
      if (term_at(idx) == e.term) continue;
      CONFAB_ASSERT(idx > commit_);  // a committed entry never changes
      log_.resize(idx - 1);
      out.persist.truncate_after = std::min(out.persist.truncate_after, idx - 1);
      if (!out.persist.entries.empty() && out.persist.first_index > idx - 1) out.persist.entries.clear();
    }
    log_.push_back(e);
    drop_superseded(now, e);
    if (out.persist.entries.empty()) out.persist.first_index = log_.size();
    out.persist.entries.push_back(e);
  }
  const std::uint64_t matched = m.prev_index + m.entries.size();
  const std::uint64_t new_commit = std::min(m.leader_commit, matched);
  if (new_commit > commit_) {
    commit_ = new_commit;
    out.events.push_back({.kind = seed_event::committed, .at = now, .term = hard_.term, .index = commit_});
    apply(now, rng, out);
  }
  // Requests that waited for a leader go to it now, but only from a
  // follower that holds all the leader has committed: one still catching up
  // may be about to apply the entry that answered its request (an add, then
  // perhaps the peer's later removal), and forwarding it would undo that.
  const bool caught_up = matched >= m.leader_commit;
  if (caught_up && (new_leader || !pending_.empty())) {
    for (auto& [peer, p] : pending_) {
      if (now - p.last_sent < cfg_.forward_retry && !new_leader) continue;
      p.last_sent = now;
      out.sends.emplace_back(from, forward{.origin = peer, .inner = register_request{.request_id = p.request_id}});
    }
  }
  if (caught_up) answer_gone_leaves(out);
  for (auto& [peer, w] : leaving_) {
    if (!caught_up || (now - w.last_sent < cfg_.forward_retry && !new_leader)) continue;
    w.last_sent = now;
    out.sends.emplace_back(from, forward{.origin = w.asker, .inner = leave_request{.request_id = w.request_id, .peer = peer}});
  }
  if (new_leader) {
    for (auto& [suspect, rs] : reports_)
      for (auto& [rep, t] : rs.reporters)
        out.sends.emplace_back(from, forward{.origin = rep, .inner = dead_report{.suspect = suspect, .reporter = rep}});
  }
  if (hard_.learner && catch_up_to_ && commit_ >= *catch_up_to_)
    end_learning(now, "it holds everything the leader had committed when they first spoke", out);
  out.sends.emplace_back(from, append_reply{.term = hard_.term, .success = true, .match_index = matched});
}

void seed_core::on_append_reply(time_point now, seam::random& rng, node_id from, const append_reply& m, output& out) {
  if (m.term > hard_.term) {
    become_follower(now, m.term, no_node, out);
    reset_election(now, rng);
    return;
  }
  if (role_ != role::leader || m.term != hard_.term) return;
  last_ack_[from] = now;
  auto& match = match_index_[from];
  auto& next = next_index_[from];
  if (m.success) {
    if (m.match_index > match) {
      match = std::min(m.match_index, last_index());
      next = std::max(next, match + 1);
      advance_commit(now, rng, out);
    }
    if (next <= last_index()) send_append(from, out);
  } else {
    // The follower's hint is where its log really ends (or where its last
    // conflicting term begins). It wins over `match`: a follower that lost
    // entries it had acknowledged (a storage fault, a shortened log) holds
    // less than `match` says, and resending from `match + 1` would be
    // refused for ever. Lowering `match` only delays commits, never makes
    // one unsafe; a stale rejection costs one redundant resend.
    const std::uint64_t hint = std::min(m.match_index, last_index());
    if (hint < match) {
      out.events.push_back({.kind = seed_event::follower_behind, .at = now, .term = hard_.term, .index = hint,
                            .peer = from, .why = "the follower holds fewer entries than it acknowledged"});
      match = hint;
    }
    next = hint + 1;
    send_append(from, out);
  }
}

}  // namespace confab::seeds
