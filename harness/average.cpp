#include "harness/average.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "engine/io/runtime.hpp"
#include "harness/chart.hpp"
#include "harness/cluster.hpp"
#include "harness/scenario.hpp"
#include "protocols/average/node.hpp"

namespace confab::harness {

using namespace std::chrono_literals;

namespace {

problem bad(std::string s) { return problem{std::move(s)}; }

// What one reactor thread's watcher publishes for the others.
struct alignas(64) thread_share {
  std::atomic<std::uint64_t> running{1}, rounds{0};
};

struct run_context {
  const average_run_options& o;
  std::size_t n;
  host::fabric_group group;
  std::vector<bool> hosted;
  std::vector<std::unique_ptr<host::fabric>> fabrics;
  std::vector<std::vector<average::average_node*>> nodes;  // per thread
  std::vector<average::average_node*> by_vertex;
  std::vector<std::vector<average_record::stall>> stalls;  // per thread
  std::unique_ptr<thread_share[]> share;
  io::clock::time_point epoch;
  std::atomic<bool> timed_out{false};

  average::average_config config_of(std::uint32_t g) const {
    auto c = o.base;
    c.x0 = o.x0[g];
    c.dt = o.dt[g];
    c.neighbours.clear();
    for (auto j : o.adjacency[g]) c.neighbours.push_back({group.id_of(j), 1.0});
    return c;
  }
};

seam::duration drain_time(const delay::link_model& m) {
  const auto us = 2 * static_cast<std::int64_t>(m.base_us) + 8 * static_cast<std::int64_t>(m.jitter_a_us);
  return std::min<seam::duration>(std::chrono::microseconds(us) + 50ms, 3s);
}

task<void> watch(run_context& c, unsigned t, std::stop_source& stop) {
  const auto threads = c.o.threads;
  const auto deadline = c.epoch + c.o.time_max;
  auto next_print = c.epoch + 1s;
  const std::uint64_t total_rounds = static_cast<std::uint64_t>(c.n) * c.o.base.rounds;
  for (;;) {
    auto slept = co_await io::sleep_for(20ms, stop.get_token());
    if (!slept) co_return;
    std::uint64_t running = 0, rounds = 0;
    for (auto* node : c.nodes[t]) {
      if (!node->started()) {
        ++running;
        continue;
      }
      running += node->core().status() == average::outcome::running;
      rounds += node->core().round();
    }
    c.share[t].running.store(running, std::memory_order_relaxed);
    c.share[t].rounds.store(rounds, std::memory_order_relaxed);
    std::uint64_t all_running = 0, all_rounds = 0;
    for (unsigned k = 0; k < threads; ++k) {
      all_running += c.share[k].running.load(std::memory_order_relaxed);
      all_rounds += c.share[k].rounds.load(std::memory_order_relaxed);
    }
    const auto now = io::clock::now();
    if (t == 0 && c.o.progress && now >= next_print) {
      next_print += 1s;
      std::fprintf(stderr, "%s: %.0f s, %.1f%% of rounds done, %llu of %zu nodes running\n", c.o.label.c_str(),
                   std::chrono::duration<double>(now - c.epoch).count(),
                   total_rounds ? 100.0 * static_cast<double>(all_rounds) / static_cast<double>(total_rounds) : 0.0,
                   static_cast<unsigned long long>(all_running), c.n);
    }
    if (all_running == 0) {
      // Frames still on the emulated links land before the books close.
      auto drained = co_await io::sleep_for(drain_time(c.o.link), stop.get_token());
      (void)drained;
      stop.request_stop();
      co_return;
    }
    if (now >= deadline) {
      c.timed_out.store(true, std::memory_order_relaxed);
      stop.request_stop();
      co_return;
    }
  }
}

task<result<void>> run_thread(run_context& c, io::reactor& r, unsigned t, std::atomic<bool>& interrupted) {
  host::fabric_options fo;
  fo.on_bad_input = [](const net::address&, const error&) {};
  c.fabrics[t] = std::make_unique<host::fabric>(c.group, t, r, c.o.seed * 1000 + t, fo);
  host::fabric& fab = *c.fabrics[t];
  for (auto g = static_cast<std::uint32_t>(t); g < c.n; g += c.o.threads) {
    if (!c.hosted[g]) continue;
    auto* stalls = &c.stalls[t];
    average::average_node::event_sink sink = [stalls, g, &c](seam::node_id, const average::average_event& e) {
      if (e.what == average::average_event::kind::stalled) {
        const auto who = c.group.index_of(e.who);
        stalls->push_back({g, who >= 0 ? static_cast<std::uint32_t>(who) : ~0u, std::chrono::duration<double>(e.at).count()});
      }
    };
    custom_node made;
    if (c.o.make_node) {
      made = c.o.make_node(g, c.group, std::move(sink));
    } else {
      auto own = std::make_unique<average::average_node>(c.config_of(g), std::move(sink));
      made.rounds = own.get();
      made.node = std::move(own);
    }
    c.nodes[t].push_back(made.rounds);
    c.by_vertex[g] = made.rounds;
    fab.add(g, std::move(made.node), 0ns);
  }
  std::stop_source stop;
  task_scope side;
  std::stop_callback on_drain(r.drain_token(), [&stop, &interrupted] {
    interrupted.store(true);
    stop.request_stop();
  });
  side.spawn(watch(c, t, stop));
  auto ran = co_await fab.run(c.epoch, stop.get_token());
  stop.request_stop();
  co_await side.join();
  co_return ran;
}

}  // namespace

result<average_record, problem> run_average(const average_run_options& o) {
  const std::size_t n = o.adjacency.size();
  if (n < 2) return bad("average consensus needs at least 2 nodes");
  if (o.x0.size() != n || o.dt.size() != n) return bad("x0 and dt need one value per node");
  if (o.threads == 0) return bad("threads must be at least 1");
  if (n > (1u << 24)) return bad("more than 16,777,216 nodes do not fit the 127/8 addresses");
  std::size_t edges = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (o.adjacency[i].empty()) return bad("node " + std::to_string(i) + " has no neighbour");
    for (auto j : o.adjacency[i]) {
      if (j >= n) return bad("node " + std::to_string(i) + " lists neighbour " + std::to_string(j) + ", which does not exist");
      const auto& back = o.adjacency[j];
      if (std::find(back.begin(), back.end(), static_cast<std::uint32_t>(i)) == back.end())
        return bad("the graph is not symmetric: " + std::to_string(i) + " lists " + std::to_string(j) + " but not back");
      ++edges;
    }
  }
  {  // one component
    std::vector<bool> seen(n, false);
    std::deque<std::uint32_t> q{0};
    seen[0] = true;
    std::size_t reached = 1;
    while (!q.empty()) {
      auto v = q.front();
      q.pop_front();
      for (auto j : o.adjacency[v])
        if (!seen[j]) seen[j] = true, ++reached, q.push_back(j);
    }
    if (reached != n)
      return bad("the topology is disconnected (" + std::to_string(reached) + " of " + std::to_string(n) +
                 " nodes reachable from node 0): no single value can be agreed");
  }
  if (o.transport == host::transport_kind::tcp) {
    const auto need = edges + 64;  // one descriptor per end of each link, both ends in this process
    if (need > descriptor_limit())
      return bad("over tcp this graph needs about " + std::to_string(need) + " descriptors, above the limit of " +
                 std::to_string(descriptor_limit()) + "; use --transport inproc or a smaller graph");
  }

