// confab peers: the driver that runs a peer core on any seam host.
//
// Decodes each message by who sent it (seeds speak the seeds' wire, peers
// the peers' wire), feeds the core, sends what it produced, reports events,
// sets the one timer to the core's next tick. Runs unchanged on real TCP
// (host::tcp_host), the in-process transport and in the simulator.
//
//   peers::dedup_table seen;   // shared by every peer of the process
//   sim.add_node([&](seam::node_id) { return std::make_unique<peers::peer_node>(cfg, seen); });
//
// A message that does not decode is refused with `malformed` and a detail
// (the host closes that link only).
//
// Thread: the host's.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "engine/seam/env.hpp"
#include "protocols/common/auth.hpp"
#include "protocols/peers/core.hpp"

namespace confab::peers {

class peer_node final : public seam::node {
 public:
  using event_sink = std::function<void(const peer_event&)>;
  // With `auth`, every message in and out is sealed with the cluster key;
  // one without a valid tag is refused and counted (forged()), and so is a
  // replayed one (replayed(); protocols/common/auth.hpp).
  peer_node(peer_config cfg, dedup_table& seen, event_sink on_event = {}, const protocols::cluster_auth* auth = nullptr);

  void on_start(seam::env& e) override;
  result<void> on_message(seam::env& e, node_id from, std::span<const std::byte> payload) override;
  void on_timer(seam::env& e) override;
  void on_link_down(seam::env& e, node_id peer) override;

  // A clean shutdown (peer_core::leave); the host calls it from its
  // thread (tcp_host::act), then waits for core().left().
  void leave(seam::env& e);
  // One message now, outside the schedule (peer_core::originate_now); the
  // host calls it from its thread. False until registered.
  bool originate_now(seam::env& e);

  const peer_core& core() const { return *core_; }
  bool started() const noexcept { return core_.has_value(); }
  std::uint64_t rejected() const noexcept { return rejected_; }
  std::uint64_t forged() const noexcept { return sealer_ ? sealer_->stats().refused_tag : 0; }
  std::uint64_t replayed() const noexcept { return sealer_ ? protocols::replays_refused(sealer_->stats()) : 0; }

 private:
  bool is_seed(node_id id) const;
  void flush(seam::env& e);
  peer_config cfg_;
  dedup_table& seen_;
  event_sink on_event_;
  std::optional<peer_core> core_;
  output out_;
  std::vector<std::byte> buf_;
  std::uint64_t rejected_ = 0;
  std::optional<protocols::frame_sealer> sealer_;  // with the cluster key
};

// ## event lines
// The human-readable line (like the documents' output file; a confirmed
// death keeps the documents' `Dead Node:<IP>:<Port>:<timestamp>:<Reporter IP>`)
// for one event; `self` names the peer. Tools write the JSON form of the
// event itself (tools/confab/event_log.hpp), with the project's JSON library.
std::string event_text(const peer_event& e, node_id self);

}  // namespace confab::peers
