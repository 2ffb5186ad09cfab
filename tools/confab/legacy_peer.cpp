#include "tools/confab/legacy_peer.hpp"

#include <algorithm>

#include "engine/net/listener.hpp"
#include "engine/host/tcp_host.hpp"
#include "protocols/common/endpoints.hpp"
#include "protocols/peers/wire.hpp"
#include "protocols/seeds/wire.hpp"
#include "tools/confab/legacy_text.hpp"

namespace confab::tools {

using seam::node_id;

class legacy_peer_host::env_impl final : public seam::env {
 public:
  env_impl(legacy_peer_host& h, std::uint64_t seed) : h_(h), rng_(seed) {}
  node_id self() const noexcept override { return h_.self_; }
  seam::time_point now() const noexcept override { return h_.now(); }
  seam::random& rng() noexcept override { return rng_; }
  result<void> send(node_id to, std::span<const std::byte> p) override { return h_.send(to, p); }
  void set_timer(seam::time_point at) override { h_.set_timer(at); }

 private:
  legacy_peer_host& h_;
  seam::random rng_;
};

namespace {
std::string ip_of(node_id id) {
  auto s = endpoints::id_string(id);
  return s.substr(0, s.rfind(':'));
}
std::uint64_t text_hash(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\0')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n')) s.remove_prefix(1);
  return s;
}
}  // namespace

legacy_peer_host::legacy_peer_host(io::reactor& r, node_id self, std::vector<node_id> seeds, std::unique_ptr<seam::node> n,
                                   std::uint64_t seed, std::function<void(const std::string&)> log)
    : r_(r), self_(self), seeds_(std::move(seeds)), node_(std::move(n)), log_(std::move(log)), epoch_(io::clock::now()) {
  env_ = std::make_unique<env_impl>(*this, seed);
}

legacy_peer_host::~legacy_peer_host() = default;

seam::time_point legacy_peer_host::now() const noexcept { return io::clock::now() - epoch_; }
bool legacy_peer_host::is_seed(node_id id) const { return std::find(seeds_.begin(), seeds_.end(), id) != seeds_.end(); }

void legacy_peer_host::deliver(node_id from, std::vector<std::byte> bytes) {
  if (auto ok = node_->on_message(*env_, from, bytes); !ok && log_)
    log_("legacy: the peer refused a translated message: " + ok.error().message());
}

result<void> legacy_peer_host::send(node_id to, std::span<const std::byte> payload) {
  if (stop_.stop_requested()) return make_error(errc::cancelled, "stopping");
  const std::string me = endpoints::id_string(self_);
  if (is_seed(to)) {
    auto m = seeds::decode(payload);
    if (!m) return m.error();
    if (auto* rr = std::get_if<seeds::register_request>(&*m)) {
      tasks_.spawn(register_with(to, rr->request_id, stop_));
    } else if (auto* q = std::get_if<seeds::pl_request>(&*m)) {
      tasks_.spawn(register_with(to, q->request_id, stop_));  // the original answers a registration with the PL
    } else if (auto* d = std::get_if<seeds::dead_report>(&*m)) {
      tasks_.spawn(send_text(to, "Dead Node:" + endpoints::id_string(d->suspect) + ":" + std::to_string(d->timestamp_ms) +
                                     ":" + ip_of(self_), stop_));
    }
    return {};  // neighbour declarations have no legacy form
  }
  auto m = peers::decode(payload);
  if (!m) return m.error();
  if (auto* p = std::get_if<peers::ping>(&*m)) {
    last_ping_[to] = p->seq;
    tasks_.spawn(send_text(to, "(PEER)PING:" + me, stop_));
  } else if (std::get_if<peers::pong>(&*m)) {
    tasks_.spawn(send_text(to, "(PEER)PING_REPLY:" + me, stop_));
  } else if (auto* g = std::get_if<peers::gossip>(&*m)) {
    tasks_.spawn(send_text(to, g->body, stop_));
  } else if (std::get_if<peers::link_request>(&*m)) {
    // No handshake in the original: the link exists once we use it.
    deliver(to, peers::encode(peers::link_accept{}));
  }
  return {};
}

task<void> legacy_peer_host::send_text(node_id to, std::string text, std::stop_token st) {
  auto sent = co_await send_legacy_text(r_, to, std::move(text), st);
  if (!sent && !st.stop_requested()) node_->on_link_down(*env_, to);
}

