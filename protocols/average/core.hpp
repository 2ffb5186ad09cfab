// confab average: the pure core of one node.
//
// Messages and ticks in, messages and events out; no clock reads, no
// sockets, no randomness. The same core runs in the simulator, on the
// fabric (thousands per process, through the RTT emulator) and one per
// process on TCP.
//
//   average_core c(cfg, self);
//   c.start(now, out);                  // sends x(0) (lock-step) or arms the first push
//   c.on_message(now, from, msg, out);  // an error for a non-neighbour or a state outside the window
//   c.on_tick(now, out);                // at c.next_tick(): the pause, a push, a stall check
//
// Lock-step rounds. Round k+1 needs each neighbour's round k-d state (d =
// staleness; round -j means round 0). A neighbour can then be at most d+1
// rounds ahead and must be no more than d behind, so each neighbour's
// states are kept in a ring of 2d+3 rounds; a state outside that window is
// a protocol error. Arithmetic is in the neighbour order of the config, so
// a run gives the same numbers on every transport and at every delay.
//
// Push-sum. Every `push_interval` the node halves (s, w) and adds the half
// to the running totals of the next neighbour in turn, then sends the
// totals with the edge's sequence number. A receiver adds what the totals
// grew by since the last frame it took from that edge; a frame with a
// sequence number not above the last is stale (a duplicate or overtaken)
// and ignored. So loss and duplication never change the mass
//   sum_i s_i + sum_(i->j) (sent_i->j - taken_j<-i)
// which stays the initial sum: mass_in_flight() gives the second term.
//
// Thread: one per core.
#pragma once

#include <unordered_map>
#include <vector>

#include "protocols/average/api.hpp"
#include "protocols/average/wire.hpp"

namespace confab::average {

struct output {
  std::vector<std::pair<node_id, message>> sends;
  std::vector<average_event> events;
  void clear() {
    sends.clear();
    events.clear();
  }
};

class average_core {
 public:
  average_core(average_config cfg, node_id self);

  void start(time_point now, output& out);
  result<void> on_message(time_point now, node_id from, const message& m, output& out);
  void on_tick(time_point now, output& out);
  // The next time on_tick has something to do (time_point::max(): none).
  time_point next_tick() const noexcept;

  outcome status() const noexcept { return state_; }
  // The node's current value: x(round) in lock-step, s/w in push-sum.
  double x() const noexcept;
  std::uint32_t round() const noexcept { return round_; }
  const std::vector<sample>& history() const noexcept { return history_; }
  // With `observe`: y(0), y(1), ... stacked, each (x_self, x_neighbour...)
  // in config order, one per round the node stepped from.
  const std::vector<double>& observations() const noexcept { return observed_; }
  std::vector<sample> take_history() noexcept { return std::move(history_); }
  const average_config& config() const noexcept { return cfg_; }
  node_id self() const noexcept { return self_; }

  // ## push-sum accounting
  double s() const noexcept { return s_; }
  double w() const noexcept { return w_; }
  // Totals sent on edge self -> `to`, and taken on edge `from` -> self.
  std::pair<double, double> sent_to(node_id to) const noexcept;
  std::pair<double, double> taken_from(node_id from) const noexcept;
  std::uint64_t stale_frames() const noexcept { return stale_; }
  // Lock-step: every neighbour has sent its last round (it has finished),
  // so a node that is done can leave without stranding anyone.
  bool neighbours_finished() const noexcept;

 private:
  struct peer {
    node_id id = 0;
    double weight = 1;
    // lock-step: the ring of received states, by round modulo its size
    std::vector<std::uint32_t> ring_round;
    std::vector<double> ring_x;
    std::vector<bool> ring_have;
    double dt = 0;  // the neighbour's step, from its states
    double x0 = 0;
    bool have_x0 = false;
    std::uint32_t high = 0;  // the latest round received (lock-step)
    bool heard_any = false;
    // push-sum
    double sent_s = 0, sent_w = 0, taken_s = 0, taken_w = 0;
    std::uint64_t sent_seq = 0, taken_seq = 0;
    time_point heard{};
    bool dropped = false;
  };

  bool lock_step() const noexcept { return cfg_.how != mode::push_sum; }
  void broadcast(const message& m, node_id except, output& out);
  void send_state(output& out);
  void resend(output& out);
  // Steps as far as the received states allow.
  void advance(time_point now, output& out);
  bool have(const peer& p, std::uint32_t r) const noexcept;
  double state_of(const peer& p, std::uint32_t r) const noexcept;
  void stop(time_point now, outcome o, node_id who, output& out);
  void push_once(time_point now, output& out);
  void record(time_point now, double x) { history_.push_back({now, x}); }
  peer* find(node_id id) noexcept;
  const peer* find(node_id id) const noexcept;

  average_config cfg_;
  node_id self_;
  std::vector<peer> peers_;
  std::unordered_map<node_id, std::size_t> index_;
  outcome state_ = outcome::running;
  std::vector<sample> history_;
  std::vector<double> observed_;
  std::vector<double> own_;  // lock-step: own states, by round modulo the ring size
  std::uint32_t ring_ = 1;
  std::uint32_t round_ = 0;
  double x_ = 0, scale_ = 1;
  bool sleeping_ = false;
  time_point wake_at_{}, blocked_since_{}, resent_at_{};
  bool blocked_ = false;
  std::uint32_t resends_ = 0;  // resends made while blocked on the current round
  // push-sum
  double s_ = 0, w_ = 1;
  std::uint32_t pushes_ = 0;
  std::size_t next_peer_ = 0;
  time_point next_push_{};
  std::uint64_t stale_ = 0;
  bool started_ = false;
};

}  // namespace confab::average
