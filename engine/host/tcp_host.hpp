// confab engine: hosting a seam::node on real TCP.
//
// A `tcp_host` runs one protocol node on a reactor: it listens on the node's
// address, connects lazily to peers it sends to, frames each message as
// [u32 length][u64 sender][payload] (engine/host/link.hpp), and drives the node's
// one timer with an absolute sleep. The node sees exactly the `seam::env`
// it sees in the simulator.
//
//   host::tcp_host h(reactor, id, directory, std::make_unique<my_node>(), seed);
//   co_await h.run(stop_token);   // until stopped; then every task is joined
//
// A node id below the directory's size is looked up there; an endpoint id
// (seam::endpoint_id) is its own address, so a node can answer one it was
// never configured with. Any other id is `unreachable`.
//
// `send` never blocks: a message to a peer whose queue is above its
// high-water mark is refused with `queue_full`, one to a peer that cannot be
// reached is dropped (counted) and the link retries on the next send.
// What peers leave unread is bounded per connection and in total (their
// reading pauses, then they are closed); idle and slowloris connections
// and connections over a per-source cap are closed (options, stats).
// Malformed or oversized frames, and messages the node refuses, close that
// connection only. A connection to a known node that ends while the host
// serves, or a connect that fails, is reported to the node
// (`node::on_link_down`).
//
// Thread: the reactor's.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <unordered_map>
#include <vector>

#include "engine/core/scope.hpp"
#include "engine/net/address.hpp"
#include "engine/net/connection.hpp"
#include "engine/net/listener.hpp"
#include "engine/net/source_gate.hpp"
#include "engine/seam/env.hpp"
#include "engine/host/link.hpp"
#include "engine/host/node_timer.hpp"

namespace confab::host {

struct tcp_host_options {
  std::uint32_t message_bytes_max = 1u << 20;
  // Replies a peer leaves unread, per connection: above it, sends to that
  // peer are refused and reading from its connection pauses until it reads.
  std::size_t send_high_water = 1u << 20;
  // The same for all connections together: above it, only connections
  // holding less than `unread_share_min` still get replies.
  std::size_t unread_bytes_max_total = 64u << 20;
  std::size_t unread_share_min = 64u << 10;
  // A connection whose reading stayed paused this long (its peer reads
  // nothing) is closed, with the reason given to on_bad_input.
  io::clock::duration unread_stall_max = std::chrono::seconds(10);
  // An accepted connection that has not brought its first complete frame
  // within this is closed (held idle, slowloris, a half-open scan): it has
  // named no node, so closing it tells no node anything. Zero: never.
  io::clock::duration first_frame_timeout = std::chrono::seconds(10);
  // An accepted connection whose node has sent no complete frame for this
  // long is closed, without on_link_down (no sign of a dead peer). Zero:
  // never (peers' links carry pings; a seed's clients may fall quiet).
  io::clock::duration idle_timeout{};
  // Accepted connections held at once from one source IP; zero: no cap.
  std::size_t connections_per_source_max = 0;
  std::size_t pending_max = 1024;  // messages held while a link connects
  io::clock::duration connect_timeout = std::chrono::seconds(2);
  // Called for every connection closed over bad input (oversized, truncated
  // or malformed frame, or a message the node refused), with the peer's
  // address and the error naming what was wrong.
  std::function<void(const net::address&, const error&)> on_bad_input;
  // Where to listen when it is not the node's own address (a node behind
  // NAT, or one bound to 0.0.0.0 that others reach as its advertised IP).
  std::optional<net::address> bind;
  // Called once the node's address is bound, before the node starts (a
  // command says "serving" here, never before a bind that can fail).
  std::function<void()> on_serving;
  // A bind refused as address-in-use is tried again every 100 ms for this
  // long: a process killed with SIGKILL keeps its io_uring listener until
  // the kernel has torn its ring down, so a node restarted at once can find
  // its own port still taken. 0: fail at once.
  io::clock::duration bind_wait{};
  // Called once when the first bind is refused and bind_wait is not 0.
  std::function<void(const error&)> on_bind_wait;
};

struct tcp_host_stats {
  std::uint64_t sent = 0, received = 0, dropped = 0, refused = 0, bad_frames = 0, rejected = 0, connects = 0;
  // Hostile or broken clients: reading paused for unread replies, closed
  // for it, closed idle, refused over the per-source cap.
  std::uint64_t paused = 0, closed_unread = 0, closed_idle = 0, refused_source = 0;
  std::size_t unread_bytes = 0;  // now, all connections
};

class tcp_host {
 public:
  tcp_host(io::reactor& r, node_id self, std::vector<net::address> directory, std::unique_ptr<node> n,
           std::uint64_t seed, tcp_host_options o = {});
  ~tcp_host();
  tcp_host(const tcp_host&) = delete;
  tcp_host& operator=(const tcp_host&) = delete;

  // Binds, starts the node, and serves until `st` is triggered; returns
  // after every connection is closed and every task joined. Fails when the
  // address cannot be bound.
  task<result<void>> run(std::stop_token st);

  node& get() noexcept { return *node_; }
  // Runs `fn` with the node's environment on the host's thread, as a
  // callback would (what it sends goes out, the timer it sets holds): how a
  // driver hands the node work from outside, e.g. a leave on shutdown.
  // Only between run()'s start and its stop token.
  void act(const std::function<void(seam::env&)>& fn);
  const tcp_host_stats& stats() noexcept {
    stats_.unread_bytes = unread_total_;
    stats_.refused_source = gate_.refused_source();
    return stats_;
  }

 private:
  class env_impl;
  struct link;
  struct inbound_state {
    io::clock::time_point last_frame;
    net::source_gate::ticket place;  // under connections_per_source_max
    bool identified = false;  // a complete frame arrived
    bool idle_closed = false;
  };
  task<void> accept_loop(net::listener& l, std::stop_token st);
  task<void> idle_sweep(std::stop_token st);
  bool over_unread_share(const net::connection& c) const noexcept;
  task<void> read_loop(std::shared_ptr<net::connection> c, node_id peer, std::stop_token st);
  task<void> connect_link(node_id to, std::stop_token st);
  result<void> send(node_id to, std::span<const std::byte> payload);
  void set_timer(time_point at);
  time_point now() const noexcept;
  std::optional<net::address> resolve(node_id id) const;

  io::reactor& r_;
  node_id self_;
  std::vector<net::address> directory_;
  std::unique_ptr<node> node_;
  std::unique_ptr<env_impl> env_;
  tcp_host_options opts_;
  // Kept by every connection (count_queued_in): declared before the links
  // and tasks that own connections, so it outlives them.
  std::size_t unread_total_ = 0;
  std::unordered_map<node_id, std::unique_ptr<link>> links_;
  task_scope tasks_;
  std::stop_token stop_;
  io::clock::time_point epoch_;
  node_timer timer_;
  tcp_host_stats stats_;
  net::source_gate gate_;  // before inbound_: its tickets give their places back to it
  std::unordered_map<net::connection*, inbound_state> inbound_;
};

}  // namespace confab::host
