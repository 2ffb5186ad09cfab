#include "tools/confab/avg_cmd.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/host/tcp_host.hpp"
#include "engine/io/runtime.hpp"
#include "harness/average.hpp"
#include "harness/chart.hpp"
#include "harness/toml_util.hpp"
#include "harness/topology.hpp"
#include "linalg/spectrum.hpp"
#include "protocols/average/node.hpp"
#include "protocols/common/endpoints.hpp"
#include "tools/confab/node_cmd.hpp"

namespace confab::tools {

using namespace std::chrono_literals;

namespace {

seam::duration ms(double v) { return std::chrono::nanoseconds(static_cast<std::int64_t>(v * 1e6)); }

int usage(const std::string& what) {
  std::fprintf(stderr, "confab avg: %s\n", what.c_str());
  return 2;
}

// "0.1" (every node), "0.25,0.5" (one per node).
result<std::vector<double>, problem> parse_values(const std::string& text, const char* what, std::size_t n) {
  std::vector<double> v;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const double x = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(x))
      return problem{std::string(what) + " '" + item + "' is not a number"};
    v.push_back(x);
  }
  if (v.size() == 1) v.assign(n, v[0]);
  if (v.size() != n)
    return problem{std::string(what) + " has " + std::to_string(v.size()) + " values for " + std::to_string(n) + " nodes"};
  return v;
}

std::vector<std::vector<std::uint32_t>> adjacency_of(const linalg::graph& g) {
  std::vector<std::vector<std::uint32_t>> adj(static_cast<std::size_t>(g.n()));
  for (int i = 0; i < g.n(); ++i)
    for (int j : g.adj[static_cast<std::size_t>(i)]) adj[static_cast<std::size_t>(i)].push_back(static_cast<std::uint32_t>(j));
  return adj;
}

// The spectrum: the closed forms for tori and hypercubes of any size,
// dense LAPACK up to 12,000 nodes (seconds at 3,000, minutes at 10,000).
std::optional<linalg::spectrum> spectrum_of(const linalg::graph& g, const std::string& spec) {
  int rows = 0, cols = 0;
  if (std::sscanf(spec.c_str(), "torus:%dx%d", &rows, &cols) == 2 && rows >= 3 && cols >= 3)
    return linalg::torus_spectrum(rows, cols);
  if (std::sscanf(spec.c_str(), "hypercube:%d", &rows) == 1 && rows >= 1) return linalg::hypercube_spectrum(rows);
  if (g.n() <= 3000) return linalg::laplacian_spectrum(g);
  if (g.n() <= 12000) {  // dense n^3: seconds at 3,000 nodes, minutes at 10,000
    std::fprintf(stderr, "confab avg: computing the Laplacian spectrum of %d nodes (dense; a few minutes)\n", g.n());
    return linalg::laplacian_spectrum(g);
  }
  return std::nullopt;
}

harness::average_theory theory_of(const std::optional<linalg::spectrum>& s, const std::vector<double>& dt,
                                  average::mode how, std::uint32_t staleness, double tol) {
  harness::average_theory t;
  if (!s || s->lmax <= 0) return t;
  t.known = true;
  t.l2 = s->l2;
  t.lmax = s->lmax;
  t.step_max = linalg::stable_step_max(*s, static_cast<int>(staleness));
  t.step_best = 2 / (s->l2 + s->lmax);
  const bool matched = std::all_of(dt.begin(), dt.end(), [&](double v) { return v == dt[0]; });
  // The rate in closed form: matched steps, fresh states, a lock-step mode.
  if (matched && staleness == 0 && how != average::mode::push_sum) {
    t.rho = linalg::contraction(*s, dt[0]);
    t.predicted_rounds = linalg::rounds_to(tol, t.rho);
  }
  return t;
}

