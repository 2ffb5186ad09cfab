// confab engine: the deterministic simulator.
//
// N protocol nodes in one process on a virtual clock and a seeded network:
// per-message delay, loss, duplication, partitions (symmetric or one-way),
// crashes (which reset the crashed node's links, as TCP does), pauses and
// restarts. Events are ordered by (time, insertion sequence), and
// every random draw comes from the simulator's seeded generator, so a seed
// replays bit for bit; `trace_hash()` summarises every delivery and timer so
// tests can check exactly that. A failing property prints its seed.
//
//   sim::simulator s(seed, {.delay_min = 1ms, .delay_max = 10ms, .loss = 0.01});
//   for (int i = 0; i < 5; ++i) s.add_node([](seam::node_id) { return std::make_unique<my_node>(); });
//   s.run_for(10s, [&] { check_invariants(s); });
//
// Thread: single-threaded.
#pragma once

#include <functional>
#include <memory>
#include <queue>
#include <set>
#include <utility>
#include <vector>

#include "engine/fault/fault.hpp"
#include "engine/seam/env.hpp"

namespace confab::sim {

using namespace std::chrono_literals;

struct network_model {
  seam::duration delay_min = 1ms;
  seam::duration delay_max = 10ms;
  double loss = 0.0;       // probability a message is dropped (or, with retransmit, delayed)
  // TCP semantics: a lost segment is sent again after a retransmission
  // timeout, so loss becomes delay (`rto` more), never a missing message.
  bool retransmit = false;
  seam::duration rto = 200ms;
  double duplicate = 0.0;  // probability it is delivered twice
  std::size_t message_bytes_max = 1 << 20;
  // A crash resets every connection to the node (peers get on_link_down),
  // and a send to a crashed node is refused the same way, as on TCP.
  bool reset_on_crash = true;
};

struct sim_stats {
  std::uint64_t sent = 0, delivered = 0, lost = 0, retransmitted = 0, duplicated = 0, partitioned = 0, to_crashed = 0,
                timers = 0, rejected = 0, clogged = 0;
};

class simulator {
 public:
  using factory = std::function<std::unique_ptr<seam::node>(seam::node_id)>;

  simulator(std::uint64_t seed, network_model m = {});
  ~simulator();
  simulator(const simulator&) = delete;
  simulator& operator=(const simulator&) = delete;

  // Adds a node made by `f` and starts it at the current time.
  seam::node_id add_node(factory f);
  std::size_t size() const noexcept { return nodes_.size(); }
  seam::node* get(seam::node_id id) noexcept;  // nullptr while crashed
  bool alive(seam::node_id id) const noexcept;

  // ## faults
  void crash(seam::node_id id);    // drops the node's state, its timer and messages to it
  void restart(seam::node_id id);  // a fresh node from its factory, started now
  // SIGSTOP for `d`: the node handles nothing (messages, timers) until it
  // resumes, then everything that waited, in order. Connections stay up.
  void pause(seam::node_id id, seam::duration d);
  // Messages from any node of `a` to any of `b` (and back, when symmetric) are dropped.
  void partition(const std::vector<seam::node_id>& a, const std::vector<seam::node_id>& b, bool symmetric = true);
  void heal();
  // Messages between the sets (both ways when symmetric) are held when due
  // and delivered in order, at once, when `unclog` lifts it: a stalled path
  // rather than a cut one.
  void clog(const std::vector<seam::node_id>& a, const std::vector<seam::node_id>& b, bool symmetric = true);
  void unclog();
  // Any fault of the shared vocabulary (engine/fault/fault.hpp).
  void apply(const fault::action<seam::node_id>& a);
  void set_model(network_model m) noexcept { model_ = m; }

  // ## running
  // Processes the next event; false when none is left.
  bool step();
  // Runs until the virtual clock passes `t` (or no events remain), calling
  // `after_each` after every event.
  void run_until(seam::time_point t, const std::function<void()>& after_each = {});
  void run_for(seam::duration d, const std::function<void()>& after_each = {}) { run_until(now_ + d, after_each); }

  seam::time_point now() const noexcept { return now_; }
  std::uint64_t seed() const noexcept { return seed_; }
  std::uint64_t trace_hash() const noexcept { return hash_; }
  const sim_stats& stats() const noexcept { return stats_; }

 private:
  class node_env;
  struct event {
    seam::time_point at;
    std::uint64_t seq;
    int kind;  // 0 deliver, 1 timer, 2 link down (from = the lost peer)
    seam::node_id from, to;
    std::uint64_t generation;  // timers: must match; deliveries: incarnation of `to`
    std::vector<std::byte> payload;
    bool operator>(const event& o) const noexcept { return at != o.at ? at > o.at : seq > o.seq; }
  };
  struct slot;
  void push(event e);
  void mix(std::uint64_t v) noexcept;
  result<void> send_from(seam::node_id from, seam::node_id to, std::span<const std::byte> payload);
  void set_timer_for(seam::node_id id, seam::time_point at);
  bool blocked(seam::node_id from, seam::node_id to) const;

  std::uint64_t seed_;
  network_model model_;
  seam::random rng_;
  seam::time_point now_{0};
  std::uint64_t seq_ = 0;
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
  std::priority_queue<event, std::vector<event>, std::greater<>> events_;
  std::vector<std::unique_ptr<slot>> nodes_;
  std::set<std::pair<seam::node_id, seam::node_id>> cut_;
  std::set<std::pair<seam::node_id, seam::node_id>> clogged_;
  std::vector<event> held_;  // clogged deliveries, in the order they fell due
  sim_stats stats_;
};

}  // namespace confab::sim
