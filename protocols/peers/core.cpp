#include "protocols/peers/core.hpp"

namespace confab::peers {

const char* event_name(peer_event::kind_t k) noexcept {
  static constexpr const char* names[] = {"registered", "linked",    "unlinked", "gossip_sent", "gossip_received",
                                          "suspected",  "refuted",   "confirmed", "reported",   "probe_declined",
                                          "leaving",    "left",      "rechecking"};
  return names[k];
}

peer_core::peer_core(peer_config cfg, node_id self, dedup_table& seen)
    : cfg_(std::move(cfg)),
      self_(self),
      ctx_{cfg_, self_, stats_},
      registration_(ctx_),
      overlay_(ctx_),
      detector_(ctx_,
                [this](time_point now, node_id peer, output& out) {
                  // Given up as dead or unreachable: not a candidate to link to either.
                  registration_.forget(peer);
                  unlink(now, peer, out);
                }),
      disseminator_(ctx_, seen) {
  CONFAB_ASSERT(!cfg_.seeds.empty());
}

std::vector<node_id> peer_core::neighbours() const {
  const auto& set = overlay_.neighbours();
  return {set.begin(), set.end()};
}

void peer_core::start(time_point now, seam::random& rng, output& out) {
  last_now_ = now;
  overlay_.draw_degree(rng);
  registration_.start(now, rng, out);
}

void peer_core::link_more(time_point now, seam::random& rng, output& out) {
  overlay_.link_more(now, rng, registration_.known(), reach_, detector_.incarnation(), out);
}

void peer_core::link(time_point now, node_id peer, output& out) {
  if (!overlay_.add(peer)) return;
  disseminator_.add(now, peer, out);
  reach_.regained(peer);
  registration_.neighbours_changed();
  out.events.push_back({.kind = peer_event::linked, .at = now, .peer = peer, .count = overlay_.neighbours().size()});
  detector_.watch(now, peer);
}

void peer_core::unlink(time_point now, node_id peer, output& out) {
  if (!overlay_.drop(peer)) return;
  detector_.forget(peer);
  disseminator_.forget(peer);
  registration_.neighbours_changed();
  if (registration_.registered() && !registration_.leaving()) overlay_.on_lost(now);
  out.events.push_back({.kind = peer_event::unlinked, .at = now, .peer = peer, .count = overlay_.neighbours().size()});
}

void peer_core::arrive(time_point now, seam::random& rng, output& out) {
  // Others suspect after ping_misses silent pings; (misses - 1) intervals
  // of silence plus half an interval is the least gap that can have cost
  // this peer its place (detector.hpp), a whole interval at the least.
  const auto window = std::max<std::uint32_t>(cfg_.ping_misses, 2) * cfg_.ping_interval - cfg_.ping_interval / 2;
  if (now - last_now_ > window && registration_.registered()) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_now_).count();
    out.events.push_back({.kind = peer_event::rechecking, .at = now, .peer = self_, .count = static_cast<std::uint64_t>(ms)});
    registration_.recheck(now, rng, out);
  }
  last_now_ = now;
}

void peer_core::on_seed_message(time_point now, seam::random& rng, node_id from, const seeds::client_message& m,
                                output& out) {
  arrive(now, rng, out);
  if (const auto* w = std::get_if<seeds::watch_request>(&m)) {
    if (registration_.registered() && !registration_.leaving()) detector_.watch_for_seeds(now, w->suspect, reach_, out);
    return;
  }
  switch (registration_.on_reply(now, from, m, out)) {
    case registration::reply::first:
      disseminator_.on_registered(now);
      overlay_.on_registered(now);  // waits briefly for the other seeds' lists, then links
      break;
    case registration::reply::again:
      if (overlay_.wants_more()) link_more(now, rng, out);
      break;
    case registration::reply::ignored:
      break;
  }
}

void peer_core::on_peer_message(time_point now, seam::random& rng, node_id from, const message& m, output& out) {
  arrive(now, rng, out);
  if (disseminator_.on_message(now, from, m, out)) return;
  if (detector_.on_message(now, from, m, reach_, out)) {
    // Neighbours of neighbours widen the view used to pick probers and links.
    if (auto* p = std::get_if<pong>(&m); p && overlay_.is_neighbour(from))
      for (auto q : p->neighbours) registration_.learn(q);
    return;
  }
  if (std::get_if<link_request>(&m)) {
    registration_.learn(from);
    if (overlay_.full() && !overlay_.is_neighbour(from)) {
      out.to_peers.emplace_back(from, link_close{});  // at degree_cap: link elsewhere
      return;
    }
    link(now, from, out);
    out.to_peers.emplace_back(from, link_accept{.incarnation = detector_.incarnation()});
  } else if (std::get_if<link_accept>(&m)) {
    // An accept that comes after the request was given up (a slow link)
    // is still a link when one is wanted. (Answering the others with a
    // close, so the accepter drops its half, fed a storm of relinks when
    // the emulation ran seconds late at 100,000 peers: left out.)
    if (overlay_.requested(from) ||
        (registration_.registered() && !registration_.leaving() && overlay_.wants_more() && !overlay_.full()))
      link(now, from, out);
  } else if (std::get_if<link_close>(&m)) {
    overlay_.request_failed(now, from, registration_.registered() && !registration_.leaving());
    unlink(now, from, out);
  }
}

void peer_core::on_link_down(time_point now, seam::random& rng, node_id peer, output& out) {
  arrive(now, rng, out);
  reach_.lost(peer, now);
  overlay_.request_failed(now, peer, registration_.registered() && !registration_.leaving());
  detector_.on_link_down(now, rng, peer, registration_.known(), reach_, out);
}

void peer_core::leave(time_point now, output& out) {
  last_now_ = now;
  registration_.leave(now, out);
}

bool peer_core::originate_now(time_point now, output& out) {
  if (!registration_.registered()) return false;
  disseminator_.originate_now(now, out);
  return true;
}

void peer_core::on_tick(time_point now, seam::random& rng, output& out) {
  arrive(now, rng, out);
  registration_.tick(now, rng, out);
  overlay_.tick(now, rng, registration_.registered(), registration_.known(), reach_, detector_.incarnation(), out);
  registration_.declare(now, overlay_.neighbours(), out);
  disseminator_.tick_originate(now, registration_.registered(), out);
  detector_.tick(now, rng, registration_.known(), reach_, out);
  disseminator_.tick_repair(now, out);
}

time_point peer_core::next_tick() const {
  const bool registered = registration_.registered();
  return std::min({registration_.next_deadline(last_now_), overlay_.next_deadline(registered),
                   detector_.next_deadline(), disseminator_.next_deadline(registered)});
}

}  // namespace confab::peers
