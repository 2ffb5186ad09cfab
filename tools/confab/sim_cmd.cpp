#include "tools/confab/sim_cmd.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "engine/io/runtime.hpp"
#include "engine/seam/fabric.hpp"
#include "protocols/peers/node.hpp"
#include "protocols/seeds/node.hpp"
#include "protocols/seeds/storage.hpp"
#include "tools/confab/sim_report.hpp"
#include "tools/confab/sim_scenario.hpp"
#include "engine/seam/tcp_host.hpp"

namespace confab::tools {

namespace {

// Lateness budget: p99 within 10% of the shortest one-way delay (and at
// least 100 us, for runs with almost no delay).
constexpr double lateness_budget_fraction = 0.10;
constexpr double lateness_budget_floor_us = 100.0;

using namespace std::chrono_literals;
using seam::node_id;

std::chrono::nanoseconds secs(double s) { return std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9)); }
double to_s(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }

// What the nodes of one reactor thread record; written by that thread only,
// read by others through the relaxed counters alone, merged after the run.
struct alignas(64) thread_record {
  struct send {
    std::uint32_t origin;
    std::uint32_t seq;
    std::int64_t t;
  };
  struct receipt {
    std::uint32_t origin, seq, who, hops;
    std::int64_t t;
  };
  struct removal {
    std::uint32_t seed, peer;
    std::int64_t t;
  };
  struct note {  // failure-detection steps, for the trace
    std::uint32_t by, about, other;
    std::int64_t t;
    const char* what;
    const char* why;
  };
  std::vector<send> sends;
  std::vector<receipt> receipts;
  std::vector<removal> removals;
  std::vector<note> notes;
  std::vector<std::pair<double, double>> members;  // (s, PL size at the leader)
  std::atomic<std::uint64_t> suspicions{0}, confirmations{0}, removals_applied{0}, deliveries{0};
};

void bump(std::atomic<std::uint64_t>& c) { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }

// A fault with its victims chosen (seeded), node numbers of the group.
struct planned_fault {
  sim_fault f;
  std::vector<std::uint32_t> nodes, a, b;
};

std::vector<planned_fault> plan_faults(const sim_scenario& s, seam::random& rng) {
  std::vector<planned_fault> out;
  std::set<std::uint32_t> taken;  // killed peers are never chosen again
  const auto first_peer = static_cast<std::uint32_t>(s.seeds);
  auto faults = s.faults;
  std::stable_sort(faults.begin(), faults.end(), [](const sim_fault& x, const sim_fault& y) { return x.at_s < y.at_s; });
  for (const auto& f : faults) {
    planned_fault p{f, {}, {}, {}};
    switch (f.kind) {
      case sim_fault::kill:
      case sim_fault::pause: {
        std::set<std::uint32_t> chosen;
        while (chosen.size() < f.count) {
          const auto g = first_peer + static_cast<std::uint32_t>(rng.below(s.peers));
          if (!taken.count(g)) chosen.insert(g);
        }
        if (f.kind == sim_fault::kill) taken.insert(chosen.begin(), chosen.end());
        p.nodes.assign(chosen.begin(), chosen.end());
        break;
      }
      case sim_fault::crash_seed:
      case sim_fault::restart_seed: p.nodes.push_back(static_cast<std::uint32_t>(f.seed_index)); break;
      case sim_fault::partition:
      case sim_fault::clog: {
        const std::uint32_t lo = f.include_seeds ? 0 : first_peer, hi = static_cast<std::uint32_t>(s.seeds + s.peers);
        const auto cut = lo + static_cast<std::uint32_t>(std::round(f.fraction * (hi - lo)));
        for (auto g = lo; g < hi; ++g) (g < cut ? p.a : p.b).push_back(g);
        break;
      }
      case sim_fault::heal:
      case sim_fault::unclog: break;
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string describe(const planned_fault& p) {
  char buf[160];
  switch (p.f.kind) {
    case sim_fault::kill: std::snprintf(buf, sizeof buf, "kill %zu peers", p.nodes.size()); break;
    case sim_fault::pause: std::snprintf(buf, sizeof buf, "pause %zu peers for %.1f s", p.nodes.size(), p.f.pause_s); break;
    case sim_fault::crash_seed: std::snprintf(buf, sizeof buf, "crash seed %u", p.nodes[0]); break;
    case sim_fault::restart_seed: std::snprintf(buf, sizeof buf, "restart seed %u", p.nodes[0]); break;
    case sim_fault::partition:
      std::snprintf(buf, sizeof buf, "partition %zu | %zu nodes (%s)", p.a.size(), p.b.size(),
                    p.f.symmetric ? "symmetric" : "one-way");
      break;
    case sim_fault::heal: std::snprintf(buf, sizeof buf, "heal"); break;
    case sim_fault::clog:
      std::snprintf(buf, sizeof buf, "clog %zu | %zu nodes (%s)", p.a.size(), p.b.size(), p.f.symmetric ? "symmetric" : "one-way");
      break;
    case sim_fault::unclog: std::snprintf(buf, sizeof buf, "unclog"); break;
  }
  return buf;
}

double rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string scenario_text(const sim_scenario& s, unsigned threads) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "seeds = %zu\npeers = %zu\ntransport = %s\nthreads = %u\nseed = %llu\n"
                "delay_ms = %.3f\njitter_ms = %.3f (%s)\nloss = %.4f\nduplicate = %.4f\nlatency_matrix = %s\n"
                "scale = %.3f (gossip every %.2f s, ping every %.2f s)\njoin window = %.1f..%.1f s\n"
                "originators = %zu\nmessages = %u each\nmessage_bytes = %zu\nmode = %s\noverlay = %s (attach %zu)\n",
                s.seeds, s.peers, seam::transport_name(s.transport), threads, static_cast<unsigned long long>(s.seed),
                s.delay_ms, s.jitter_ms,
                s.jitter == delay::jitter_kind::uniform  ? "uniform"
                : s.jitter == delay::jitter_kind::normal ? "normal"
                : s.jitter == delay::jitter_kind::pareto ? "pareto"
                : s.jitter == delay::jitter_kind::lognormal ? "lognormal"
                                                            : "constant",
                s.loss, s.duplicate, s.latency_matrix.empty() ? "-" : s.latency_matrix.c_str(), s.scale,
                s.gossip_interval_s(), 13.0 * s.scale, s.join_start_s(), s.join_end_s(),
                s.originators ? s.originators : s.peers, s.messages, s.message_bytes,
                s.mode == peers::dissemination::flood ? "flood" : "plumtree",
                s.overlay == peers::overlay_model::preferential ? "preferential" : "exponential", s.attach);
  return buf;
}

delay::link_model model_of(const sim_scenario& s, double base_ms) {
  auto m = delay::around(base_ms, s.jitter_ms, s.jitter, s.jitter_shape);
  m.loss = delay::chance(s.loss);
  m.dup = delay::chance(s.duplicate);
  return m;
}

}  // namespace

