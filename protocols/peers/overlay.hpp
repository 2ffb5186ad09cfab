// confab peers: the overlay, the part of a peer that chooses its neighbours.
//
// Draws the peer's target degree (preferential attachment: `attach` links
// to peers chosen with probability ∝ degree + 1; exponential: k drawn from
// P(k) ∝ 40·1.5^(−k/10), links to uniformly chosen peers), sends link
// requests, gives up on unanswered ones, and tops the degree up after a
// loss at once from the peers it knows (the PL the seeds sent and the
// neighbours' neighbours from pongs), refreshing the PL meanwhile.
//
//   overlay ov(ctx);
//   ov.draw_degree(rng);
//   ov.on_registered(now);                             // link shortly after
//   ov.tick(now, rng, registered, known, reach, incarnation, out);
//   if (ov.add(now, peer)) ...                         // a link was made
//
// Thread: one per peer core.
#pragma once

#include <map>
#include <set>

#include "protocols/peers/output.hpp"

namespace confab::peers {

class overlay {
 public:
  explicit overlay(const part_context& ctx) : ctx_(ctx) {}

  void draw_degree(seam::random& rng);
  // Registered: link once the other seeds' lists had a moment to arrive.
  void on_registered(time_point now);
  bool wants_more() const noexcept { return neighbours_.size() + pending_.size() < target_degree_; }
  // Sends link requests until neighbours and pending requests reach the target.
  void link_more(time_point now, seam::random& rng, const std::map<node_id, std::uint16_t>& known,
                 const reachability& reach, std::uint64_t incarnation, output& out);
  // `peer` became a neighbour (it asked, or accepted our request); false
  // when it already was one, or is this peer.
  bool add(node_id peer);
  bool drop(node_id peer) { return neighbours_.erase(peer) != 0; }
  // A neighbour was lost: below the target degree, link again at the next
  // tick from the peers already known (the passive view), and refresh the
  // PL from a seed at the same time.
  void on_lost(time_point now) {
    if (!wants_more()) return;
    link_due_set_ = true;
    link_due_ = now;
    // One PL refresh per half register_retry, however many losses.
    if (now >= next_pl_request_at_) refresh_due_ = true;
  }
  // A link request to `peer` failed (it refused, being full, or the
  // transport could not reach it): dropped and, below the target and when
  // `relink`, another known peer is asked at once.
  void request_failed(time_point now, node_id peer, bool relink) {
    if (pending_.erase(peer) && relink) on_lost(now);
  }
  bool requested(node_id peer) const { return pending_.count(peer) != 0; }
  // At degree_cap: new link requests are refused.
  bool full() const noexcept { return ctx_.cfg.degree_cap != 0 && neighbours_.size() >= ctx_.cfg.degree_cap; }
  void tick(time_point now, seam::random& rng, bool registered, const std::map<node_id, std::uint16_t>& known,
            const reachability& reach, std::uint64_t incarnation, output& out);
  time_point next_deadline(bool registered) const;

  const std::set<node_id>& neighbours() const noexcept { return neighbours_; }
  bool is_neighbour(node_id peer) const { return neighbours_.count(peer) != 0; }
  std::size_t target_degree() const noexcept { return target_degree_; }

 private:
  const part_context& ctx_;
  std::size_t target_degree_ = 0;
  std::set<node_id> neighbours_;
  std::map<node_id, time_point> pending_;  // link requests sent -> given up at
  bool link_due_set_ = false;
  bool refresh_due_ = false;
  time_point next_pl_request_at_{};
  time_point link_due_{};
  time_point next_refresh_at_{};
};

}  // namespace confab::peers