void print_summary(const harness::average_record& r, const harness::average_analysis& a, const harness::average_theory& t,
                   double tol) {
  std::printf("average consensus: %zu nodes, %s, %s transport (%s)\n", r.n, average::name_of(r.how), r.transport.c_str(),
              r.backend.c_str());
  std::printf("  outcomes: %zu finished, %zu diverged, %zu stalled, %zu halted, %zu running%s\n", a.finished, a.diverged,
              a.stalled, a.halted, a.running, r.timed_out ? " (timed out)" : "");
  std::printf("  average of x0 %.12g; sum(x0/dt)/sum(1/dt) %.12g\n", a.average, a.weighted_limit);
  std::printf("  final spread %.3g; max |x - average| %.3g; max |x - weighted| %.3g\n", a.final_spread,
              a.final_error_average, a.final_error_weighted);
  if (r.how != average::mode::push_sum) {
    std::printf("  measured contraction %.6f per round (rounds %d..%d)", a.rate, a.rate_from, a.rate_to);
    if (t.known && t.rho > 0) std::printf("; theory %.6f (ratio %.4f)", t.rho, a.rate / t.rho);
    std::printf("\n  rounds to %.0e: %d", tol, a.rounds_to_tolerance);
    if (t.predicted_rounds > 0) std::printf(" (theory %d)", t.predicted_rounds);
    std::printf("\n");
  } else {
    std::printf("  mass: s %.3g held + %.3g in flight (relative error %.2e); w relative error %.2e\n", r.s_held,
                r.s_in_flight, a.mass_error_s, a.mass_error_w);
  }
  if (t.known)
    std::printf("  spectrum: lambda2 %.6g, lambda_max %.6g; stable for dt < %.6g; fastest dt %.6g\n", t.l2, t.lmax,
                t.step_max, t.step_best);
  std::printf("  time to %.0e of the limit: %.3f s; %.2f s wall, %.2f s CPU, %.0f MiB peak RSS; %llu frames\n", tol,
              a.seconds_to_tolerance, r.wall_s, r.cpu_s, r.rss_mb, static_cast<unsigned long long>(r.frames_sent));
  for (std::size_t k = 0; k < r.stalls.size() && k < 10; ++k)
    std::printf("  node %u: neighbour %u silent for the stall timeout\n", r.stalls[k].node, r.stalls[k].neighbour);
}

int exit_code_of(const harness::average_record& r, const harness::average_analysis& a) {
  return (a.diverged || a.stalled || a.halted || a.running || r.timed_out || r.interrupted) ? 1 : 0;
}

harness::average_run_options base_options(const avg_options& o) {
  harness::average_run_options ro;
  ro.base.rounds = o.rounds;
  ro.base.staleness = o.staleness;
  ro.base.pause = ms(o.pause_ms);
  ro.base.push_interval = ms(o.push_interval_ms);
  ro.base.stall_timeout = ms(o.stall_timeout_ms);
  ro.transport = o.transport == "tcp" ? host::transport_kind::tcp : host::transport_kind::inproc;
  ro.threads = o.threads;
  ro.backend = o.backend;
  ro.base_port = o.base_port;
  ro.seed = o.seed;
  ro.time_max = ms(o.time_max_s * 1000);
  ro.progress = !o.quiet;
  auto kind = delay::jitter_from_name(o.jitter).value_or(delay::jitter_kind::uniform);
  ro.link = delay::around(o.delay_ms, o.jitter_ms, kind);
  ro.link.loss = delay::chance(o.loss);
  ro.link.dup = delay::chance(o.dup);
  return ro;
}

// ---------------------------------------------------------------- avg paper

struct paper_case {
  std::string name;
  double dt1, dt2, pause_ms;
};

