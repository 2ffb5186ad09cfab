// `confab seed`'s legacy port: a gateway between the original text dialect
// (protocols/seeds/legacy.hpp) and the seed's native protocol.
//
// Each legacy connection carries one message. A registration is passed to
// the local seed as a native register request on the peer's behalf, and
// answered, once committed, with the PL as `IP:PORT` lines; the gateway then
// tells the other legacy peers it has registered, each on a new connection,
// `(SEED)ADDED NEW NODE TO NETWORK:...`. A dead-node report is passed on
// with the reporter named by its IP (and refused when the connection does
// not come from that IP). Garbage, oversized or silent connections get a
// logged error and are closed; the gateway keeps serving. Connections held
// at once are capped per source IP and in total.
//
// Legacy peers it has registered are remembered by this seed only (not
// replicated): another seed's gateway notifies the peers it registered.
#pragma once

#include <functional>
#include <stop_token>
#include <string>

#include "engine/core/task.hpp"
#include "engine/io/reactor.hpp"
#include "engine/net/address.hpp"
#include "engine/seam/env.hpp"
#include "protocols/common/auth.hpp"

namespace confab::tools {

// What the legacy port refused, for the metrics; owned by the caller.
struct legacy_port_stats {
  std::uint64_t accepted = 0, refused_over_cap = 0, closed_bad = 0;  // closed_bad: silent, oversized, garbage or spoofed
};

struct legacy_gateway_options {
  net::address listen;          // the legacy port
  seam::node_id seed;           // the local seed's native endpoint
  const protocols::cluster_auth* auth = nullptr;  // the cluster key, when set
  std::function<void(const std::string&)> log;  // one line per event
  // Connections held at once (each carries one message): over a cap, a
  // connection is closed at once with a logged reason; 0 = no cap.
  std::size_t connections_per_source_max = 64;
  std::size_t connections_max = 1024;
  legacy_port_stats* stats = nullptr;  // counted here when set
};

// Serves until `st` is triggered; fails only when the port cannot be bound.
task<result<void>> serve_legacy(io::reactor& r, legacy_gateway_options o, std::stop_token st);

}  // namespace confab::tools
