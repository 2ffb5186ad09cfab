#include "protocols/exact/node.hpp"

#include <algorithm>
#include <cmath>

namespace confab::exact {

average::average_config exact_node::rounds_config(const exact_config& cfg) {
  average::average_config a;
  a.how = average::mode::linear;
  a.x0 = cfg.x0;
  a.rounds = cfg.rounds;
  a.observe = true;
  a.stall_timeout = cfg.stall_timeout;
  a.resend_interval = cfg.resend_interval;
  const auto& W = *cfg.W;
  a.self_weight = W(cfg.self, cfg.self);
  for (int j : cfg.g->adj[static_cast<std::size_t>(cfg.self)])
    a.neighbours.push_back({cfg.ids[static_cast<std::size_t>(j)], W(cfg.self, j)});
  a.injections = injections(cfg.lie, cfg.rounds);
  // An attacker's own state may go far from x(0): it is not an honest
  // divergence, so its bound is as wide as doubles allow.
  if (!a.injections.empty()) a.divergence_factor = 1e300;
  return a;
}

namespace {
average::average_node::tamper_fn tamper_of(const exact_config& cfg) {
  if (cfg.lie.how == strategy::two_faced) {
    // Even-indexed neighbours hear x + size, odd ones x - size (the same
    // lie for every copy of a round, so no receiver sees two states).
    std::vector<node_id> even;
    const auto& adj = cfg.g->adj[static_cast<std::size_t>(cfg.self)];
    for (std::size_t k = 0; k < adj.size(); k += 2) even.push_back(cfg.ids[static_cast<std::size_t>(adj[k])]);
    const double size = cfg.lie.size;
    return [even, size](node_id to, average::message& m) {
      if (auto* s = std::get_if<average::state>(&m))
        s->x += std::find(even.begin(), even.end(), to) != even.end() ? size : -size;
      return true;
    };
  }
  if (cfg.lie.how == strategy::silent) {
    // From its first state of round `from_round` on it sends nothing at
    // all (no resends of older rounds, no halt): a crash, as seen from
    // outside.
    const auto from = cfg.lie.from_round;
    return [from, fallen = false](node_id, average::message& m) mutable {
      const auto* s = std::get_if<average::state>(&m);
      if (!s || s->round >= from) fallen = true;
      return !fallen;
    };
  }
  return {};
}
}  // namespace

exact_node::exact_node(const exact_config& cfg, std::shared_ptr<const recoverer> plan, decision_sink on_decision,
                       average::average_node::event_sink rounds_events)
    : cfg_(cfg),
      plan_(std::move(plan)),
      on_decision_(std::move(on_decision)),
      rounds_events_(std::move(rounds_events)),
      inner_(rounds_config(cfg),
             [this](node_id self, const average::average_event& ev) {
               if (rounds_events_) rounds_events_(self, ev);
               if (ev.what == average::average_event::kind::stalled) silent_ = vertex_of(ev.who);
               if (ev.what == average::average_event::kind::halted) halted_ = true;
             },
             tamper_of(cfg)) {}

int exact_node::vertex_of(node_id id) const noexcept {
  for (std::size_t j = 0; j < cfg_.ids.size(); ++j)
    if (cfg_.ids[j] == id) return static_cast<int>(j);
  return -1;
}

void exact_node::on_start(seam::env& e) {
  inner_.on_start(e);
  check(e);
}

result<void> exact_node::on_message(seam::env& e, node_id from, std::span<const std::byte> payload) {
  auto taken = inner_.on_message(e, from, payload);
  check(e);
  return taken;
}

void exact_node::on_timer(seam::env& e) {
  inner_.on_timer(e);
  check(e);
}

void exact_node::check(seam::env&) {
  if (decided_ || !inner_.started()) return;
  const auto st = inner_.core().status();
  if (st == average::outcome::running) return;
  decided_ = true;
  decision d;
  d.node = cfg_.self;
  if (st == average::outcome::finished) {
    d = plan_->decide(inner_.core().observations());
  } else if (st == average::outcome::stalled) {
    d.what = verdict::stalled;
    d.silent = silent_;
    d.steps = static_cast<int>(inner_.core().round());
    d.detail = "vertex " + std::to_string(silent_) + " fell silent at round " + std::to_string(inner_.core().round());
  } else {
    d.what = verdict::halted;
    d.steps = static_cast<int>(inner_.core().round());
    d.detail = std::string("the rounds stopped: ") + average::name_of(st);
  }
  if (on_decision_) on_decision_(d);
}

}  // namespace confab::exact
