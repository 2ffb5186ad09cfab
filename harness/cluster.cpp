#include "harness/cluster.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>

#include "engine/io/runtime.hpp"
#include "protocols/peers/node.hpp"
#include "protocols/seeds/node.hpp"
#include "protocols/seeds/storage.hpp"

namespace confab::harness {

using namespace std::chrono_literals;
using seam::node_id;

namespace {

std::chrono::nanoseconds seconds(double s) { return std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9)); }
seam::duration scaled(seam::duration d, double scale) { return seconds(std::chrono::duration<double>(d).count() * scale); }

// What the nodes of one reactor thread record; written by that thread only,
// read by others through the relaxed counters alone, merged after the run.
struct alignas(64) thread_record {
  std::vector<run_record::send> sends;
  std::vector<run_record::receipt> receipts;
  std::vector<run_record::removal> removals;
  std::vector<run_record::note> notes;
  std::vector<std::pair<double, double>> members;
  std::atomic<std::uint64_t> suspicions{0}, removals_applied{0}, deliveries{0};
  std::uint64_t peak_connections = 0;
};

void bump(std::atomic<std::uint64_t>& c) { c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }

std::uint32_t number_of(const host::fabric_group& group, node_id id) {
  const auto g = group.index_of(id);
  return g >= 0 ? static_cast<std::uint32_t>(g) : ~0u;
}

void record_seed_event(thread_record& rec, const host::fabric_group& group, std::uint32_t seed, const seeds::seed_event& e) {
  if (e.kind == seeds::seed_event::applied_remove) {
    const auto peer = number_of(group, e.peer);
    if (peer != ~0u) rec.removals.push_back({seed, peer, e.at.count()});
    bump(rec.removals_applied);
  }
  if (e.kind == seeds::seed_event::report_received || e.kind == seeds::seed_event::report_ignored) {
    const auto suspect = number_of(group, e.peer);
    if (suspect != ~0u)
      rec.notes.push_back({seed, suspect, number_of(group, e.other), e.at.count(),
                           e.kind == seeds::seed_event::report_received ? "report_received" : "report_ignored", e.why});
  }
}

void record_peer_event(thread_record& rec, const host::fabric_group& group, std::uint32_t peer, const peers::peer_event& e) {
  switch (e.kind) {
    case peers::peer_event::gossip_sent: rec.sends.push_back({peer, static_cast<std::uint32_t>(e.seq), e.at.count()}); break;
    case peers::peer_event::gossip_received: {
      const auto origin = number_of(group, e.peer);
      if (origin != ~0u) rec.receipts.push_back({origin, static_cast<std::uint32_t>(e.seq), peer, e.hops, e.at.count()});
      bump(rec.deliveries);
      break;
    }
    case peers::peer_event::suspected:
    case peers::peer_event::confirmed:
    case peers::peer_event::linked:
    case peers::peer_event::unlinked: {
      if (e.kind == peers::peer_event::suspected) bump(rec.suspicions);
      // The overlay's changes, for following a message that missed a peer.
      const auto about = number_of(group, e.peer);
      if (about != ~0u) rec.notes.push_back({peer, about, ~0u, e.at.count(), peers::event_name(e.kind), e.why});
      break;
    }
    case peers::peer_event::reported: {
      const auto seed = number_of(group, e.peer);
      if (seed != ~0u) rec.notes.push_back({peer, seed, ~0u, e.at.count(), "reported", nullptr});
      break;
    }
    default: break;
  }
}

// The run's end: stops `stop` at `at`.
task<void> end_at(io::clock::time_point at, std::stop_source& stop) {
  auto slept = co_await io::sleep_until(at, stop.get_token());
  (void)slept;
  stop.request_stop();
}

// Every half second: the PL size at this thread's leader seeds, and the
// fabric's open connections (for the peak).
task<void> sample(host::fabric& fab, thread_record& rec, std::size_t seed_count, unsigned threads, unsigned thread,
                  io::clock::time_point epoch, std::stop_token st) {
  for (int k = 1;; ++k) {
    auto slept = co_await io::sleep_until(epoch + 500ms * k, st);
    if (!slept) co_return;
    rec.peak_connections = std::max(rec.peak_connections, fab.stats().open_connections.load(std::memory_order_relaxed));
    for (auto g = static_cast<std::uint32_t>(thread); g < seed_count; g += threads) {
      auto* seed = dynamic_cast<seeds::seed_node*>(fab.get(g));
      if (seed && fab.alive(g) && fab.started(g) && seed->started() && seed->core().current_role() == seeds::role::leader)
        rec.members.push_back({0.5 * k, static_cast<double>(seed->core().members().size())});
    }
  }
}

