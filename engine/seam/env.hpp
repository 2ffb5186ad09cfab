// confab engine: the one seam protocols see.
//
// A protocol node talks to the world only through an `env`: its own id, a
// clock, a seeded random source, `send` to a peer, and one timer. The world
// talks to the node through `node` callbacks. The same node runs on real TCP
// (an env backed by a reactor), on the in-process delay line, and in the
// deterministic simulator (`sim::simulator`), which replays a seed bit for
// bit.
//
//   struct flooder : seam::node {
//     void on_start(seam::env& e) override { e.set_timer(e.now() + 1s); }
//     result<void> on_message(seam::env& e, seam::node_id from, std::span<const std::byte> m) override { ... }
//     void on_timer(seam::env& e) override { ... }
//   };
//
// Thread: callbacks run on one thread per env; an env is never shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/core/result.hpp"

namespace confab::seam {

// ## node_id
// Opaque to protocol cores. Small ids index a directory (the simulator
// numbers its nodes 0, 1, ...); an endpoint id names a node by the IPv4
// address and port it listens on, so a transport can reach a node it was
// never told about (a peer registering with a seed) and protocols can print
// the documents' `IP:PORT` form.
using node_id = std::uint64_t;
inline constexpr node_id endpoint_tag = node_id{1} << 63;
constexpr node_id endpoint_id(std::uint32_t ipv4_host_order, std::uint16_t port) noexcept {
  return endpoint_tag | (node_id{ipv4_host_order} << 16) | port;
}
constexpr bool is_endpoint(node_id id) noexcept { return (id & endpoint_tag) != 0; }
constexpr std::uint32_t endpoint_ipv4(node_id id) noexcept { return static_cast<std::uint32_t>(id >> 16); }
constexpr std::uint16_t endpoint_port(node_id id) noexcept { return static_cast<std::uint16_t>(id); }
using duration = std::chrono::nanoseconds;
// Time since the env's epoch: virtual in the simulator, monotonic on TCP.
using time_point = std::chrono::nanoseconds;

// ## random
// xoshiro256** seeded by splitmix64: fast, and identical on every platform,
// so a seed replays exactly. Never seeded from the clock inside a core.
class random {
 public:
  explicit random(std::uint64_t seed = 0) noexcept { reseed(seed); }
  void reseed(std::uint64_t seed) noexcept {
    for (auto& w : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      w = z ^ (z >> 31);
    }
  }
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n) noexcept { return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
  // Uniform in [0, 1).
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

class env {
 public:
  virtual ~env() = default;
  virtual node_id self() const noexcept = 0;
  virtual time_point now() const noexcept = 0;
  virtual random& rng() noexcept = 0;
  // ## send
  // Queues `payload` for `to` and returns at once. Delivery is not
  // guaranteed (links lose, partition, reset); `queue_full` when the link's
  // bounded queue is full, `unreachable` for an unknown peer.
  virtual result<void> send(node_id to, std::span<const std::byte> payload) = 0;
  // ## set_timer
  // The node's one timer: `on_timer` runs at `at` (absolute). Setting it
  // again replaces the previous deadline.
  virtual void set_timer(time_point at) = 0;
};

class node {
 public:
  virtual ~node() = default;
  virtual void on_start(env& e) = 0;
  // A message the node cannot accept (malformed, forged) is an error value:
  // the host closes the link it came on, counts it, and keeps serving.
  virtual result<void> on_message(env& e, node_id from, std::span<const std::byte> payload) = 0;
  virtual void on_timer(env& e) = 0;
  // The transport lost its connection to `peer`, or could not open one (a
  // reset, a refused connect, a crash in the simulator). Optional.
  virtual void on_link_down(env& e, node_id peer) {
    (void)e;
    (void)peer;
  }
};

// ## line services
// A service whose clients are people or scripts typing lines over
// long-lived connections (`nc -C`, `telnet`: the voting service). The host
// accepts, splits input into lines (a line ends at LF; a CR before it is
// dropped), bounds them, times out silent clients, and writes what the
// service answers; the service sees clients as numbers.
//
//   struct echo : seam::line_service {
//     void on_line(seam::line_env& e, seam::client_id c, std::string_view l) override { (void)e.write(c, l); }
//     ...
//   };
using client_id = std::uint64_t;

// Why a client's connection ended.
enum class client_end : std::uint8_t {
  closed,  // the service closed it (after writing what it had queued)
  gone,    // the client closed or reset it
  idle,    // silent longer than the host's idle timeout
  slow,    // it did not read what it was sent (the host's write bound)
  stopped  // the host is stopping
};

class line_env {
 public:
  virtual ~line_env() = default;
  virtual time_point now() const noexcept = 0;
  // ## write
  // Queues `line` and a CRLF for client `c`. `unreachable` when `c` is gone
  // or closing; `queue_full` when the client has not read the host's bound
  // of bytes: it is then closed (`client_end::slow`).
  virtual result<void> write(client_id c, std::string_view line) = 0;
  // ## close
  // Closes `c` once what was queued is written. Idempotent.
  virtual void close(client_id c) = 0;
  // The service's one timer, as env::set_timer.
  virtual void set_timer(time_point at) = 0;
};

class line_service {
 public:
  virtual ~line_service() = default;
  virtual void on_start(line_env& e) = 0;
  // A client connected from `address` (IP:PORT) to the listener numbered
  // `listener` (a host may serve several ports, one dialect each).
  virtual void on_open(line_env& e, client_id c, std::string_view address, unsigned listener) = 0;
  virtual void on_line(line_env& e, client_id c, std::string_view line) = 0;
  // A line over the host's bound: its bytes up to the next LF are dropped
  // and the connection is kept; the service says what it wants.
  virtual void on_line_too_long(line_env& e, client_id c) = 0;
  // The client shut down its sending side: no more lines will come. What
  // it sent is answered; the service closes it when it has (half-close).
  virtual void on_input_end(line_env& e, client_id c) { e.close(c); }
  // The connection is gone; `c` is never seen again.
  virtual void on_closed(line_env& e, client_id c, client_end why) = 0;
  virtual void on_timer(line_env& e) = 0;
};

}  // namespace confab::seam
