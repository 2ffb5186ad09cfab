// confab peers: what the peer core and its parts hand back, and what they share.
//
// A call into the core fills an `output`: messages to peers, messages to
// seeds, events. The four parts of the core (registration, overlay,
// detector, disseminator) read one `part_context`: the configuration, the
// peer's own id and the counters, owned by peer_core.
//
// Thread: values; a part_context lives as long as the peer_core that owns it.
#pragma once

#include <unordered_map>
#include <utility>
#include <vector>

#include "protocols/peers/api.hpp"
#include "protocols/peers/wire.hpp"
#include "protocols/seeds/client.hpp"  // the client side only: peers never see Raft messages

namespace confab::peers {

struct output {
  std::vector<std::pair<node_id, message>> to_peers;
  std::vector<std::pair<node_id, seeds::client_message>> to_seeds;
  std::vector<peer_event> events;
  void clear() {
    to_peers.clear();
    to_seeds.clear();
    events.clear();
  }
};

struct peer_stats {
  std::uint64_t gossip_frames = 0;   // gossip payloads sent (own and forwarded)
  std::uint64_t control_frames = 0;  // ihave, graft, prune
  std::uint64_t delivered = 0;       // first receipts (own messages excluded)
  std::uint64_t duplicates = 0;
  std::uint64_t originated = 0;
  std::uint64_t suspicions = 0, refutations = 0, confirmations = 0, probes_declined = 0;
};

struct part_context {
  const peer_config& cfg;
  node_id self;
  peer_stats& stats;
};

// ## reachability
// Peers the transport recently failed to reach (a link went down or could
// not open), and when. The overlay does not relink to them at once; the
// detector does not ask them to probe and answers probes about them at once.
class reachability {
 public:
  void lost(node_id peer, time_point now) { lost_at_[peer] = now; }
  void regained(node_id peer) { lost_at_.erase(peer); }
  // Lost less than `window` before `now`.
  bool lost_within(node_id peer, time_point now, duration window) const {
    auto it = lost_at_.find(peer);
    return it != lost_at_.end() && now - it->second < window;
  }

 private:
  std::unordered_map<node_id, time_point> lost_at_;
};

// The end of time: a part with nothing scheduled.
inline constexpr time_point never{std::chrono::nanoseconds::max()};

}  // namespace confab::peers
