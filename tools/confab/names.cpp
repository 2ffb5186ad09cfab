#include "tools/confab/names.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cctype>
#include <charconv>
#include <string>

#include "protocols/common/endpoints.hpp"

namespace confab::tools {

result<seam::node_id, problem> resolve_endpoint(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  if (auto literal = endpoints::parse_endpoint(text)) return *literal;
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return problem{"expected IP:PORT or NAME:PORT"};
  const std::string host(text.substr(0, colon));
  const auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto parsed = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (parsed.ec != std::errc{} || parsed.ptr != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return problem{"the port '" + std::string(port_text) + "' is not 1..65535"};
  for (char ch : host)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_'))
      return problem{"'" + host + "' is neither an IPv4 address nor a host name"};
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0 || !res)
    return problem{"cannot resolve '" + host + "': " + (rc != 0 ? ::gai_strerror(rc) : "no address")};
  const auto* sa = reinterpret_cast<const sockaddr_in*>(res->ai_addr);
  const std::uint32_t ip = ntohl(sa->sin_addr.s_addr);
  ::freeaddrinfo(res);
  return seam::endpoint_id(ip, static_cast<std::uint16_t>(port));
}

}  // namespace confab::tools
