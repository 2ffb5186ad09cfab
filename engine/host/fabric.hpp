// confab engine: many seam nodes per reactor, through the RTT emulator.
//
// A `fabric` hosts thousands of protocol nodes on one reactor thread; a
// `fabric_group` ties one fabric per thread into one cluster. Every message
// a node sends waits in the fabric's delay line (engine/delay) for the due
// time its link's model gives, and is then handed over by one of two
// transports, the same for every node of the group:
//
//   inproc  straight to the receiving node (posted to its thread when the
//           receiver lives on another reactor): no kernel, no descriptor,
//           for clusters beyond what descriptors allow;
//   tcp     written to a real TCP connection through the kernel, from the
//           sender's own 127.x address to the receiver's. One listener per
//           fabric serves every node of that thread and routes an accepted
//           connection by its destination address; one connection per pair
//           of nodes, whichever dialled first, carries both directions;
//           connections idle for `idle_close` end with a goodbye frame (not
//           a failure), so a peer holds descriptors only for live links.
//
// Node ids are endpoint ids (seam::endpoint_id): node g of the group has the
// address 127.1.0.1 + g and the port `base_port + (g % threads)`, so the
// owning thread and the node are computed from an id, never looked up.
//
//   host::fabric_group g({.threads = 2, .transport = host::transport_kind::tcp, .base_port = 17400});
//   // on thread t:
//   host::fabric f(g, t, reactor, seed);
//   f.add(g.id_of(5), make_node(), start_at);
//   co_await f.run(stop);
//
// Faults (on the owning thread, at the time the scenario says): `crash`
// closes a node's connections (its peers see the reset, as when a process
// dies) and refuses later ones; `pause` holds its messages and timer (as
// SIGSTOP; connections stay up); `partition` drops frames on the links
// between two sets at the sender, symmetric or one-way, until `heal`.
//
// The pump: one absolute timeout (io::sleep_until) wakes the reactor at the
// earlier of the delay line's next due slot and the earliest node timer; it
// is re-armed only when something earlier arrives. Lateness (hand-over time
// minus due time) is recorded per frame.
//
// Thread: a fabric is used on its reactor's thread only; its `stats()` may be
// read from any thread (relaxed counters).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <optional>
#include <stop_token>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/core/histogram.hpp"
#include "engine/core/scope.hpp"
#include "engine/delay/delay_line.hpp"
#include "engine/io/reactor.hpp"
#include "engine/net/address.hpp"
#include "engine/net/connection.hpp"
#include "engine/net/listener.hpp"
#include "engine/host/link.hpp"
#include "engine/fault/fault.hpp"
#include "engine/seam/env.hpp"

namespace confab::host {

// ## transport_kind
// How a fabric's nodes reach each other: `inproc` hands frames over in
// memory through the delay line; `tcp` sends them over real loopback TCP
// after the delay line. `transport_from_name` is the one parser of the
// names ("tcp", "inproc"), for command lines and scenario files alike.
enum class transport_kind : std::uint8_t { inproc, tcp };
const char* transport_name(transport_kind k) noexcept;
std::optional<transport_kind> transport_from_name(std::string_view name) noexcept;

struct fabric_group_options {
  unsigned threads = 1;
  transport_kind transport = transport_kind::inproc;
  std::uint16_t base_port = 17400;  // tcp: fabric t listens on base_port + t
  std::uint32_t first_ip = 0x7f010001;  // 127.1.0.1: node 0's address
};

class fabric;

// ## fabric_group
// What every fabric of a cluster shares: the id scheme, the link models, and
// the fabrics themselves (for in-process hand-over across threads).
class fabric_group {
 public:
  explicit fabric_group(fabric_group_options o);
  const fabric_group_options& options() const noexcept { return o_; }
  node_id id_of(std::uint32_t g) const noexcept {
    return endpoint_id(o_.first_ip + g, static_cast<std::uint16_t>(o_.base_port + g % o_.threads));
  }
  // The node number of an id of this group, or -1.
  std::int64_t index_of(node_id id) const noexcept;
  unsigned thread_of(std::uint32_t g) const noexcept { return g % o_.threads; }

  // The model of link a -> b (node numbers). Defaults to `default_link`.
  std::function<delay::link_model(std::uint32_t a, std::uint32_t b)> link_model_for;
  delay::link_model default_link{};

  // Filled by each fabric on construction.
  void attach(unsigned thread, fabric* f);
  fabric* at(unsigned thread) const noexcept { return fabrics_[thread].load(std::memory_order_acquire); }

