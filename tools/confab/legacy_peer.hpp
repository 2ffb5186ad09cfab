// `confab peer` in the legacy dialect: a confab peer that joins the seeds
// of the original implementation behind source 002 and lives beside its
// peers.
//
// The same peer node runs as on native TCP; this host translates its
// messages to and from the original's text, one message per TCP
// connection:
//   register (to seeds)      `IP:PORT`, answered with `IP:PORT` lines
//   pushed by seeds          `(SEED)ADDED NEW NODE TO NETWORK:<seed port>:<ip>:<port>`
//   ping / its reply         `(PEER)PING:<ip>:<port>` / `(PEER)PING_REPLY:<ip>:<port>`,
//                            the reply on a new connection
//   gossip                   its text (`<timestamp>:<IP>:<Msg#>`), forwarded unchanged
//   dead report (to seeds)   `Dead Node:<ip>:<port>:<timestamp>:<ip>`
// Links need no handshake (the original has none), pongs carry no
// neighbour lists and legacy peers answer no probes, so a legacy-mode peer
// reports a neighbour on its own evidence, as the original does
// (probers_min is 0). Gossip identity is the text itself (origin = the IP
// it names, port 0). Messages with no legacy form (probes, Plumtree
// control, neighbour declarations) are not sent.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/core/scope.hpp"
#include "engine/net/listener.hpp"
#include "engine/seam/env.hpp"
#include "engine/host/node_timer.hpp"

namespace confab::tools {

class legacy_peer_host {
 public:
  legacy_peer_host(io::reactor& r, seam::node_id self, std::vector<seam::node_id> seeds, std::unique_ptr<seam::node> n,
                   std::uint64_t seed, std::function<void(const std::string&)> log);
  ~legacy_peer_host();
  task<result<void>> run(std::stop_token st);

 private:
  class env_impl;
  result<void> send(seam::node_id to, std::span<const std::byte> payload);
  void deliver(seam::node_id from, std::vector<std::byte> bytes);
  void set_timer(seam::time_point at);
  seam::time_point now() const noexcept;
  bool is_seed(seam::node_id id) const;
  task<void> accept_loop(net::listener& l, std::stop_token st);
  task<void> handle(std::unique_ptr<net::connection> c, std::stop_token st);
  task<void> register_with(seam::node_id seed, std::uint64_t request_id, std::stop_token st);
  task<void> send_text(seam::node_id to, std::string text, std::stop_token st);

  io::reactor& r_;
  seam::node_id self_;
  std::vector<seam::node_id> seeds_;
  std::unique_ptr<seam::node> node_;
  std::unique_ptr<env_impl> env_;
  std::function<void(const std::string&)> log_;
  std::unordered_map<seam::node_id, std::uint64_t> last_ping_;
  task_scope tasks_;
  std::stop_token stop_;
  io::clock::time_point epoch_;
  host::node_timer timer_;
};

}  // namespace confab::tools
