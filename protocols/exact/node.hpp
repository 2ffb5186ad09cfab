// confab exact: the driver of one exact-consensus node on any seam host.
//
// Runs protocols/average's `linear` rounds (an average_node inside) with
// the node's weight row, its observations kept; when the rounds end it
// decides from them with its recoverer and reports the decision once. A
// compromised node's behaviour is applied here: injections go into its
// updates (the core's `injections`), a two-faced node's lies and a silent
// node's silence into what it sends (the average node's tamper hook).
//
//   auto node = std::make_unique<exact::exact_node>(cfg, recoverer, [&](const exact::decision& d) { ... });
//
// A refused frame (not a neighbour, a round outside the window, two states
// for one round, bad bytes) is the inner node's error value and counted:
// the host closes that link and the node goes on.
//
// Thread: the host's.
#pragma once

#include <functional>
#include <memory>

#include "protocols/average/node.hpp"
#include "protocols/exact/core.hpp"

namespace confab::exact {

class exact_node final : public seam::node {
 public:
  using decision_sink = std::function<void(const decision&)>;
  // `plan` may be shared by nothing else; it is the node's own recoverer
  // (planned by the caller, which may plan many on worker threads).
  // `rounds_events` also sees the rounds' events (a harness's stall log).
  exact_node(const exact_config& cfg, std::shared_ptr<const recoverer> plan, decision_sink on_decision,
             average::average_node::event_sink rounds_events = {});

  void on_start(seam::env& e) override;
  result<void> on_message(seam::env& e, node_id from, std::span<const std::byte> payload) override;
  void on_timer(seam::env& e) override;

  average::average_node& rounds() noexcept { return inner_; }
  bool decided() const noexcept { return decided_; }
  std::uint64_t rejected() const noexcept { return inner_.rejected(); }

  // The average config that runs this node's rounds (for tests and tools).
  static average::average_config rounds_config(const exact_config& cfg);

 private:
  void check(seam::env& e);
  int vertex_of(node_id id) const noexcept;
  exact_config cfg_;
  std::shared_ptr<const recoverer> plan_;
  decision_sink on_decision_;
  average::average_node::event_sink rounds_events_;
  average::average_node inner_;
  bool decided_ = false;
  int silent_ = -1;
  bool halted_ = false;
};

}  // namespace confab::exact