// The live progress line: thread 0 reads every thread's relaxed counters.
task<void> show_progress(const std::vector<std::unique_ptr<host::fabric>>& fabrics,
                         const std::vector<std::unique_ptr<thread_record>>& records, std::size_t seed_count,
                         double planned_s, io::clock::time_point epoch, std::stop_token st) {
  std::uint64_t last_frames = 0;
  const bool tty = ::isatty(2);
  for (int k = 1;; ++k) {
    auto slept = co_await io::sleep_until(epoch + 1s * k, st);
    if (!slept) break;
    std::uint64_t up = 0, frames = 0, deliveries = 0, suspicions = 0, removals = 0, connections = 0;
    for (const auto& fab : fabrics)
      if (fab) {
        up += fab->stats().nodes_up.load(std::memory_order_relaxed);
        frames += fab->stats().frames_sent.load(std::memory_order_relaxed);
        connections += fab->stats().open_connections.load(std::memory_order_relaxed);
      }
    for (const auto& rec : records) {
      deliveries += rec->deliveries.load(std::memory_order_relaxed);
      suspicions += rec->suspicions.load(std::memory_order_relaxed);
      removals += rec->removals_applied.load(std::memory_order_relaxed);
    }
    std::fprintf(stderr,
                 "%s[%6.1f / %.0f s] nodes up %llu (seeds %zu) | frames/s %llu | deliveries %llu | suspicions %llu | "
                 "removals applied %llu | connections %llu%s",
                 tty ? "\r" : "", static_cast<double>(k), planned_s, static_cast<unsigned long long>(up), seed_count,
                 static_cast<unsigned long long>(frames - last_frames), static_cast<unsigned long long>(deliveries),
                 static_cast<unsigned long long>(suspicions), static_cast<unsigned long long>(removals),
                 static_cast<unsigned long long>(connections), tty ? "   " : "\n");
    last_frames = frames;
  }
  if (tty) std::fprintf(stderr, "\n");
}

// The cluster while it runs: what every reactor thread shares.
struct cluster {
  const scenario& scen;
  unsigned threads;
  host::fabric_group group;
  protocol_settings settings;
  std::vector<bool> originates;  // by peer index
  peers::dedup_table seen;
  std::vector<std::unique_ptr<seeds::memory_store>> disks;
  std::vector<std::unique_ptr<thread_record>> records;
  std::vector<std::unique_ptr<host::fabric>> fabrics;
  std::vector<planned_fault> plan;
  std::vector<double> applied_at_s;
  io::clock::time_point epoch;

  cluster(const scenario& sc, unsigned thread_count, std::size_t dedup_capacity)
      : scen(sc),
        threads(thread_count),
        group({.threads = thread_count, .transport = sc.transport, .base_port = sc.base_port}),
        seen({.capacity = dedup_capacity, .generations = 4, .bucket = seconds(std::max(30.0, sc.end_s() / 2))}),
        fabrics(thread_count) {}

  std::unique_ptr<seam::node> make_seed(std::uint32_t g, unsigned thread) {
    thread_record* rec = records[thread].get();
    return std::make_unique<seeds::seed_node>(settings.seed, *disks[g], [rec, g, this](const seeds::seed_event& e) {
      record_seed_event(*rec, group, g, e);
    });
  }

  // Peer i starts at its place in the join window, a churn joiner at its
  // join time; originators start together once the overlay has formed,
  // spread over one interval so their messages interleave.
  std::vector<double> start_s;  // by peer index
  double start_of(std::size_t i) const { return start_s[i]; }

  std::unique_ptr<seam::node> make_peer(std::uint32_t g, unsigned thread) {
    const std::size_t i = g - scen.seeds;
    auto config = settings.peer;
    config.gossip_count = originates[i] ? scen.messages : 0;
    const double first = scen.gossip_start_s() + scen.gossip_interval_s() * static_cast<double>(i % 97) / 97.0 - start_of(i);
    config.gossip_first = seconds(std::max(0.1, first));
    thread_record* rec = records[thread].get();
    return std::make_unique<peers::peer_node>(config, seen, [rec, g, this](const peers::peer_event& e) {
      record_peer_event(*rec, group, g, e);
    });
  }
};

