// confab peers: dissemination, the part of a peer that spreads gossip.
//
// Originates the peer's own messages (gossip_count of them, one per
// gossip_interval, the documents' body <timestamp>:<IP>:<Msg#>) and relays
// every first receipt: to every neighbour (flooding, as the documents do)
// or, with Plumtree, the payload over eager links and an announcement
// (ihave) over lazy ones, a redundant eager link pruned to lazy and a
// missing payload grafted from an announcer. Messages are kept a while so
// a new neighbour is caught up (announced, then grafted) and grafts answered.
// Duplicates are told apart by the process-wide dedup table.
//
//   disseminator d(ctx, seen);
//   d.on_registered(now);                      // first message due
//   d.add(now, peer, out);                     // new neighbour: announce recent messages
//   d.on_message(now, from, msg, out);         // gossip, ihave, graft, prune
//   d.tick_originate(now, registered, out);  d.tick_repair(now, out);
//
// Thread: one per peer core; the dedup table is safe to share across threads.
#pragma once

#include <deque>
#include <map>

#include "protocols/peers/dedup.hpp"
#include "protocols/peers/output.hpp"

namespace confab::peers {

class disseminator {
 public:
  disseminator(const part_context& ctx, dedup_table& seen) : ctx_(ctx), seen_(seen) {}

  void on_registered(time_point now);
  // A new neighbour: an eager link, caught up with the newest messages kept.
  void add(time_point now, node_id peer, output& out);
  void forget(node_id peer) { eager_.erase(peer); }
  // Handles gossip, ihave, graft and prune. False for other messages.
  bool on_message(time_point now, node_id from, const message& m, output& out);
  // Originates the next own message when it is due (gossip_count of them).
  void tick_originate(time_point now, bool registered, output& out);
  // Originates one own message now, outside the schedule (an operator's or
  // a load test's message); it does not use up gossip_count.
  void originate_now(time_point now, output& out) { originate(now, out); }
  // Grafts payloads announced but not received, and expires kept messages.
  void tick_repair(time_point now, output& out);
  time_point next_deadline(bool registered) const;

  bool eager(node_id peer) const {
    auto it = eager_.find(peer);
    return it != eager_.end() && it->second;
  }
  std::size_t kept() const noexcept { return store_.size(); }
  std::size_t awaited() const noexcept { return missing_.size(); }

 private:
  using message_key = std::pair<node_id, std::uint64_t>;  // (origin, seq)
  struct missing {
    std::vector<node_id> announcers;
    std::size_t next = 0;
    bool asked_all = false;
    time_point deadline{};
  };
  struct kept_message {
    gossip g;
    time_point until;
  };

  void originate(time_point now, output& out);
  std::uint32_t scheduled_ = 0;  // messages the schedule originated
  void on_gossip(time_point now, node_id from, const gossip& g, output& out);
  void forward(const gossip& g, node_id except, output& out);
  void keep(time_point now, const gossip& g);
  void send_graft(node_id to, const message_key& key, output& out);
  bool plumtree() const noexcept { return ctx_.cfg.mode == dissemination::plumtree; }

  const part_context& ctx_;
  dedup_table& seen_;
  std::map<node_id, bool> eager_;  // every neighbour: does it get payloads (Plumtree's eager set)?
  std::uint64_t seq_ = 0;
  time_point next_gossip_at_{};
  std::map<message_key, kept_message> store_;  // recent messages: grafts, new neighbours' catch-up
  std::deque<message_key> kept_order_;         // store_'s keys, oldest first
  std::map<message_key, missing> missing_;     // announced, not received
};

}  // namespace confab::peers