int run_paper(const avg_options& o) {
  const std::string dir = o.out.empty() ? "avg-paper" : o.out;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return usage("cannot create " + dir + ": " + ec.message());
  std::vector<paper_case> cases = {
      {"table1-0.1-0.1", 0.1, 0.1, 0},      {"table1-0.25-0.5", 0.25, 0.5, 0}, {"table1-0.5-0.75", 0.5, 0.75, 0},
      {"table1-0.75-0.5", 0.75, 0.5, 0},    {"table1-0.75-0.75", 0.75, 0.75, 0},
      {"table2-delay-0.1", 0.1, 0.1, 0.1},  {"table2-delay-10", 0.1, 0.1, 10},  {"table2-delay-50", 0.1, 0.1, 50},
      {"table2-delay-100", 0.1, 0.1, 100},  {"table2-delay-200", 0.1, 0.1, 200}};
  // 0.8^80 = 1.8e-8: the slowest case (matched 0.1) well inside 1e-6.
  const std::uint32_t rounds = o.rounds == 200 ? 80 : o.rounds;
  nlohmann::json table = nlohmann::json::array();
  std::string md =
      "| case | dt1 | dt2 | sleep (ms) | final x1 | final x2 | sum(x/dt)/sum(1/dt) | average | eigenvalue 1-(dt1+dt2) | "
      "oscillates | rounds to 1e-6 | time to 1e-6 (s) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  int code = 0;
  std::uint16_t port = o.base_port;
  for (const auto& c : cases) {
    auto ro = base_options(o);
    ro.transport = o.transport == "inproc" ? host::transport_kind::inproc : host::transport_kind::tcp;
    ro.base_port = port++;
    ro.adjacency = {{1}, {0}};
    ro.x0 = {0, 10};
    ro.dt = {c.dt1, c.dt2};
    ro.base.how = average::mode::laplacian;
    ro.base.rounds = rounds;
    ro.base.pause = ms(c.pause_ms);
    ro.label = "confab avg paper " + c.name;
    auto rec = harness::run_average(ro);
    if (!rec) return usage(c.name + ": " + rec.error().text);
    const auto a = harness::analyse_average(*rec, 1e-6);
    code = std::max(code, exit_code_of(*rec, a));
    const auto& h0 = rec->history[0];
    const auto& h1 = rec->history[1];
    int sign_changes = 0;
    for (std::size_t k = 1; k < std::min(h0.size(), h1.size()); ++k)
      if ((h0[k].x - h1[k].x) * (h0[k - 1].x - h1[k - 1].x) < 0) ++sign_changes;
    int rounds_tol = -1;
    for (std::size_t k = 0; k < std::min(h0.size(), h1.size()); ++k)
      if (std::fabs(h0[k].x - h1[k].x) <= 1e-6 * 10) {
        rounds_tol = static_cast<int>(k);
        break;
      }
    const double eig = 1 - (c.dt1 + c.dt2);
    table.push_back({{"case", c.name}, {"dt1", c.dt1}, {"dt2", c.dt2}, {"sleep_ms", c.pause_ms},
                     {"final_x1", h0.back().x}, {"final_x2", h1.back().x}, {"weighted_limit", a.weighted_limit},
                     {"average", a.average}, {"eigenvalue", eig}, {"oscillates", sign_changes > 0},
                     {"rounds_to_1e-6", rounds_tol}, {"seconds_to_1e-6", a.seconds_to_tolerance}});
    char row[512];
    std::snprintf(row, sizeof row, "| %s | %g | %g | %g | %.9f | %.9f | %.9f | %g | %g | %s | %d | %.3f |\n", c.name.c_str(),
                  c.dt1, c.dt2, c.pause_ms, h0.back().x, h1.back().x, a.weighted_limit, a.average, eig,
                  sign_changes ? "yes" : "no", rounds_tol, a.seconds_to_tolerance);
    md += row;
    std::printf("%s", row);
    std::fflush(stdout);
    // One figure per case, as the document's: both states against rounds
    // (Table I) or against time (Table II, where the sleep stretches time).
    const bool timed = c.pause_ms > 0;
    std::vector<harness::series> ss;
    const char* colors[] = {"#1f77b4", "#ff7f0e"};
    const char* names[] = {"server (node 0)", "client (node 1)"};
    for (int i = 0; i < 2; ++i) {
      harness::series s{.name = names[i], .color = colors[i], .pts = {}};
      const auto& h = rec->history[static_cast<std::size_t>(i)];
      for (std::size_t k = 0; k < h.size(); ++k)
        s.pts.push_back({timed ? std::chrono::duration<double>(h[k].at).count() : static_cast<double>(k), h[k].x});
      ss.push_back(std::move(s));
    }
    char title[160];
    std::snprintf(title, sizeof title, "dt1 = %g, dt2 = %g%s", c.dt1, c.dt2,
                  timed ? (", sleep " + harness::num(c.pause_ms, 1) + " ms").c_str() : "");
    std::ofstream(dir + "/" + c.name + ".svg")
        << harness::chart(c.name, title, timed ? "time (s)" : "round", "state", ss, false, false);
  }
  std::ofstream(dir + "/paper.json") << table.dump(2) << "\n";
  std::ofstream(dir + "/paper.md") << md;
  std::printf("wrote %s/paper.md, paper.json and one SVG per case\n", dir.c_str());
  return code;
}

}  // namespace

