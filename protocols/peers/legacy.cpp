#include "protocols/peers/legacy.hpp"

#include <algorithm>
#include <optional>

#include "protocols/common/endpoints.hpp"
#include "protocols/peers/wire.hpp"
#include "protocols/seeds/client.hpp"

namespace confab::peers {

using seam::node_id;

namespace {
std::string ip_of(node_id id) {
  auto s = endpoints::id_string(id);
  return s.substr(0, s.rfind(':'));
}
std::uint64_t text_hash(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\0')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n')) s.remove_prefix(1);
  return s;
}
std::optional<std::string_view> after(std::string_view text, std::string_view prefix) {
  if (text.substr(0, prefix.size()) == prefix) return text.substr(prefix.size());
  return std::nullopt;
}
}  // namespace

legacy_translator::legacy_translator(node_id self, std::vector<node_id> seeds) : self_(self), seeds_(std::move(seeds)) {}

bool legacy_translator::is_seed(node_id id) const { return std::find(seeds_.begin(), seeds_.end(), id) != seeds_.end(); }

void legacy_translator::remember(std::uint64_t text_hash, node_id origin, std::uint64_t seq) {
  if (!known_.try_emplace(text_hash, origin, seq).second) return;
  known_order_.push_back(text_hash);
  if (known_order_.size() > known_texts_max) {
    known_.erase(known_order_.front());
    known_order_.pop_front();
  }
}

result<legacy_translator::translation> legacy_translator::outgoing(node_id to, std::span<const std::byte> message) {
  translation out;
  const std::string me = endpoints::id_string(self_);
  if (is_seed(to)) {
    auto m = seeds::decode_client(message);
    if (!m) return m.error();
    if (auto* request = std::get_if<seeds::register_request>(&*m)) {
      registering_[to] = request->request_id;
      out.texts.push_back({to, me});
    } else if (auto* query = std::get_if<seeds::pl_request>(&*m)) {
      registering_[to] = query->request_id;  // the original answers a registration with the PL
      out.texts.push_back({to, me});
    } else if (auto* dead = std::get_if<seeds::dead_report>(&*m)) {
      out.texts.push_back({to, "Dead Node:" + endpoints::id_string(dead->suspect) + ":" + std::to_string(dead->timestamp_ms) +
                                   ":" + ip_of(self_)});
    }
    return out;  // neighbour declarations have no legacy form
  }
  auto m = decode(message);
  if (!m) return m.error();
  if (auto* p = std::get_if<ping>(&*m)) {
    last_ping_[to] = p->seq;
    out.texts.push_back({to, "(PEER)PING:" + me});
  } else if (std::get_if<pong>(&*m)) {
    out.texts.push_back({to, "(PEER)PING_REPLY:" + me});
  } else if (auto* g = std::get_if<gossip>(&*m)) {
    remember(text_hash(g->body), g->origin, g->seq);
    out.texts.push_back({to, g->body});
  } else if (std::get_if<link_request>(&*m)) {
    // No handshake in the original: the link exists once it is used.
    out.messages.push_back({to, encode(link_accept{})});
  }
  return out;
}

legacy_translator::inbound legacy_translator::seed_answer(node_id seed, std::string_view text) {
  seeds::register_reply reply{.status = seeds::register_status::ok};
  if (auto it = registering_.find(seed); it != registering_.end()) {
    reply.request_id = it->second;
    registering_.erase(it);
  }
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    auto line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (line.empty()) continue;
    auto id = endpoints::parse_endpoint(line);
    if (id && reply.peers.size() < seeds::peers_per_reply_max) reply.peers.push_back(*id);
  }
  reply.pl_size = reply.peers.size();
  return {seed, seeds::encode_client(reply)};
}

legacy_translator::inbound legacy_translator::gossip_text(node_id from, std::string_view text) {
  gossip g;
  const auto hash = text_hash(text);
  if (auto it = known_.find(hash); it != known_.end()) {
    g.origin = it->second.first;
    g.seq = it->second.second;
  } else {
    const auto c1 = text.find(':'), c2 = text.rfind(':');
    auto origin = endpoints::parse_endpoint(std::string(text.substr(c1 + 1, c2 - c1 - 1)) + ":1");
    g.origin = seam::endpoint_id(origin ? seam::endpoint_ipv4(*origin) : seam::endpoint_ipv4(from), 0);
    g.seq = hash;
    remember(hash, g.origin, g.seq);
  }
  g.body = std::string(text);
  return {seam::endpoint_id(seam::endpoint_ipv4(from), 0), encode(g)};
}

