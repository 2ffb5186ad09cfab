// confab peers: the pure core of a gossip peer.
//
// Messages, link-down notices and ticks in; messages to peers and to seeds,
// and events, out. No I/O, no clock reads, no hidden randomness (time and
// the random source are arguments). The duplicate-suppression table is
// shared by every peer of a process and passed in.
//
// The core is four parts, one concern each, and this class routes between
// them: registration (seeds, the PL, declarations), overlay (choosing and
// keeping neighbours), detector (pings, suspicion, probes, dead reports)
// and disseminator (originating, relaying, Plumtree repair). A link made
// or lost is the one event they share: `link` and `unlink` tell every part.
//
//   peers::output out;
//   core.on_peer_message(now, rng, from, msg, out);   // then send out.to_peers / out.to_seeds
//   timer = core.next_tick();
//
// Thread: one per core; the dedup table is safe to share across threads.
#pragma once

#include "protocols/peers/detector.hpp"
#include "protocols/peers/disseminator.hpp"
#include "protocols/peers/overlay.hpp"
#include "protocols/peers/registration.hpp"

namespace confab::peers {

class peer_core {
 public:
  peer_core(peer_config cfg, node_id self, dedup_table& seen);
  // The parts hold references into this object.
  peer_core(const peer_core&) = delete;
  peer_core& operator=(const peer_core&) = delete;

  void start(time_point now, seam::random& rng, output& out);
  void on_peer_message(time_point now, seam::random& rng, node_id from, const message& m, output& out);
  void on_seed_message(time_point now, seam::random& rng, node_id from, const seeds::client_message& m, output& out);
  // The transport lost (or could not open) its connection to `peer`.
  void on_link_down(time_point now, seam::random& rng, node_id peer, output& out);
  void on_tick(time_point now, seam::random& rng, output& out);
  time_point next_tick() const;
  // A clean shutdown: ask the seeds to remove this peer (retried until one
  // confirms, then left() is true). Gossip and probes go on meanwhile.
  void leave(time_point now, output& out);
  // Originates one message now, outside the gossip_count schedule; false
  // (nothing sent) until the peer is registered.
  bool originate_now(time_point now, output& out);

  // ## queries
  node_id self() const noexcept { return self_; }
  bool registered() const noexcept { return registration_.registered(); }
  bool left() const noexcept { return registration_.left(); }
  std::vector<node_id> neighbours() const;
  bool is_neighbour(node_id p) const { return overlay_.is_neighbour(p); }
  std::size_t known_peers() const noexcept { return registration_.known().size(); }
  const peer_stats& stats() const noexcept { return stats_; }
  std::uint64_t incarnation() const noexcept { return detector_.incarnation(); }
  // False while this peer runs late on its own schedule (it was paused or
  // starved): a late peer neither counts missed pongs nor accuses.
  bool healthy(time_point now) const noexcept { return detector_.healthy(now); }
  const peer_config& config() const noexcept { return cfg_; }

 private:
  void link(time_point now, node_id peer, output& out);
  void unlink(time_point now, node_id peer, output& out);
  void link_more(time_point now, seam::random& rng, output& out);
  // Every input calls this first: a gap since the last one longer than the
  // neighbours' detection window means this peer was not running, and
  // may have been removed meanwhile (registration::recheck).
  void arrive(time_point now, seam::random& rng, output& out);

  peer_config cfg_;
  node_id self_;
  peer_stats stats_;
  part_context ctx_;
  reachability reach_;
  registration registration_;
  overlay overlay_;
  detector detector_;
  disseminator disseminator_;
  time_point last_now_{};
};

}  // namespace confab::peers
