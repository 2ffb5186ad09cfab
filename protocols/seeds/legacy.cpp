#include "protocols/seeds/legacy.hpp"

#include "protocols/common/endpoints.hpp"

namespace confab::seeds::legacy {

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\r' || s.front() == '\n' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\n' || s.back() == '\t' || s.back() == '\0'))
    s.remove_suffix(1);
  return s;
}
}  // namespace

result<message> parse(std::string_view text) {
  text = trim(text);
  if (text.empty()) return make_error(errc::malformed, "legacy: empty message");
  if (text.size() > message_bytes_max) return make_error(errc::too_large, "legacy: message over 4096 bytes");
  constexpr std::string_view dead = "Dead Node:";
  if (text.substr(0, dead.size()) == dead) {
    auto rest = text.substr(dead.size());
    // <ip>:<port>:<timestamp>:<reporter ip>; the timestamp may contain ':'.
    const auto c1 = rest.find(':');
    if (c1 == std::string_view::npos) return make_error(errc::malformed, "legacy: Dead Node without a port");
    const auto c2 = rest.find(':', c1 + 1);
    const auto last = rest.rfind(':');
    if (c2 == std::string_view::npos || last <= c2) return make_error(errc::malformed, "legacy: Dead Node needs <ip>:<port>:<timestamp>:<reporter ip>");
    auto suspect = endpoints::parse_endpoint(rest.substr(0, c2));
    if (!suspect) return make_error(errc::malformed, "legacy: Dead Node names no valid IP:PORT");
    auto reporter = endpoints::parse_endpoint(std::string(trim(rest.substr(last + 1))) + ":1");
    if (!reporter) return make_error(errc::malformed, "legacy: Dead Node's reporter is not an IPv4 address");
    return message{dead_text{*suspect, std::string(rest.substr(c2 + 1, last - c2 - 1)), seam::endpoint_ipv4(*reporter)}};
  }
  auto peer = endpoints::parse_endpoint(text);
  if (!peer) return make_error(errc::malformed, "legacy: neither IP:PORT nor a Dead Node report");
  return message{register_text{*peer}};
}

seam::node_id reporter_id(std::uint32_t ip) noexcept { return seam::endpoint_id(ip, 0); }
bool is_reporter_id(seam::node_id id) noexcept { return seam::is_endpoint(id) && seam::endpoint_port(id) == 0; }

std::string pl_text(const std::vector<seam::node_id>& pl) {
  std::string s;
  for (auto id : pl) {
    if (!s.empty()) s += '\n';
    s += endpoints::id_string(id);
  }
  return s;
}

std::string added_text(std::uint16_t seed_port, seam::node_id peer) {
  return "(SEED)ADDED NEW NODE TO NETWORK:" + std::to_string(seed_port) + ":" + endpoints::id_string(peer);
}

}  // namespace confab::seeds::legacy
