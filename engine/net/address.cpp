#include "engine/net/address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace confab::net {

result<address> address::parse(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return make_error(errc::malformed, "IPv6 address must look like [::1]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto sep = text.rfind(':');
    if (sep == std::string_view::npos) sep = text.rfind(',');
    if (sep == std::string_view::npos) return make_error(errc::malformed, "address must be IP:PORT");
    host = text.substr(0, sep);
    port = text.substr(sep + 1);
  }
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc{} || ptr != port.data() + port.size() || p > 65535 || port.empty())
    return make_error(errc::malformed, "port must be a number from 0 to 65535");
  std::string h(host);
  address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(p));
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  std::memset(&a.storage_, 0, sizeof a.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(p));
    a.len_ = sizeof(sockaddr_in6);
    return a;
  }
  return make_error(errc::malformed, "host must be a numeric IPv4 or IPv6 address");
}

address address::ipv4(std::uint32_t ip, std::uint16_t port) {
  address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  v4->sin_family = AF_INET;
  v4->sin_port = htons(port);
  v4->sin_addr.s_addr = htonl(ip);
  a.len_ = sizeof(sockaddr_in);
  return a;
}

std::uint16_t address::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

void address::set_port(std::uint16_t p) noexcept {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(p);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(p);
}

std::uint32_t address::ipv4_host_order() const noexcept {
  if (family() != AF_INET) return 0;
  return ntohl(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr.s_addr);
}

std::string address::ip_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
  else if (family() == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf, sizeof buf);
  return buf;
}

std::string address::to_string() const {
  if (family() == AF_INET6) return "[" + ip_string() + "]:" + std::to_string(port());
  return ip_string() + ":" + std::to_string(port());
}

bool operator==(const address& a, const address& b) noexcept {
  return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
}

}  // namespace confab::net
