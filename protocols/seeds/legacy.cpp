#include "protocols/seeds/legacy.hpp"

#include <algorithm>

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

gateway_core::step gateway_core::on_text(std::uint64_t conn, std::uint32_t source_ip, std::uint16_t source_port,
                                         std::string_view text) {
  const std::string from = endpoints::id_string(seam::endpoint_id(source_ip, source_port));
  auto m = parse(text);
  if (!m) return {.log = "legacy: closed a connection from " + from + ": " + m.error().message()};
  if (auto* d = std::get_if<dead_text>(&*m)) {
    if (d->reporter_ip != source_ip)
      return {.log = "legacy: refused a Dead Node report from " + from + " naming another reporter IP"};
    const seam::node_id reporter = reporter_id(d->reporter_ip);
    return {.native = to_seed{reporter, encode_client(dead_report{.suspect = d->suspect, .reporter = reporter})},
            .log = "legacy: Dead Node:" + endpoints::id_string(d->suspect) + ":" + d->timestamp + ":" +
                   from.substr(0, from.rfind(':'))};
  }
  const seam::node_id peer = std::get<register_text>(*m).peer;
  // The address registered is the connection's: nobody registers (and so
  // later speaks for) an address it does not send from.
  if (seam::endpoint_ipv4(peer) != source_ip)
    return {.log = "legacy: refused the registration of " + endpoints::id_string(peer) + " from " + from +
                   ": the IP is not the connection's source"};
  const std::uint64_t id = next_request_++;
  pending_[id] = {conn, peer};
  return {.native = to_seed{peer, encode_client(register_request{.request_id = id})},
          .awaits_reply = true,
          .log = "legacy: registration of " + endpoints::id_string(peer) + " from " + from};
}

std::optional<gateway_core::answer> gateway_core::on_reply(const register_reply& r) {
  auto it = pending_.find(r.request_id);
  if (it == pending_.end()) return std::nullopt;
  const auto [conn, peer] = it->second;
  pending_.erase(it);
  answer a{.conn = conn};
  if (r.status != register_status::ok) {
    a.log = "legacy: registration of " + endpoints::id_string(peer) + " was not committed (the seed is busy)";
    return a;
  }
  auto pl = r.peers;
  if (std::find(pl.begin(), pl.end(), peer) == pl.end()) pl.push_back(peer);
  a.reply = pl_text(pl);
  // Tell the other legacy peers this seed registered, each on a new connection.
  const auto notice = added_text(seed_port_, peer);
  for (auto other : legacy_peers_)
    if (other != peer && std::find(pl.begin(), pl.end(), other) != pl.end()) a.notices.emplace_back(other, notice);
  legacy_peers_.insert(peer);
  return a;
}

void gateway_core::forget(std::uint64_t conn) {
  std::erase_if(pending_, [conn](const auto& kv) { return kv.second.conn == conn; });
}

}  // namespace confab::seeds::legacy
