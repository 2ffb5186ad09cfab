#include "protocols/average/node.hpp"

namespace confab::average {

average_node::average_node(average_config cfg, event_sink on_event, tamper_fn tamper)
    : cfg_(std::move(cfg)), on_event_(std::move(on_event)), tamper_(std::move(tamper)) {}

void average_node::on_start(seam::env& e) {
  core_.emplace(cfg_, e.self());
  out_.clear();
  core_->start(e.now(), out_);
  flush(e);
}

result<void> average_node::on_message(seam::env& e, node_id from, std::span<const std::byte> payload) {
  if (!core_) return make_error(errc::closed, "the node has not started");
  auto m = decode(payload);
  if (!m) {
    ++rejected_;
    return m.error();
  }
  out_.clear();
  auto taken = core_->on_message(e.now(), from, *m, out_);
  flush(e);
  if (!taken) ++rejected_;
  return taken;
}

void average_node::on_timer(seam::env& e) {
  if (!core_) return;
  out_.clear();
  core_->on_tick(e.now(), out_);
  flush(e);
}

void average_node::flush(seam::env& e) {
  for (auto& [to, m] : out_.sends) {
    if (tamper_ && !tamper_(to, m)) continue;
    buf_.clear();
    encode(m, buf_);
    (void)e.send(to, buf_);
  }
  if (on_event_)
    for (const auto& ev : out_.events) on_event_(e.self(), ev);
  const auto next = core_->next_tick();
  if (next != time_point::max()) e.set_timer(next);
}

}  // namespace confab::average