 private:
  fabric_group_options o_;
  std::unique_ptr<std::atomic<fabric*>[]> fabrics_;
};

struct fabric_options {
  std::uint32_t message_bytes_max = 1u << 20;
  std::size_t send_high_water = 4u << 20;  // tcp: a link above it drops new frames (counted)
  std::size_t pending_max = 4096;          // tcp: frames held while a link connects
  duration connect_timeout = std::chrono::seconds(2);
  duration idle_close = std::chrono::seconds(0);  // tcp: 0 keeps idle connections
  // tcp: connections with a node numbered below `quick_below` (the seeds,
  // which every peer dials to register) close after this shorter idle time.
  std::uint32_t quick_below = 0;
  duration idle_close_quick = std::chrono::seconds(1);
  std::size_t backlog_max = 65536;         // frames held for a paused node
  // tcp: connections as io_uring direct descriptors (outside the open-files
  // limit) where the reactor has a registered file table
  // (backend_options::direct_descriptors); ordinary descriptors otherwise.
  bool direct = true;
  // The pump sleeps at least this long between turns, so frames due close
  // together leave in one wake-up: each timer armed costs far more than a
  // frame, and lateness grows by at most this.
  duration wake_quantum = std::chrono::microseconds(25);
  // Bad input on a connection (oversized, malformed, refused by the node):
  // the peer's address and the error; that connection only is closed.
  std::function<void(const net::address&, const error&)> on_bad_input;
};

// Counters another thread may read (progress lines). Written by the
// fabric's thread only.
struct fabric_stats {
  std::atomic<std::uint64_t> frames_sent{0}, bytes_sent{0}, frames_delivered{0}, dropped_loss{0},
      dropped_partition{0}, dropped_dead{0}, dropped_queue{0}, bad_input{0}, connects{0}, connect_failures{0},
      idle_closed{0}, link_downs{0}, timers{0}, open_connections{0}, nodes_up{0},
      // tcp, from every link's sequence numbers: a frame that arrived past
      // a gap (frames_gap) and one that arrived after a later one of its
      // link (frames_late, so it filled a gap). Both 0 while every link
      // keeps its frames in order; gap minus late is what never came.
      frames_gap{0}, frames_late{0};
};

// Lateness (hand-over time minus due time), in ns.
using lateness_histogram = latency_histogram;

class fabric {
 public:
  fabric(fabric_group& g, unsigned thread, io::reactor& r, std::uint64_t seed, fabric_options o = {});
  ~fabric();
  fabric(const fabric&) = delete;
  fabric& operator=(const fabric&) = delete;

  // ## add
  // Hosts node number `g` (which must belong to this thread) and starts it at
  // `start_at` (time since the group's epoch).
  void add(std::uint32_t g, std::unique_ptr<node> n, time_point start_at);

  // ## run
  // Binds (tcp), serves every node until `st` is triggered, then closes every
  // connection and joins every task. `epoch` is the group's time zero,
  // the same on every thread.
  task<result<void>> run(io::clock::time_point epoch, std::stop_token st);

  // ## faults (this thread's nodes and links)
  void crash(std::uint32_t g);
  // A killed node comes back as `n` (a fresh start: its links are new; what
  // it kept on disk is the node's business), started now.
  void restart(std::uint32_t g, std::unique_ptr<node> n);
  void pause(std::uint32_t g, duration d);
  // Frames from a node of `a` to one of `b` (and back when symmetric) are
  // dropped at the sender, on links that exist and links made later.
  void partition(std::vector<std::uint32_t> a, std::vector<std::uint32_t> b, bool symmetric);
  void heal();
  // Frames on the links between the sets (both ways when symmetric) are
  // held when due, and leave in order, at once, when `unclog` lifts it: a
  // stalled path rather than a cut one.
  void clog(std::vector<std::uint32_t> a, std::vector<std::uint32_t> b, bool symmetric);
  void unclog();
  // Any fault of the shared vocabulary (engine/fault/fault.hpp), by slot
  // number; a restart builds its fresh node with `make` (none: no restart).
  using node_factory = std::function<std::unique_ptr<node>(std::uint32_t)>;
  void apply(const fault::action<std::uint32_t>& a, const node_factory& make = {});

  // ## queries
  node* get(std::uint32_t g) noexcept;  // nullptr when not hosted here
  bool alive(std::uint32_t g) const noexcept;
  bool started(std::uint32_t g) const noexcept;
  time_point now() const noexcept;
  const fabric_stats& stats() const noexcept { return stats_; }
  const lateness_histogram& lateness() const noexcept { return lateness_; }
  const delay::delay_stats& delay_stats() const noexcept { return delay_.stats(); }
  std::size_t nodes() const noexcept { return slots_.size(); }

