#include "protocols/common/endpoints.hpp"

#include <algorithm>
#include <charconv>

namespace confab::endpoints {

std::string id_string(seam::node_id id) {
  if (!seam::is_endpoint(id)) return "#" + std::to_string(id);
  const auto ip = seam::endpoint_ipv4(id);
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." + std::to_string((ip >> 8) & 255) + "." +
         std::to_string(ip & 255) + ":" + std::to_string(seam::endpoint_port(id));
}

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}
bool number(std::string_view s, unsigned max, unsigned& out) {
  if (s.empty() || s.size() > 5) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out <= max;
}
}  // namespace

result<seam::node_id> parse_endpoint(std::string_view text) {
  text = trim(text);
  auto sep = text.find_last_of(":,");
  if (sep == std::string_view::npos) return make_error(errc::malformed, "expected IP:PORT or IP,PORT");
  const auto ip_text = trim(text.substr(0, sep)), port_text = trim(text.substr(sep + 1));
  std::uint32_t ip = 0;
  int parts = 0;
  std::size_t start = 0;
  for (;;) {
    const auto dot = ip_text.find('.', start);
    const auto part = ip_text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    unsigned v = 0;
    if (!number(part, 255, v) || part.size() > 3) return make_error(errc::malformed, "the IP is not a dotted IPv4 address");
    ip = (ip << 8) | v;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts != 4) return make_error(errc::malformed, "the IP is not a dotted IPv4 address");
  unsigned port = 0;
  if (!number(port_text, 65535, port) || port == 0) return make_error(errc::malformed, "the port is not a number in 1..65535");
  return seam::endpoint_id(ip, static_cast<std::uint16_t>(port));
}

result<std::vector<seam::node_id>, problem> parse_seed_list(std::string_view text, const endpoint_resolver& resolve) {
  std::vector<seam::node_id> seeds;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    result<seam::node_id, problem> id = problem{};
    if (resolve) {
      id = resolve(line);
    } else if (auto literal = parse_endpoint(line)) {
      id = *literal;
    } else {
      id = problem{literal.error().detail};
    }
    if (!id) return problem{"line " + std::to_string(line_no) + ": '" + std::string(line) + "': " + id.error().text};
    if (std::find(seeds.begin(), seeds.end(), *id) != seeds.end())
      return problem{"line " + std::to_string(line_no) + ": '" + std::string(line) + "' is listed twice"};
    seeds.push_back(*id);
  }
  if (seeds.empty()) return problem{"the seed list names no seed"};
  return seeds;
}

}  // namespace confab::endpoints
