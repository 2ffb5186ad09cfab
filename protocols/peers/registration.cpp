#include "protocols/peers/registration.hpp"

#include <algorithm>

namespace confab::peers {

void registration::start(time_point now, seam::random& rng, output& out) {
  // ⌊n/2⌋+1 seeds chosen at random.
  std::vector<node_id> order = ctx_.cfg.seeds;
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  order.resize(ctx_.cfg.seeds.size() / 2 + 1);
  ++register_id_;
  for (auto seed : order) out.to_seeds.emplace_back(seed, seeds::register_request{.request_id = register_id_});
  next_register_at_ = now + ctx_.cfg.register_retry;
}

void registration::leave(time_point now, output& out) {
  if (leaving_) return;
  leaving_ = true;
  out.events.push_back({.kind = peer_event::leaving, .at = now, .peer = ctx_.self});
  send_leave(now, out);
}

void registration::send_leave(time_point now, output& out) {
  // Every seed: a majority may be unreachable from here, and a seed that
  // is not the leader forwards it.
  ++register_id_;
  for (auto seed : ctx_.cfg.seeds)
    out.to_seeds.emplace_back(seed, seeds::leave_request{.request_id = register_id_, .peer = ctx_.self});
  next_leave_at_ = now + ctx_.cfg.register_retry;
}

registration::reply registration::on_reply(time_point now, node_id from, const seeds::client_message& m, output& out) {
  if (const auto* l = std::get_if<seeds::leave_reply>(&m)) {
    if (leaving_ && !left_ && l->peer == ctx_.self && l->status == seeds::leave_status::left) {
      left_ = true;
      out.events.push_back({.kind = peer_event::left, .at = now, .peer = from, .count = l->commit_index});
    }
    return reply::ignored;
  }
  if (leaving_) return reply::ignored;
  const auto* r = std::get_if<seeds::register_reply>(&m);
  if (!r || r->status != seeds::register_status::ok) return reply::ignored;
  // Only the answer to this peer's own registration (a PL refresh is id 0).
  if (rechecking_ && r->request_id == register_id_) rechecking_ = false;
  for (std::size_t i = 0; i < r->peers.size(); ++i) {
    if (r->peers[i] == ctx_.self) continue;
    known_[r->peers[i]] = r->degrees.empty() ? 0 : r->degrees[i];
  }
  out.events.push_back({.kind = peer_event::registered, .at = now, .peer = from, .count = r->peers.size()});
  if (registered_) return reply::again;
  registered_ = true;
  return reply::first;
}

void registration::tick(time_point now, seam::random& rng, output& out) {
  if (leaving_) {
    if (!left_ && now >= next_leave_at_) send_leave(now, out);
    return;
  }
  if (registered_ && second_check_at_ != time_point{} && now >= second_check_at_) {
    second_check_at_ = {};
    rechecking_ = true;
    start(now, rng, out);
    return;
  }
  if ((!registered_ || rechecking_) && now >= next_register_at_) start(now, rng, out);
}

void registration::recheck(time_point now, seam::random& rng, output& out) {
  if (!registered_ || leaving_) return;
  rechecking_ = true;
  second_check_at_ = now + ctx_.cfg.ping_misses * ctx_.cfg.ping_interval + 2 * ctx_.cfg.probe_timeout;
  start(now, rng, out);
}

void registration::declare(time_point now, const std::set<node_id>& neighbours, output& out) {
  // The lease: renewed unchanged every declare_refresh once registered.
  if (registered_ && !leaving_ && now >= last_declared_ + ctx_.cfg.declare_refresh) declare_dirty_ = true;
  if (!declare_dirty_ || now < next_declare_at_) return;
  declare_dirty_ = false;
  last_declared_ = now;
  next_declare_at_ = now + ctx_.cfg.declare_interval;
  seeds::neighbours d;
  for (auto id : neighbours) {
    if (d.ids.size() >= seeds::neighbours_max) break;
    d.ids.push_back(id);
  }
  for (auto seed : ctx_.cfg.seeds) out.to_seeds.emplace_back(seed, d);
}

time_point registration::next_deadline(time_point last_now) const {
  time_point t = never;
  if (leaving_) return left_ ? never : next_leave_at_;
  if (!registered_ || rechecking_) t = std::min(t, next_register_at_);
  if (registered_ && second_check_at_ != time_point{}) t = std::min(t, second_check_at_);
  if (declare_dirty_) t = std::min(t, std::max(last_now, next_declare_at_));
  if (registered_) t = std::min(t, std::max(last_now, last_declared_ + ctx_.cfg.declare_refresh));
  return t;
}

}  // namespace confab::peers