int run_avg_command(const avg_options& o) {
  if (o.what == "paper") return run_paper(o);
  const auto how = average::mode_from_name(o.mode);
  if (!how) return usage("--mode '" + o.mode + "' is not one of: " + average::mode_list());
  if (o.transport != "tcp" && o.transport != "inproc") return usage("--transport must be tcp or inproc, not " + o.transport);
  if (!delay::jitter_from_name(o.jitter)) return usage("--jitter '" + o.jitter + "' is not a jitter kind");
  if (!(o.tolerance > 0 && o.tolerance < 1)) return usage("--tolerance must be in (0, 1)");
  auto g = harness::parse_topology(o.topology, o.seed);
  if (!g) return usage("--topology: " + g.error().text);
  const std::size_t n = static_cast<std::size_t>(g->n());
  if (!linalg::connected(*g)) return usage("--topology " + o.topology + " is disconnected: no single value can be agreed");
  const auto spectrum = spectrum_of(*g, o.topology);
  std::vector<double> dt;
  if (o.dt == "best") {
    if (!spectrum) return usage("--dt best needs the spectrum, which is computed for up to 12,000 nodes, a torus or a hypercube");
    dt.assign(n, 2 / (spectrum->l2 + spectrum->lmax));
  } else if (o.dt == "safe") {
    // Gershgorin: lmax <= 2 * max degree, so 1 / (1 + max degree) is
    // stable on any graph, where the spectrum is out of reach.
    int degree_max = 0;
    for (int i = 0; i < g->n(); ++i) degree_max = std::max(degree_max, g->degree(i));
    dt.assign(n, 1.0 / (1 + degree_max));
  } else {
    auto v = parse_values(o.dt, "--dt", n);
    if (!v) return usage(v.error().text);
    dt = std::move(*v);
  }
  std::vector<double> x0;
  if (o.x0 == "random") {
    seam::random rng(o.seed);
    for (std::size_t i = 0; i < n; ++i) x0.push_back(10 * rng.unit());
  } else {
    auto v = parse_values(o.x0, "--x0", n);
    if (!v) return usage(v.error().text);
    x0 = std::move(*v);
  }
  auto ro = base_options(o);
  ro.adjacency = adjacency_of(*g);
  ro.x0 = x0;
  ro.dt = dt;
  ro.base.how = *how;
  ro.label = "confab avg";
  if (!o.quiet)
    std::fprintf(stderr, "confab avg: %zu nodes (%s), %s, %u rounds over %s\n", n, o.topology.c_str(), o.mode.c_str(),
                 o.rounds, o.transport.c_str());
  auto rec = harness::run_average(ro);
  if (!rec) return usage(rec.error().text);
  const auto a = harness::analyse_average(*rec, o.tolerance);
  const auto t = theory_of(spectrum, dt, *how, o.staleness, o.tolerance);
  print_summary(*rec, a, t, o.tolerance);
  if (!o.out.empty()) {
    if (auto ok = harness::write_average_report(*rec, a, t, o.tolerance, o.out); !ok) {
      std::fprintf(stderr, "confab avg: %s\n", ok.error().text.c_str());
      return 1;
    }
    std::printf("  report: %s/report.json, trajectories.csv, trajectories.svg, disagreement.svg\n", o.out.c_str());
  }
  return exit_code_of(*rec, a);
}