  run_context c{o, n, host::fabric_group({.threads = o.threads, .transport = o.transport, .base_port = o.base_port}),
                {}, {}, {}, {}, {}, nullptr, {}, {}};
  c.group.default_link = o.link;
  c.hosted.assign(n, true);
  for (auto s : o.silent)
    if (s < n) c.hosted[s] = false;
  for (std::uint32_t g = 0; g < n; ++g) {
    if (!c.hosted[g] || o.make_node) continue;
    if (auto ok = average::validate(c.config_of(g), c.group.id_of(g)); !ok)
      return bad("node " + std::to_string(g) + ": " + ok.error().text);
  }
  c.fabrics.resize(o.threads);
  c.nodes.resize(o.threads);
  c.by_vertex.assign(n, nullptr);
  c.stalls.resize(o.threads);
  c.share = std::make_unique<thread_share[]>(o.threads);
  c.epoch = io::clock::now() + 100ms;

  io::runtime_options ro;
  ro.threads = o.threads;
  ro.pin_threads = false;
  io::parse_backend_choice(o.backend, ro.reactor.backend);
  if (o.transport == host::transport_kind::tcp) ro.reactor.io.direct_descriptors = static_cast<unsigned>(descriptor_limit());
  io::runtime rt(ro);
  std::mutex failure_mu;
  std::optional<error> failure;
  std::atomic<bool> interrupted{false};
  average_record out;
  const auto wall0 = std::chrono::steady_clock::now();
  auto ran = rt.run([&](io::runtime& runtime, io::reactor& r, unsigned t) -> task<void> {
    if (t == 0) out.backend = io::backend_name(r.kind());
    auto res = co_await run_thread(c, r, t, interrupted);
    if (!res) {
      {
        std::lock_guard lock(failure_mu);
        if (!failure) failure = res.error();
      }
      runtime.request_drain();
    }
  });
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  if (!ran) return bad(std::string("the engine could not start: ") + std::string(ran.error().message()));
  if (failure) return bad(std::string("a fabric failed: ") + std::string(failure->message()));

