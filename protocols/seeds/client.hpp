// confab seeds: the client side of the seeds' wire.
//
// What a peer (or a tool) sends a seed, and what a seed answers: all a
// peer needs and all it sees of the seeds' protocol. The Raft messages
// between seeds are in wire.hpp, which peers do not include. Both sides
// share one frame format, [u8 version][u8 type][body] (docs/wire.md), so a
// client message encodes to the same bytes either way.
//
//   auto bytes = seeds::encode_client(seeds::register_request{.request_id = 1});
//   auto m = seeds::decode_client(payload);   // Raft messages are refused
//
// Thread: values; no shared state.
#pragma once

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/seam/env.hpp"

namespace confab::seeds {

using seam::node_id;
inline constexpr node_id no_node = ~node_id{0};
inline constexpr std::uint8_t wire_version = 1;

// Limits a decoder enforces; a sender never exceeds them.
inline constexpr std::size_t peers_per_reply_max = 4096;
inline constexpr std::size_t confirmers_max = 256;
inline constexpr std::size_t neighbours_max = 1024;

// ### peer -> seed
// A peer asks to join; the seed answers once the addition is committed.
struct register_request {
  std::uint64_t request_id = 0;
};
// Asks a seed for its PL without joining (tools, peers refreshing their
// view); answered with a register_reply.
struct pl_request {
  std::uint64_t request_id = 0;
};
// A confirmed death, sent by the reporter and by every neighbour that
// confirmed it; a seed counts distinct senders (see docs/seeds.md).
struct dead_report {
  node_id suspect = no_node;
  node_id reporter = no_node;
  std::uint64_t timestamp_ms = 0;
  std::vector<node_id> confirmers;
};
// A peer declares its overlay neighbours; seeds weigh reports against them.
struct neighbours {
  std::vector<node_id> ids;
};
// Removes `peer` from the PL. From the peer itself: a graceful leave; from
// another node: an operator's force-leave. With a cluster key both are
// authenticated (the sender holds the key); without one, every sender's id
// is a claim, as for registrations and dead reports (docs/seeds.md,
// "Leaving"). Answered with a leave_reply once the removal is committed.
struct leave_request {
  std::uint64_t request_id = 0;
  node_id peer = no_node;
};
// Asks one page of the PL with each member's state: members after `after`
// (no_node: from the first), at most `limit` of them.
struct members_request {
  std::uint64_t request_id = 0;
  node_id after = no_node;
  std::uint16_t limit = 0;
};

// ### seed -> peer
// `behind`: the answering seed is a follower that knows it lags the leader's
// commit by more than one append; its PL (if any) is not current.
enum class register_status : std::uint8_t { ok = 0, busy = 1, behind = 2 };
struct register_reply {
  std::uint64_t request_id = 0;
  register_status status = register_status::ok;
  node_id leader = no_node;
  std::uint64_t commit_index = 0;  // of the answering seed
  std::uint64_t pl_size = 0;       // the whole PL's size (peers may be a sample)
  std::uint64_t pl_digest = 0;     // order-independent digest of the whole PL (pl_digest())
  std::vector<node_id> peers;      // the PL, or a bounded random sample of it
  // Each listed peer's overlay degree as it last declared it (parallel to
  // `peers`; empty when unknown), for preferential attachment.
  std::vector<std::uint16_t> degrees;
};

// `left`: the peer is out of the PL (removed and committed, or it was never
// in); `busy`: this seed holds too many requests, ask again later.
enum class leave_status : std::uint8_t { left = 0, busy = 1 };
struct leave_reply {
  std::uint64_t request_id = 0;
  leave_status status = leave_status::left;
  node_id peer = no_node;
  std::uint64_t commit_index = 0;
};

inline constexpr std::size_t members_per_reply_max = 4096;
// A member as the answering seed sees it.
enum class member_state : std::uint8_t {
  alive = 0,      // no dead report within the report window
  suspected = 1,  // reported dead by `reporters` distinct members, not (yet) removed
  leaving = 2,    // a leave is waiting for its removal to commit
};
struct member_info {
  node_id id = no_node;
  member_state state = member_state::alive;
  std::uint16_t degree = 0;     // overlay neighbours it last declared
  std::uint16_t reporters = 0;  // distinct members reporting it dead (window)
  friend bool operator==(const member_info&, const member_info&) = default;
};
struct members_reply {
  std::uint64_t request_id = 0;
  std::uint8_t role = 0;  // the answering seed's role (seeds::role)
  bool learner = false;
  std::uint64_t term = 0;
  node_id leader = no_node;
  std::uint64_t commit_index = 0;
  std::uint64_t pl_size = 0;
  std::uint64_t pl_digest = 0;
  std::vector<member_info> members;  // ascending ids, after the request's `after`
  bool more = false;                 // members follow the last one listed
};

// The leader asks a member to check on `suspect`, a member no live peer
// watches (its neighbour declaration lapsed, or too few of its declared
// neighbours are alive to judge a report): the member probes it and sends
// a dead_report if it does not answer. docs/peers.md, "Orphans".
struct watch_request {
  node_id suspect = no_node;
};

using client_message = std::variant<register_request, pl_request, dead_report, neighbours, register_reply, leave_request,
                                    leave_reply, members_request, members_reply, watch_request>;

// ## encode_client / decode_client
// The same bytes `encode` writes for the message. `decode_client` refuses
// a seed-to-seed message (`malformed`, naming it) as well as everything
// `decode` refuses.
void encode_client(const client_message& m, std::vector<std::byte>& out);
std::vector<std::byte> encode_client(const client_message& m);
result<client_message> decode_client(std::span<const std::byte> in);

}  // namespace confab::seeds
