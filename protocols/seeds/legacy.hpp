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
// Legacy peers carry no confirmations, so their reports are weighed by
// distinct reporter addresses: see seed_config::legacy_min_reporters and
// docs/seeds.md. Parsing is pure; the gateway that serves the port lives in
// tools/confab/legacy_gateway.
//
// Thread: values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/seam/env.hpp"

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

}  // namespace confab::seeds::legacy