int run_sim_command(const sim_options& o) {
  sim_scenario s = o.config.empty() ? default_scenario() : load_scenario(o.config);
  if (!s.error.empty()) {
    std::fprintf(stderr, "confab sim: %s\n", s.error.c_str());
    return 2;
  }
  if (o.peers) s.peers = *o.peers;
  if (o.seeds) s.seeds = *o.seeds;
  if (o.originators) s.originators = *o.originators;
  if (o.transport) s.transport = *o.transport == "tcp" ? seam::transport_kind::tcp : seam::transport_kind::inproc;
  if (o.threads) s.threads = *o.threads;
  if (o.seed) s.seed = *o.seed;
  if (o.duration_s) s.duration_s = *o.duration_s;
  if (o.scale) s.scale = *o.scale;
  if (o.delay_ms) s.delay_ms = *o.delay_ms;
  if (o.jitter_ms) s.jitter_ms = *o.jitter_ms;
  if (o.base_port) s.base_port = *o.base_port;
  if (s.default_faults) s.faults.clear();  // re-derived from the final numbers
  const unsigned threads_wanted = s.threads ? s.threads : std::max(1u, static_cast<unsigned>(::sysconf(_SC_NPROCESSORS_ONLN)));
  io::backend_choice choice{};
  io::parse_backend_choice(o.backend, choice);
  if (s.transport == seam::transport_kind::tcp && io::probe_backend(choice).kind == io::backend_kind::uring)
    s.direct_capacity = threads_wanted * std::min<std::size_t>(descriptor_limit(), 1u << 20);
  validate(s);
  if (!s.error.empty()) {
    std::fprintf(stderr, "confab sim: %s\n", s.error.c_str());
    return 2;
  }
  const unsigned threads = threads_wanted;
  const std::size_t total = s.seeds + s.peers;
  seam::random rng(s.seed);
  const auto plan = plan_faults(s, rng);

  // The group: ids, link models.
  seam::fabric_group group({.threads = threads, .transport = s.transport, .base_port = s.base_port});
  group.default_link = model_of(s, s.delay_ms);
  double max_one_way_ms = s.delay_ms + s.jitter_ms, min_one_way_ms = s.delay_ms;
  if (!s.matrix.empty()) {
    const auto regions = s.matrix.size();
    std::vector<delay::link_model> models;
    for (std::size_t i = 0; i < regions; ++i)
      for (std::size_t j = 0; j < regions; ++j) {
        models.push_back(model_of(s, s.matrix[i][j]));
        max_one_way_ms = std::max(max_one_way_ms, s.matrix[i][j] + s.jitter_ms);
        min_one_way_ms = i == 0 && j == 0 ? s.matrix[i][j] : std::min(min_one_way_ms, s.matrix[i][j]);
      }
    group.link_model_for = [models, regions](std::uint32_t a, std::uint32_t b) {
      return models[(a % regions) * regions + b % regions];
    };
  }

  // Protocol settings: the documents' intervals times the scale.
  std::vector<node_id> seed_ids;
  for (std::size_t i = 0; i < s.seeds; ++i) seed_ids.push_back(group.id_of(static_cast<std::uint32_t>(i)));
  const auto rtt = secs(2 * max_one_way_ms / 1000);
  seeds::seed_config scfg;
  scfg.seeds = seed_ids;
  scfg.heartbeat = std::max<seam::duration>(50ms, rtt);
  scfg.election_timeout_min = std::max<seam::duration>(300ms, 10 * rtt);
  scfg.election_timeout_max = 2 * scfg.election_timeout_min;
  scfg.forward_retry = std::max<seam::duration>(500ms, 4 * rtt);
  scfg.pl_sample_max = s.pl_sample_max;
  peers::peer_config pcfg;
  pcfg.seeds = seed_ids;
  pcfg.overlay = s.overlay;
  pcfg.attach = s.attach;
  pcfg.mode = s.mode;
  pcfg.gossip_interval = secs(s.gossip_interval_s());
  pcfg.gossip_padding = s.message_bytes;
  pcfg.ping_interval = secs(13.0 * s.scale);
  pcfg.probe_timeout = std::max<seam::duration>(secs(1.0 * s.scale), 4 * rtt + 50ms);
  pcfg.register_retry = std::max<seam::duration>(secs(2.0 * s.scale), 4 * rtt + 200ms);
  pcfg.ihave_timeout = std::max<seam::duration>(400ms, 2 * rtt);
  pcfg.declare_interval = pcfg.ping_interval / 2;

  const std::size_t originators = s.originators ? s.originators : s.peers;
  std::vector<bool> originates(s.peers, false);
  {
    // Spread originators evenly over the peer numbers.
    for (std::size_t k = 0; k < originators; ++k) originates[k * s.peers / originators] = true;
  }
  const std::size_t total_messages = originators * s.messages;
  peers::dedup_table seen({.capacity = std::max<std::size_t>(1 << 16, total_messages * s.peers + s.peers * 64),
                           .generations = 4,
                           .bucket = secs(std::max(30.0, s.end_s() / 2))});
  std::vector<std::unique_ptr<seeds::memory_store>> disks;
  for (std::size_t i = 0; i < s.seeds; ++i) disks.push_back(std::make_unique<seeds::memory_store>());

  std::vector<std::unique_ptr<thread_record>> rec;
  for (unsigned t = 0; t < threads; ++t) rec.push_back(std::make_unique<thread_record>());
  std::vector<std::unique_ptr<seam::fabric>> fabrics(threads);
  std::vector<std::uint64_t> peak_conns(threads, 0);
  std::vector<double> applied_at;  // when thread 0 applied each planned fault
  std::atomic<bool> failed{false};
  std::string failure;
  std::mutex failure_mu;

  const double end_s = s.end_s();
  const auto epoch = io::clock::now() + 300ms;
  const auto first_peer = static_cast<std::uint32_t>(s.seeds);
  seam::fabric_options fo;
  fo.idle_close = std::max<seam::duration>(secs(13.0 * s.scale * 1.5), 2s);
  fo.quick_below = static_cast<std::uint32_t>(s.seeds);
  fo.idle_close_quick = std::max<seam::duration>(1s, 4 * rtt);
  fo.wake_quantum = std::chrono::microseconds(s.wake_quantum_us);
  fo.on_bad_input = [](const net::address& from, const error& e) {
    std::fprintf(stderr, "confab sim: bad input from %s: %s\n", from.to_string().c_str(), e.message().c_str());
  };

  auto make_seed = [&](std::uint32_t g, unsigned t) {
    thread_record* r = rec[t].get();
    return std::make_unique<seeds::seed_node>(scfg, *disks[g], [r, g, &group](const seeds::seed_event& e) {
      if (e.kind == seeds::seed_event::applied_remove) {
        const auto pg = group.index_of(e.peer);
        if (pg >= 0) r->removals.push_back({g, static_cast<std::uint32_t>(pg), e.at.count()});
        bump(r->removals_applied);
      }
      if (e.kind == seeds::seed_event::report_received || e.kind == seeds::seed_event::report_ignored) {
        const auto pg = group.index_of(e.peer), og = group.index_of(e.other);
        if (pg >= 0)
          r->notes.push_back({g, static_cast<std::uint32_t>(pg), og >= 0 ? static_cast<std::uint32_t>(og) : ~0u, e.at.count(),
                              e.kind == seeds::seed_event::report_received ? "report_received" : "report_ignored", e.why});
      }
    });
  };

  if (!o.quiet)
    std::fprintf(stderr, "confab sim: %zu seeds, %zu peers over %s on %u threads; planned %.1f s\n", s.seeds, s.peers,
                 seam::transport_name(s.transport), threads, end_s);

  io::runtime_options ro;
  ro.threads = threads;
  io::parse_backend_choice(o.backend, ro.reactor.backend);
  ro.reactor.io.buffer_count = 8192;
  if (s.transport == seam::transport_kind::tcp) ro.reactor.io.direct_descriptors = static_cast<unsigned>(descriptor_limit());
  io::runtime rt(ro);
  std::string backend_name;
  const auto wall0 = std::chrono::steady_clock::now();
  bool interrupted = false;
  auto ran = rt.run([&](io::runtime& rtm, io::reactor& r, unsigned t) -> task<void> {
    if (t == 0) backend_name = io::backend_name(r.kind());
    fabrics[t] = std::make_unique<seam::fabric>(group, t, r, s.seed * 1000 + t, fo);
    seam::fabric& f = *fabrics[t];
    thread_record* tr = rec[t].get();
    // This thread's nodes.
    for (std::uint32_t g = t; g < total; g += threads) {
      if (g < first_peer) {
        f.add(g, make_seed(g, t), 0ns);
        continue;
      }
      const std::size_t i = g - first_peer;
      auto cfg = pcfg;
      const double start = s.join_start_s() + (s.join_end_s() - s.join_start_s()) * static_cast<double>(i) / static_cast<double>(s.peers);
      cfg.gossip_count = originates[i] ? s.messages : 0;
      // Originators start together once the overlay has formed, spread over
      // one interval so their messages interleave.
      const double first = s.gossip_start_s() + s.gossip_interval_s() * static_cast<double>(i % 97) / 97.0 - start;
      cfg.gossip_first = secs(std::max(0.1, first));
      f.add(g,
            std::make_unique<peers::peer_node>(cfg, seen,
                                               [tr, g, &group](const peers::peer_event& e) {
                                                 switch (e.kind) {
                                                   case peers::peer_event::gossip_sent:
                                                     tr->sends.push_back({g, static_cast<std::uint32_t>(e.seq), e.at.count()});
                                                     break;
                                                   case peers::peer_event::gossip_received: {
                                                     const auto og = group.index_of(e.peer);
                                                     if (og >= 0)
                                                       tr->receipts.push_back({static_cast<std::uint32_t>(og),
                                                                               static_cast<std::uint32_t>(e.seq), g, e.hops,
                                                                               e.at.count()});
                                                     bump(tr->deliveries);
                                                     break;
                                                   }
                                                   case peers::peer_event::suspected:
                                                   case peers::peer_event::confirmed:
                                                   case peers::peer_event::linked:
                                                   case peers::peer_event::unlinked: {
                                                     if (e.kind == peers::peer_event::suspected) bump(tr->suspicions);
                                                     if (e.kind == peers::peer_event::confirmed) bump(tr->confirmations);
                                                     // The overlay's changes, for following a message that
                                                     // missed a peer.
                                                     const auto pg = group.index_of(e.peer);
                                                     if (pg >= 0)
                                                       tr->notes.push_back({g, static_cast<std::uint32_t>(pg), ~0u, e.at.count(),
                                                                            peers::event_name(e.kind), e.why});
                                                     break;
                                                   }
                                                   case peers::peer_event::reported: {
                                                     const auto sg = group.index_of(e.peer);
                                                     if (sg >= 0)
                                                       tr->notes.push_back({g, static_cast<std::uint32_t>(sg), ~0u, e.at.count(),
                                                                            "reported", nullptr});
                                                     break;
                                                   }
                                                   default: break;
                                                 }
                                               }),
            secs(start));
    }
    std::stop_source stop;
    task_scope side;
    // A drain (SIGINT/SIGTERM) ends the run early; the report is still written.
    std::stop_callback on_drain(r.drain_token(), [&stop, &interrupted, t] {
      if (t == 0) interrupted = true;
      stop.request_stop();
    });
    // The end of the run.
    side.spawn([](io::clock::time_point at, std::stop_source& st) -> task<void> {
      auto slept = co_await io::sleep_until(at, st.get_token());
      (void)slept;
      st.request_stop();
    }(epoch + secs(end_s), stop));
    // The fault schedule, applied by every thread to its own nodes and links.
    side.spawn([](const std::vector<planned_fault>& pl, seam::fabric& fab, io::clock::time_point ep, std::stop_token st,
                  std::function<std::unique_ptr<seam::node>(std::uint32_t)> reseed, std::vector<double>* applied) -> task<void> {
      for (const auto& p : pl) {
        auto slept = co_await io::sleep_until(ep + secs(p.f.at_s), st);
        if (!slept) co_return;
        if (applied) applied->push_back(to_s((io::clock::now() - ep).count()));
        switch (p.f.kind) {
          case sim_fault::kill:
          case sim_fault::crash_seed:
            for (auto g : p.nodes) fab.kill(g);
            break;
          case sim_fault::pause:
            for (auto g : p.nodes) fab.pause(g, secs(p.f.pause_s));
            break;
          case sim_fault::restart_seed:
            for (auto g : p.nodes)
              if (fab.get(g) && !fab.alive(g)) fab.restart(g, reseed(g));
            break;
          case sim_fault::partition: fab.partition(p.a, p.b, p.f.symmetric); break;
          case sim_fault::heal: fab.heal(); break;
          case sim_fault::clog: fab.clog(p.a, p.b, p.f.symmetric); break;
          case sim_fault::unclog: fab.unclog(); break;
        }
      }
    }(plan, f, epoch, stop.get_token(), [&make_seed, t](std::uint32_t g) -> std::unique_ptr<seam::node> { return make_seed(g, t); },
      t == 0 ? &applied_at : nullptr));
    // Samples: the PL size at this thread's leader seed; peak connections.
    side.spawn([](seam::fabric& fab, thread_record& trr, std::size_t nseeds, unsigned nthreads, unsigned tt,
                  std::uint64_t& peak, io::clock::time_point ep, std::stop_token st) -> task<void> {
      for (int k = 1;; ++k) {
        auto slept = co_await io::sleep_until(ep + 500ms * k, st);
        if (!slept) co_return;
        peak = std::max(peak, fab.stats().open_connections.load(std::memory_order_relaxed));
        for (std::uint32_t g = tt; g < nseeds; g += nthreads) {
          auto* sn = dynamic_cast<seeds::seed_node*>(fab.get(g));
          if (sn && fab.alive(g) && fab.started(g) && sn->started() && sn->core().current_role() == seeds::role::leader)
            trr.members.push_back({0.5 * k, static_cast<double>(sn->core().members().size())});
        }
      }
    }(f, *tr, s.seeds, threads, t, peak_conns[t], epoch, stop.get_token()));
    // The live progress line (thread 0 reads every thread's relaxed counters).
    if (t == 0 && !o.quiet) {
      side.spawn([](std::vector<std::unique_ptr<seam::fabric>>& fabs, std::vector<std::unique_ptr<thread_record>>& recs,
                    std::size_t nseeds, double total_s, io::clock::time_point ep, std::stop_token st) -> task<void> {
        std::uint64_t last_frames = 0;
        const bool tty = ::isatty(2);
        for (int k = 1;; ++k) {
          auto slept = co_await io::sleep_until(ep + 1s * k, st);
          if (!slept) break;
          std::uint64_t up = 0, frames = 0, deliveries = 0, susp = 0, removals = 0, conns = 0;
          for (auto& fb : fabs)
            if (fb) {
              up += fb->stats().nodes_up.load(std::memory_order_relaxed);
              frames += fb->stats().frames_sent.load(std::memory_order_relaxed);
              conns += fb->stats().open_connections.load(std::memory_order_relaxed);
            }
          for (auto& rr : recs) {
            deliveries += rr->deliveries.load(std::memory_order_relaxed);
            susp += rr->suspicions.load(std::memory_order_relaxed);
            removals += rr->removals_applied.load(std::memory_order_relaxed);
          }
          std::fprintf(stderr,
                       "%s[%6.1f / %.0f s] nodes up %llu (seeds %zu) | frames/s %llu | deliveries %llu | suspicions %llu | "
                       "removals applied %llu | connections %llu%s",
                       tty ? "\r" : "", static_cast<double>(k), total_s, static_cast<unsigned long long>(up), nseeds,
                       static_cast<unsigned long long>(frames - last_frames), static_cast<unsigned long long>(deliveries),
                       static_cast<unsigned long long>(susp), static_cast<unsigned long long>(removals),
                       static_cast<unsigned long long>(conns), tty ? "   " : "\n");
          last_frames = frames;
        }
        if (tty) std::fprintf(stderr, "\n");
      }(fabrics, rec, s.seeds, end_s, epoch, stop.get_token()));
    }
    auto res = co_await f.run(epoch, stop.get_token());
    if (!res) {
      {
        std::lock_guard lk(failure_mu);
        failure = "thread " + std::to_string(t) + ": " + res.error().message();
      }
      failed = true;
      rtm.request_drain();
    }
    stop.request_stop();
    co_await side.join();
  });
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  if (!ran) {
    std::fprintf(stderr, "confab sim: cannot run: %s\n", ran.error().message().c_str());
    return 1;
  }
  if (failed) {
    std::fprintf(stderr, "confab sim: cannot run: %s\n", failure.c_str());
    return 1;
  }

  // ---------------------------------------------------------------- report
  sim_report rp;
  rp.scenario_text = scenario_text(s, threads);
  rp.transport = seam::transport_name(s.transport);
  rp.backend = backend_name;
  rp.seeds = s.seeds;
  rp.peers = s.peers;
  rp.threads = threads;
  rp.wall_s = wall;
  rp.planned_s = end_s;
  rp.interrupted = interrupted;
  for (const auto& p : plan) rp.faults.push_back({p.f.at_s, describe(p)});
  auto fab_of = [&](std::uint32_t g) -> seam::fabric& { return *fabrics[group.thread_of(g)]; };
  // Who died, who was paused, when.
  std::unordered_map<std::uint32_t, double> killed_at;
  std::set<std::uint32_t> paused;
  for (const auto& p : plan) {
    if (p.f.kind == sim_fault::kill)
      for (auto g : p.nodes) killed_at[g] = p.f.at_s;
    if (p.f.kind == sim_fault::pause) paused.insert(p.nodes.begin(), p.nodes.end());
  }
  std::vector<bool> live(total, false);
  for (std::uint32_t g = first_peer; g < total; ++g) live[g] = !killed_at.count(g) && fab_of(g).started(g);
  std::size_t live_peers = 0;
  for (std::uint32_t g = first_peer; g < total; ++g) live_peers += live[g];
  // Dissemination: per message, the receipt times of eligible peers (live at
  // the end, started before the message left, not its origin).
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::int64_t> sent_at;
  for (auto& r : rec)
    for (auto& x : r->sends) sent_at[{x.origin, x.seq}] = x.t;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::pair<double, std::uint32_t>>> got;
  for (auto& r : rec)
    for (auto& x : r->receipts) {
      auto it = sent_at.find({x.origin, x.seq});
      if (it == sent_at.end() || !live[x.who]) continue;
      got[{x.origin, x.seq}].push_back({static_cast<double>(x.t - it->second) / 1e6, x.hops});
    }
  const double join_done = s.join_end_s();
  std::vector<double> t50, t90, t99, t100, h50, h90, h99, h100;
  struct incomplete_message {
    std::uint32_t origin, seq;
    std::int64_t t;
    std::vector<std::uint32_t> missing;
  };
  std::vector<incomplete_message> incomplete;
  std::vector<std::vector<double>> curves;
  std::uint64_t eligible_pairs = 0, eligible_got = 0;
  for (auto& [key, t_sent] : sent_at) {
    // Eligible: every live peer but the origin, when the message left after
    // the join window (earlier ones race the joins and are not counted).
    if (to_s(t_sent) < join_done) continue;
    const std::size_t eligible = live_peers - (live[key.first] ? 1 : 0);
    if (eligible == 0) continue;
    auto& v = got[key];
    std::sort(v.begin(), v.end());
    eligible_pairs += eligible;
    eligible_got += v.size();
    ++rp.messages;
    if (v.size() >= eligible) {
      ++rp.messages_complete;
    } else {
      // Which live peers it missed, for the trace.
      std::set<std::uint32_t> reached;
      for (auto& r : rec)
        for (auto& x : r->receipts)
          if (x.origin == key.first && x.seq == key.second) reached.insert(x.who);
      std::vector<std::uint32_t> missing;
      for (std::uint32_t g = first_peer; g < total; ++g)
        if (live[g] && g != key.first && !reached.count(g)) missing.push_back(g);
      incomplete.push_back({key.first, key.second, t_sent, std::move(missing)});
    }
    auto at = [&](double q, bool hops) {
      const auto need = static_cast<std::size_t>(std::ceil(q * static_cast<double>(eligible)));
      if (need == 0) return 0.0;
      if (v.size() < need) return std::numeric_limits<double>::infinity();
      if (!hops) return v[need - 1].first;
      std::vector<std::uint32_t> hs;
      for (std::size_t i = 0; i < need; ++i) hs.push_back(v[i].second);
      return static_cast<double>(*std::max_element(hs.begin(), hs.end()));
    };
    t50.push_back(at(0.5, false)), t90.push_back(at(0.9, false)), t99.push_back(at(0.99, false)), t100.push_back(at(1.0, false));
    h50.push_back(at(0.5, true)), h90.push_back(at(0.9, true)), h99.push_back(at(0.99, true)), h100.push_back(at(1.0, true));
    std::vector<double> c;  // time to reach k% for k = 1..100
    for (int k = 1; k <= 100; ++k) c.push_back(at(k / 100.0, false));
    curves.push_back(std::move(c));
  }
  rp.delivery_ratio = eligible_pairs ? static_cast<double>(eligible_got) / static_cast<double>(eligible_pairs) : 0;
  rp.t50 = quantiles_of(t50), rp.t90 = quantiles_of(t90), rp.t99 = quantiles_of(t99), rp.t100 = quantiles_of(t100);
  rp.h50 = quantiles_of(h50), rp.h90 = quantiles_of(h90), rp.h99 = quantiles_of(h99), rp.h100 = quantiles_of(h100);
  if (!curves.empty()) {
    for (int k = 0; k < 100; ++k) {
      std::vector<double> at_k;
      for (auto& c : curves) at_k.push_back(c[static_cast<std::size_t>(k)]);
      std::sort(at_k.begin(), at_k.end());
      const double pct = k + 1;
      auto put = [&](std::vector<std::pair<double, double>>& dst, double v) {
        if (std::isfinite(v)) dst.push_back({v, pct});
      };
      put(rp.curve_fastest, at_k.front());
      put(rp.curve_median, at_k[at_k.size() / 2]);
      put(rp.curve_slowest, at_k.back());
    }
  }
  // Peer cores: redundancy, detection, overlay.
  std::vector<std::vector<node_id>> adj(total);
  for (std::uint32_t g = first_peer; g < total; ++g) {
    auto* pn = dynamic_cast<peers::peer_node*>(fab_of(g).get(g));
    if (!pn || !pn->started()) continue;
    rp.gossip_frames += pn->core().stats().gossip_frames;
    rp.deliveries += pn->core().stats().delivered;
    rp.suspicions += pn->core().stats().suspicions;
    rp.confirmations += pn->core().stats().confirmations;
    if (live[g]) adj[g] = pn->core().neighbours();
  }
  rp.redundancy = rp.deliveries ? static_cast<double>(rp.gossip_frames) / static_cast<double>(rp.deliveries) - 1.0 : 0;
  {
    std::map<std::size_t, std::size_t> hist;
    std::vector<std::size_t> degs;
    for (std::uint32_t g = first_peer; g < total; ++g)
      if (live[g]) {
        std::size_t d = 0;
        for (auto n : adj[g]) {
          const auto ng = group.index_of(n);
          d += ng >= 0 && live[static_cast<std::size_t>(ng)];
        }
        ++hist[d];
        degs.push_back(d);
      }
    for (auto& [k, c] : hist) rp.degree_histogram.push_back({k, c});
    double sum = 0, lsum = 0;
    std::size_t m = 0;
    for (auto d : degs) {
      sum += static_cast<double>(d);
      rp.max_degree = std::max(rp.max_degree, d);
      if (d >= s.attach && s.attach > 0) {
        lsum += std::log(static_cast<double>(d) / (static_cast<double>(s.attach) - 0.5));
        ++m;
      }
    }
    rp.mean_degree = degs.empty() ? 0 : sum / static_cast<double>(degs.size());
    rp.powerlaw_alpha = m && lsum > 0 ? 1.0 + static_cast<double>(m) / lsum : 0;
    // Connected among live peers?
    std::vector<bool> seen_g(total, false);
    std::vector<std::uint32_t> todo;
    std::size_t reached = 0;
    for (std::uint32_t g = first_peer; g < total && todo.empty(); ++g)
      if (live[g]) todo.push_back(g), seen_g[g] = true;
    while (!todo.empty()) {
      const auto x = todo.back();
      todo.pop_back();
      ++reached;
      for (auto n : adj[x]) {
        const auto ng = group.index_of(n);
        if (ng >= 0 && live[static_cast<std::size_t>(ng)] && !seen_g[static_cast<std::size_t>(ng)]) {
          seen_g[static_cast<std::size_t>(ng)] = true;
          todo.push_back(static_cast<std::uint32_t>(ng));
        }
      }
    }
    rp.overlay_connected = reached == live_peers;
  }
  // Failure detection: crash to removal (first seed, every live seed).
  std::vector<bool> seed_alive(s.seeds, false);
  for (std::uint32_t g = 0; g < s.seeds; ++g) seed_alive[g] = fab_of(g).alive(g);
  std::map<std::uint32_t, std::map<std::uint32_t, std::int64_t>> removed_by;  // peer -> seed -> first time
  for (auto& r : rec)
    for (auto& x : r->removals) {
      auto& m = removed_by[x.peer];
      if (!m.count(x.seed)) m[x.seed] = x.t;
    }
  rp.killed = killed_at.size();
  std::vector<double> first_lat, all_lat;
  for (auto& [g, at] : killed_at) {
    auto it = removed_by.find(g);
    if (it == removed_by.end()) continue;
    ++rp.removed;
    std::int64_t first = INT64_MAX, last = 0;
    std::size_t seeds_done = 0;
    for (auto& [sd, t] : it->second) {
      first = std::min(first, t);
      if (seed_alive[sd]) last = std::max(last, t), ++seeds_done;
    }
    first_lat.push_back(to_s(first) - at);
    rp.removal_latencies_s.push_back(to_s(first) - at);
    std::size_t live_seed_count = 0;
    for (bool a : seed_alive) live_seed_count += a;
    if (seeds_done == live_seed_count) all_lat.push_back(to_s(last) - at);
  }
  rp.removal_first_s = quantiles_of(first_lat);
  rp.removal_all_s = quantiles_of(all_lat);
  for (auto& [g, m] : removed_by) {
    if (killed_at.count(g)) continue;
    if (paused.count(g)) ++rp.removed_while_paused;
    else ++rp.false_removals;
  }
  // Membership agreement among live seeds.
  std::set<std::uint64_t> digests;
  std::set<node_id> pl;
  for (std::uint32_t g = 0; g < s.seeds; ++g) {
    if (!seed_alive[g]) continue;
    auto* sn = dynamic_cast<seeds::seed_node*>(fab_of(g).get(g));
    if (!sn || !sn->started()) continue;
    ++rp.live_seeds;
    digests.insert(sn->core().pl_digest());
    if (pl.empty()) pl = sn->core().members();
  }
  rp.distinct_pls = digests.size();
  rp.pl_size = pl.size();
  for (std::uint32_t g = first_peer; g < total; ++g) {
    const bool in = pl.count(group.id_of(g)) != 0;
    if (live[g] && !in) ++rp.pl_missing_live;
    if (killed_at.count(g) && in) ++rp.pl_holding_dead;
  }
  for (auto& r : rec) rp.members_over_time.insert(rp.members_over_time.end(), r->members.begin(), r->members.end());
  std::sort(rp.members_over_time.begin(), rp.members_over_time.end());
  {
    // Live peers by the plan: started so far minus killed so far.
    for (double t = 0.5; t <= end_s; t += 0.5) {
      double up = 0;
      for (std::size_t i = 0; i < s.peers; ++i) {
        const double start = s.join_start_s() + (s.join_end_s() - s.join_start_s()) * static_cast<double>(i) / static_cast<double>(s.peers);
        const auto g = first_peer + static_cast<std::uint32_t>(i);
        auto k = killed_at.find(g);
        if (start <= t && (k == killed_at.end() || k->second > t)) up += 1;
      }
      rp.live_over_time.push_back({t, up});
    }
  }
  // Traffic, cost, emulator.
  seam::lateness_histogram late;
  for (unsigned t = 0; t < threads; ++t) {
    const auto& st = fabrics[t]->stats();
    rp.frames_sent += st.frames_sent.load();
    rp.bytes_sent += st.bytes_sent.load();
    rp.dropped_loss += st.dropped_loss.load();
    rp.dropped_partition += st.dropped_partition.load();
    rp.dropped_dead += st.dropped_dead.load();
    rp.dropped_queue += st.dropped_queue.load();
    rp.frames_out_of_order += st.frames_late.load();
    rp.frames_lost_on_links += st.frames_gap.load() - std::min(st.frames_gap.load(), st.frames_late.load());
    rp.bad_input += st.bad_input.load();
    rp.connects += st.connects.load();
    rp.connect_failures += st.connect_failures.load();
    rp.idle_closed += st.idle_closed.load();
    rp.peak_connections += peak_conns[t];
    late.merge(fabrics[t]->lateness());
  }
  // Frames lost at the end of a link (no later frame showed the gap):
  // links quiet for two longest delays and a second before the end.
  if (s.transport == seam::transport_kind::tcp)
    rp.frames_lost_on_links += seam::fabric::frames_never_delivered(group, secs(2 * max_one_way_ms / 1000 + 1.0));
  const double run_s = std::max(1e-3, std::min(wall, end_s));
  rp.frames_per_peer_s = static_cast<double>(rp.frames_sent) / static_cast<double>(total) / run_s;
  rp.bytes_per_peer_s = static_cast<double>(rp.bytes_sent) / static_cast<double>(total) / run_s;
  rp.cpu_s = cpu_seconds();
  rp.cpu_s_per_1000 = rp.cpu_s / (static_cast<double>(total) / 1000.0);
  rp.rss_mb = rss_mb();
  rp.rss_mb_per_1000 = rp.rss_mb / (static_cast<double>(total) / 1000.0);
  rp.emulated_frames = late.count();
  rp.lateness_p50_us = late.quantile(0.5) / 1e3;
  rp.lateness_p90_us = late.quantile(0.9) / 1e3;
  rp.lateness_p99_us = late.quantile(0.99) / 1e3;
  rp.lateness_p999_us = late.quantile(0.999) / 1e3;
  rp.lateness_max_us = static_cast<double>(late.max()) / 1000.0;
  // Faithful when frames leave on time to within a fraction of the
  // shortest emulated delay: beyond it the run measures the emulator's
  // host, not the protocol over the links it was asked to emulate.
  rp.lateness_budget_us = std::max(lateness_budget_floor_us, lateness_budget_fraction * min_one_way_ms * 1000.0);
  rp.faithful = rp.lateness_p99_us <= rp.lateness_budget_us;
  // What a reader must see first.
  if (interrupted) rp.problems.push_back("the run was interrupted before its planned end");
  if (!rp.faithful) {
    char b[200];
    std::snprintf(b, sizeof b, "emulation not faithful: lateness p99 %.0f us is over %.0f us (%.0f%% of the shortest one-way delay, %.1f ms)",
                  rp.lateness_p99_us, rp.lateness_budget_us, lateness_budget_fraction * 100, min_one_way_ms);
    rp.problems.push_back(b);
  }
  if (rp.frames_lost_on_links)
    rp.problems.push_back(std::to_string(rp.frames_lost_on_links) + " frames were lost on live TCP links (sequence gaps)");
  if (rp.messages_complete < rp.messages)
    rp.problems.push_back(std::to_string(rp.messages - rp.messages_complete) + " of " + std::to_string(rp.messages) +
                          " messages did not reach every live peer");
  if (rp.removed < rp.killed)
    rp.problems.push_back(std::to_string(rp.killed - rp.removed) + " of " + std::to_string(rp.killed) +
                          " killed peers were not removed");
  if (rp.false_removals) rp.problems.push_back(std::to_string(rp.false_removals) + " live peers were removed");
  if (rp.distinct_pls > 1) rp.problems.push_back("the live seeds disagree on the PL");
  if (rp.pl_missing_live) rp.problems.push_back(std::to_string(rp.pl_missing_live) + " live peers are missing from the PL");

  std::string err;
  if (!write_report(rp, o.out, err)) {
    std::fprintf(stderr, "confab sim: %s\n", err.c_str());
    return 1;
  }
  {
    // The trace: every fault (planned and applied time, its nodes), every
    // gossip origination and every removal a seed applied, by time.
    using json = nlohmann::ordered_json;
    std::vector<std::pair<double, json>> lines;
    auto addr = [&](std::uint32_t g) { return seam::endpoint_address(group.id_of(g)).to_string(); };
    auto id_list = [&](const std::vector<std::uint32_t>& v) {
      json a = json::array();
      for (auto g : v) a.push_back(addr(g));
      return a;
    };
    auto at_us = [](double t_s) { return std::round(t_s * 1e6) / 1e6; };
    for (std::size_t i = 0; i < plan.size(); ++i) {
      const auto& p = plan[i];
      const double at = i < applied_at.size() ? applied_at[i] : -1;
      json l = {{"t_s", at_us(at)}, {"event", "fault"}, {"kind", fault_name(p.f.kind)}, {"planned_s", p.f.at_s}, {"what", describe(p)}};
      if (!p.nodes.empty()) l["nodes"] = id_list(p.nodes);
      if (!p.a.empty()) {
        l["a"] = p.a.size();
        l["b"] = p.b.size();
      }
      lines.push_back({at, std::move(l)});
    }
    for (auto& r : rec) {
      for (auto& x : r->sends)
        lines.push_back({to_s(x.t), {{"t_s", at_us(to_s(x.t))}, {"event", "gossip"}, {"origin", addr(x.origin)}, {"seq", x.seq}}});
      for (auto& x : r->notes)
        lines.push_back({to_s(x.t),
                         {{"t_s", at_us(to_s(x.t))},
                          {"event", x.what},
                          {"by", addr(x.by)},
                          {"suspect", addr(x.about)},
                          {"reporter", x.other == ~0u ? std::string() : addr(x.other)},
                          {"why", x.why ? x.why : ""}}});
      for (auto& x : r->removals)
        lines.push_back({to_s(x.t),
                         {{"t_s", at_us(to_s(x.t))},
                          {"event", "removed"},
                          {"seed", addr(x.seed)},
                          {"peer", addr(x.peer)},
                          {"killed", killed_at.count(x.peer) > 0}}});
    }
    for (auto& m : incomplete)
      lines.push_back({to_s(m.t),
                       {{"t_s", at_us(to_s(m.t))}, {"event", "incomplete"}, {"origin", addr(m.origin)}, {"seq", m.seq}, {"missing", id_list(m.missing)}}});
    std::stable_sort(lines.begin(), lines.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    std::ofstream tf(o.out + "/trace.jsonl");
    for (auto& [t, l] : lines) tf << l.dump() << "\n";
  }
  std::printf(
      "confab sim: %zu seeds + %zu peers over %s (%s), %.1f s\n"
      "  delivery: %zu/%zu messages reached every live peer (%.4f of receipts); time to 99%%: median %.1f ms, worst %.1f ms; "
      "hops to 100%%: median %.0f\n"
      "  redundancy: %.2f frames per delivery minus one; %.1f frames and %.0f bytes per peer per second\n"
      "  failures: %zu killed, %zu removed (crash to removal median %.2f s, max %.2f s), %zu false removals\n"
      "  seeds: %zu live, %zu distinct PLs of %zu peers; %zu live peers missing, %zu dead peers held\n"
      "  cost: %.1f CPU s (%.2f per 1,000 nodes), peak RSS %.0f MiB (%.1f per 1,000 nodes)\n"
      "  links: %llu frames lost on live TCP links, %llu out of order\n"
      "  emulator: %llu frames, lateness p50 %.0f us, p99 %.0f us, max %.0f us (budget %.0f us: %s)\n"
      "  report: %s/report.html, %s/report.json and trace.jsonl\n",
      s.seeds, s.peers, rp.transport.c_str(), rp.backend.c_str(), wall, rp.messages_complete, rp.messages, rp.delivery_ratio,
      rp.t99.p50, rp.t99.max, rp.h100.p50, rp.redundancy, rp.frames_per_peer_s, rp.bytes_per_peer_s, rp.killed, rp.removed,
      rp.removal_first_s.p50, rp.removal_first_s.max, rp.false_removals, rp.live_seeds, rp.distinct_pls, rp.pl_size,
      rp.pl_missing_live, rp.pl_holding_dead, rp.cpu_s, rp.cpu_s_per_1000, rp.rss_mb, rp.rss_mb_per_1000,
      static_cast<unsigned long long>(rp.frames_lost_on_links), static_cast<unsigned long long>(rp.frames_out_of_order),
      static_cast<unsigned long long>(rp.emulated_frames), rp.lateness_p50_us, rp.lateness_p99_us, rp.lateness_max_us,
      rp.lateness_budget_us, rp.faithful ? "faithful" : "NOT faithful", o.out.c_str(), o.out.c_str());
  for (const auto& p : rp.problems) std::printf("  problem: %s\n", p.c_str());
  // 0: a clean run; 1: a run that found problems (lost messages, dead peers
  // left, seeds that disagree, an emulation that was not faithful).
  return rp.problems.empty() ? 0 : 1;
}

}  // namespace confab::tools
