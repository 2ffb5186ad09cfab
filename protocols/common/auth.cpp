#include "protocols/common/auth.hpp"

#include <sodium.h>

#include <cstdlib>

namespace confab::protocols {

result<cluster_key> parse_cluster_key(std::string_view hex) {
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) hex.remove_suffix(1);
  while (!hex.empty() && hex.front() == ' ') hex.remove_prefix(1);
  if (hex.size() != 64) return make_error(errc::malformed, "a cluster key is 64 hexadecimal digits");
  cluster_key k{};
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return make_error(errc::malformed, "a cluster key holds only hexadecimal digits");
    k[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return k;
}

cluster_auth::cluster_auth(const cluster_key& key) : key_(key) {
  static_assert(crypto_auth_BYTES == tag_bytes && crypto_auth_KEYBYTES == 32);
  if (sodium_init() < 0) {
    std::abort();  // libsodium cannot start: no safe way to run with a key
  }
}

void cluster_auth::tag(seam::node_id sender, std::span<const std::byte> message, std::uint8_t* out) const {
  crypto_auth_hmacsha512256_state st;
  crypto_auth_hmacsha512256_init(&st, key_.data(), key_.size());
  std::uint8_t id[8];
  for (int i = 0; i < 8; ++i) id[i] = static_cast<std::uint8_t>(sender >> (56 - 8 * i));
  crypto_auth_hmacsha512256_update(&st, id, sizeof id);
  crypto_auth_hmacsha512256_update(&st, reinterpret_cast<const unsigned char*>(message.data()), message.size());
  crypto_auth_hmacsha512256_final(&st, out);
}

void cluster_auth::seal(seam::node_id sender, std::vector<std::byte>& message) const {
  std::uint8_t t[tag_bytes];
  tag(sender, message, t);
  const auto* b = reinterpret_cast<const std::byte*>(t);
  message.insert(message.end(), b, b + tag_bytes);
}

result<std::span<const std::byte>> cluster_auth::open(seam::node_id sender, std::span<const std::byte> sealed) const {
  if (sealed.size() < tag_bytes) return make_error(errc::permission, "cluster key: message without a tag");
  const auto inner = sealed.first(sealed.size() - tag_bytes);
  std::uint8_t t[tag_bytes];
  tag(sender, inner, t);
  if (sodium_memcmp(t, sealed.data() + inner.size(), tag_bytes) != 0)
    return make_error(errc::permission, "cluster key: the message's tag is wrong (forged or from outside the cluster)");
  return inner;
}

}  // namespace confab::protocols
