// confab engine: socket addresses.
//
// IPv4 and IPv6, parsed from "127.0.0.1:7000", "[::1]:7000", and the seed
// file's "127.0.0.1,7000" form.
//
//   auto a = address::parse("127.0.0.5:9000");
//   if (!a) fail(a.error());
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/core/result.hpp"

namespace confab::net {

class address {
 public:
  address() = default;
  // ## parse
  // `malformed` with a detail naming the part that is wrong.
  static result<address> parse(std::string_view text);
  static address ipv4(std::uint32_t host_order_ip, std::uint16_t port);
  static address loopback(std::uint16_t port) { return ipv4(0x7f000001u, port); }

  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  // Bytes `data()` can take (getpeername, accept): an IPv6 address, the
  // largest family confab speaks. 32 bytes in all instead of 136 with a
  // sockaddr_storage; a connection holds two of them.
  static constexpr socklen_t capacity = sizeof(sockaddr_in6);
  socklen_t size() const noexcept { return len_; }
  void set_size(socklen_t l) noexcept { len_ = l; }
  int family() const noexcept { return storage_.sa.sa_family; }
  std::uint16_t port() const noexcept;
  void set_port(std::uint16_t p) noexcept;
  std::uint32_t ipv4_host_order() const noexcept;  // 0 when not IPv4
  std::string to_string() const;
  std::string ip_string() const;

  friend bool operator==(const address& a, const address& b) noexcept;

 private:
  union storage {
    sockaddr sa;
    sockaddr_in in4;
    sockaddr_in6 in6;
  };
  storage storage_{};
  socklen_t len_ = 0;
};

}  // namespace confab::net
