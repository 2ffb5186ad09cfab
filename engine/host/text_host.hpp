// confab engine: hosting a seam::node over a text dialect, one message per
// TCP connection.
//
// The original implementation behind the source documents speaks plain
// text, one message per TCP connection, with no framing and no newline: a
// sender connects, writes and closes. A `text_host` runs a node whose
// messages are those texts:
//   - `env::send(to, text)` opens a connection to `to`, writes the text and
//     closes it; when `answered(to)` is true the other side answers on the
//     same connection (a seed answering a registration with its PL), and
//     the answer reaches the node as a message from `to`;
//   - a connection that comes in carries one message: everything until the
//     sender closes, `quiet` after its last bytes, or `first_byte` without
//     any; it reaches the node as a message from the endpoint id of the
//     connection's source address and port.
// A message over `message_bytes_max`, or one the node refuses, is logged
// and its connection closed; the host keeps serving. Connections held at
// once are capped per source IP and in total (text_options). A send that cannot
// connect is reported to the node (`node::on_link_down`). Protocols
// translate their native messages to and from the text in a seam::node of
// their own (protocols/peers/legacy.hpp); the node sees the same seam::env
// it sees on every other host.
//
//   host::text_host h(reactor, self, std::make_unique<legacy_peer_node>(...), seed, {.answered = is_seed});
//   co_await h.run(stop_token);
//
// Thread: the reactor's.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "engine/core/scope.hpp"
#include "engine/host/link.hpp"
#include "engine/host/node_timer.hpp"
#include "engine/net/connection.hpp"
#include "engine/net/listener.hpp"
#include "engine/net/source_gate.hpp"

namespace confab::host {

struct text_options {
  std::size_t message_bytes_max = 4096;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds first_byte{5000};  // an incoming connection's first bytes
  std::chrono::milliseconds quiet{50};         // the end of a message: this long without bytes
  std::chrono::milliseconds answer_first_byte{10000};  // an answer may wait for a commit
  std::chrono::milliseconds answer_quiet{100};
  std::function<bool(node_id)> answered;       // does `to` answer on the connection we open?
  std::function<void(const std::string&)> log;  // one line per refused connection or failed send
  // Incoming connections held at once (each carries one message): over a
  // cap, a connection is closed at once with a logged reason; 0 = no cap.
  std::size_t connections_per_source_max = 64;
  std::size_t connections_max = 1024;
};

// ## read_text_message
// One message from `c`: everything until the sender closes, or `quiet`
// after the last bytes, or `first_byte` without any. `too_large` above
// `bytes_max`.
task<result<std::string>> read_text_message(net::connection& c, std::stop_token st, std::chrono::milliseconds first_byte,
                                            std::chrono::milliseconds quiet, std::size_t bytes_max);

// ## send_text / text_request
// Connects to `to` (within `connect_timeout`), writes `text`; `send_text`
// then closes, `text_request` reads one message back first (the answer).
task<result<void>> send_text(io::reactor& r, node_id to, std::string text, std::stop_token st,
                             const text_options& o = {});
task<result<std::string>> text_request(io::reactor& r, node_id to, std::string text, std::stop_token st,
                                       const text_options& o = {});

class text_host {
 public:
  text_host(io::reactor& r, node_id self, std::unique_ptr<node> n, std::uint64_t seed, text_options o = {});
  ~text_host();
  text_host(const text_host&) = delete;
  text_host& operator=(const text_host&) = delete;

  // Binds the node's address, starts the node, and serves until `st` is
  // triggered; returns after every task is joined. Fails when the address
  // cannot be bound.
  task<result<void>> run(std::stop_token st);

  node& get() noexcept { return *node_; }

 private:
  class env_impl;
  result<void> send(node_id to, std::span<const std::byte> text);
  void deliver(node_id from, const std::string& text);
  task<void> accept_loop(net::listener& l, std::stop_token st);
  task<void> serve_connection(std::unique_ptr<net::connection> c, net::source_gate::ticket place, std::stop_token st);
  task<void> send_one(node_id to, std::string text, std::stop_token st);
  void log(const std::string& line) const;

  io::reactor& r_;
  node_id self_;
  std::unique_ptr<node> node_;
  std::unique_ptr<env_impl> env_;
  text_options opts_;
  net::source_gate gate_;  // before tasks_: the connections' tickets give their places back to it
  task_scope tasks_;
  std::stop_token stop_;
  io::clock::time_point epoch_;
  node_timer timer_;
};

}  // namespace confab::host