// ---------------------------------------------------------------- avg-node

namespace {

struct node_settings {
  average::average_config cfg;
  std::string csv;
  seam::duration linger = 2s;
};

result<node_settings, problem> load_node_settings(const std::string& path) {
  auto root = harness::read_toml(path);
  if (!root) return root.error();
  node_settings s;
  s.cfg.stall_timeout = 30s;  // a person starts the second terminal
  std::string mode = "laplacian";
  harness::table_reader r(*root, "", path);
  r.only({"x0", "dt", "mode", "rounds", "staleness", "pause_ms", "push_interval_ms", "stall_timeout_ms",
          "resend_interval_ms", "linger_ms", "neighbours", "csv"})
      .require("x0")
      .require("neighbours", "the IP:PORT of every neighbour")
      .number("x0", -1e300, 1e300, s.cfg.x0)
      .number("dt", -1e300, 1e300, s.cfg.dt)  // validate says what is wrong with it
      .text("mode", mode)
      .integer("rounds", 1, average::rounds_max, s.cfg.rounds)
      .integer("staleness", 0, average::staleness_max, s.cfg.staleness)
      .milliseconds("pause_ms", 0, 3'600'000, s.cfg.pause)
      .milliseconds("push_interval_ms", 1, 3'600'000, s.cfg.push_interval)
      .milliseconds("stall_timeout_ms", 1, 86'400'000, s.cfg.stall_timeout)
      .milliseconds("resend_interval_ms", 0, 3'600'000, s.cfg.resend_interval)
      .milliseconds("linger_ms", 0, 3'600'000, s.linger)
      .text("csv", s.csv);
  if (auto done = r.done(); !done) return done.error();
  const auto how = average::mode_from_name(mode);
  if (!how) return problem{path + ": mode = '" + mode + "' is not one of: " + average::mode_list()};
  s.cfg.how = *how;
  auto ids = harness::endpoint_list(*root, "neighbours", path);
  if (!ids) return ids.error();
  for (auto id : *ids) s.cfg.neighbours.push_back({id, 1.0});
  return s;
}

task<void> watch_node(average::average_node& node, io::reactor& r, std::stop_source& stop, seam::duration linger) {
  std::optional<io::clock::time_point> ended;
  for (;;) {
    auto slept = co_await io::sleep_for(20ms, r.drain_token());
    if (!slept) {
      stop.request_stop();
      co_return;
    }
    if (!node.started() || node.core().status() == average::outcome::running) continue;
    if (!ended) ended = io::clock::now();
    // Stay while a neighbour may still need our last states.
    const bool lock = node.core().config().how != average::mode::push_sum;
    if ((lock && node.core().status() == average::outcome::finished && node.core().neighbours_finished()) ||
        io::clock::now() - *ended >= linger) {
      stop.request_stop();
      co_return;
    }
  }
}

}  // namespace

task<void> serve_rounds_node(host::tcp_host& host, average::average_node& node, io::reactor& r, seam::duration linger,
                             int& exit_code, const char* command) {
  std::stop_source stop;
  task_scope side;
  side.spawn(watch_node(node, r, stop, linger));
  auto ok = co_await host.run(stop.get_token());
  stop.request_stop();
  co_await side.join();
  if (!ok) {
    std::fprintf(stderr, "confab %s: cannot serve: %s\n", command, ok.error().message().c_str());
    exit_code = 2;
  }
}

