// confab peers: registration, the part of a peer that talks to the seeds.
//
// Registers with a majority of the seeds (retrying until one answers),
// keeps the peer list (PL) they and the neighbours' pongs report, and tells
// the seeds this peer's neighbours when they change, coalesced to one
// declaration per declare_interval, and at least every declare_refresh (the
// seeds hold a declaration as a lease).
//
//   registration reg(ctx);
//   reg.start(now, rng, out);                        // register_request to ⌊n/2⌋+1 seeds
//   if (reg.on_reply(now, from, msg, out) == registration::reply::first) ...
//   reg.tick(now, rng, out);                         // retry while unregistered
//   reg.declare(now, neighbours, out);               // after neighbours_changed()
//   reg.leave(now, out);                             // leave_request to every seed, until one confirms
//
// Thread: one per peer core.
#pragma once

#include <map>
#include <set>

#include "protocols/peers/output.hpp"

namespace confab::peers {

class registration {
 public:
  explicit registration(const part_context& ctx) : ctx_(ctx) {}

  void start(time_point now, seam::random& rng, output& out);
  enum class reply : std::uint8_t { ignored, first, again };
  // A seed's message: a register reply adds its PL; the first one registers
  // this peer.
  reply on_reply(time_point now, node_id from, const seeds::client_message& m, output& out);
  // A peer heard of from a neighbour's pong.
  void learn(node_id peer) {
    if (peer != ctx_.self) known_.try_emplace(peer, 0);
  }
  // A peer given up as dead: out of the PL until a seed lists it again.
  void forget(node_id peer) { known_.erase(peer); }
  void tick(time_point now, seam::random& rng, output& out);
  void neighbours_changed() noexcept { declare_dirty_ = true; }
  void declare(time_point now, const std::set<node_id>& neighbours, output& out);
  time_point next_deadline(time_point last_now) const;

  bool registered() const noexcept { return registered_; }
  // This peer did not run for a while (paused, starved): its neighbours
  // may have reported it and the seeds removed it. Registers again now,
  // retried until a seed answers (a seed holds a removed peer out for
  // rejoin_hold), and once more after the neighbours' detection window, in
  // case a removal was still in flight at the first answer. A member is
  // just answered; a removed peer is added back.
  void recheck(time_point now, seam::random& rng, output& out);
  // Asks every seed to remove this peer (a clean shutdown), retried every
  // register_retry until one confirms; registration stops.
  void leave(time_point now, output& out);
  bool leaving() const noexcept { return leaving_; }
  bool left() const noexcept { return left_; }
  // The PL: peer -> the degree the seeds reported (0 when learnt from a pong).
  const std::map<node_id, std::uint16_t>& known() const noexcept { return known_; }

 private:
  const part_context& ctx_;
  bool registered_ = false;
  time_point next_register_at_{};
  std::uint64_t register_id_ = 0;
  bool leaving_ = false, left_ = false;
  time_point next_leave_at_{};
  void send_leave(time_point now, output& out);
  std::map<node_id, std::uint16_t> known_;
  bool declare_dirty_ = false;
  time_point next_declare_at_{};
  time_point last_declared_{};  // the lease's last renewal
  bool rechecking_ = false;      // a register sent by recheck() awaits its answer
  time_point second_check_at_{};  // recheck()'s second registration (0: none)
};

}  // namespace confab::peers
