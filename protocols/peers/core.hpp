// confab peers: the pure core of a gossip peer.
//
// Messages, link-down notices and ticks in; messages to peers and to seeds,
// and events, out. No I/O, no clock reads, no hidden randomness (time and
// the random source are arguments). The duplicate-suppression table is
// shared by every peer of a process and passed in.
//
//   peers::output out;
//   core.on_peer_message(now, rng, from, msg, out);   // then send out.to_peers / out.to_seeds
//   timer = core.next_tick();
//
// Thread: one per core; the dedup table is safe to share across threads.
#pragma once

#include <deque>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include "protocols/peers/api.hpp"
#include "protocols/peers/dedup.hpp"
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

class peer_core {
 public:
  peer_core(peer_config cfg, node_id self, dedup_table& seen);

  void start(time_point now, seam::random& rng, output& out);
  void on_peer_message(time_point now, seam::random& rng, node_id from, const message& m, output& out);
  void on_seed_message(time_point now, seam::random& rng, node_id from, const seeds::client_message& m, output& out);
  // The transport lost (or could not open) its connection to `peer`.
  void on_link_down(time_point now, seam::random& rng, node_id peer, output& out);
  void on_tick(time_point now, seam::random& rng, output& out);
  time_point next_tick() const;

  // ## queries
  node_id self() const noexcept { return self_; }
  bool registered() const noexcept { return registered_; }
  std::vector<node_id> neighbours() const;
  bool is_neighbour(node_id p) const { return nbrs_.count(p) != 0; }
  std::size_t known_peers() const noexcept { return known_.size(); }
  const peer_stats& stats() const noexcept { return stats_; }
  std::uint64_t incarnation() const noexcept { return incarnation_; }
  // False while this peer runs late on its own schedule (it was paused or
  // starved): its own ping tick overdue by more than half an interval, or
  // recently so. A late peer neither counts missed pongs nor accuses.
  bool healthy(time_point now) const noexcept {
    if (now < unhealthy_until_) return false;
    return !(pinging_ && now - next_ping_at_ > cfg_.ping_interval / 2);
  }
  const peer_config& config() const noexcept { return cfg_; }

 private:
  struct neighbour {
    std::uint64_t ping_seq = 0;
    bool awaiting = false;
    std::uint32_t misses = 0;
    std::uint32_t failed_rounds = 0;  // probe rounds without a verdict while unreachable
    time_point failing_since{};
    std::uint64_t incarnation = 0;
    std::vector<node_id> their;  // its neighbours, from its last pong
    bool eager = true;           // Plumtree
  };
  struct suspicion {
    std::uint64_t round = 0;
    std::set<node_id> asked, dead;
    time_point deadline{};
  };
  struct probe {
    node_id requester, suspect;
    std::uint64_t round;
    time_point deadline;
  };
  struct missing {
    std::vector<node_id> announcers;
    std::size_t next = 0;
    bool asked_all = false;
    time_point deadline{};
    node_id origin;
    std::uint64_t seq;
  };
  struct kept {
    gossip g;
    time_point until;
  };

  void send_register(time_point now, seam::random& rng, output& out);
  void link_more(time_point now, seam::random& rng, output& out);
  void add_neighbour(time_point now, node_id p, output& out);
  void keep(time_point now, const gossip& g);  // for grafts and new neighbours' catch-up
  void drop_neighbour(time_point now, node_id p, output& out);
  void originate(time_point now, output& out);
  void on_gossip(time_point now, node_id from, const gossip& g, output& out);
  void forward(time_point now, const gossip& g, node_id except, output& out);
  void suspect(time_point now, seam::random& rng, node_id s, const char* why, output& out);
  void refute(time_point now, node_id s, output& out);
  void confirm(time_point now, node_id s, output& out);
  void report_to_seeds(time_point now, node_id s, std::vector<node_id> confirmers, output& out);
  std::size_t target_degree() const noexcept { return target_degree_; }

  peer_config cfg_;
  node_id self_;
  dedup_table& seen_;
  std::uint64_t incarnation_ = 0;
  // joining
  bool registered_ = false;
  time_point next_register_at_{};
  std::uint64_t register_id_ = 0;
  std::map<node_id, std::uint16_t> known_;  // PL union: peer -> degree the seeds reported
  std::size_t target_degree_ = 0;
  bool link_due_set_ = false;
  time_point link_due_{};
  std::map<node_id, time_point> pending_links_;
  bool declare_dirty_ = false;
  time_point next_declare_at_{};  // declarations are coalesced: at most one per declare_interval
  time_point next_refresh_at_{};
  // neighbours and liveness
  std::map<node_id, neighbour> nbrs_;
  time_point next_ping_at_{};
  bool pinging_ = false;
  std::map<node_id, suspicion> suspects_;
  std::uint64_t round_ = 0;
  std::vector<probe> probes_;
  std::unordered_map<node_id, time_point> down_;
  time_point unhealthy_until_{};
  // gossip
  std::uint64_t seq_ = 0;
  time_point next_gossip_at_{};
  std::map<std::pair<node_id, std::uint64_t>, kept> store_;      // recent messages: grafts, new neighbours' catch-up
  std::deque<std::pair<node_id, std::uint64_t>> kept_order_;    // store_'s keys, oldest first
  std::map<std::pair<node_id, std::uint64_t>, missing> missing_;  // announced, not received
  peer_stats stats_;
  time_point last_now_{};
};

}  // namespace confab::peers
