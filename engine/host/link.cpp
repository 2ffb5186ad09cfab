#include "engine/host/link.hpp"

namespace confab::host {

namespace {
void put_u32(std::vector<std::byte>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::byte>(v >> s));
}
void put_u64(std::vector<std::byte>& out, std::uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<std::byte>(v >> s));
}
std::uint64_t get_u64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | std::uint64_t(p[i]);
  return v;
}
std::vector<std::byte> framed(seam::node_id sender, const std::uint64_t* sequence, std::span<const std::byte> payload) {
  const std::size_t headers = sender_header_bytes + (sequence ? sequence_header_bytes : 0);
  std::vector<std::byte> out;
  out.reserve(4 + headers + payload.size());
  put_u32(out, static_cast<std::uint32_t>(headers + payload.size()));
  put_u64(out, sender);
  if (sequence) put_u64(out, *sequence);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}
}  // namespace

net::address endpoint_address(seam::node_id id) {
  return net::address::ipv4(seam::endpoint_ipv4(id), seam::endpoint_port(id));
}

std::vector<std::byte> frame(seam::node_id sender, std::span<const std::byte> payload) {
  return framed(sender, nullptr, payload);
}

std::vector<std::byte> sequenced_frame(seam::node_id sender, std::uint64_t sequence, std::span<const std::byte> payload) {
  return framed(sender, &sequence, payload);
}

result<seam::node_id> read_sender(std::span<const std::byte> body) {
  if (body.size() < sender_header_bytes) return make_error(errc::malformed, "frame shorter than its sender header");
  return get_u64(body.data());
}

result<std::uint64_t> read_sequence(std::span<const std::byte> body) {
  if (body.size() < sender_header_bytes + sequence_header_bytes)
    return make_error(errc::malformed, "frame shorter than its sender and sequence header");
  return get_u64(body.data() + sender_header_bytes);
}

}  // namespace confab::host
