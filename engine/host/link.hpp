// confab engine: the frame every host puts on a TCP link.
//
// One definition of the bytes between two hosts, used by `tcp_host`, the
// fabric's TCP transport and the tools that speak to a host from outside
// one (load clients, gateways):
//
//   [u32 length][u64 sender][payload]              tcp_host
//   [u32 length][u64 sender][u64 sequence][payload] fabric (sequenced links)
//
// All integers are big-endian. `length` counts what follows it; the framing
// reader (engine/net/framing.hpp) enforces its limit before a byte of the
// body is buffered.
//
//   auto bytes = host::frame(self, payload);            // to send
//   auto from = host::read_sender(body);                // on receipt
//   if (!from) refuse(from.error());                    // malformed: close
//
// Thread: any (pure functions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/net/address.hpp"
#include "engine/seam/env.hpp"

namespace confab::host {

// Hosts serve seam nodes; these are the seam's names, used unqualified here.
using seam::duration;
using seam::endpoint_id;
using seam::endpoint_ipv4;
using seam::endpoint_port;
using seam::endpoint_tag;
using seam::is_endpoint;
using seam::env;
using seam::node;
using seam::node_id;
using seam::random;
using seam::time_point;

inline constexpr std::size_t sender_header_bytes = 8;
inline constexpr std::size_t sequence_header_bytes = 8;

// ## endpoint_address
// The IPv4 address and port an endpoint id (seam::endpoint_id) names.
net::address endpoint_address(seam::node_id id);

// ## frame / sequenced_frame
// One whole frame, length prefix included, ready for `connection::send`.
std::vector<std::byte> frame(seam::node_id sender, std::span<const std::byte> payload);
std::vector<std::byte> sequenced_frame(seam::node_id sender, std::uint64_t sequence, std::span<const std::byte> payload);

// ## read_sender / read_sequence
// The sender (first 8 bytes of a frame's body) and, on a sequenced link,
// the sequence number after it. `malformed` when the body is too short.
result<seam::node_id> read_sender(std::span<const std::byte> body);
result<std::uint64_t> read_sequence(std::span<const std::byte> body);

// The payload of a body whose headers were read.
inline std::span<const std::byte> payload_of(std::span<const std::byte> body, bool sequenced) noexcept {
  return body.subspan(sender_header_bytes + (sequenced ? sequence_header_bytes : 0));
}

}  // namespace confab::host