  out.n = n;
  out.how = o.base.how;
  out.rounds = o.base.rounds;
  out.staleness = o.base.staleness;
  out.x0 = o.x0;
  out.dt = o.dt;
  out.hosted = c.hosted;
  out.transport = host::transport_name(o.transport);
  out.timed_out = c.timed_out.load();
  out.interrupted = interrupted.load();
  out.history.resize(n);
  out.outcomes.assign(n, average::outcome::running);
  std::vector<const average::average_node*> by_vertex(n, nullptr);
  for (unsigned t = 0; t < o.threads; ++t) {
    const auto& st = c.fabrics[t]->stats();
    out.frames_sent += st.frames_sent.load();
    out.bytes_sent += st.bytes_sent.load();
    out.dropped_loss += st.dropped_loss.load();
    out.bad_input += st.bad_input.load();
    for (auto& s : c.stalls[t]) out.stalls.push_back(s);
  }
  for (std::uint32_t g = 0; g < n; ++g) {
    if (!c.hosted[g]) continue;
    auto* node = c.by_vertex[g];
    if (!node || !node->started()) continue;
    by_vertex[g] = node;
    out.outcomes[g] = node->core().status();
    out.stale_frames += node->core().stale_frames();
    out.rejected += node->rejected();
    out.s_held += node->core().s();
    out.w_held += node->core().w();
  }
  if (o.base.how == average::mode::push_sum) {
    for (std::uint32_t i = 0; i < n; ++i) {
      if (!by_vertex[i]) continue;
      for (auto j : o.adjacency[i]) {
        const auto sent = by_vertex[i]->core().sent_to(c.group.id_of(j));
        const auto taken = by_vertex[j] ? by_vertex[j]->core().taken_from(c.group.id_of(i)) : std::pair{0.0, 0.0};
        out.s_in_flight += sent.first - taken.first;
        out.w_in_flight += sent.second - taken.second;
      }
    }
  }
  for (std::uint32_t g = 0; g < n; ++g)
    if (by_vertex[g]) out.history[g] = const_cast<average::average_node*>(by_vertex[g])->take_history();
  out.cpu_s = cpu_seconds();
  out.rss_mb = peak_rss_mb();
  return out;
}

