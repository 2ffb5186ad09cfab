// confab peers: wire messages between peers.
//
// Every message is one transport frame: [u8 protocol-version (0x81)]
// [u8 type][body], integers big-endian, lists as a u16 count then items
// (docs/wire.md). The first byte differs from the seeds' (1), so a stray
// message of the other protocol is refused by name. Peers also speak the
// seeds' client messages (protocols/seeds/client.hpp) to seeds.
//
// Thread: values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/seam/env.hpp"

namespace confab::peers {

using seam::node_id;
inline constexpr std::uint8_t wire_version = 0x81;
inline constexpr std::size_t neighbour_list_max = 64;
inline constexpr std::size_t body_bytes_max = 16384;

// ## overlay
struct link_request {
  std::uint64_t incarnation = 0;
};
struct link_accept {
  std::uint64_t incarnation = 0;
};
struct link_close {};

// ## liveness
struct ping {
  std::uint64_t seq = 0;
};
// A pong carries the sender's neighbours, so a pinger knows whom to ask for
// indirect probes when the sender falls silent.
struct pong {
  std::uint64_t seq = 0;
  std::uint64_t incarnation = 0;
  std::vector<node_id> neighbours;
};
struct probe_request {
  node_id suspect = 0;
  std::uint64_t round = 0;
};
struct probe_ping {
  std::uint64_t round = 0;
};
struct probe_ack {
  std::uint64_t round = 0;
  std::uint64_t incarnation = 0;
};
enum class verdict : std::uint8_t { alive = 0, dead = 1, busy = 2 };
struct probe_result {
  node_id suspect = 0;
  std::uint64_t round = 0;
  verdict v = verdict::dead;
};
// "You are suspected": the suspect refutes with a higher incarnation.
struct suspect_notice {
  std::uint64_t incarnation = 0;
};
struct alive_notice {
  std::uint64_t incarnation = 0;
};

// ## gossip
// Identity is (origin, seq); `body` keeps the documents'
// `<timestamp>:<IP>:<Msg#>` text (plus workload padding).
struct gossip {
  node_id origin = 0;
  std::uint64_t seq = 0;
  std::uint32_t hops = 0;
  std::uint64_t created_ns = 0;  // origin's clock, for latency figures
  std::string body;
};
// Plumtree (lazy push): announcements, repair and pruning.
struct ihave {
  node_id origin = 0;
  std::uint64_t seq = 0;
  std::uint32_t hops = 0;
};
struct graft {
  node_id origin = 0;
  std::uint64_t seq = 0;
};
struct prune {};

using message = std::variant<link_request, link_accept, link_close, ping, pong, probe_request, probe_ping, probe_ack,
                             probe_result, suspect_notice, alive_notice, gossip, ihave, graft, prune>;

void encode(const message& m, std::vector<std::byte>& out);
std::vector<std::byte> encode(const message& m);
// `malformed` with a detail naming what was wrong.
result<message> decode(std::span<const std::byte> in);
const char* name(const message& m) noexcept;

}  // namespace confab::peers
