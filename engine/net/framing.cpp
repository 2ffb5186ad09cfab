#include "engine/net/framing.hpp"

#include <algorithm>
#include <cstring>

namespace confab::net {

std::span<const std::byte> as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

result<std::size_t> frame_decoder::decode(std::span<const std::byte> in, std::span<const std::byte>& payload) const {
  if (o_.kind == framing::length_prefixed) {
    if (in.size() < 4) return std::size_t{0};
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    const std::uint32_t len = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                              (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    if (len > o_.frame_bytes_max) {
      return error{errc::too_large, 0, "frame length exceeds the maximum", len, o_.frame_bytes_max};
    }
    if (in.size() < 4 + static_cast<std::size_t>(len)) return std::size_t{0};
    payload = in.subspan(4, len);
    return 4 + static_cast<std::size_t>(len);
  }
  const std::size_t limit = std::min<std::size_t>(in.size(), std::size_t{o_.frame_bytes_max} + 1);
  const void* nl = std::memchr(in.data(), '\n', limit);
  if (nl == nullptr) {
    if (in.size() > o_.frame_bytes_max) {
      return error{errc::too_large, 0, "line longer than the maximum", in.size(), o_.frame_bytes_max};
    }
    return std::size_t{0};
  }
  std::size_t n = static_cast<std::size_t>(static_cast<const std::byte*>(nl) - in.data());
  std::size_t body = n;
  if (body > 0 && in[body - 1] == std::byte{'\r'}) --body;
  payload = in.first(body);
  return n + 1;
}

task<result<std::span<const std::byte>>> frame_reader::next(std::stop_token st) {
  if (acc_consumed_ > 0) {
    acc_.erase(acc_.begin(), acc_.begin() + static_cast<std::ptrdiff_t>(acc_consumed_));
    acc_consumed_ = 0;
  }
  for (;;) {
    std::span<const std::byte> payload;
    if (!acc_.empty()) {
      auto r = dec_.decode(acc_, payload);
      if (!r) co_return r.error();
      if (*r > 0) {
        acc_consumed_ = *r;
        co_return payload;
      }
    } else if (cur_.size() > off_) {
      auto rest = cur_.bytes().subspan(off_);
      auto r = dec_.decode(rest, payload);
      if (!r) co_return r.error();
      if (*r > 0) {
        off_ += *r;
        co_return payload;  // zero-copy: points into the received buffer
      }
    }
    // Need more: keep the unconsumed tail, then receive.
    if (cur_.size() > off_) {
      auto rest = cur_.bytes().subspan(off_);
      acc_.insert(acc_.end(), rest.begin(), rest.end());
    }
    cur_.reset();
    off_ = 0;
    auto got = co_await c_.receive(st);
    if (!got) {
      if (got.code() == errc::closed && !acc_.empty()) {
        co_return make_error(errc::closed, "peer closed mid-frame");
      }
      co_return got.error();
    }
    cur_ = std::move(*got);
    if (!acc_.empty()) {
      auto b = cur_.bytes();
      acc_.insert(acc_.end(), b.begin(), b.end());
      cur_.reset();
    }
  }
}

connection::send_awaiter send_frame(connection& c, std::span<const std::byte> payload, std::stop_token st) {
  const auto len = static_cast<std::uint32_t>(payload.size());
  const unsigned char hdr_bytes[4] = {static_cast<unsigned char>(len >> 24), static_cast<unsigned char>(len >> 16),
                                      static_cast<unsigned char>(len >> 8), static_cast<unsigned char>(len)};
  const std::span<const std::byte> parts[2] = {std::as_bytes(std::span(hdr_bytes)), payload};
  return c.send(std::span<const std::span<const std::byte>>(parts), std::move(st));
}

connection::send_awaiter send_line(connection& c, std::span<const std::byte> line, std::stop_token st) {
  static const unsigned char nl[1] = {'\n'};
  const std::span<const std::byte> parts[2] = {line, std::as_bytes(std::span(nl))};
  return c.send(std::span<const std::span<const std::byte>>(parts), std::move(st));
}

}  // namespace confab::net
