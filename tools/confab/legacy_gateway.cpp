#include "tools/confab/legacy_gateway.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "engine/core/scope.hpp"
#include "engine/net/connection.hpp"
#include "engine/net/framing.hpp"
#include "engine/host/tcp_host.hpp"
#include "engine/host/text_host.hpp"
#include "engine/net/listener.hpp"
#include "engine/net/source_gate.hpp"
#include "protocols/common/endpoints.hpp"
#include "protocols/seeds/legacy.hpp"
#include "protocols/seeds/client.hpp"
#include "tools/confab/seed_link.hpp"

namespace confab::tools {

namespace {

using namespace std::chrono_literals;
using seam::node_id;

// The driver: connections and frames. Every decision is the core's
// (seeds::legacy::gateway_core).
struct gateway {
  io::reactor& r;
  legacy_gateway_options o;
  seeds::legacy::gateway_core core;
  std::shared_ptr<net::connection> native;  // to the local seed
  std::uint64_t next_conn = 1;
  std::unordered_map<std::uint64_t, seeds::legacy::gateway_core::answer> answers;  // conn -> its answer
  std::optional<protocols::frame_sealer> sealer;  // with the cluster key
  net::source_gate gate;  // before tasks: the connections' tickets give their places back to it
  task_scope tasks;
};

std::vector<std::byte> frame(gateway& g, const seeds::legacy::gateway_core::to_seed& t) {
  return seed_link::frame(g.sealer ? &*g.sealer : nullptr, t.sender, g.o.seed, t.bytes);
}

task<void> notify(io::reactor& r, node_id to, std::string text, std::stop_token st) {
  (void)co_await host::send_text(r, to, std::move(text), st);
}

// Reads the native replies of the local seed and hands them to the core.
task<void> native_reader(gateway& g, std::shared_ptr<net::connection> c, std::stop_token st) {
  net::frame_reader in(*c, {.frame_bytes_max = 1u << 20});
  for (;;) {
    auto f = co_await in.next(st);
    if (!f) break;
    auto m = seed_link::read(g.sealer ? &*g.sealer : nullptr, g.o.seed, *f);
    if (!m) break;
    auto* reply = std::get_if<seeds::register_reply>(&*m);
    if (!reply) continue;
    if (auto a = g.core.on_reply(*reply)) {
      for (auto& [to, text] : a->notices) g.tasks.spawn(notify(g.r, to, text, st));
      const auto conn = a->conn;
      g.answers[conn] = std::move(*a);
    }
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

// `place` is held until the connection ends.
task<void> handle(gateway& g, std::unique_ptr<net::connection> c, [[maybe_unused]] net::source_gate::ticket place,
                  std::stop_token st) {
  const auto from = c->peer();
  const std::uint64_t conn = g.next_conn++;
  auto text = co_await host::read_text_message(*c, st, std::chrono::seconds(5), std::chrono::milliseconds(50),
                                               seeds::legacy::message_bytes_max);
  if (!text) {
    if (g.o.stats) ++g.o.stats->closed_bad;
    g.o.log("legacy: closed a connection from " + from.to_string() + ": " + text.error().message());
    co_await c->close();
    co_return;
  }
  auto step = g.core.on_text(conn, from.ipv4_host_order(), from.port(), *text);
  g.o.log(step.log);
  if (!step.native && g.o.stats) ++g.o.stats->closed_bad;  // garbage, a spoofed address or reporter
  if (step.native) {
    const bool native_up = co_await ensure_native(g, st);
    if (!native_up) {
      g.o.log("legacy: the local seed is not reachable; dropped a message from " + from.to_string());
      g.core.forget(conn);
      step.awaits_reply = false;
    } else {
      (void)g.native->send(frame(g, *step.native));
    }
  }
  if (step.awaits_reply) {
    const auto give_up = io::clock::now() + 10s;
    while (!g.answers.count(conn) && io::clock::now() < give_up && !st.stop_requested()) {
      auto slept = co_await io::sleep_for(5ms, st);
      if (!slept) break;
    }
    auto it = g.answers.find(conn);
    if (it == g.answers.end()) {
      g.core.forget(conn);
      g.o.log("legacy: a registration from " + from.to_string() + " was not committed in time");
    } else {
      if (!it->second.log.empty()) g.o.log(it->second.log);
      if (it->second.reply) {
        (void)co_await c->send(net::as_bytes(*it->second.reply));
        (void)co_await c->flush();
      }
      g.answers.erase(it);
    }
  }
  co_await c->close();
}

task<void> accept_loop(gateway& g, net::listener& l, std::stop_token st) {
  for (;;) {
    auto c = co_await l.accept(st);
    if (!c) {
      if (c.code() == errc::cancelled) break;
      continue;
    }
    auto place = g.gate.admit((*c)->peer().ipv4_host_order());
    if (!place) {
      if (g.o.stats) ++g.o.stats->refused_over_cap;
      g.o.log("legacy: refused a connection from " + (*c)->peer().to_string() + ": " + place.error().message());
      co_await (*c)->close();
      continue;
    }
    if (g.o.stats) ++g.o.stats->accepted;
    g.tasks.spawn(handle(g, std::move(*c), std::move(*place), st));
  }
}

}  // namespace

task<result<void>> serve_legacy(io::reactor& r, legacy_gateway_options o, std::stop_token st) {
  auto l = net::listener::bind(r, o.listen);
  if (!l) co_return l.error();
  const auto seed_port = seam::endpoint_port(o.seed);
  const net::source_gate::limits caps{.per_source_max = o.connections_per_source_max, .total_max = o.connections_max};
  gateway g{.r = r, .o = std::move(o), .core = seeds::legacy::gateway_core(seed_port), .gate = net::source_gate(caps)};
  if (g.o.auth) g.sealer.emplace(*g.o.auth);
  g.tasks.spawn(accept_loop(g, **l, st));
  co_await g.tasks.join();
  if (g.native) co_await g.native->close();
  co_await (*l)->close();
  co_return result<void>{};
}

}  // namespace confab::tools
