#include "protocols/common/auth.hpp"

#include <sodium.h>

#include <algorithm>
#include <atomic>
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

namespace {
std::string to_hex(const std::uint8_t* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string h(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    h[2 * i] = digits[p[i] >> 4];
    h[2 * i + 1] = digits[p[i] & 15];
  }
  return h;
}
}  // namespace

std::string challenge() {
  if (sodium_init() < 0) std::abort();
  std::uint8_t b[32];
  randombytes_buf(b, sizeof b);
  return to_hex(b, sizeof b);
}

std::string challenge_answer(const cluster_key& key, std::string_view challenge_hex) {
  if (sodium_init() < 0) std::abort();
  static constexpr std::string_view label = "confab vote auth v1";
  crypto_auth_hmacsha512256_state st;
  crypto_auth_hmacsha512256_init(&st, key.data(), key.size());
  crypto_auth_hmacsha512256_update(&st, reinterpret_cast<const unsigned char*>(label.data()), label.size());
  crypto_auth_hmacsha512256_update(&st, reinterpret_cast<const unsigned char*>(challenge_hex.data()),
                                   challenge_hex.size());
  std::uint8_t out[crypto_auth_hmacsha512256_BYTES];
  crypto_auth_hmacsha512256_final(&st, out);
  return to_hex(out, sizeof out);
}

bool challenge_answer_matches(const cluster_key& key, std::string_view challenge_hex, std::string_view answer_hex) {
  const std::string want = challenge_answer(key, challenge_hex);
  if (answer_hex.size() != want.size()) return false;
  std::string got(answer_hex);
  for (auto& c : got)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  return sodium_memcmp(got.data(), want.data(), want.size()) == 0;
}

cluster_auth::cluster_auth(const cluster_key& key, replay_options o) : key_(key), o_(std::move(o)) {
  static_assert(crypto_auth_BYTES == tag_bytes && crypto_auth_KEYBYTES == 32);
  if (sodium_init() < 0) {
    std::abort();  // libsodium cannot start: no safe way to run with a key
  }
}

std::uint64_t cluster_auth::now_ns() const {
  if (o_.wall_ns) return o_.wall_ns();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

namespace {
void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}
std::uint64_t get_u64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | static_cast<std::uint8_t>(p[i]);
  return v;
}
}  // namespace

void cluster_auth::tag(seam::node_id sender, std::span<const std::byte> covered, std::uint8_t* out) const {
  crypto_auth_hmacsha512256_state st;
  crypto_auth_hmacsha512256_init(&st, key_.data(), key_.size());
  std::uint8_t id[8];
  put_u64(id, sender);
  crypto_auth_hmacsha512256_update(&st, id, sizeof id);
  crypto_auth_hmacsha512256_update(&st, reinterpret_cast<const unsigned char*>(covered.data()), covered.size());
  crypto_auth_hmacsha512256_final(&st, out);
}

void cluster_auth::seal(seam::node_id sender, const freshness& f, std::vector<std::byte>& message) const {
  std::uint8_t fresh[freshness_bytes];
  put_u64(fresh, f.epoch);
  put_u64(fresh + 8, f.sequence);
  put_u64(fresh + 16, f.sent);
  put_u64(fresh + 24, f.receiver);
  const auto* fb = reinterpret_cast<const std::byte*>(fresh);
  message.insert(message.end(), fb, fb + freshness_bytes);
  std::uint8_t t[tag_bytes];
  tag(sender, message, t);
  const auto* b = reinterpret_cast<const std::byte*>(t);
  message.insert(message.end(), b, b + tag_bytes);
}