task<void> legacy_peer_host::register_with(node_id seed, std::uint64_t request_id, std::stop_token st) {
  auto answer = co_await legacy_request(r_, seed, endpoints::id_string(self_), st);
  if (!answer) {
    if (log_) log_("legacy: registration with seed " + endpoints::id_string(seed) + " failed: " + answer.error().message());
    co_return;
  }
  seeds::register_reply rep{.request_id = request_id, .status = seeds::register_status::ok};
  std::string_view rest = *answer;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    auto line = trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (line.empty()) continue;
    auto id = endpoints::parse_endpoint(line);
    if (id && rep.peers.size() < seeds::max_peers_per_reply) rep.peers.push_back(*id);
  }
  rep.pl_size = rep.peers.size();
  deliver(seed, seeds::encode(rep));
}

task<void> legacy_peer_host::handle(std::unique_ptr<net::connection> c, std::stop_token st) {
  const auto from_addr = c->peer();
  auto text = co_await read_legacy_message(*c, st);
  co_await c->close();
  if (!text) {
    if (log_) log_("legacy: closed a connection from " + from_addr.to_string() + ": " + text.error().message());
    co_return;
  }
  const std::string_view t = trim(*text);
  auto after = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (t.substr(0, prefix.size()) == prefix) return t.substr(prefix.size());
    return std::nullopt;
  };
  if (auto rest = after("(PEER)PING_REPLY:")) {
    auto id = endpoints::parse_endpoint(*rest);
    if (id) deliver(*id, peers::encode(peers::pong{.seq = last_ping_[*id]}));
    co_return;
  }
  if (auto rest = after("(PEER)PING:")) {
    auto id = endpoints::parse_endpoint(*rest);
    if (id) deliver(*id, peers::encode(peers::ping{.seq = 0}));
    co_return;
  }
  if (auto rest = after("(SEED)ADDED NEW NODE TO NETWORK:")) {
    // <seed port>:<ip>:<port>
    const auto c1 = rest->find(':');
    auto id = c1 == std::string_view::npos ? result<node_id>(errc::malformed) : endpoints::parse_endpoint(rest->substr(c1 + 1));
    if (id && *id != self_) {
      node_id seed = seeds_.front();
      for (auto s : seeds_)
        if (std::to_string(seam::endpoint_port(s)) == rest->substr(0, c1)) seed = s;
      deliver(seed, seeds::encode(seeds::register_reply{.status = seeds::register_status::ok, .pl_size = 1, .peers = {*id}}));
    }
    co_return;
  }
  // Gossip: <timestamp>:<IP>:<Msg#>. Its identity is the text itself.
  const auto c1 = t.find(':'), c2 = t.rfind(':');
  if (c1 == std::string_view::npos || c2 == c1 || t.size() > peers::max_body_bytes) {
    if (log_) log_("legacy: closed a connection from " + from_addr.to_string() + ": not a legacy peer message");
    co_return;
  }
  auto origin = endpoints::parse_endpoint(std::string(t.substr(c1 + 1, c2 - c1 - 1)) + ":1");
  peers::gossip g;
  g.origin = origin ? seam::endpoint_id(seam::endpoint_ipv4(*origin), 0) : seam::endpoint_id(from_addr.ipv4_host_order(), 0);
  g.seq = text_hash(t);
  g.body = std::string(t);
  deliver(seam::endpoint_id(from_addr.ipv4_host_order(), 0), peers::encode(g));
}

task<void> legacy_peer_host::accept_loop(net::listener& l, std::stop_token st) {
  for (;;) {
    auto c = co_await l.accept(st);
    if (!c) {
      if (c.code() == errc::cancelled) break;
      continue;
    }
    tasks_.spawn(handle(std::move(*c), st));
  }
}

void legacy_peer_host::set_timer(seam::time_point at) { timer_.set(epoch_ + at); }

task<result<void>> legacy_peer_host::run(std::stop_token st) {
  stop_ = st;
  auto l = net::listener::bind(r_, host::endpoint_address(self_));
  if (!l) co_return l.error();
  tasks_.spawn(accept_loop(**l, st));
  tasks_.spawn(timer_.run(st, [this] { node_->on_timer(*env_); }));
  node_->on_start(*env_);
  co_await tasks_.join();
  co_await (*l)->close();
  co_return result<void>{};
}

}  // namespace confab::tools
