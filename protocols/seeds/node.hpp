// confab seeds: the driver that runs a seed core on any seam host.
//
// Decodes each message, feeds the core, and at the host's next turn saves
// what the core asked to persist (one sync for everything that arrived in
// the turn: group commit), then sends, reports events, and sets the one
// timer to the core's next tick. Nothing is sent before it is durable. Runs unchanged on real TCP
// (host::tcp_host) and in the simulator.
//
//   seeds::memory_store disk;
//   sim.add_node([&](seam::node_id) { return std::make_unique<seeds::seed_node>(cfg, disk); });
//
// A message that does not decode is refused with `malformed` and a detail
// (the host closes that link only) and reported as a `message_rejected`
// line in the event log. A store that cannot save stops the process: a seed
// that cannot persist must not vote or acknowledge.
//
// Thread: the host's.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/seam/env.hpp"
#include "protocols/common/auth.hpp"
#include "protocols/seeds/core.hpp"
#include "protocols/seeds/storage.hpp"

namespace confab::seeds {

struct seed_node_stats {
  std::uint64_t received = 0, rejected = 0, sent = 0, send_failures = 0, saves = 0;
  std::uint64_t forged = 0, replayed = 0;  // refused by the cluster key's seal (tag; freshness)
  // Saves the disk refused (full, over quota): nothing of them was sent;
  // retried every 200 ms with everything that arrived meanwhile.
  std::uint64_t save_refusals = 0;
};

class seed_node final : public seam::node {
 public:
  using event_sink = std::function<void(const seed_event&)>;
  // For refused messages: sender, detail.
  using reject_sink = std::function<void(node_id, const char*)>;

  // With `auth`, every message in and out is sealed with the cluster key;
  // one without a valid tag is refused and counted (stats().forged), and so
  // is a replayed one (stats().replayed; protocols/common/auth.hpp).
  seed_node(seed_config cfg, log_store& store, event_sink on_event = {}, reject_sink on_reject = {},
            const protocols::cluster_auth* auth = nullptr);

  void on_start(seam::env& e) override;
  result<void> on_message(seam::env& e, node_id from, std::span<const std::byte> payload) override;
  void on_timer(seam::env& e) override;

  bool started() const noexcept { return core_.has_value(); }
  const seed_core& core() const { return *core_; }
  seed_node_stats stats() const noexcept;  // forged and replayed: the sealer's counts

 private:
  void flush(seam::env& e);
  void merge(output& o);
  seed_config cfg_;
  log_store& store_;
  event_sink on_event_;
  reject_sink on_reject_;
  std::optional<protocols::frame_sealer> sealer_;  // with the cluster key
  std::optional<seed_core> core_;
  output out_;   // accumulated until the next flush
  output step_;  // one call's output
  bool flush_scheduled_ = false;
  std::vector<std::byte> buf_;
  // Output held for the next turn (group commit) before it is flushed at once.
  static constexpr std::size_t flush_sends_max = 256;
  seed_node_stats stats_;
  std::uint64_t refused_in_a_row_ = 0;
};

// ## event lines
// The human-readable line (like the documents' output file) for one
// event; `self` names the seed. Tools write the JSON form of the event
// itself (tools/confab/event_log.hpp), with the project's JSON library.
std::string event_text(const seed_event& e, node_id self);

}  // namespace confab::seeds