average_analysis analyse_average(const average_record& r, double tol) {
  average_analysis a;
  double sum = 0, sum_w = 0, inv = 0, sum_abs = 0;
  std::size_t hosted = 0;
  for (std::size_t i = 0; i < r.n; ++i) {
    if (!r.hosted[i]) continue;
    ++hosted;
    sum += r.x0[i];
    sum_abs += std::fabs(r.x0[i]);
    sum_w += r.x0[i] / r.dt[i];
    inv += 1 / r.dt[i];
    switch (r.outcomes[i]) {
      case average::outcome::finished: ++a.finished; break;
      case average::outcome::diverged: ++a.diverged; break;
      case average::outcome::stalled: ++a.stalled; break;
      case average::outcome::halted: ++a.halted; break;
      case average::outcome::running: ++a.running; break;
    }
  }
  if (hosted == 0) return a;
  a.average = sum / static_cast<double>(hosted);
  a.weighted_limit = sum_w / inv;
  const double target = r.how == average::mode::laplacian ? a.weighted_limit : a.average;
  double lo = INFINITY, hi = -INFINITY, spread0 = 0;
  for (std::size_t i = 0; i < r.n; ++i) {
    if (!r.hosted[i] || r.history[i].empty()) continue;
    const double x = r.history[i].back().x;
    lo = std::min(lo, x), hi = std::max(hi, x);
    a.final_error_average = std::max(a.final_error_average, std::fabs(x - a.average));
    a.final_error_weighted = std::max(a.final_error_weighted, std::fabs(x - a.weighted_limit));
    spread0 = std::max(spread0, std::fabs(r.x0[i] - target));
  }
  a.final_spread = std::isfinite(hi - lo) ? hi - lo : 0;

  if (r.how == average::mode::push_sum) {
    a.mass_error_s = std::fabs(r.s_held + r.s_in_flight - sum) / std::max(1.0, sum_abs);
    a.mass_error_w = std::fabs(r.w_held + r.w_in_flight - static_cast<double>(hosted)) / static_cast<double>(hosted);
  } else {
    std::size_t k_max = SIZE_MAX;
    for (std::size_t i = 0; i < r.n; ++i)
      if (r.hosted[i]) k_max = std::min(k_max, r.history[i].size());
    if (k_max == SIZE_MAX) k_max = 0;
    a.disagreement.resize(k_max);
    for (std::size_t k = 0; k < k_max; ++k) {
      double mean = 0;
      for (std::size_t i = 0; i < r.n; ++i)
        if (r.hosted[i]) mean += r.history[i][k].x;
      mean /= static_cast<double>(hosted);
      double e = 0;
      for (std::size_t i = 0; i < r.n; ++i)
        if (r.hosted[i]) e += (r.history[i][k].x - mean) * (r.history[i][k].x - mean);
      a.disagreement[k] = std::sqrt(e);
    }
    if (k_max >= 3 && a.disagreement[0] > 0) {
      const double e0 = a.disagreement[0];
      const int K = static_cast<int>(k_max);
      int k1 = -1, k2 = -1;
      // Past the transient (down by 100), before round-off (down by 1e10).
      for (int k = 0; k < K; ++k)
        if (a.disagreement[static_cast<std::size_t>(k)] <= 1e-2 * e0 || a.disagreement[static_cast<std::size_t>(k)] >= 1e2 * e0) {
          k1 = k;
          break;
        }
      for (int k = K - 1; k >= 0; --k)
        if (a.disagreement[static_cast<std::size_t>(k)] >= 1e-10 * e0) {
          k2 = k;
          break;
        }
      if (k1 < 0 || k2 - k1 < 4) k1 = K / 4, k2 = K - 1;
      a.rate_from = k1;
      a.rate_to = k2;
      const double e1 = a.disagreement[static_cast<std::size_t>(k1)], e2 = a.disagreement[static_cast<std::size_t>(k2)];
      a.rate = (e1 > 0 && e2 > 0 && k2 > k1) ? std::pow(e2 / e1, 1.0 / (k2 - k1)) : 0;
      for (int k = 0; k < K; ++k)
        if (a.disagreement[static_cast<std::size_t>(k)] <= tol * e0) {
          a.rounds_to_tolerance = k;
          break;
        }
    }
  }
  // Time to tolerance: when the last node entered the band for good.
  if (spread0 > 0) {
    double worst = 0;
    bool all = true;
    for (std::size_t i = 0; i < r.n && all; ++i) {
      if (!r.hosted[i]) continue;
      const auto& h = r.history[i];
      std::size_t enter = 0;
      for (std::size_t k = 0; k < h.size(); ++k)
        if (std::fabs(h[k].x - target) > tol * spread0) enter = k + 1;
      if (enter >= h.size()) all = false;
      else worst = std::max(worst, std::chrono::duration<double>(h[enter].at).count());
    }
    a.seconds_to_tolerance = all ? worst : -1;
  }
  return a;
}

