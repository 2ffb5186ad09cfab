// confab protocols: the optional cluster key.
//
// When a cluster key is set, every native message carries a 32-byte tag,
// HMAC-SHA-512-256 (libsodium's crypto_auth) over the sender's node id and
// the message, appended after it. A message without a valid tag (forged,
// from outside the cluster, or altered) is refused, counted, and the
// connection it came on is closed. The tag binds the sender id the
// transport reports, so a valid message cannot be replayed under another
// sender; replaying it under the same sender is not prevented (messages are
// idempotent or carry sequence numbers).
//
//   auto key = protocols::parse_cluster_key(hex);      // 64 hex digits
//   protocols::cluster_auth auth(*key);
//   auth.seal(self, bytes);                           // appends the tag
//   auto inner = auth.open(from, bytes);              // result<span>
//
// Thread: an object is immutable after construction; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/seam/env.hpp"

namespace confab::protocols {

using cluster_key = std::array<std::uint8_t, 32>;
inline constexpr std::size_t tag_bytes = 32;

// `malformed` unless `hex` is exactly 64 hexadecimal digits (blanks and a
// final newline around it are ignored).
result<cluster_key> parse_cluster_key(std::string_view hex);

class cluster_auth {
 public:
  explicit cluster_auth(const cluster_key& key);
  void seal(seam::node_id sender, std::vector<std::byte>& message) const;
  // The message without its tag, or `permission` when the tag is missing
  // or wrong.
  result<std::span<const std::byte>> open(seam::node_id sender, std::span<const std::byte> sealed) const;

 private:
  void tag(seam::node_id sender, std::span<const std::byte> message, std::uint8_t* out) const;
  cluster_key key_;
};

}  // namespace confab::protocols
