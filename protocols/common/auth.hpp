// confab protocols: the optional cluster key, and replay protection.
//
// When a cluster key is set, every native message ends with a seal:
//
//   [message][u64 epoch][u64 sequence][u64 sent, ns since 1970]
//   [u64 receiver node id][32-byte tag]
//
// The tag is HMAC-SHA-512-256 (libsodium's crypto_auth) over the sender's
// node id (which the transport reports), the message and the four numbers.
// A node refuses a message sealed for another receiver; a tool that speaks
// for many ids (seed-load, the legacy gateway) takes any receiver. A
// message without a valid tag (forged, from outside the cluster, altered,
// or addressed to another node) is refused, counted, and the connection it
// came on is closed.
//
// Replays are refused by the receiver's `frame_sealer`:
// - `sent` must be within the window (60 s by default) of the receiver's
//   clock, so a frame captured earlier than that is refused everywhere,
//   even by a receiver that restarted and remembers nothing;
// - `epoch` is the sender's start time (ns): a receiver that has heard a
//   sender's later run refuses frames from its earlier runs;
// - `sequence` counts up per (sender run, receiver): the receiver keeps,
//   per (sender, receiver) pair, the highest one seen and a 64-frame
//   bitmap below it, so a frame is taken
//   once, frames a little out of order (two connections) are still taken,
//   and anything older than the bitmap is refused.
// A receiver forgets a sender it has not accepted a frame from for a whole
// window (bounded memory; by then the time check alone refuses its old
// frames), which also lets a sender whose clock stepped back be heard
// again after one window. Clocks must agree to well within the window.
//
//   auto key = protocols::parse_cluster_key(hex);      // 64 hex digits
//   protocols::cluster_auth auth(*key);                 // shared, immutable
//   protocols::frame_sealer sealer(auth);               // one per node
//   sealer.seal(self, to, bytes);                       // appends the seal
//   auto inner = sealer.open(from, self, bytes);        // result<span>
//
// Thread: a cluster_auth is immutable after construction (any thread); a
// frame_sealer belongs to one node on one thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/seam/env.hpp"

namespace confab::protocols {

using cluster_key = std::array<std::uint8_t, 32>;
inline constexpr std::size_t tag_bytes = 32;
inline constexpr std::size_t freshness_bytes = 32;
inline constexpr std::size_t seal_bytes = freshness_bytes + tag_bytes;

// `malformed` unless `hex` is exactly 64 hexadecimal digits (blanks and a
// final newline around it are ignored).
result<cluster_key> parse_cluster_key(std::string_view hex);

// ## challenge / challenge_answer
// A client proves it holds the cluster key without sending it (the voting
// service's native AUTH): the server sends `challenge()` (32 random bytes
// from libsodium, as 64 hex digits), the client answers
// `challenge_answer(key, challenge)` (HMAC-SHA-512-256 of a fixed label and
// the challenge, 64 hex digits), the server compares in constant time with
// `challenge_answer_matches`.
std::string challenge();
std::string challenge_answer(const cluster_key& key, std::string_view challenge_hex);
bool challenge_answer_matches(const cluster_key& key, std::string_view challenge_hex, std::string_view answer_hex);

struct freshness {
  std::uint64_t epoch = 0;     // the sender's start, ns since 1970
  std::uint64_t sequence = 0;  // per (sender run, receiver), from 1
  std::uint64_t sent = 0;      // ns since 1970 when sealed
  seam::node_id receiver = 0;
};

struct replay_options {
  std::chrono::nanoseconds window = std::chrono::seconds(60);
  // ns since 1970; the system clock unless a test injects another.
  std::function<std::uint64_t()> wall_ns;
};

struct opened {
  std::span<const std::byte> message;
  freshness fresh;
};

class cluster_auth {
 public:
  explicit cluster_auth(const cluster_key& key, replay_options o = {});
  void seal(seam::node_id sender, const freshness& f, std::vector<std::byte>& message) const;
  // The message and its freshness, or `permission` when the seal is
  // missing or its tag is wrong. Freshness is the sealer's to judge.
  result<opened> open(seam::node_id sender, std::span<const std::byte> sealed) const;
  std::uint64_t now_ns() const;
  std::chrono::nanoseconds window() const noexcept { return o_.window; }

 private:
  void tag(seam::node_id sender, std::span<const std::byte> covered, std::uint8_t* out) const;
  cluster_key key_;
  replay_options o_;
};

struct sealer_stats {
  std::uint64_t refused_tag = 0;          // forged, altered, another key or receiver
  std::uint64_t refused_stale = 0;        // sent outside the window
  std::uint64_t refused_earlier_run = 0;  // an epoch older than one already heard
  std::uint64_t refused_replay = 0;       // a sequence already taken, or below the bitmap
};

class frame_sealer {
 public:
  explicit frame_sealer(const cluster_auth& auth);
  void seal(seam::node_id sender, seam::node_id receiver, std::vector<std::byte>& message);
  // The message, or `permission` naming why it was refused. `receiver`:
  // this node's id, or any_receiver for a tool speaking for many ids.
  static constexpr seam::node_id any_receiver = ~seam::node_id{0};
  result<std::span<const std::byte>> open(seam::node_id sender, seam::node_id receiver,
                                          std::span<const std::byte> sealed);
  const sealer_stats& stats() const noexcept { return stats_; }
  std::size_t senders_remembered() const noexcept { return seen_.size(); }

 private:
  struct sender_state {
    std::uint64_t epoch = 0, highest = 0, below = 0;  // bit i of `below`: highest - 1 - i taken
    std::uint64_t last_accepted = 0;                  // receiver's clock, ns
  };
  void forget_silent(std::uint64_t now);
  const cluster_auth& auth_;
  struct pair_hash {
    std::size_t operator()(const std::pair<seam::node_id, seam::node_id>& p) const noexcept {
      return std::hash<std::uint64_t>{}(p.first * 0x9e3779b97f4a7c15ull ^ p.second);
    }
  };
  using pair_key = std::pair<seam::node_id, seam::node_id>;  // (sender, receiver)
  std::uint64_t epoch_;
  std::unordered_map<pair_key, std::uint64_t, pair_hash> next_;
  std::unordered_map<pair_key, sender_state, pair_hash> seen_;
  std::uint64_t last_sweep_ = 0;
  sealer_stats stats_;
};

// A node's sealer when the cluster key is set (`auth` not null), else none.
inline std::optional<frame_sealer> sealer_for(const cluster_auth* auth) {
  if (!auth) return std::nullopt;
  return std::optional<frame_sealer>(std::in_place, *auth);
}
// What a sealer refused as replays (any freshness rule), apart from tags.
inline std::uint64_t replays_refused(const sealer_stats& s) noexcept {
  return s.refused_stale + s.refused_earlier_run + s.refused_replay;
}

}  // namespace confab::protocols