std::string average_report_json(const average_record& r, const average_analysis& a, const average_theory& t, double tol) {
  nlohmann::json j;
  auto finite = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  j["nodes"] = r.n;
  j["mode"] = average::name_of(r.how);
  j["rounds"] = r.rounds;
  j["staleness"] = r.staleness;
  j["transport"] = r.transport;
  j["backend"] = r.backend;
  j["tolerance"] = tol;
  j["average"] = finite(a.average);
  j["weighted_limit"] = finite(a.weighted_limit);
  j["final_spread"] = finite(a.final_spread);
  j["final_error_average"] = finite(a.final_error_average);
  j["final_error_weighted"] = finite(a.final_error_weighted);
  j["outcomes"] = {{"finished", a.finished}, {"diverged", a.diverged}, {"stalled", a.stalled},
                   {"halted", a.halted},     {"running", a.running}};
  j["measured_rate"] = finite(a.rate);
  j["rate_window"] = {a.rate_from, a.rate_to};
  j["rounds_to_tolerance"] = a.rounds_to_tolerance;
  j["seconds_to_tolerance"] = a.seconds_to_tolerance;
  if (t.known)
    j["theory"] = {{"lambda2", t.l2},       {"lambda_max", t.lmax},         {"rho", t.rho},
                   {"step_max", t.step_max}, {"step_best", t.step_best}, {"predicted_rounds", t.predicted_rounds}};
  if (r.how == average::mode::push_sum)
    j["mass"] = {{"s_held", r.s_held}, {"s_in_flight", r.s_in_flight}, {"w_held", r.w_held}, {"w_in_flight", r.w_in_flight},
                 {"relative_error_s", a.mass_error_s}, {"relative_error_w", a.mass_error_w}};
  nlohmann::json stalls = nlohmann::json::array();
  for (const auto& s : r.stalls) stalls.push_back({{"node", s.node}, {"silent_neighbour", s.neighbour}, {"t_s", s.t_s}});
  j["stalls"] = stalls;
  j["traffic"] = {{"frames_sent", r.frames_sent}, {"bytes_sent", r.bytes_sent}, {"dropped_loss", r.dropped_loss},
                  {"stale_frames", r.stale_frames}, {"rejected", r.rejected}, {"bad_input", r.bad_input}};
  j["timed_out"] = r.timed_out;
  j["interrupted"] = r.interrupted;
  j["wall_s"] = r.wall_s;
  j["cpu_s"] = r.cpu_s;
  j["rss_mb"] = r.rss_mb;
  j["final_values"] = nlohmann::json::array();
  for (std::size_t i = 0; i < r.n && i < 1000; ++i)
    j["final_values"].push_back(r.history[i].empty() ? nlohmann::json(nullptr) : finite(r.history[i].back().x));
  return j.dump(2);
}

namespace {
const char* const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

result<void, problem> write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  if (!f) return problem{"cannot write " + path};
  f << text;
  if (!f) return problem{"cannot write " + path};
  return {};
}
}  // namespace

