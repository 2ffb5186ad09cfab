#include "tools/confab/seed_cmd.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <optional>
#include <utility>
#include <malloc.h>
#include <unistd.h>
#include <cstdlib>
#include <string_view>

#include "engine/io/runtime.hpp"
#include "engine/host/tcp_host.hpp"
#include "protocols/common/endpoints.hpp"
#include "protocols/seeds/node.hpp"
#include "protocols/seeds/storage.hpp"
#include "engine/core/scope.hpp"
#include "tools/confab/config.hpp"
#include "tools/confab/event_log.hpp"
#include "tools/confab/legacy_gateway.hpp"
#include "tools/confab/metrics.hpp"
#include "tools/confab/node_cmd.hpp"

namespace confab::tools {

namespace {

task<void> serve_legacy_port(io::reactor& r, legacy_gateway_options o, int& exit_code) {
  const auto port = o.listen.to_string();
  auto ok = co_await serve_legacy(r, std::move(o), r.drain_token());
  if (!ok) {
    std::fprintf(stderr, "confab seed: cannot serve the legacy port %s: %s\n", port.c_str(), ok.error().message().c_str());
    exit_code = 1;
    r.request_drain();  // asked for a port it cannot serve: stop, say why
  }
}

}  // namespace

// The settings, the seed's id and where it binds; nullopt (exit code 2)
// after saying why.
struct seed_who {
  seed_settings settings;
  node_address at;
};
result<std::size_t, problem> parse_ordinal(const std::string& text) {
  auto number = [](std::string_view t) -> std::optional<std::size_t> {
    if (t.empty() || t.size() > 6 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    return static_cast<std::size_t>(std::stoul(std::string(t)));
  };
  if (text != "auto") {
    if (auto n = number(text)) return *n;
    return problem{"--ordinal '" + text + "': expected a number or auto"};
  }
  if (const char* procid = std::getenv("SLURM_PROCID")) {
    if (auto n = number(procid)) return *n;
    return problem{std::string("--ordinal auto: SLURM_PROCID '") + procid + "' is not a number"};
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return problem{"--ordinal auto: no SLURM_PROCID and no host name"};
  std::string_view h(host);
  h = h.substr(0, h.find('.'));
  const auto dash = h.rfind('-');
  if (dash != std::string_view::npos)
    if (auto n = number(h.substr(dash + 1))) return *n;
  return problem{"--ordinal auto: no SLURM_PROCID, and the host name '" + std::string(h) +
                 "' does not end in -N (a StatefulSet pod's name does)"};
}

static std::optional<seed_who> seed_identity(const std::string& config, std::string listen, std::string advertise,
                                             const std::string& ordinal, const char* who) {
  auto loaded = load_seed_settings(config);
  if (!loaded) {
    std::fprintf(stderr, "confab %s: %s\n", who, loaded.error().text.c_str());
    return std::nullopt;
  }
  const auto& seeds = loaded->seed.seeds;
  if (!ordinal.empty()) {
    // The identity is the list's entry K; bound on every address at its
    // port unless --listen says otherwise.
    auto k = parse_ordinal(ordinal);
    if (!k) {
      std::fprintf(stderr, "confab %s: %s\n", who, k.error().text.c_str());
      return std::nullopt;
    }
    if (*k >= seeds.size()) {
      std::fprintf(stderr, "confab %s: --ordinal %zu: the seed list %s has %zu entries (0..%zu)\n", who, *k,
                   loaded->seeds_file.c_str(), seeds.size(), seeds.size() - 1);
      return std::nullopt;
    }
    if (!advertise.empty()) {
      std::fprintf(stderr, "confab %s: --ordinal and --advertise both name the identity; give one\n", who);
      return std::nullopt;
    }
    advertise = endpoints::id_string(seeds[*k]);
    if (listen.empty()) listen = "0.0.0.0:" + std::to_string(seam::endpoint_port(seeds[*k]));
  } else if (listen.empty()) {
    std::fprintf(stderr, "confab %s: give --listen IP:PORT or --ordinal K|auto\n", who);
    return std::nullopt;
  }
  auto at = node_identity(listen, advertise, who);
  if (!at) return std::nullopt;
  if (std::find(seeds.begin(), seeds.end(), at->self) == seeds.end()) {
    std::fprintf(stderr, "confab %s: %s %s is not in the seed list %s\n", who, advertise.empty() ? "--listen" : "--advertise",
                 (advertise.empty() ? listen : advertise).c_str(), loaded->seeds_file.c_str());
    return std::nullopt;
  }
  return seed_who{std::move(*loaded), *at};
}

int run_seed_command(const seed_options& o) {
  auto who = seed_identity(o.config, o.listen, o.advertise, o.ordinal, "seed");
  if (!who) return 2;
  auto& s = who->settings;
  const auto self = &who->at.self;
  if (o.legacy_port >= 0) s.legacy_port = static_cast<std::uint16_t>(o.legacy_port);
  s.seed.legacy_reports = s.legacy_port != 0;
  const std::string name = endpoints::id_string(*self);
  const std::string base = node_file_base(s.data_dir, "seed", *self);
  if (auto lock = lock_node_files(base); !lock) {
    std::fprintf(stderr, "confab seed: %s\n", lock.error().text.c_str());
    return 1;
  }
  auto store = seeds::file_store::open(base, *self);
  if (!store) {
    std::fprintf(stderr, "confab seed: %s\n", store.error().text.c_str());
    return 1;
  }
  event_log logs(base, log_limits(s.limits));
  if (!logs.ok()) {
    std::fprintf(stderr, "confab seed: cannot write the event logs in %s\n", s.data_dir.c_str());
    return 1;
  }
  const auto& found = (*store)->report();
  if (found.kind == seeds::recovery_report::corrupt || found.kind == seeds::recovery_report::torn_tail)
    std::fprintf(stderr, "confab seed: %s\n", found.text.c_str());
  logs.line("seed " + name + " starting: " + std::to_string(s.seed.seeds.size()) + " seeds, quorum " +
            std::to_string(s.seed.quorum()) + "; storage: " + found.text);
  logs.flush();

  const seam::node_id id = *self;
  // Bulk events are counted, not logged one line each (any client can make
  // a seed answer a million PL requests); a summary line every 10 s says
  // how many. Reports and refusals are logged, rate-limited per kind.
  struct {
    std::uint64_t registrations = 0, pl_sent = 0;
  } bulk;
  auto on_event = [&logs, &bulk, id](const seeds::seed_event& e) {
    if (e.kind == seeds::seed_event::register_received) return void(++bulk.registrations);
    if (e.kind == seeds::seed_event::register_answered) return void(++bulk.pl_sent);
    if ((e.kind == seeds::seed_event::report_received || e.kind == seeds::seed_event::report_ignored ||
         e.kind == seeds::seed_event::leave_received || e.kind == seeds::seed_event::watch_asked) &&
        !logs.admit(seeds::event_name(e.kind)))
      return;
    logs.line(seeds::event_text(e, id));
    logs.json(event_json(e, id));
    // Commits and membership changes are flushed at once; the rest with them.
    if (e.kind == seeds::seed_event::committed || e.kind == seeds::seed_event::applied_add ||
        e.kind == seeds::seed_event::applied_remove || e.kind == seeds::seed_event::became_leader ||
        e.kind == seeds::seed_event::learner_ended || e.kind == seeds::seed_event::follower_behind ||
        e.kind == seeds::seed_event::storage_refused)
      logs.flush();
  };
  auto on_reject = [&logs](seam::node_id from, const char* why) {
    if (!logs.admit("refused_message")) return;
    logs.line("refused a message from " + endpoints::id_string(from) + ": " + why);
    logs.flush();
  };
  host::tcp_host_options ho = host_options(s.limits);
  ho.bind = who->at.bind;
  ho.on_serving = [&] {
    std::fprintf(stderr, "confab seed: %s serving (%zu seeds, quorum %zu); logs in %s.events.{txt,jsonl}\n",
                 name.c_str(), s.seed.seeds.size(), s.seed.quorum(), base.c_str());
  };
  ho.on_bind_wait = [&](const error& e) {
    std::fprintf(stderr, "confab seed: %s: %s; trying again for up to 5 s (a killed instance may still hold it)\n",
                 name.c_str(), e.message().c_str());
  };
  ho.message_bytes_max = 1u << 20;
  ho.on_bad_input = [&logs](const net::address& from, const error& e) {
    if (!logs.admit("bad_input")) return;
    logs.line("closed a connection from " + from.to_string() + ": " + e.message());
    std::fprintf(stderr, "confab seed: closed a connection from %s: %s\n", from.to_string().c_str(), e.message().c_str());
    logs.flush();
  };
  auto summarise = [&logs, &bulk](io::reactor& r) -> task<void> {
    std::uint64_t regs = 0, sent = 0;
    while (!r.drain_token().stop_requested()) {
      (void)co_await io::sleep_for(std::chrono::seconds(10), r.drain_token());
      ::malloc_trim(0);  // give back what a burst of clients made the heap take (glibc keeps it otherwise)
      if (bulk.registrations == regs && bulk.pl_sent == sent) continue;
      logs.line("in the last 10 s: " + std::to_string(bulk.registrations - regs) + " registrations received, the PL sent " +
                std::to_string(bulk.pl_sent - sent) + " times (totals " + std::to_string(bulk.registrations) + ", " +
                std::to_string(bulk.pl_sent) + ")");
      logs.flush();
      regs = bulk.registrations;
      sent = bulk.pl_sent;
    }
  };

  std::optional<protocols::cluster_auth> auth;
  if (s.key) auth.emplace(*s.key, protocols::replay_options{.window = s.replay_window});
  io::runtime rt(node_runtime(o.backend));
  int exit_code = 0;
  const auto metrics_at = metrics_address(o.metrics, "seed");
  if (!metrics_at) return 2;
  auto ran = rt.run([&](io::runtime&, io::reactor& r, unsigned) -> task<void> {
    host::tcp_host host(r, id, {}, std::make_unique<seeds::seed_node>(s.seed, **store, on_event, on_reject, auth ? &*auth : nullptr),
                        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()), ho);
    legacy_port_stats legacy_stats;
    task_scope both;
    both.spawn(serve_host(host, r, "seed", exit_code));
    both.spawn(summarise(r));
    if (*metrics_at) {
      auto render = [&host, &bulk, &legacy_stats] {
        const auto& node = static_cast<const seeds::seed_node&>(host.get());
        metrics_text m;
        const auto& n = node.stats();
        m.counters({{"confab_seed_messages_received_total", "native messages taken in", double(n.received)},
                    {"confab_seed_messages_rejected_total", "messages refused as malformed", double(n.rejected)},
                    {"confab_seed_messages_forged_total", "messages refused for a wrong cluster-key tag", double(n.forged)},
                    {"confab_seed_messages_replayed_total", "messages refused as replays", double(n.replayed)},
                    {"confab_seed_messages_sent_total", "messages sent", double(n.sent)},
                    {"confab_seed_send_failures_total", "sends the host refused", double(n.send_failures)},
                    {"confab_seed_log_saves_total", "fsync'd saves of the Raft log", double(n.saves)},
                    {"confab_seed_registrations_received_total", "registrations received", double(bulk.registrations)},
                    {"confab_seed_pl_sent_total", "PL replies sent", double(bulk.pl_sent)},
                    {"confab_seed_legacy_accepted_total", "connections accepted on the legacy port",
                     double(legacy_stats.accepted)},
                    {"confab_seed_legacy_refused_total", "legacy connections refused over a cap",
                     double(legacy_stats.refused_over_cap)},
                    {"confab_seed_legacy_closed_bad_total",
                     "legacy connections closed for a refused message (silent, oversized, garbage, spoofed)",
                     double(legacy_stats.closed_bad)}});
        add_host_metrics(m, "confab_seed", host.stats());
        if (node.started()) {
          const auto& c = node.core();
          m.gauges({{"confab_seed_term", "current Raft term", double(c.term())},
                    {"confab_seed_commit_index", "highest committed log index", double(c.commit_index())},
                    {"confab_seed_last_index", "last log index", double(c.last_index())},
                    {"confab_seed_members", "peers in the applied PL", double(c.members().size())},
                    {"confab_seed_leader", "1 on the leader", c.current_role() == seeds::role::leader ? 1.0 : 0.0},
                    {"confab_seed_learner", "1 while a learner (damaged or new storage)", c.learner() ? 1.0 : 0.0},
                    {"confab_seed_pending_requests", "registrations awaiting commit", double(c.pending_requests())}});
        }
        return m.text();
      };
      both.spawn(serve_metrics_port(r, **metrics_at, render, "seed", exit_code, logs));
    }
    if (s.legacy_port != 0) {
      legacy_gateway_options lo;
      lo.listen = net::address::ipv4(seam::endpoint_ipv4(id), s.legacy_port);
      lo.seed = id;
      lo.auth = auth ? &*auth : nullptr;
      lo.connections_per_source_max = s.limits.text_connections_per_source_max;
      lo.connections_max = s.limits.text_connections_max;
      lo.stats = &legacy_stats;
      lo.log = [&logs](const std::string& line) {
        if (!logs.admit("legacy")) return;
        logs.line(line);
        logs.flush();
      };
      both.spawn(serve_legacy_port(r, std::move(lo), exit_code));
    }
    co_await both.join();
  });
  if (!ran) {
    std::fprintf(stderr, "confab seed: %s\n", ran.error().message().c_str());
    return 1;
  }
  logs.line("seed " + name + " stopped");
  return exit_code;
}

int run_seed_repair_command(const seed_repair_options& o) {
  auto who = seed_identity(o.config, o.listen, o.advertise, o.ordinal, "seed-repair");
  if (!who) return 2;
  const auto& s = who->settings;
  const auto self = who->at.self;
  const std::string base = node_file_base(s.data_dir, "seed", self);
  if (auto lock = lock_node_files(base); !lock) {  // a running seed's files are not ours to change
    std::fprintf(stderr, "confab seed-repair: %s; stop that seed first\n", lock.error().text.c_str());
    return 2;
  }
  auto store = seeds::file_store::open(base, self);
  if (!store) {
    std::fprintf(stderr, "confab seed-repair: %s\n", store.error().text.c_str());
    return 1;
  }
  const auto st = (*store)->recovered();
  std::printf("storage: %s\n", (*store)->report().text.c_str());
  std::printf("holds %zu log entries; term %llu; commit hint %llu; %s\n", st.log.size(),
              static_cast<unsigned long long>(st.hard.term), static_cast<unsigned long long>(st.hard.commit),
              st.hard.learner ? "a learner (votes for nobody, stands for nothing)" : "a voter");
  if (!st.hard.learner) {
    std::printf("nothing to do: this seed votes\n");
    return 0;
  }
  std::printf(
      "what making it a voter can lose: it may have acknowledged entries after index %zu that it no longer holds, "
      "and it may have voted in term %llu or below. If its vote helps elect a leader that lacks entries the cluster "
      "committed after index %zu, those registrations and removals are lost for good (peers re-register; removed "
      "peers may come back until reported again). It will grant no vote in term %llu or below.\n",
      st.log.size(), static_cast<unsigned long long>(st.hard.term), st.log.size(),
      static_cast<unsigned long long>(st.hard.term));
  if (!o.accept_loss) {
    std::printf("left a learner; run again with --accept-loss to make it a voter\n");
    return 1;
  }
  seeds::persist_batch b;
  b.hard_changed = true;
  b.hard = st.hard;
  b.hard.learner = false;
  b.hard.vote_floor = std::max(st.hard.vote_floor, st.hard.term);
  if (auto ok = (*store)->save(b); !ok) {
    std::fprintf(stderr, "confab seed-repair: cannot save the state file: %s\n", ok.error().message().c_str());
    return 1;
  }
  event_log logs(base, log_limits(s.limits));
  logs.line("seed-repair: made a voter by the operator (--accept-loss) with " + std::to_string(st.log.size()) +
            " log entries; no vote in term " + std::to_string(b.hard.vote_floor) + " or below");
  logs.flush();
  std::printf("done: the seed votes again when started\n");
  return 0;
}

}  // namespace confab::tools
