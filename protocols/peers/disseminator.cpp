#include "protocols/peers/disseminator.hpp"

#include <algorithm>

#include "protocols/common/endpoints.hpp"

namespace confab::peers {

void disseminator::on_registered(time_point now) {
  const peer_config& cfg = ctx_.cfg;
  next_gossip_at_ = now + (cfg.gossip_first > duration::zero() ? cfg.gossip_first : cfg.gossip_interval);
}

void disseminator::keep(time_point now, const gossip& g) {
  const peer_config& cfg = ctx_.cfg;
  const duration relink = cfg.ping_misses * cfg.ping_interval + 2 * cfg.probe_timeout + 2 * cfg.register_retry;
  const duration catch_up = std::max(cfg.catch_up_keep, relink);
  const auto until = now + (plumtree() ? std::max(cfg.message_keep, catch_up) : catch_up);
  if (!store_.insert_or_assign({g.origin, g.seq}, kept_message{g, until}).second) return;
  kept_order_.push_back({g.origin, g.seq});
  // Flooding keeps messages only to catch new neighbours up: the newest
  // catch_up_max. Plumtree keeps what grafts may ask for (message_keep).
  while (!plumtree() && store_.size() > cfg.catch_up_max && !kept_order_.empty()) {
    store_.erase(kept_order_.front());
    kept_order_.pop_front();
  }
}

void disseminator::add(time_point now, node_id peer, output& out) {
  eager_[peer] = true;
  // Catch the new neighbour up: announce the newest messages kept; it
  // grafts those it lacks (the ihave/graft repair, in both modes).
  std::vector<std::pair<time_point, message_key>> recent;
  for (auto& [key, k] : store_)
    if (k.until > now) recent.push_back({k.until, key});
  const std::size_t most = ctx_.cfg.catch_up_max;
  if (recent.size() > most) {
    std::nth_element(recent.begin(), recent.begin() + static_cast<std::ptrdiff_t>(most), recent.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    recent.resize(most);
  }
  for (auto& [until, key] : recent) {
    const auto& g = store_[key].g;
    out.to_peers.emplace_back(peer, ihave{.origin = g.origin, .seq = g.seq, .hops = g.origin == ctx_.self ? 0 : g.hops + 1});
    ++ctx_.stats.control_frames;
  }
}

void disseminator::originate(time_point now, output& out) {
  gossip g;
  g.origin = ctx_.self;
  g.seq = ++seq_;
  g.hops = 0;
  g.created_ns = static_cast<std::uint64_t>(now.count());
  // The documents' body: <timestamp>:<IP>:<Msg#>.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  std::string ip = endpoints::id_string(ctx_.self);
  ip = ip.substr(0, ip.rfind(':'));
  g.body = std::to_string(ms) + ":" + ip + ":" + std::to_string(g.seq);
  if (ctx_.cfg.gossip_padding) g.body.append(std::min(ctx_.cfg.gossip_padding, body_bytes_max - g.body.size()), '.');
  (void)seen_.insert(dedup_table::key(ctx_.self, ctx_.self, g.seq), now);
  ++ctx_.stats.originated;
  out.events.push_back({.kind = peer_event::gossip_sent, .at = now, .peer = ctx_.self, .seq = g.seq});
  keep(now, g);
  forward(g, ctx_.self, out);
}

void disseminator::forward(const gossip& g, node_id except, output& out) {
  gossip f = g;
  f.hops = g.origin == ctx_.self ? 0 : g.hops + 1;
  for (auto& [peer, is_eager] : eager_) {
    if (peer == except) continue;
    // Plumtree: eager links carry the payload, lazy ones an announcement.
    // The first `eager_hops` hops go eagerly to every neighbour, so a
    // message outlives an origin (and its first relays) failing right after
    // sending it, before any lazy repair could run.
    if (!plumtree() || is_eager || f.hops < ctx_.cfg.eager_hops) {
      out.to_peers.emplace_back(peer, f);
      ++ctx_.stats.gossip_frames;
    } else {
      out.to_peers.emplace_back(peer, ihave{.origin = g.origin, .seq = g.seq, .hops = f.hops});
      ++ctx_.stats.control_frames;
    }
  }
}

void disseminator::on_gossip(time_point now, node_id from, const gossip& g, output& out) {
  if (!seen_.insert(dedup_table::key(ctx_.self, g.origin, g.seq), now)) {
    ++ctx_.stats.duplicates;
    if (plumtree()) {
      // A second eager copy: this link is redundant in the tree.
      auto it = eager_.find(from);
      if (it != eager_.end() && it->second) {
        it->second = false;
        out.to_peers.emplace_back(from, prune{});
        ++ctx_.stats.control_frames;
      }
    }
    return;
  }
  ++ctx_.stats.delivered;
  out.events.push_back(
      {.kind = peer_event::gossip_received, .at = now, .peer = g.origin, .other = from, .seq = g.seq, .hops = g.hops + 1});
  missing_.erase({g.origin, g.seq});
  keep(now, g);
  if (plumtree())
    if (auto it = eager_.find(from); it != eager_.end()) it->second = true;
  forward(g, from, out);
}

bool disseminator::on_message(time_point now, node_id from, const message& m, output& out) {
  if (auto* g = std::get_if<gossip>(&m)) {
    on_gossip(now, from, *g, out);
  } else if (auto* h = std::get_if<ihave>(&m)) {
    if (seen_.contains(dedup_table::key(ctx_.self, h->origin, h->seq))) return true;
    auto& awaited = missing_[{h->origin, h->seq}];
    if (awaited.announcers.empty()) awaited.deadline = now + ctx_.cfg.ihave_timeout;
    if (std::find(awaited.announcers.begin(), awaited.announcers.end(), from) == awaited.announcers.end())
      awaited.announcers.push_back(from);
  } else if (auto* g = std::get_if<graft>(&m)) {
    if (auto it = eager_.find(from); it != eager_.end()) it->second = true;
    auto k = store_.find({g->origin, g->seq});
    if (k != store_.end()) {
      gossip f = k->second.g;
      f.hops = f.origin == ctx_.self ? 0 : f.hops + 1;
      out.to_peers.emplace_back(from, std::move(f));
      ++ctx_.stats.gossip_frames;
    }
  } else if (std::get_if<prune>(&m)) {
    if (auto it = eager_.find(from); it != eager_.end()) it->second = false;
  } else {
    return false;
  }
  return true;
}

void disseminator::tick_originate(time_point now, bool registered, output& out) {
  const peer_config& cfg = ctx_.cfg;
  if (!registered || scheduled_ >= cfg.gossip_count || now < next_gossip_at_) return;
  ++scheduled_;
  originate(now, out);
  next_gossip_at_ += cfg.gossip_interval;
  if (next_gossip_at_ <= now) next_gossip_at_ = now + cfg.gossip_interval;
}

void disseminator::send_graft(node_id to, const message_key& key, output& out) {
  out.to_peers.emplace_back(to, graft{.origin = key.first, .seq = key.second});
  ++ctx_.stats.control_frames;
}

void disseminator::tick_repair(time_point now, output& out) {
  for (auto it = missing_.begin(); it != missing_.end();) {
    const message_key& key = it->first;
    auto& awaited = it->second;
    if (now < awaited.deadline) {
      ++it;
      continue;
    }
    if (seen_.contains(dedup_table::key(ctx_.self, key.first, key.second))) {
      it = missing_.erase(it);
      continue;
    }
    if (awaited.next >= awaited.announcers.size()) {
      if (awaited.asked_all) {
        it = missing_.erase(it);
        continue;
      }
      // Every announcer failed us (died, cut off): ask every other
      // neighbour once, new links included; any that holds it answers.
      awaited.asked_all = true;
      for (auto& [peer, is_eager] : eager_)
        if (std::find(awaited.announcers.begin(), awaited.announcers.end(), peer) == awaited.announcers.end())
          send_graft(peer, key, out);
      awaited.deadline = now + 4 * ctx_.cfg.ihave_timeout;
      ++it;
      continue;
    }
    // The eager copy did not come: repair the tree through an announcer.
    const node_id via = awaited.announcers[awaited.next++];
    if (auto n = eager_.find(via); n != eager_.end()) n->second = true;
    send_graft(via, key, out);
    awaited.deadline = now + ctx_.cfg.ihave_timeout;
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

time_point disseminator::next_deadline(bool registered) const {
  time_point t = never;
  if (registered && scheduled_ < ctx_.cfg.gossip_count) t = std::min(t, next_gossip_at_);
  for (auto& [key, awaited] : missing_) t = std::min(t, awaited.deadline);
  return t;
}

}  // namespace confab::peers