  // ## frames_never_delivered
  // tcp, after every fabric of the group has stopped (any thread, then):
  // frames accepted by env::send on links between two nodes alive at the
  // end that never reached the receiver, counted from each link's last
  // sequence number sent and received. Links whose last frame was accepted
  // within `settle` of the end are left out (it may still be on its way).
  // With the gaps a receiver sees during the run (stats frames_gap), this
  // catches a loss at the end of a link too, with no later frame to show it.
  static std::uint64_t frames_never_delivered(const fabric_group& g, duration settle);

 private:
  class env_impl;
  struct slot;
  struct tcp_link;
  struct frame_rec {
    node_id from = 0, to = 0;
    delay::link_id link = 0;
    std::vector<std::byte> bytes;  // tcp: framed; inproc: the payload
    std::uint32_t next_free = 0;
  };
  struct partition_rule {
    std::unordered_set<std::uint32_t> a, b;
    bool symmetric;
  };
  struct handoff {
    node_id from, to;
    std::vector<std::byte> payload;
    bool link_down = false;  // `from` is gone: tell `to`
  };
  friend class env_impl;

  slot* local(node_id id) noexcept;
  slot* local_g(std::uint32_t g) noexcept;
  result<void> send(slot& s, node_id to, std::span<const std::byte> payload);
  void set_timer(slot& s, time_point at);
  delay::link_id link_for(std::uint32_t from_g, std::uint32_t to_g);
  bool cut(std::uint32_t from_g, std::uint32_t to_g) const { return matches(rules_, from_g, to_g); }
  static bool matches(const std::vector<partition_rule>& rules, std::uint32_t from_g, std::uint32_t to_g);
  void hand_over(std::uint64_t handle, std::uint64_t due_ns, std::uint64_t now_ns);
  void deliver(node_id from, node_id to, std::span<const std::byte> payload);
  void deliver_link_down(node_id gone, node_id to);
  void post_remote(unsigned thread, handoff h);
  void take_inbox();
  void fire_timers(time_point now);
  void start_node(slot& s);
  void resume_node(slot& s);
  void wake() noexcept;
  std::uint64_t now_ns() const noexcept;
  static void on_posted(void* self) noexcept;
  // tcp
  void tcp_write(slot& s, node_id to, std::vector<std::byte>&& framed);
  task<void> connect_link(std::uint32_t local_g, node_id to, std::stop_token st);
  task<void> read_loop(std::shared_ptr<net::connection> c, std::uint32_t local_g, node_id peer, std::stop_token st);
  task<void> accept_loop(net::listener& l, std::stop_token st);
  task<void> idle_sweeper(std::stop_token st);
  task<void> pump(std::stop_token st);
  void drop_connections(slot& s);

  fabric_group& group_;
  unsigned thread_;
  io::reactor& r_;
  fabric_options o_;
  std::vector<std::unique_ptr<slot>> slots_;  // local index = g / threads
  delay::delay_line delay_;
  std::unordered_map<std::uint64_t, delay::link_id> links_;  // (from_g << 32 | to_g)
  std::vector<std::uint64_t> link_keys_;                     // by link id
  std::vector<frame_rec> frames_;
  std::uint32_t free_frame_ = ~std::uint32_t{0};
  std::vector<partition_rule> rules_, clogs_;
  std::unordered_map<delay::link_id, std::vector<std::uint64_t>> held_;  // clogged links: frame handles in due order
  void release(std::uint64_t handle);  // hand a due frame to its transport
  // timers: (at, local index); lazy deletion against slot::queued_at
  using timer_entry = std::pair<std::int64_t, std::uint32_t>;
  std::priority_queue<timer_entry, std::vector<timer_entry>, std::greater<>> timers_;
  // cross-thread in-process hand-over
  std::mutex inbox_mu_;
  std::vector<handoff> inbox_;
  std::atomic<bool> inbox_posted_{false};
  std::vector<handoff> inbox_taken_;
  std::vector<std::vector<handoff>> outbox_;  // per thread, flushed once per pump turn
  // pump
  io::clock::time_point epoch_{};
  std::int64_t armed_ns_ = -1;  // when the pump's sleep ends; -1 while pumping
  std::unique_ptr<std::stop_source> wake_;
  bool running_ = false;
  std::stop_token stop_;
  std::unique_ptr<net::listener> listener_;
  task_scope tasks_;
  fabric_stats stats_;
  lateness_histogram lateness_;
  seam::random rng_;
};

}  // namespace confab::host
