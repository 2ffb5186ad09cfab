// confab average: the driver that runs an average core on any seam host.
//
// Decodes each frame, feeds the core, encodes and sends what it produced,
// reports events, and sets the one timer to the core's next tick. Runs
// unchanged in the simulator, on the fabric and on tcp_host.
//
//   sim.add_node([&](seam::node_id id) { return std::make_unique<average::average_node>(cfg_of(id)); });
//
// A frame that does not decode, or that the core refuses (not a neighbour,
// a state outside the window), is an error value: the host closes that
// link only and the node goes on.
//
// Thread: the host's.
#pragma once

#include <functional>
#include <optional>

#include "engine/seam/env.hpp"
#include "protocols/average/core.hpp"

namespace confab::average {

class average_node final : public seam::node {
 public:
  using event_sink = std::function<void(node_id self, const average_event&)>;
  // Sees each outgoing message before it is encoded: may change it, and
  // returns false to drop it. How a compromised node (protocols/exact) lies
  // differently to different neighbours or falls silent, the core untouched.
  using tamper_fn = std::function<bool(node_id to, message& m)>;
  explicit average_node(average_config cfg, event_sink on_event = {}, tamper_fn tamper = {});

  void on_start(seam::env& e) override;
  result<void> on_message(seam::env& e, node_id from, std::span<const std::byte> payload) override;
  void on_timer(seam::env& e) override;

  bool started() const noexcept { return core_.has_value(); }
  const average_core& core() const { return *core_; }
  std::uint64_t rejected() const noexcept { return rejected_; }
  // The samples, moved out once the run is over (a 10,000-node record
  // would otherwise be held twice).
  std::vector<sample> take_history() { return core_ ? core_->take_history() : std::vector<sample>{}; }

 private:
  void flush(seam::env& e);
  average_config cfg_;
  event_sink on_event_;
  tamper_fn tamper_;
  std::optional<average_core> core_;
  output out_;
  std::vector<std::byte> buf_;
  std::uint64_t rejected_ = 0;
};

}  // namespace confab::average