// One reactor thread's part of the run: its fabric, its nodes, its share
// of the schedule; returns when the run ends.
task<result<void>> run_thread(cluster& c, io::reactor& r, unsigned t, bool progress, bool& interrupted) {
  c.fabrics[t] = std::make_unique<host::fabric>(c.group, t, r, c.scen.seed * 1000 + t, c.settings.fabric);
  host::fabric& fab = *c.fabrics[t];
  const std::size_t total = c.scen.seeds + c.scen.peer_nodes();
  for (auto g = static_cast<std::uint32_t>(t); g < total; g += c.threads) {
    if (g < c.scen.seeds) fab.add(g, c.make_seed(g, t), 0ns);
    else fab.add(g, c.make_peer(g, t), seconds(c.start_of(g - c.scen.seeds)));
  }
  std::stop_source stop;
  task_scope side;
  // A drain (SIGINT/SIGTERM) ends the run early; the record says so.
  std::stop_callback on_drain(r.drain_token(), [&stop, &interrupted, t] {
    if (t == 0) interrupted = true;
    stop.request_stop();
  });
  side.spawn(end_at(c.epoch + seconds(c.scen.end_s()), stop));
  side.spawn(play_faults(c.plan, fab, c.epoch, stop.get_token(),
                         [&c, t](std::uint32_t g) { return c.make_seed(g, t); }, t == 0 ? &c.applied_at_s : nullptr));
  side.spawn(sample(fab, *c.records[t], c.scen.seeds, c.threads, t, c.epoch, stop.get_token()));
  if (t == 0 && progress)
    side.spawn(show_progress(c.fabrics, c.records, c.scen.seeds, c.scen.end_s(), c.epoch, stop.get_token()));
  auto ran = co_await fab.run(c.epoch, stop.get_token());
  stop.request_stop();
  co_await side.join();
  co_return ran;
}

// The state of every node and the traffic, once the threads have joined.
void snapshot(const cluster& c, const std::vector<double>& one_way_ms, run_record& out) {
  const std::size_t total = c.scen.seeds + c.scen.peer_nodes();
  out.ids.resize(total);
  out.nodes.resize(total);
  for (std::uint32_t g = 0; g < total; ++g) {
    out.ids[g] = c.group.id_of(g);
    host::fabric& fab = *c.fabrics[c.group.thread_of(g)];
    auto& state = out.nodes[g];
    state.started = fab.started(g);
    state.alive = fab.alive(g);
    if (g < c.scen.seeds) {
      auto* seed = dynamic_cast<const seeds::seed_node*>(fab.get(g));
      if (!seed || !seed->started()) continue;
      state.core_started = true;
      state.pl_digest = seed->core().pl_digest();
      state.members.assign(seed->core().members().begin(), seed->core().members().end());
    } else {
      auto* peer = dynamic_cast<const peers::peer_node*>(fab.get(g));
      if (!peer || !peer->started()) continue;
      state.core_started = true;
      state.stats = peer->core().stats();
      for (auto n : peer->core().neighbours())
        if (auto k = number_of(c.group, n); k != ~0u) state.neighbours.push_back(k);
    }
  }
  for (const auto& rec : c.records) {
    out.sends.insert(out.sends.end(), rec->sends.begin(), rec->sends.end());
    out.receipts.insert(out.receipts.end(), rec->receipts.begin(), rec->receipts.end());
    out.removals.insert(out.removals.end(), rec->removals.begin(), rec->removals.end());
    out.notes.insert(out.notes.end(), rec->notes.begin(), rec->notes.end());
    out.members_over_time.insert(out.members_over_time.end(), rec->members.begin(), rec->members.end());
    out.traffic.peak_connections += rec->peak_connections;
  }
  std::sort(out.members_over_time.begin(), out.members_over_time.end());
  auto& tr = out.traffic;
  for (const auto& fab : c.fabrics) {
    const auto& st = fab->stats();
    tr.frames_sent += st.frames_sent.load();
    tr.bytes_sent += st.bytes_sent.load();
    tr.dropped_loss += st.dropped_loss.load();
    tr.dropped_partition += st.dropped_partition.load();
    tr.dropped_dead += st.dropped_dead.load();
    tr.dropped_queue += st.dropped_queue.load();
    tr.frames_out_of_order += st.frames_late.load();
    tr.frames_lost_on_links += st.frames_gap.load() - std::min(st.frames_gap.load(), st.frames_late.load());
    tr.bad_input += st.bad_input.load();
    tr.connects += st.connects.load();
    tr.connect_failures += st.connect_failures.load();
    tr.idle_closed += st.idle_closed.load();
    out.lateness.merge(fab->lateness());
  }
  // Frames lost at the end of a link (no later frame showed the gap):
  // links quiet for two longest delays and a second before the end.
  if (c.scen.transport == host::transport_kind::tcp)
    tr.frames_lost_on_links += host::fabric::frames_never_delivered(c.group, seconds(2 * one_way_ms.back() / 1000 + 1.0));
}

}  // namespace

double peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}


protocol_settings derive_settings(const scenario& scen, seam::duration rtt, std::vector<node_id> seed_ids) {
  protocol_settings out;
  auto& seed = out.seed;
  seed.seeds = seed_ids;
  seed.heartbeat = std::max<seam::duration>(seed.heartbeat, rtt);
  seed.election_timeout_min = std::max<seam::duration>(seed.election_timeout_min, 10 * rtt);
  seed.election_timeout_max = 2 * seed.election_timeout_min;
  seed.forward_retry = std::max<seam::duration>(seed.forward_retry, 4 * rtt);
  seed.pl_sample_max = scen.pl_sample_max;
  // The declaration lease and its watchers at the scenario's pace.
  const seeds::seed_config seed_defaults;
  seed.declare_lease = std::max<seam::duration>(scaled(seed_defaults.declare_lease, scen.scale), 20 * rtt + 1s);
  seed.watch_retry = std::max<seam::duration>(scaled(seed_defaults.watch_retry, scen.scale), 10 * rtt + 500ms);
  auto& peer = out.peer;
  const peers::peer_config defaults;
  peer.seeds = std::move(seed_ids);
  peer.overlay = scen.overlay;
  peer.attach = scen.attach;
  peer.mode = scen.mode;
  peer.gossip_interval = seconds(scen.gossip_interval_s());
  peer.gossip_padding = scen.message_bytes;
  peer.ping_interval = seconds(scen.ping_interval_s());
  peer.probe_timeout = std::max<seam::duration>(scaled(defaults.probe_timeout, scen.scale), 4 * rtt + 50ms);
  peer.register_retry = std::max<seam::duration>(scaled(defaults.register_retry, scen.scale), 4 * rtt + 200ms);
  peer.ihave_timeout = std::max<seam::duration>(defaults.ihave_timeout, 2 * rtt);
  peer.declare_interval = peer.ping_interval / 2;
  peer.declare_refresh = std::min(scaled(defaults.declare_refresh, scen.scale), seed.declare_lease / 3);
  auto& fab = out.fabric;
  fab.idle_close = std::max<seam::duration>(seconds(scen.ping_interval_s() * 1.5), 2s);
  fab.quick_below = static_cast<std::uint32_t>(scen.seeds);
  fab.idle_close_quick = std::max<seam::duration>(1s, 4 * rtt);
  fab.wake_quantum = std::chrono::microseconds(scen.wake_quantum_us);
  fab.on_bad_input = [](const net::address& from, const error& e) {
    std::fprintf(stderr, "confab sim: bad input from %s: %s\n", from.to_string().c_str(), e.message().c_str());
  };
  return out;
}

unsigned threads_for(const scenario& scen) {
  return scen.threads ? scen.threads : std::max(1u, static_cast<unsigned>(::sysconf(_SC_NPROCESSORS_ONLN)));
}

void prepare(scenario& scen, const std::string& backend) {
  io::backend_choice choice{};
  io::parse_backend_choice(backend, choice);
  if (scen.transport == host::transport_kind::tcp && io::probe_backend(choice).kind == io::backend_kind::uring)
    scen.direct_capacity = threads_for(scen) * std::min<std::size_t>(descriptor_limit(), 1u << 20);
}

