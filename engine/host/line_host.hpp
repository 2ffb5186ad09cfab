// confab engine: hosting a seam::line_service, clients typing lines over
// long-lived TCP connections.
//
// One host serves one or more ports (one dialect each: the service is told
// which). For every accepted connection it:
//   - splits what arrives into lines (LF ends a line, a CR before it is
//     dropped) and hands each to the service in order;
//   - drops a line over `line_bytes_max` up to its LF, tells the service
//     (`on_line_too_long`), and keeps the connection;
//   - closes a client silent for `idle_timeout` (0: never);
//   - queues what the service writes without blocking it, and closes a
//     client whose unread output passes `outbox_bytes_max` (it is not
//     reading; memory stays bounded);
//   - on the client's half-close, delivers a last unterminated line, tells
//     the service (`on_input_end`), and keeps writing until the service
//     closes it;
//   - admits connections through per-source and total caps
//     (net::source_gate); one over a cap is closed at once with a logged
//     reason.
// Descriptors: one per connection, direct descriptors on io_uring where the
// kernel offers them (outside the open-files limit).
//
//   host::line_host h(reactor, std::make_unique<vote_service>(...), {.listen = {a, b}});
//   co_await h.run(stop_token);
//
// Thread: the reactor's.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/core/scope.hpp"
#include "engine/host/node_timer.hpp"
#include "engine/net/connection.hpp"
#include "engine/net/listener.hpp"
#include "engine/net/source_gate.hpp"
#include "engine/seam/env.hpp"

namespace confab::host {

struct line_options {
  std::vector<net::address> listen;  // listener k is numbered k for the service
  std::size_t line_bytes_max = 512;
  std::chrono::milliseconds idle_timeout{300000};
  std::size_t outbox_bytes_max = 1 << 20;
  std::size_t connections_per_source_max = 0;
  std::size_t connections_max = 16384;
  std::function<void(const std::string&)> log;  // one line per refused connection
};

struct line_stats {
  std::uint64_t accepted = 0, refused_over_cap = 0, lines = 0, too_long = 0, closed_idle = 0, closed_slow = 0;
  std::size_t open = 0;
};

class line_host {
 public:
  line_host(io::reactor& r, std::unique_ptr<seam::line_service> s, line_options o);
  ~line_host();
  line_host(const line_host&) = delete;
  line_host& operator=(const line_host&) = delete;

  // Binds every address, starts the service and serves until `st` is
  // triggered; returns after every connection is closed and every task
  // joined. Fails when an address cannot be bound (nothing is served then).
  task<result<void>> run(std::stop_token st);
  // The bound addresses (port 0 resolved), once run has bound them.
  const std::vector<net::address>& bound() const noexcept { return bound_; }

  seam::line_service& get() noexcept { return *service_; }
  const line_stats& stats() const noexcept { return stats_; }

 private:
  class env_impl;
  struct client;
  result<void> write(seam::client_id c, std::string_view line);
  void close(seam::client_id c, seam::client_end why);
  void maybe_finish(client& cl);
  task<void> accept_loop(net::listener& l, unsigned index, std::stop_token st);
  task<void> read_loop(client& cl);
  task<void> write_loop(client& cl);
  task<void> finish(seam::client_id id);
  void log(const std::string& line) const;

  io::reactor& r_;
  std::unique_ptr<seam::line_service> service_;
  line_options opts_;
  std::unique_ptr<env_impl> env_;
  net::source_gate gate_;
  std::unordered_map<seam::client_id, std::unique_ptr<client>> clients_;
  seam::client_id next_id_ = 1;
  line_stats stats_;
  std::vector<net::address> bound_;
  task_scope tasks_;
  std::stop_token stop_;
  io::clock::time_point epoch_;
  node_timer timer_;
};

}  // namespace confab::host
