#include "tools/confab/legacy_gateway.hpp"

#include <algorithm>
#include <memory>
#include <set>
#include <unordered_map>

#include "engine/core/scope.hpp"
#include "engine/net/connection.hpp"
#include "engine/net/framing.hpp"
#include "engine/host/tcp_host.hpp"
#include "engine/host/text_host.hpp"
#include "engine/net/listener.hpp"
#include "protocols/common/codec.hpp"
#include "protocols/common/endpoints.hpp"
#include "protocols/seeds/legacy.hpp"
#include "protocols/seeds/wire.hpp"

namespace confab::tools {

namespace {

using namespace std::chrono_literals;
using seam::node_id;

struct gateway {
  io::reactor& r;
  legacy_gateway_options o;
  std::shared_ptr<net::connection> native;  // to the local seed
  bool native_connecting = false;
  std::uint64_t next_request = 1;
  std::unordered_map<std::uint64_t, seeds::register_reply> replies;
  std::set<node_id> legacy_peers;
  task_scope tasks;
};

std::vector<std::byte> frame(const gateway& g, node_id sender, const seeds::message& m) {
  auto bytes = seeds::encode(m);
  if (g.o.auth) g.o.auth->seal(sender, bytes);
  return host::frame(sender, bytes);
}


// Reads the native replies of the local seed.
task<void> native_reader(gateway& g, std::shared_ptr<net::connection> c, std::stop_token st) {
  net::frame_reader in(*c, {.frame_bytes_max = 1u << 20});
  for (;;) {
    auto f = co_await in.next(st);
    if (!f || f->size() < 8) break;
    auto payload = f->subspan(8);
    if (g.o.auth) {
      auto inner = g.o.auth->open(seam::node_id{g.o.seed}, payload);
      if (!inner) break;
      payload = *inner;
    }
    auto m = seeds::decode(payload);
    if (!m) break;
    if (auto* rep = std::get_if<seeds::register_reply>(&*m)) g.replies[rep->request_id] = *rep;
  }
  co_await c->close();
}

task<bool> ensure_native(gateway& g, std::stop_token st) {
  if (g.native && g.native->open()) co_return true;
  net::connect_options co;
  co.deadline = io::clock::now() + 2s;
  co.stop = st;
  auto c = co_await net::connect(g.r, host::endpoint_address(g.o.seed), std::move(co));
  if (!c) co_return false;
  g.native = std::shared_ptr<net::connection>(std::move(*c));
  g.tasks.spawn(native_reader(g, g.native, st));
  co_return true;
}

task<void> notify(io::reactor& r, node_id to, std::string text, std::stop_token st) {
  (void)co_await host::send_text(r, to, std::move(text), st);
}

task<void> handle(gateway& g, std::unique_ptr<net::connection> c, std::stop_token st) {
  const auto from = c->peer();
  auto text = co_await host::read_text_message(*c, st, std::chrono::seconds(5), std::chrono::milliseconds(50),
                                               seeds::legacy::message_bytes_max);
  if (!text) {
    g.o.log("legacy: closed a connection from " + from.to_string() + ": " + text.error().message());
    co_await c->close();
    co_return;
  }
  auto m = seeds::legacy::parse(*text);
  if (!m) {
    g.o.log("legacy: closed a connection from " + from.to_string() + ": " + m.error().message());
    co_await c->close();
    co_return;
  }
  const bool native_up = co_await ensure_native(g, st);
  if (!native_up) {
    g.o.log("legacy: the local seed is not reachable; dropped a message from " + from.to_string());
    co_await c->close();
    co_return;
  }
  if (auto* d = std::get_if<seeds::legacy::dead_text>(&*m)) {
    if (from.ipv4_host_order() != d->reporter_ip) {
      g.o.log("legacy: refused a Dead Node report from " + from.to_string() + " naming another reporter IP");
    } else {
      const node_id rep = seeds::legacy::reporter_id(d->reporter_ip);
      (void)g.native->send(frame(g, rep, seeds::dead_report{.suspect = d->suspect, .reporter = rep}));
      g.o.log("legacy: Dead Node:" + endpoints::id_string(d->suspect) + ":" + d->timestamp + ":" + from.ip_string());
    }
    co_await c->close();
    co_return;
  }
  const node_id peer = std::get<seeds::legacy::register_text>(*m).peer;
  const std::uint64_t id = g.next_request++;
  g.o.log("legacy: registration of " + endpoints::id_string(peer) + " from " + from.to_string());
  (void)g.native->send(frame(g, peer, seeds::register_request{.request_id = id}));
  const auto give_up = io::clock::now() + 10s;
  while (!g.replies.count(id) && io::clock::now() < give_up && !st.stop_requested()) {
    auto slept = co_await io::sleep_for(5ms, st);
    if (!slept) break;
  }
  auto it = g.replies.find(id);
  if (it == g.replies.end() || it->second.status != seeds::register_status::ok) {
    g.o.log("legacy: registration of " + endpoints::id_string(peer) + " was not committed in time");
    g.replies.erase(id);
    co_await c->close();
    co_return;
  }
  auto pl = std::move(it->second.peers);
  g.replies.erase(it);
  if (std::find(pl.begin(), pl.end(), peer) == pl.end()) pl.push_back(peer);
  const auto reply = seeds::legacy::pl_text(pl);
  (void)co_await c->send(net::as_bytes(reply));
  (void)co_await c->flush();
  co_await c->close();
  // Tell the other legacy peers this seed registered, each on a new connection.
  const auto notice = seeds::legacy::added_text(seam::endpoint_port(g.o.seed), peer);
  for (auto other : g.legacy_peers)
    if (other != peer && std::find(pl.begin(), pl.end(), other) != pl.end()) g.tasks.spawn(notify(g.r, other, notice, st));
  g.legacy_peers.insert(peer);
}

task<void> accept_loop(gateway& g, net::listener& l, std::stop_token st) {
  for (;;) {
    auto c = co_await l.accept(st);
    if (!c) {
      if (c.code() == errc::cancelled) break;
      continue;
    }
    g.tasks.spawn(handle(g, std::move(*c), st));
  }
}

}  // namespace

task<result<void>> serve_legacy(io::reactor& r, legacy_gateway_options o, std::stop_token st) {
  auto l = net::listener::bind(r, o.listen);
  if (!l) co_return l.error();
  gateway g{r, std::move(o)};
  g.tasks.spawn(accept_loop(g, **l, st));
  co_await g.tasks.join();
  if (g.native) co_await g.native->close();
  co_await (*l)->close();
  co_return result<void>{};
}

}  // namespace confab::tools
