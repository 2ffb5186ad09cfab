#include "protocols/peers/node.hpp"

#include <algorithm>
#include <cstdio>

#include "protocols/common/endpoints.hpp"

namespace confab::peers {

peer_node::peer_node(peer_config cfg, dedup_table& seen, event_sink on_event, const protocols::cluster_auth* auth)
    : cfg_(std::move(cfg)), seen_(seen), on_event_(std::move(on_event)), sealer_(protocols::sealer_for(auth)) {}

bool peer_node::is_seed(node_id id) const { return std::find(cfg_.seeds.begin(), cfg_.seeds.end(), id) != cfg_.seeds.end(); }

void peer_node::on_start(seam::env& e) {
  core_.emplace(cfg_, e.self(), seen_);
  out_.clear();
  core_->start(e.now(), e.rng(), out_);
  flush(e);
}

result<void> peer_node::on_message(seam::env& e, node_id from, std::span<const std::byte> payload) {
  out_.clear();
  if (sealer_) {
    auto inner = sealer_->open(from, e.self(), payload);
    if (!inner) return inner.error();  // counted by the sealer (forged(), replayed())
    payload = *inner;
  }
  if (is_seed(from)) {
    auto m = seeds::decode_client(payload);
    if (!m) {
      ++rejected_;
      return m.error();
    }
    core_->on_seed_message(e.now(), e.rng(), from, *m, out_);
  } else {
    auto m = decode(payload);
    if (!m) {
      ++rejected_;
      return m.error();
    }
    core_->on_peer_message(e.now(), e.rng(), from, *m, out_);
  }
  flush(e);
  return {};
}

void peer_node::leave(seam::env& e) {
  if (!core_) return;
  out_.clear();
  core_->leave(e.now(), out_);
  flush(e);
}

bool peer_node::originate_now(seam::env& e) {
  if (!core_) return false;
  out_.clear();
  const bool sent = core_->originate_now(e.now(), out_);
  flush(e);
  return sent;
}

void peer_node::on_timer(seam::env& e) {
  out_.clear();
  core_->on_tick(e.now(), e.rng(), out_);
  flush(e);
}

void peer_node::on_link_down(seam::env& e, node_id peer) {
  if (!core_) return;
  out_.clear();
  core_->on_link_down(e.now(), e.rng(), peer, out_);
  flush(e);
}

void peer_node::flush(seam::env& e) {
  for (auto& [to, m] : out_.to_peers) {
    buf_.clear();
    encode(m, buf_);
    if (sealer_) sealer_->seal(e.self(), to, buf_);
    (void)e.send(to, buf_);
  }
  for (auto& [to, m] : out_.to_seeds) {
    buf_.clear();
    seeds::encode_client(m, buf_);
    if (sealer_) sealer_->seal(e.self(), to, buf_);
    (void)e.send(to, buf_);
  }
  if (on_event_)
    for (const auto& ev : out_.events) on_event_(ev);
  e.set_timer(core_->next_tick());
}

std::string event_text(const peer_event& e, node_id self) {
  char head[96];
  std::snprintf(head, sizeof head, "[%10.3f s] peer %s: ", std::chrono::duration<double>(e.at).count(),
                endpoints::id_string(self).c_str());
  std::string s = head;
  const auto peer = endpoints::id_string(e.peer);
  switch (e.kind) {
    case peer_event::registered:
      s += "registered with seed " + peer + ", PL of " + std::to_string(e.count) + " peers received";
      break;
    case peer_event::linked: s += "linked to " + peer + " (degree " + std::to_string(e.count) + ")"; break;
    case peer_event::unlinked: s += "unlinked " + peer + " (degree " + std::to_string(e.count) + ")"; break;
    case peer_event::gossip_sent: s += "gossip " + std::to_string(e.seq) + " sent"; break;
    case peer_event::gossip_received:
      s += "gossip " + peer + "#" + std::to_string(e.seq) + " first received from " + endpoints::id_string(e.other) +
           " after " + std::to_string(e.hops) + " hops";
      break;
    case peer_event::suspected: s += "suspects " + peer + " (" + (e.why ? e.why : "") + "), probing"; break;
    case peer_event::refuted: s += "suspicion of " + peer + " refuted"; break;
    case peer_event::confirmed: s += "death of " + peer + " confirmed by " + std::to_string(e.count) + " neighbours"; break;
    case peer_event::reported: {
      // The documents' line: Dead Node:<IP>:<Port>:<timestamp>:<Reporter IP>
      auto me = endpoints::id_string(self);
      s += "Dead Node:" + peer + ":" + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(e.at).count()) +
           ":" + me.substr(0, me.rfind(':'));
      break;
    }
    case peer_event::probe_declined: s += "declined to probe " + peer + " (overloaded)"; break;
    case peer_event::leaving: s += "leaving: asked the seeds to remove it"; break;
    case peer_event::left: s += "left: seed " + peer + " confirmed the removal (commit " + std::to_string(e.count) + ")"; break;
    case peer_event::rechecking:
      s += "did not run for " + std::to_string(e.count) + " ms: registering again, in case the seeds removed it";
      break;
  }
  return s;
}

}  // namespace confab::peers
