// confab seeds: the legacy text dialect of the original implementation.
//
// Peers of the original design speak one message per TCP connection, with
// no framing and no newline. A seed that enables the dialect (on its own
// port) understands:
//   `IP:PORT`                                  register that peer; answered
//                                              with the PL as `IP:PORT` lines
//                                              joined by `\n` (the new peer
//                                              included)
//   `Dead Node:<ip>:<port>:<timestamp>:<ip>`   a dead-node report (the
//                                              timestamp may itself hold
//                                              colons; the reporter's IP is
//                                              the last field)
// and tells existing legacy peers of a new one, on a new connection, with
// `(SEED)ADDED NEW NODE TO NETWORK:<seed port>:<ip>:<port>`.
//
// A registration must come from the IP it registers. A report's reporter
// must be the connection's IP, and the seed counts it as the report of the
// PL member with that IP, under the native rule (seed_config::legacy_reports,
// docs/seeds.md). Parsing and the gateway's decisions (`gateway_core`) are
// pure; the driver that serves the port (tools/confab/legacy_gateway) only
// carries texts and frames.
//
// Thread: values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/seam/env.hpp"
#include "protocols/seeds/client.hpp"

namespace confab::seeds::legacy {

inline constexpr std::size_t message_bytes_max = 4096;

struct register_text {
  seam::node_id peer;
};
struct dead_text {
  seam::node_id suspect;
  std::string timestamp;
  std::uint32_t reporter_ip;  // host order
};
using message = std::variant<register_text, dead_text>;

// ## parse
// `malformed` with a detail naming what was wrong.
result<message> parse(std::string_view text);

// The reporter's id as the seeds count it: its IP with port 0.
seam::node_id reporter_id(std::uint32_t ip) noexcept;
bool is_reporter_id(seam::node_id id) noexcept;

std::string pl_text(const std::vector<seam::node_id>& pl);
std::string added_text(std::uint16_t seed_port, seam::node_id peer);

// ## gateway_core
// What the legacy port decides, without I/O. A legacy connection (an id
// the driver picks) brings one text; the core answers with what to send
// to the local seed, on whose behalf, and, once the seed commits a
// registration, the PL text for that connection and the notices for the
// other legacy peers.
//
//   gateway_core gw(seed_port);
//   auto step = gw.on_text(conn, ip, port, text);   // step.native: send to the seed
//   auto done = gw.on_reply(reply);                  // done.conn gets done.reply; done.notices go out
//
// Thread: one driver.
class gateway_core {
 public:
  explicit gateway_core(std::uint16_t seed_port) : seed_port_(seed_port) {}

  struct to_seed {
    seam::node_id sender;          // the legacy peer, or a reporter's id (its IP, port 0)
    std::vector<std::byte> bytes;  // a client message, encoded (encode_client)
  };
  struct step {
    std::optional<to_seed> native;  // to the local seed
    bool awaits_reply = false;      // a registration: keep the connection for the PL
    std::string log;                // one line for the seed's log
  };
  // A text from connection `conn`, whose source address is
  // `source_ip`:`source_port` (host order).
  step on_text(std::uint64_t conn, std::uint32_t source_ip, std::uint16_t source_port, std::string_view text);

  struct answer {
    std::uint64_t conn = 0;
    std::optional<std::string> reply;                           // the PL text; none: not committed
    std::vector<std::pair<seam::node_id, std::string>> notices;  // to other legacy peers, each on a new connection
    std::string log;
  };
  // The local seed's reply to a registration; none when it answers no
  // connection still waiting.
  std::optional<answer> on_reply(const register_reply& r);
  // The driver gave up waiting for connection `conn` (the seed did not commit in time).
  void forget(std::uint64_t conn);

  std::size_t waiting() const noexcept { return pending_.size(); }
  const std::set<seam::node_id>& legacy_peers() const noexcept { return legacy_peers_; }

 private:
  struct pending {
    std::uint64_t conn;
    seam::node_id peer;
  };
  std::uint16_t seed_port_;
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, pending> pending_;  // request id -> who waits
  std::set<seam::node_id> legacy_peers_;      // registered through this gateway
};

}  // namespace confab::seeds::legacy