result<void, problem> write_average_report(const average_record& r, const average_analysis& a, const average_theory& t,
                                           double tol, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return problem{"cannot create " + dir + ": " + ec.message()};
  if (auto ok = write_text(dir + "/report.json", average_report_json(r, a, t, tol) + "\n"); !ok) return ok;
  const bool lock = r.how != average::mode::push_sum;
  {  // trajectories.csv: long form; a huge run keeps its first nodes only (report.json says how many)
    std::size_t total = 0;
    for (const auto& h : r.history) total += h.size();
    const std::size_t keep = total > 5'000'000 ? std::min<std::size_t>(r.n, 200) : r.n;
    std::ofstream f(dir + "/trajectories.csv");
    if (!f) return problem{"cannot write " + dir + "/trajectories.csv"};
    f << "node," << (lock ? "round" : "sample") << ",t_ms,x\n";
    char line[96];
    for (std::size_t i = 0; i < keep; ++i)
      for (std::size_t k = 0; k < r.history[i].size(); ++k) {
        std::snprintf(line, sizeof line, "%zu,%zu,%.3f,%.17g\n", i, k,
                      std::chrono::duration<double, std::milli>(r.history[i][k].at).count(), r.history[i][k].x);
        f << line;
      }
    if (!f) return problem{"cannot write " + dir + "/trajectories.csv"};
  }
  {  // trajectories.svg: up to 40 nodes, spread over the numbering
    std::vector<series> ss;
    const std::size_t shown = std::min<std::size_t>(r.n, 40);
    for (std::size_t s = 0; s < shown; ++s) {
      const std::size_t i = s * r.n / shown;
      series line{.name = r.n <= 10 ? "node " + std::to_string(i) : "", .color = palette[s % 10], .pts = {}, .thin = r.n > 10};
      for (std::size_t k = 0; k < r.history[i].size(); ++k)
        line.pts.push_back({lock ? static_cast<double>(k) : std::chrono::duration<double, std::milli>(r.history[i][k].at).count(),
                            r.history[i][k].x});
      ss.push_back(std::move(line));
    }
    const std::string title = std::string("Trajectories (") + average::name_of(r.how) + ", " + std::to_string(r.n) + " nodes)";
    if (auto ok = write_text(dir + "/trajectories.svg",
                             chart("trajectories", title, lock ? "round" : "time (ms)", "state x", ss, false, false));
        !ok)
      return ok;
  }
  {  // disagreement.svg: measured against the theory's rho^k
    std::vector<series> ss;
    if (lock && !a.disagreement.empty() && a.disagreement[0] > 0) {
      series m{.name = "measured", .color = palette[0], .pts = {}};
      for (std::size_t k = 0; k < a.disagreement.size(); ++k) m.pts.push_back({static_cast<double>(k), a.disagreement[k] / a.disagreement[0]});
      ss.push_back(std::move(m));
      if (t.known && t.rho > 0) {
        series th{.name = "theory rho^k", .color = palette[3], .pts = {}, .dashed = true};
        for (std::size_t k = 0; k < a.disagreement.size(); ++k) {
          const double v = std::pow(t.rho, static_cast<double>(k));
          if (v < 1e-16) break;
          th.pts.push_back({static_cast<double>(k), v});
        }
        ss.push_back(std::move(th));
      }
    } else if (!lock) {  // the estimates against the average, on a time grid
      double end = 0;
      for (const auto& h : r.history)
        if (!h.empty()) end = std::max(end, std::chrono::duration<double>(h.back().at).count());
      series m{.name = "||x - average||", .color = palette[0], .pts = {}};
      std::vector<std::size_t> at(r.n, 0);
      for (int s = 0; s <= 200; ++s) {
        const double ts = end * s / 200;
        double e = 0;
        for (std::size_t i = 0; i < r.n; ++i) {
          const auto& h = r.history[i];
          if (h.empty()) continue;
          while (at[i] + 1 < h.size() && std::chrono::duration<double>(h[at[i] + 1].at).count() <= ts) ++at[i];
          e += (h[at[i]].x - a.average) * (h[at[i]].x - a.average);
        }
        m.pts.push_back({ts * 1000, std::sqrt(e)});
      }
      ss.push_back(std::move(m));
    }
    const std::string title = lock ? "Disagreement ||x - mean|| / initial, per round" : "Distance from the average";
    if (auto ok = write_text(dir + "/disagreement.svg",
                             chart("disagreement", title, lock ? "round" : "time (ms)", lock ? "relative disagreement" : "||x - average||", ss, false, true));
        !ok)
      return ok;
  }
  return {};
}

}  // namespace confab::harness