int run_avg_node_command(const avg_node_options& o) {
  auto self = endpoints::parse_endpoint(o.listen);
  if (!self) {
    std::fprintf(stderr, "confab avg-node: --listen '%s': %s\n", o.listen.c_str(), self.error().detail);
    return 2;
  }
  auto loaded = load_node_settings(o.config);
  if (!loaded) {
    std::fprintf(stderr, "confab avg-node: %s\n", loaded.error().text.c_str());
    return 2;
  }
  auto& s = *loaded;
  if (auto ok = average::validate(s.cfg, *self); !ok) {
    std::fprintf(stderr, "confab avg-node: %s: %s\n", o.config.c_str(), ok.error().text.c_str());
    return 2;
  }
  const std::string name = endpoints::id_string(*self);
  std::printf("avg-node %s: x0 %.12g, dt %g, %s, %u rounds, %zu neighbours\n", name.c_str(), s.cfg.x0, s.cfg.dt,
              average::name_of(s.cfg.how), s.cfg.rounds, s.cfg.neighbours.size());
  std::fflush(stdout);
  auto on_event = [&name](seam::node_id, const average::average_event& e) {
    using k = average::average_event::kind;
    const double t = std::chrono::duration<double>(e.at).count();
    switch (e.what) {
      case k::round: std::printf("[%9.3f s] round %u x %.12g\n", t, e.round, e.x); break;
      case k::finished: std::printf("[%9.3f s] finished after %u rounds: x %.12g\n", t, e.round, e.x); break;
      case k::diverged: std::printf("[%9.3f s] diverged at round %u (x %.6g): dt is above the stability bound\n", t, e.round, e.x); break;
      case k::stalled:
        std::printf("[%9.3f s] neighbour %s silent at round %u\n", t, endpoints::id_string(e.who).c_str(), e.round);
        break;
      case k::halted:
        std::printf("[%9.3f s] halted at round %u: neighbour %s stopped\n", t, e.round, endpoints::id_string(e.who).c_str());
        break;
    }
    std::fflush(stdout);
    (void)name;
  };
  host::tcp_host_options ho;
  ho.on_bad_input = [](const net::address& from, const error& e) {
    std::fprintf(stderr, "confab avg-node: closed a connection from %s: %s\n", from.to_string().c_str(), e.message().c_str());
  };
  io::runtime rt(node_runtime(o.backend));
  int exit_code = 0;
  average::average_node* node_ptr = nullptr;
  std::vector<average::sample> history;
  average::outcome final_state = average::outcome::running;
  auto ran = rt.run([&](io::runtime&, io::reactor& r, unsigned) -> task<void> {
    auto node = std::make_unique<average::average_node>(s.cfg, on_event);
    node_ptr = node.get();
    host::tcp_host host(r, *self, {}, std::move(node), *self, ho);
    co_await serve_rounds_node(host, *node_ptr, r, s.linger, exit_code, "avg-node");
    if (node_ptr->started()) {
      final_state = node_ptr->core().status();
      history = node_ptr->take_history();
    }
  });
  if (!ran) {
    std::fprintf(stderr, "confab avg-node: %s\n", ran.error().message().c_str());
    return 2;
  }
  if (!s.csv.empty()) {
    std::ofstream f(s.csv);
    f << "round,t_ms,x\n";
    for (std::size_t k = 0; k < history.size(); ++k)
      f << k << ',' << std::chrono::duration<double, std::milli>(history[k].at).count() << ',' << history[k].x << '\n';
    if (!f) {
      std::fprintf(stderr, "confab avg-node: cannot write %s\n", s.csv.c_str());
      return 1;
    }
  }
  std::printf("avg-node %s: %s\n", name.c_str(), average::name_of(final_state));
  if (exit_code) return exit_code;
  return final_state == average::outcome::finished ? 0 : 1;
}

}  // namespace confab::tools