result<opened> cluster_auth::open(seam::node_id sender, std::span<const std::byte> sealed) const {
  if (sealed.size() < seal_bytes) return make_error(errc::permission, "cluster key: message without a seal");
  const auto covered = sealed.first(sealed.size() - tag_bytes);
  std::uint8_t t[tag_bytes];
  tag(sender, covered, t);
  if (sodium_memcmp(t, sealed.data() + covered.size(), tag_bytes) != 0)
    return make_error(errc::permission,
                      "cluster key: the message's tag is wrong (forged, or from outside the cluster)");
  const std::byte* f = covered.data() + covered.size() - freshness_bytes;
  return opened{.message = covered.first(covered.size() - freshness_bytes),
                .fresh = {.epoch = get_u64(f), .sequence = get_u64(f + 8), .sent = get_u64(f + 16), .receiver = get_u64(f + 24)}};
}

namespace {
// Strictly increasing within a process, so a node restarted in the same
// process within one clock tick still starts a later run.
std::uint64_t next_epoch(std::uint64_t now) {
  static std::atomic<std::uint64_t> last{0};
  std::uint64_t prev = last.load();
  std::uint64_t e;
  do {
    e = std::max(now, prev + 1);
  } while (!last.compare_exchange_weak(prev, e));
  return e;
}
}  // namespace

frame_sealer::frame_sealer(const cluster_auth& auth) : auth_(auth), epoch_(next_epoch(auth.now_ns())) {}

void frame_sealer::seal(seam::node_id sender, seam::node_id receiver, std::vector<std::byte>& message) {
  auto& n = next_[{sender, receiver}];
  auth_.seal(sender, {.epoch = epoch_, .sequence = ++n, .sent = auth_.now_ns(), .receiver = receiver}, message);
}

void frame_sealer::forget_silent(std::uint64_t now) {
  const auto window = static_cast<std::uint64_t>(auth_.window().count());
  if (now - last_sweep_ < window / 2) return;
  last_sweep_ = now;
  std::erase_if(seen_, [&](const auto& kv) { return now - kv.second.last_accepted > window; });
}

result<std::span<const std::byte>> frame_sealer::open(seam::node_id sender, seam::node_id receiver,
                                                      std::span<const std::byte> sealed) {
  auto o = auth_.open(sender, sealed);
  if (!o) {
    ++stats_.refused_tag;
    return o.error();
  }
  if (receiver != any_receiver && o->fresh.receiver != receiver) {
    ++stats_.refused_tag;
    return make_error(errc::permission, "cluster key: the message was sealed for another node");
  }
  const auto now = auth_.now_ns();
  forget_silent(now);
  const auto window = static_cast<std::uint64_t>(auth_.window().count());
  const auto& f = o->fresh;
  if (f.sent + window < now) {
    ++stats_.refused_stale;
    return make_error(errc::permission, "cluster key: the message was sealed longer ago than the replay window (a replay, or clocks apart)");
  }
  if (f.sent > now + window) {
    ++stats_.refused_stale;
    return make_error(errc::permission, "cluster key: the message was sealed later than the replay window allows (clocks apart)");
  }
  auto [it, fresh] = seen_.try_emplace({sender, f.receiver});
  auto& s = it->second;
  if (!fresh && f.epoch < s.epoch) {
    ++stats_.refused_earlier_run;
    return make_error(errc::permission, "cluster key: the message is from an earlier run of its sender (a replay)");
  }
  if (fresh || f.epoch > s.epoch) {
    s = {.epoch = f.epoch, .highest = f.sequence, .below = 0, .last_accepted = now};
    return o->message;
  }
  if (f.sequence > s.highest) {
    const auto d = f.sequence - s.highest;
    s.below = d > 64 ? 0 : d == 64 ? (1ull << 63) : (s.below << d) | (1ull << (d - 1));
    s.highest = f.sequence;
  } else {
    const auto i = s.highest - f.sequence;  // 0: the highest itself
    if (i == 0 || i > 64 || (s.below >> (i - 1) & 1)) {
      ++stats_.refused_replay;
      return make_error(errc::permission, "cluster key: the message was already taken, or is older than the last 64 taken (a replay)");
    }
    s.below |= 1ull << (i - 1);
  }
  s.last_accepted = now;
  return o->message;
}

}  // namespace confab::protocols