result<std::optional<legacy_translator::inbound>> legacy_translator::incoming(node_id from, std::string_view raw) {
  const std::string_view text = trim(raw);
  using answer = std::optional<inbound>;
  if (is_seed(from)) return answer{seed_answer(from, text)};
  if (auto rest = after(text, "(PEER)PING_REPLY:")) {
    auto id = endpoints::parse_endpoint(*rest);
    if (!id) return make_error(errc::malformed, "legacy: PING_REPLY without IP:PORT");
    return answer{inbound{*id, encode(pong{.seq = last_ping_[*id]})}};
  }
  if (auto rest = after(text, "(PEER)PING:")) {
    auto id = endpoints::parse_endpoint(*rest);
    if (!id) return make_error(errc::malformed, "legacy: PING without IP:PORT");
    return answer{inbound{*id, encode(ping{.seq = 0})}};
  }
  if (auto rest = after(text, "(SEED)ADDED NEW NODE TO NETWORK:")) {
    // <seed port>:<ip>:<port>
    const auto c1 = rest->find(':');
    auto id = c1 == std::string_view::npos ? result<node_id>(errc::malformed) : endpoints::parse_endpoint(rest->substr(c1 + 1));
    if (!id) return make_error(errc::malformed, "legacy: ADDED NEW NODE without <seed port>:IP:PORT");
    node_id seed = seeds_.front();
    for (auto s : seeds_)
      if (std::to_string(seam::endpoint_port(s)) == rest->substr(0, c1)) seed = s;
    if (*id == self_) return answer{};
    return answer{inbound{
        seed, seeds::encode_client(seeds::register_reply{.status = seeds::register_status::ok, .pl_size = 1, .peers = {*id}})}};
  }
  // Gossip: <timestamp>:<IP>:<Msg#>.
  const auto c1 = text.find(':'), c2 = text.rfind(':');
  if (c1 == std::string_view::npos || c2 == c1 || text.size() > body_bytes_max)
    return make_error(errc::malformed, "legacy: not a legacy peer message");
  return answer{gossip_text(from, text)};
}

// The env the native node sees: everything of the host's, but its sends
// are translated to texts (or answered at once on its behalf).
class legacy_peer_node::translating_env final : public seam::env {
 public:
  translating_env(legacy_peer_node& n, seam::env& outer) : node_(n), outer_(outer) {}
  node_id self() const noexcept override { return outer_.self(); }
  seam::time_point now() const noexcept override { return outer_.now(); }
  seam::random& rng() noexcept override { return outer_.rng(); }
  void set_timer(seam::time_point at) override { outer_.set_timer(at); }
  result<void> send(node_id to, std::span<const std::byte> message) override {
    auto t = node_.translator_.outgoing(to, message);
    if (!t) return t.error();
    for (auto& text : t->texts) {
      const auto* bytes = reinterpret_cast<const std::byte*>(text.text.data());
      if (auto ok = outer_.send(text.to, {bytes, text.text.size()}); !ok) return ok;
    }
    for (auto& m : t->messages) node_.answers_.push_back(std::move(m));
    return {};
  }

 private:
  legacy_peer_node& node_;
  seam::env& outer_;
};

legacy_peer_node::legacy_peer_node(std::unique_ptr<seam::node> inner, node_id self, std::vector<node_id> seeds)
    : inner_(std::move(inner)), translator_(self, std::move(seeds)) {}

legacy_peer_node::~legacy_peer_node() = default;

void legacy_peer_node::drain(seam::env& outer) {
  // Answers given on the native node's behalf reach it after the callback
  // that caused them, never inside it.
  translating_env env(*this, outer);
  while (!answers_.empty()) {
    auto m = std::move(answers_.front());
    answers_.erase(answers_.begin());
    (void)inner_->on_message(env, m.from, m.message);
  }
}

void legacy_peer_node::on_start(seam::env& e) {
  translating_env env(*this, e);
  inner_->on_start(env);
  drain(e);
}

result<void> legacy_peer_node::on_message(seam::env& e, node_id from, std::span<const std::byte> text) {
  auto m = translator_.incoming(from, {reinterpret_cast<const char*>(text.data()), text.size()});
  if (!m) return m.error();
  if (!*m) return {};
  translating_env env(*this, e);
  auto ok = inner_->on_message(env, (*m)->from, (*m)->message);
  drain(e);
  return ok;
}

void legacy_peer_node::on_timer(seam::env& e) {
  translating_env env(*this, e);
  inner_->on_timer(env);
  drain(e);
}

void legacy_peer_node::on_link_down(seam::env& e, node_id peer) {
  translating_env env(*this, e);
  inner_->on_link_down(env, peer);
  drain(e);
}

}  // namespace confab::peers
