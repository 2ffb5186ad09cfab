// confab seeds: wire messages between seeds, and between peers and seeds.
//
// Two sides. The client side (client.hpp: what a peer or a tool sends a
// seed and what it answers) is all a peer sees; this header adds the Raft
// side between seeds and the full variant a seed decodes.
//
// Every message is one transport frame: [u8 version][u8 type][body], integers
// big-endian, lists as a u16 count then the items. docs/wire.md lists every
// message with its fields. `decode` checks every length against what is
// left and against the limits below, and returns `malformed` with a detail
// naming what was wrong; it never trusts the input.
//
//   std::vector<std::byte> out; seeds::encode(seeds::vote_reply{.term = 3, .granted = true}, out);
//   auto m = seeds::decode(bytes);   // result<seeds::message>
//
// Thread: values; no shared state.
#pragma once

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/seam/env.hpp"
#include "protocols/seeds/client.hpp"

namespace confab::seeds {

// A decoder's limit for the Raft side; the client side's are in client.hpp.
inline constexpr std::size_t entries_per_append_max = 256;

// ## entry
// One entry of the replicated membership log. `noop` is the entry a new
// leader appends to commit its predecessors' entries (Raft §5.4.2).
enum class entry_kind : std::uint8_t { noop = 0, add = 1, remove = 2 };
struct entry {
  std::uint64_t term = 0;
  entry_kind kind = entry_kind::noop;
  node_id peer = no_node;
  friend bool operator==(const entry&, const entry&) = default;
};

// ### seed <-> seed (Raft)
struct request_vote {
  std::uint64_t term = 0;  // for a pre-vote: the term the candidate would take
  std::uint64_t last_index = 0, last_term = 0;
  bool pre_vote = false;
};
struct vote_reply {
  std::uint64_t term = 0;
  bool granted = false;
  bool pre_vote = false;
};
struct append_entries {
  std::uint64_t term = 0, prev_index = 0, prev_term = 0, leader_commit = 0;
  std::vector<entry> entries;
};
struct append_reply {
  std::uint64_t term = 0;
  bool success = false;
  std::uint64_t match_index = 0;  // on failure: the follower's last index, a hint
};

// ### seed -> seed: a peer's request passed on to the leader
struct forward {
  node_id origin = no_node;
  std::variant<register_request, dead_report, leave_request> inner;
};

using message = std::variant<request_vote, vote_reply, append_entries, append_reply, register_request, dead_report,
                             neighbours, register_reply, forward, pl_request, leave_request, leave_reply,
                             members_request, members_reply, watch_request>;

// ## pl_digest
// The sum of a 64-bit mix of every member: two seeds hold the same PL when
// their digests (and sizes) are equal, whatever order they learnt it in.
constexpr std::uint64_t member_digest(node_id id) noexcept {
  std::uint64_t z = id + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// ## encode
// Appends the message's bytes to `out`.
void encode(const message& m, std::vector<std::byte>& out);
std::vector<std::byte> encode(const message& m);

// ## decode
// `malformed` (with a detail) for a wrong version, an unknown type, a list
// over its limit, a truncated body or trailing bytes.
result<message> decode(std::span<const std::byte> in);

// A short stable name for logs ("append_entries").
const char* name(const message& m) noexcept;

}  // namespace confab::seeds
