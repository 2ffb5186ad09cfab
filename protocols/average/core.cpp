#include "protocols/average/core.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include "protocols/common/endpoints.hpp"

namespace confab::average {

const char* name_of(mode m) noexcept { return names::name_in(mode_names, m); }
std::optional<mode> mode_from_name(std::string_view name) noexcept { return names::value_in(mode_names, name); }
std::string mode_list() { return names::names_list(mode_names); }

const char* name_of(outcome o) noexcept {
  switch (o) {
    case outcome::running: return "running";
    case outcome::finished: return "finished";
    case outcome::diverged: return "diverged";
    case outcome::stalled: return "stalled";
    case outcome::halted: return "halted";
  }
  return "?";
}

result<void, problem> validate(const average_config& c, node_id self) {
  auto bad = [](std::string s) { return problem{std::move(s)}; };
  char b[160];
  if (!std::isfinite(c.x0)) return bad("the initial state x0 is not a finite number");
  if (c.how != mode::push_sum && !(c.dt > 0 && std::isfinite(c.dt))) {
    std::snprintf(b, sizeof b, "the step size dt must be a positive number (got %g)", c.dt);
    return bad(b);
  }
  if (c.neighbours.empty()) return bad("a node needs at least one neighbour");
  if (c.neighbours.size() > neighbours_max) {
    std::snprintf(b, sizeof b, "%zu neighbours, more than the %zu allowed", c.neighbours.size(), neighbours_max);
    return bad(b);
  }
  std::unordered_set<node_id> seen;
  for (const auto& n : c.neighbours) {
    if (n.id == self) return bad("the node lists itself (" + endpoints::id_string(self) + ") as a neighbour");
    if (!seen.insert(n.id).second) return bad("neighbour " + endpoints::id_string(n.id) + " is listed twice");
    if (!(n.weight > 0 && std::isfinite(n.weight)))
      return bad("neighbour " + endpoints::id_string(n.id) + " has a weight that is not a positive number");
  }
  if (c.rounds == 0 || c.rounds > rounds_max) {
    std::snprintf(b, sizeof b, "rounds must be between 1 and %u (got %u)", rounds_max, c.rounds);
    return bad(b);
  }
  if (c.staleness > staleness_max) {
    std::snprintf(b, sizeof b, "staleness must be at most %u rounds (got %u)", staleness_max, c.staleness);
    return bad(b);
  }
  if (c.how == mode::push_sum && c.push_interval <= 0ns) return bad("the push interval must be positive");
  if (c.how == mode::linear) {
    double row = c.self_weight;
    for (const auto& n : c.neighbours) row += n.weight;
    if (!std::isfinite(c.self_weight) || std::fabs(row - 1) > 1e-9) {
      std::snprintf(b, sizeof b, "the linear mode needs a weight row summing to 1 (self weight %g, row sum %.12g)",
                    c.self_weight, row);
      return bad(b);
    }
  }
  if (c.how == mode::push_sum && (!c.injections.empty() || c.observe))
    return bad("injections and observations are for the lock-step modes");
  for (double u : c.injections)
    if (!std::isfinite(u)) return bad("an injection is not a finite number");
  if (c.observe && c.staleness != 0) return bad("observations need lock-step rounds without staleness");
  if (c.stall_timeout <= 0ns) return bad("the stall timeout must be positive");
  if (c.pause < 0ns) return bad("the pause between rounds must not be negative");
  if (!(c.divergence_factor > 1)) return bad("the divergence factor must be above 1");
  return {};
}

average_core::average_core(average_config cfg, node_id self) : cfg_(std::move(cfg)), self_(self) {
  ring_ = 2 * cfg_.staleness + 3;
  own_.assign(ring_, 0.0);
  peers_.reserve(cfg_.neighbours.size());
  for (const auto& n : cfg_.neighbours) {
    peer p;
    p.id = n.id;
    p.weight = n.weight;
    if (lock_step()) {
      p.ring_round.assign(ring_, 0);
      p.ring_x.assign(ring_, 0.0);
      p.ring_have.assign(ring_, false);
    }
    index_.emplace(n.id, peers_.size());
    peers_.push_back(std::move(p));
  }
}

average_core::peer* average_core::find(node_id id) noexcept {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &peers_[it->second];
}
const average_core::peer* average_core::find(node_id id) const noexcept {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &peers_[it->second];
}

double average_core::x() const noexcept { return lock_step() ? x_ : s_ / w_; }

std::pair<double, double> average_core::sent_to(node_id to) const noexcept {
  const auto* p = find(to);
  return p ? std::pair{p->sent_s, p->sent_w} : std::pair{0.0, 0.0};
}
std::pair<double, double> average_core::taken_from(node_id from) const noexcept {
  const auto* p = find(from);
  return p ? std::pair{p->taken_s, p->taken_w} : std::pair{0.0, 0.0};
}

void average_core::broadcast(const message& m, node_id except, output& out) {
  for (const auto& p : peers_)
    if (p.id != except) out.sends.emplace_back(p.id, m);
}

void average_core::send_state(output& out) { broadcast(state{round_, x_, cfg_.dt, false}, 0, out); }

// A neighbour blocked on us needs a round no older than round - 2d - 1
// (we stepped past its round - 1 - d state), so those rounds, all still in
// the ring, are what is sent again.
void average_core::resend(output& out) {
  const std::uint32_t back = 2 * cfg_.staleness + 1;
  const std::uint32_t from = round_ > back ? round_ - back : 0;
  for (std::uint32_t r = from; r <= round_; ++r) broadcast(state{r, own_[r % ring_], cfg_.dt, true}, 0, out);
}

bool average_core::neighbours_finished() const noexcept {
  for (const auto& p : peers_)
    if (!p.heard_any || p.high < cfg_.rounds) return false;
  return true;
}

void average_core::start(time_point now, output& out) {
  started_ = true;
  x_ = cfg_.x0;
  scale_ = std::max(1.0, std::fabs(cfg_.x0));
  record(now, cfg_.x0);
  if (lock_step()) {
    // One allocation for the whole run (up to a million rounds), not a
    // doubling that every node of a fabric hits in the same round.
    history_.reserve(std::min<std::size_t>(cfg_.rounds + 1u, std::size_t{1} << 20));
    if (cfg_.observe) observed_.reserve(static_cast<std::size_t>(cfg_.rounds) * (peers_.size() + 1));
    own_[0] = cfg_.x0;
    send_state(out);
    advance(now, out);
  } else {
    s_ = cfg_.x0;
    w_ = 1;
    next_push_ = now + cfg_.push_interval;
    for (auto& p : peers_) p.heard = now;
  }
}

bool average_core::have(const peer& p, std::uint32_t r) const noexcept {
  const auto slot = r % ring_;
  return p.ring_have[slot] && p.ring_round[slot] == r;
}

double average_core::state_of(const peer& p, std::uint32_t r) const noexcept { return p.ring_x[r % ring_]; }

result<void> average_core::on_message(time_point now, node_id from, const message& m, output& out) {
  peer* p = find(from);
  if (!p) return make_error(errc::permission, "a message from a node that is not a neighbour");
  if (const auto* st = std::get_if<state>(&m)) {
    if (!lock_step()) return make_error(errc::malformed, "a lock-step state in push-sum mode");
    if (p->dt != 0 && p->dt != st->dt) return make_error(errc::malformed, "a neighbour changed its step size");
    p->dt = st->dt;
    p->heard = now;
    if (!p->heard_any || st->round > p->high) p->high = st->round;
    p->heard_any = true;
    // A resend means the sender is blocked, and perhaps on us: a frame of
    // ours was lost while we went on (or finished). Answer with the state
    // it needs, once, and never answer an answer (no ping-pong).
    auto answer = [&] {
      if (!st->again) return;
      const std::uint32_t want = st->round > cfg_.staleness ? st->round - cfg_.staleness : 0;
      if (want <= round_ && round_ - want < ring_) out.sends.emplace_back(from, state{want, own_[want % ring_], cfg_.dt, false});
    };
    if (state_ == outcome::finished) answer();
    if (state_ != outcome::running) return {};
    const std::uint32_t oldest = round_ > cfg_.staleness ? round_ - cfg_.staleness : 0;
    if (st->round < oldest) {
      ++stale_;  // a duplicate of a state already used
      answer();
      return {};
    }
    if (st->round > round_ + cfg_.staleness + 1)
      return make_error(errc::malformed, "a state more than staleness+1 rounds ahead (the neighbour skipped a round)");
    const auto slot = st->round % ring_;
    if (p->ring_have[slot] && p->ring_round[slot] == st->round) {
      if (p->ring_x[slot] != st->x) return make_error(errc::malformed, "two different states for one round");
      ++stale_;
      answer();
      return {};
    }
    p->ring_have[slot] = true;
    p->ring_round[slot] = st->round;
    p->ring_x[slot] = st->x;
    if (st->round == 0 && !p->have_x0) {
      p->have_x0 = true;
      p->x0 = st->x;
      scale_ = std::max(scale_, std::fabs(st->x));
    }
    advance(now, out);
    return {};
  }
  if (const auto* ps = std::get_if<push>(&m)) {
    if (lock_step()) return make_error(errc::malformed, "a push-sum frame in a lock-step mode");
    if (ps->seq <= p->taken_seq) {
      ++stale_;
      return {};
    }
    s_ += ps->s - p->taken_s;
    w_ += ps->w - p->taken_w;
    p->taken_s = ps->s;
    p->taken_w = ps->w;
    p->taken_seq = ps->seq;
    p->heard = now;
    p->dropped = false;
    record(now, x());
    return {};
  }
  const auto& h = std::get<halt>(m);
  (void)h;
  if (!lock_step()) return make_error(errc::malformed, "a halt in push-sum mode");
  if (state_ == outcome::running) stop(now, outcome::halted, from, out);
  return {};
}

void average_core::advance(time_point now, output& out) {
  while (state_ == outcome::running && !sleeping_ && round_ < cfg_.rounds) {
    const std::uint32_t need = round_ > cfg_.staleness ? round_ - cfg_.staleness : 0;
    for (const auto& p : peers_)
      if (!have(p, need)) {
        if (!blocked_) blocked_since_ = resent_at_ = now, resends_ = 0;
        blocked_ = true;
        return;
      }
    blocked_ = false;
    const double mine = own_[need % ring_];
    double acc = 0;
    if (cfg_.how == mode::laplacian) {
      for (const auto& p : peers_) acc += p.weight * (state_of(p, need) - mine);
      x_ = x_ + cfg_.dt * acc;
    } else if (cfg_.how == mode::linear) {
      acc = cfg_.self_weight * mine;
      for (const auto& p : peers_) acc += p.weight * state_of(p, need);
      x_ = acc;
    } else {
      for (const auto& p : peers_) acc += p.weight * std::min(cfg_.dt, p.dt) * (state_of(p, need) - mine);
      x_ = x_ + acc;
    }
    if (cfg_.observe) {
      observed_.push_back(mine);
      for (const auto& p : peers_) observed_.push_back(state_of(p, need));
    }
    if (round_ < cfg_.injections.size()) x_ += cfg_.injections[round_];
    ++round_;
    own_[round_ % ring_] = x_;
    record(now, x_);
    out.events.push_back({average_event::kind::round, now, round_, x_, 0});
    if (!std::isfinite(x_) || std::fabs(x_) > cfg_.divergence_factor * scale_) {
      stop(now, outcome::diverged, 0, out);
      return;
    }
    if (cfg_.pause > 0ns) {
      sleeping_ = true;
      wake_at_ = now + cfg_.pause;
      return;
    }
    send_state(out);
  }
  if (state_ == outcome::running && !sleeping_ && round_ >= cfg_.rounds) {
    state_ = outcome::finished;
    blocked_ = false;
    out.events.push_back({average_event::kind::finished, now, round_, x_, 0});
  }
}

void average_core::stop(time_point now, outcome o, node_id who, output& out) {
  state_ = o;
  blocked_ = false;
  sleeping_ = false;
  auto kind = o == outcome::diverged ? average_event::kind::diverged
              : o == outcome::stalled ? average_event::kind::stalled
                                      : average_event::kind::halted;
  if (o != outcome::stalled) out.events.push_back({kind, now, round_, x(), who});
  if (lock_step()) {
    const auto reason = o == outcome::diverged ? halt_reason::diverged : halt_reason::stalled;
    broadcast(halt{reason, round_}, who, out);
  }
}

void average_core::push_once(time_point now, output& out) {
  for (std::size_t tries = 0; tries < peers_.size(); ++tries) {
    peer& p = peers_[next_peer_];
    next_peer_ = (next_peer_ + 1) % peers_.size();
    if (p.dropped) continue;
    s_ /= 2;
    w_ /= 2;
    p.sent_s += s_;
    p.sent_w += w_;
    ++p.sent_seq;
    out.sends.emplace_back(p.id, push{p.sent_seq, p.sent_s, p.sent_w});
    record(now, x());
    return;
  }
}

void average_core::on_tick(time_point now, output& out) {
  if (!started_) return;
  if (lock_step()) {
    if (sleeping_ && now >= wake_at_) {
      sleeping_ = false;
      send_state(out);
      advance(now, out);
    }
    if (state_ == outcome::running && blocked_ && cfg_.resend_interval > 0ns && now - resent_at_ >= cfg_.resend_interval) {
      resent_at_ = now;
      ++resends_;
      resend(out);
    }
    // Silent means silent while this node ran: three resends it actually
    // made, besides the timeout, so a host that stopped the whole process
    // (a long allocation, swap, SIGSTOP) does not take its own pause for
    // a neighbour's silence.
    const bool resent_enough = cfg_.resend_interval <= 0ns || resends_ >= stall_resends_min;
    if (state_ == outcome::running && blocked_ && now - blocked_since_ >= cfg_.stall_timeout && resent_enough) {
      // Silent: missing the state we need and no frame for the timeout.
      // A neighbour still sending (blocked itself) is waited for longer.
      const std::uint32_t need = round_ > cfg_.staleness ? round_ - cfg_.staleness : 0;
      const bool long_blocked = now - blocked_since_ >= blocked_stall_factor * cfg_.stall_timeout;
      bool any = false;
      for (const auto& p : peers_) {
        const bool silent = !p.heard_any || now - p.heard >= cfg_.stall_timeout;
        if (!have(p, need) && (silent || long_blocked)) {
          out.events.push_back({average_event::kind::stalled, now, round_, x_, p.id});
          any = true;
        }
      }
      if (any) stop(now, outcome::stalled, 0, out);
    }
    return;
  }
  if (state_ != outcome::running) return;
  for (auto& p : peers_)
    if (!p.dropped && now - p.heard >= cfg_.stall_timeout) {
      p.dropped = true;
      out.events.push_back({average_event::kind::stalled, now, pushes_, x(), p.id});
    }
  while (now >= next_push_ && pushes_ < cfg_.rounds) {
    push_once(now, out);
    ++pushes_;
    next_push_ += cfg_.push_interval;
  }
  round_ = pushes_;
  if (pushes_ >= cfg_.rounds) {
    state_ = outcome::finished;
    out.events.push_back({average_event::kind::finished, now, pushes_, x(), 0});
  }
}

time_point average_core::next_tick() const noexcept {
  if (!started_) return time_point::max();
  if (lock_step()) {
    if (sleeping_) return wake_at_;
    if (state_ == outcome::running && blocked_) {
      // The earliest time on_tick could report a stall: past the timeout,
      // and a missing neighbour silent for it or blocked that long.
      const std::uint32_t need = round_ > cfg_.staleness ? round_ - cfg_.staleness : 0;
      auto report = blocked_since_ + blocked_stall_factor * cfg_.stall_timeout;
      for (const auto& p : peers_)
        if (!have(p, need)) report = std::min(report, p.heard_any ? p.heard + cfg_.stall_timeout : blocked_since_);
      const auto stall = std::max(blocked_since_ + cfg_.stall_timeout, report);
      return cfg_.resend_interval > 0ns ? std::min(stall, resent_at_ + cfg_.resend_interval) : stall;
    }
    return time_point::max();
  }
  return state_ == outcome::running ? next_push_ : time_point::max();
}

}  // namespace confab::average
