#include "tools/confab/peer_cmd.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "engine/io/runtime.hpp"
#include "engine/host/tcp_host.hpp"
#include "engine/host/text_host.hpp"
#include "engine/core/scope.hpp"
#include "protocols/common/endpoints.hpp"
#include "protocols/peers/legacy.hpp"
#include "protocols/peers/node.hpp"
#include "tools/confab/config.hpp"
#include "tools/confab/event_log.hpp"
#include "tools/confab/node_cmd.hpp"

namespace confab::tools {


namespace {
// On the reactor's drain (SIGTERM, SIGINT): a registered peer asks the
// seeds to remove it and waits up to `leave_wait` for one to confirm, then
// the host stops. A peer the seeds never confirm is removed by its
// neighbours' reports, as after a crash.
task<void> leave_on_drain(host::tcp_host& host, io::reactor& r, std::stop_source& host_stop,
                          std::chrono::milliseconds leave_wait) {
  auto drain = r.drain_token();
  while (!drain.stop_requested() && !host_stop.stop_requested()) (void)co_await io::sleep_for(std::chrono::seconds(1), drain);
  auto& node = static_cast<peers::peer_node&>(host.get());
  if (!host_stop.stop_requested() && node.started() && node.core().registered()) {
    host.act([&node](seam::env& e) { node.leave(e); });
    const auto until = io::clock::now() + leave_wait;
    while (!node.core().left() && io::clock::now() < until) (void)co_await io::sleep_for(std::chrono::milliseconds(10));
  }
  host_stop.request_stop();
}

task<void> serve_peer_host(host::tcp_host& host, io::reactor& r, std::stop_source& host_stop, int& exit_code) {
  auto ok = co_await host.run(host_stop.get_token());
  if (!ok) {
    std::fprintf(stderr, "confab peer: cannot serve: %s\n", ok.error().message().c_str());
    exit_code = 1;
    host_stop.request_stop();
    r.request_drain();
  }
}

task<void> serve_legacy_peer(host::text_host& host, io::reactor& r, int& exit_code) {
  auto ok = co_await host.run(r.drain_token());
  if (!ok) {
    std::fprintf(stderr, "confab peer: cannot serve: %s\n", ok.error().message().c_str());
    exit_code = 1;
  }
}
}  // namespace

int run_peer_command(const peer_options& o) {
  auto loaded = load_peer_settings(o.config);
  if (!loaded) {
    std::fprintf(stderr, "confab peer: %s\n", loaded.error().text.c_str());
    return 2;
  }
  auto& s = *loaded;
  const auto at = node_identity(o.listen, o.advertise, "peer");
  if (!at) return 2;
  const auto self = &at->self;
  if (std::find(s.peer.seeds.begin(), s.peer.seeds.end(), *self) != s.peer.seeds.end()) {
    std::fprintf(stderr, "confab peer: %s is a seed's address\n", endpoints::id_string(*self).c_str());
    return 2;
  }
  const std::string name = endpoints::id_string(*self);
  const std::string base = node_file_base(s.data_dir, "peer", *self);
  if (auto lock = lock_node_files(base); !lock) {
    std::fprintf(stderr, "confab peer: %s\n", lock.error().text.c_str());
    return 1;
  }
  event_log logs(base, log_limits(s.limits));
  if (!logs.ok()) {
    std::fprintf(stderr, "confab peer: cannot write the event logs in %s\n", s.data_dir.c_str());
    return 1;
  }
  logs.line("peer " + name + " starting: " + std::to_string(s.peer.seeds.size()) + " seeds, registering with " +
            std::to_string(s.peer.seeds.size() / 2 + 1));
  logs.flush();
  const seam::node_id id = *self;
  auto on_event = [&logs, id](const peers::peer_event& e) {
    logs.line(peers::event_text(e, id));
    logs.json(event_json(e, id));
    logs.flush();  // tools read the logs while the peer runs
  };
  peers::dedup_table seen({.capacity = 1u << 16, .generations = 4, .bucket = std::chrono::seconds(60)});
  if (s.key) logs.line("cluster key set: every frame is authenticated");
  host::tcp_host_options ho = host_options(s.limits);
  ho.bind = at->bind;
  ho.on_bind_wait = [&](const error& e) {
    std::fprintf(stderr, "confab peer: %s: %s; trying again for up to 5 s (a killed instance may still hold it)\n",
                 name.c_str(), e.message().c_str());
  };
  ho.on_bad_input = [&logs](const net::address& from, const error& e) {
    if (!logs.admit("bad_input")) return;
    logs.line("closed a connection from " + from.to_string() + ": " + e.message());
    logs.flush();
  };
  std::optional<protocols::cluster_auth> auth;
  if (s.key) auth.emplace(*s.key, protocols::replay_options{.window = s.replay_window});
  io::runtime rt(node_runtime(o.backend));
  int exit_code = 0;
  const auto rng_seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^ id;
  if (s.legacy) {
    // The original has no probes: report on this peer's own evidence.
    s.peer.probers_min = 0;
    logs.line("legacy dialect: text messages, one per connection");
  }
  const auto metrics_at = metrics_address(o.metrics, "peer");
  if (!metrics_at) return 2;
  if (*metrics_at && s.legacy) {
    std::fprintf(stderr, "confab peer: --metrics serves native peers only (this one speaks the legacy dialect)\n");
    return 2;
  }
  auto ran = rt.run([&](io::runtime&, io::reactor& r, unsigned) -> task<void> {
    auto node = std::make_unique<peers::peer_node>(s.peer, seen, on_event, auth ? &*auth : nullptr);
    if (s.legacy) {
      host::text_options to;
      to.answered = [&s](seam::node_id to_node) {
        return std::find(s.peer.seeds.begin(), s.peer.seeds.end(), to_node) != s.peer.seeds.end();
      };
      to.connections_per_source_max = s.limits.text_connections_per_source_max;
      to.connections_max = s.limits.text_connections_max;
      to.log = [&logs](const std::string& l) {
        if (!logs.admit("legacy")) return;
        logs.line("legacy: " + l);
        logs.flush();
      };
      host::text_host host(r, id, std::make_unique<peers::legacy_peer_node>(std::move(node), id, s.peer.seeds), rng_seed,
                           std::move(to));
      co_await serve_legacy_peer(host, r, exit_code);
    } else {
      host::tcp_host host(r, id, {}, std::move(node), rng_seed, ho);
      std::stop_source host_stop;
      task_scope both;
      both.spawn(serve_peer_host(host, r, host_stop, exit_code));
      both.spawn(leave_on_drain(host, r, host_stop, std::chrono::milliseconds(3000)));
      if (*metrics_at) {
        auto render = [&host] {
          const auto& node = static_cast<const peers::peer_node&>(host.get());
          metrics_text m;
          m.counters({{"confab_peer_messages_rejected_total", "messages refused as malformed", double(node.rejected())},
                      {"confab_peer_messages_forged_total", "messages refused for a wrong cluster-key tag",
                       double(node.forged())},
                      {"confab_peer_messages_replayed_total", "messages refused as replays", double(node.replayed())}});
          add_host_metrics(m, "confab_peer", host.stats());
          if (node.started()) {
            const auto& c = node.core();
            const auto& st = c.stats();
            m.gauges({{"confab_peer_registered", "1 once registered with a majority of seeds", c.registered() ? 1.0 : 0.0},
                      {"confab_peer_known_peers", "peers in the last PL received", double(c.known_peers())}});
            m.counters({{"confab_peer_gossip_frames_total", "gossip payloads sent (own and forwarded)", double(st.gossip_frames)},
                        {"confab_peer_control_frames_total", "ihave, graft and prune frames sent", double(st.control_frames)},
                        {"confab_peer_delivered_total", "first receipts of others' messages", double(st.delivered)},
                        {"confab_peer_duplicates_total", "gossip receipts already seen", double(st.duplicates)},
                        {"confab_peer_originated_total", "messages this peer originated", double(st.originated)},
                        {"confab_peer_suspicions_total", "neighbours suspected", double(st.suspicions)},
                        {"confab_peer_refutations_total", "suspicions refuted", double(st.refutations)},
                        {"confab_peer_confirmations_total", "deaths confirmed and reported", double(st.confirmations)}});
          }
          return m.text();
        };
        // POST /gossip: one message now (what `serf event` is to Serf).
        metrics_action gossip_now{"/gossip", [&host]() -> result<std::string> {
                                    auto& node = static_cast<peers::peer_node&>(host.get());
                                    bool sent = false;
                                    if (node.started()) host.act([&](seam::env& e) { sent = node.originate_now(e); });
                                    if (!sent) return error{.code = errc::invalid_argument, .detail = "not registered yet"};
                                    return "gossip " + std::to_string(node.core().stats().originated) + " sent";
                                  }};
        both.spawn(serve_metrics_port(r, **metrics_at, render, "peer", exit_code, logs, {std::move(gossip_now)}));
      }
      co_await both.join();
    }
  });
  if (!ran) {
    std::fprintf(stderr, "confab peer: %s\n", ran.error().message().c_str());
    return 1;
  }
  logs.line("peer " + name + " stopped");
  return exit_code;
}

}  // namespace confab::tools