result<run_record> run_cluster(const scenario& scen, const run_options& o) {
  const unsigned threads = threads_for(scen);
  const std::size_t originators = scen.originators ? scen.originators : scen.peers;
  const std::size_t total_messages = originators * scen.messages;
  cluster c(scen, threads, std::max<std::size_t>(1 << 16, total_messages * scen.peer_nodes() + scen.peer_nodes() * 64));
  seam::random rng(scen.seed);
  c.plan = plan_faults(scen, rng);

  // Links: one model for all, or one per pair of regions.
  c.group.default_link = link_model_of(scen, scen.delay_ms);
  std::vector<double> one_way_ms{scen.delay_ms, scen.delay_ms + scen.jitter_ms};  // {shortest, longest}
  if (!scen.matrix.empty()) {
    const auto regions = scen.matrix.size();
    std::vector<delay::link_model> models;
    one_way_ms[0] = scen.matrix[0][0];
    for (std::size_t i = 0; i < regions; ++i)
      for (std::size_t j = 0; j < regions; ++j) {
        models.push_back(link_model_of(scen, scen.matrix[i][j]));
        one_way_ms[1] = std::max(one_way_ms[1], scen.matrix[i][j] + scen.jitter_ms);
        one_way_ms[0] = std::min(one_way_ms[0], scen.matrix[i][j]);
      }
    c.group.link_model_for = [models, regions](std::uint32_t a, std::uint32_t b) {
      return models[(a % regions) * regions + b % regions];
    };
  }
  std::vector<node_id> seed_ids;
  for (std::size_t i = 0; i < scen.seeds; ++i) seed_ids.push_back(c.group.id_of(static_cast<std::uint32_t>(i)));
  c.settings = derive_settings(scen, seconds(2 * one_way_ms[1] / 1000), seed_ids);
  // Originators spread evenly over the peer numbers; joiners never gossip.
  c.originates = originator_mask(scen);
  c.originates.resize(scen.peer_nodes(), false);
  c.start_s.resize(scen.peer_nodes());
  for (std::size_t i = 0; i < scen.peers; ++i)
    c.start_s[i] = scen.join_start_s() +
                   (scen.join_end_s() - scen.join_start_s()) * static_cast<double>(i) / static_cast<double>(scen.peers);
  for (const auto& [g, at] : join_times(c.plan)) c.start_s[g - scen.seeds] = at;
  for (std::size_t i = 0; i < scen.seeds; ++i) c.disks.push_back(std::make_unique<seeds::memory_store>());
  for (unsigned t = 0; t < threads; ++t) c.records.push_back(std::make_unique<thread_record>());
  c.epoch = io::clock::now() + 300ms;

  if (o.progress)
    std::fprintf(stderr, "confab sim: %zu seeds, %zu peers over %s on %u threads; planned %.1f s\n", scen.seeds,
                 scen.peers, host::transport_name(scen.transport), threads, scen.end_s());

  io::runtime_options ro;
  ro.threads = threads;
  io::parse_backend_choice(o.backend, ro.reactor.backend);
  ro.reactor.io.buffer_count = 8192;
  if (scen.transport == host::transport_kind::tcp)
    ro.reactor.io.direct_descriptors = static_cast<unsigned>(descriptor_limit());
  io::runtime rt(ro);
  run_record out;
  std::mutex failure_mu;
  std::optional<error> failure;
  const auto wall0 = std::chrono::steady_clock::now();
  auto ran = rt.run([&](io::runtime& runtime, io::reactor& r, unsigned t) -> task<void> {
    if (t == 0) out.backend = io::backend_name(r.kind());
    auto res = co_await run_thread(c, r, t, o.progress, out.interrupted);
    if (!res) {
      {
        std::lock_guard lock(failure_mu);
        if (!failure) failure = res.error();
      }
      runtime.request_drain();
    }
  });
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  if (!ran) return ran.error();
  if (failure) return *failure;
  out.scen = scen;
  out.threads = threads;
  out.one_way_ms_min = one_way_ms[0];
  out.one_way_ms_max = one_way_ms[1];
  out.plan = c.plan;
  out.applied_at_s = c.applied_at_s;
  snapshot(c, one_way_ms, out);
  out.cpu_s = cpu_seconds();
  out.rss_mb = peak_rss_mb();
  return out;
}

}  // namespace confab::harness
