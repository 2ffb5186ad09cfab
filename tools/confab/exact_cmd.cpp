// `confab exact`: exact consensus from the command line.
//
//   confab exact table1 [--seed S] [--runs R] [--json]
//   confab exact bounds --topology torus:5x5 [--seed S] [--json]
//   confab exact recover --topology petersen [--node I] [--seed S] [--json]
//
// Tables print the paper's figures beside ours. Times are wall-clock
// milliseconds on this machine (best / average / worst over --runs).
#include "tools/confab/exact_cmd.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>

#include "linalg/exact.hpp"

namespace confab::tools {
namespace {

using namespace confab::linalg;
using clk = std::chrono::steady_clock;

struct timing {
  double best = 1e300, sum = 0, worst = 0;
  int n = 0;
  void add(double ms) {
    best = std::min(best, ms);
    worst = std::max(worst, ms);
    sum += ms;
    ++n;
  }
  double avg() const { return n ? sum / n : 0; }
};

int fail(const std::string& msg) {
  std::fprintf(stderr, "confab exact: %s\n", msg.c_str());
  return 2;
}

std::vector<double> random_state(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> x(static_cast<std::size_t>(n));
  for (auto& v : x) v = u(rng);
  return x;
}

std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

outcome<graph> load(const std::string& spec, std::uint64_t seed) {
  if (spec.empty()) return graph_error{"--topology is required (ring:9, torus:5x5, petersen, file:PATH, ...)"};
  auto g = parse_topology(spec, seed);
  if (!ok(g)) return g;
  if (!connected(std::get<graph>(g))) return graph_error{"topology '" + spec + "' is not connected"};
  if (std::get<graph>(g).n() > 400) return graph_error{"topology '" + spec + "' has more than 400 nodes; exact consensus here is for up to 400"};
  return g;
}

struct table1_paper {
  const char* spec;
  const char* name;
  int steps;
  double time_ms;
  int it2, it10;
};
constexpr table1_paper paper_table1[] = {
    {"ring:9", "Ring 9", 4, 0.131, 20, 129},     {"ring:25", "Ring 25", 12, 0.219, 136, 1007},
    {"torus:3x3", "Torus 9", 2, 0.008, 5, 26},   {"torus:5x5", "Torus 25", 6, 0.128, 12, 69},
    {"petersen", "Petersen", 3, 0.014, 7, 33},
};

int table1(const exact_options& o) {
  const int runs = o.runs > 0 ? o.runs : 10000;
  std::ostringstream js;
  js << "{\"table\": 1, \"seed\": " << o.seed << ", \"runs\": " << runs << ", \"rows\": [";
  if (!o.json) {
    std::printf("Table 1: convergence speed, exact against asymptotic (seed %llu, %d timed recoveries per topology)\n",
                static_cast<unsigned long long>(o.seed), runs);
    std::printf("%-9s | %-5s %-5s | %-24s %-8s | %-5s %-5s | %-6s %-6s\n", "topology", "steps", "paper", "time ms best/avg/worst",
                "paper", "1e-2", "paper", "1e-10", "paper");
  }
  bool first = true;
  for (const auto& p : paper_table1) {
    graph g = std::get<graph>(parse_topology(p.spec, o.seed));
    matrix W = random_weights(g, o.seed);
    int steps = 0;
    for (int i = 0; i < g.n(); ++i) steps = std::max(steps, min_observations(g, W, i, g.n()).steps);
    // Recovery cost x(0) = Gamma_i y_i with Gamma precomputed, as the paper times it.
    std::vector<matrix> gammas;
    std::vector<std::vector<double>> ys;
    auto x0 = random_state(g.n(), o.seed + 1);
    for (int i = 0; i < g.n(); ++i) {
      gammas.push_back(recovery_matrix(observability(g, W, i, steps)));
      ys.push_back(observe(g, W, i, x0, steps));
    }
    timing t;
    double sink = 0;
    for (int r = 0; r < runs; ++r) {
      const int i = r % g.n();
      auto t0 = clk::now();
      auto x = gammas[static_cast<std::size_t>(i)].apply(ys[static_cast<std::size_t>(i)]);
      t.add(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
      sink += x[0];
    }
    const auto mh = metropolis_hastings(g);
    const auto xs = random_state(g.n(), o.seed + 2);
    const int it2 = asymptotic_iterations(mh, xs, 1e-2), it10 = asymptotic_iterations(mh, xs, 1e-10);
    if (o.json) {
      js << (first ? "" : ", ") << "{\"topology\": " << json_str(p.name) << ", \"steps\": " << steps
         << ", \"paper_steps\": " << p.steps << ", \"time_ms\": {\"best\": " << t.best << ", \"average\": " << t.avg()
         << ", \"worst\": " << t.worst << "}, \"paper_time_ms\": " << p.time_ms << ", \"iterations_1e-2\": " << it2
         << ", \"paper_1e-2\": " << p.it2 << ", \"iterations_1e-10\": " << it10 << ", \"paper_1e-10\": " << p.it10 << "}";
    } else {
      std::printf("%-9s | %-5d %-5d | %.5f/%.5f/%.5f %-8.3f | %-5d %-5d | %-6d %-6d\n", p.name, steps, p.steps, t.best,
                  t.avg(), t.worst, p.time_ms, it2, p.it2, it10, p.it10);
    }
    first = false;
    if (sink == 12345.678) std::printf(" ");  // keeps the timed work observable
  }
  if (o.json) {
    js << "]}";
    std::printf("%s\n", js.str().c_str());
  } else {
    std::printf("Random weights: uniform [0.1, 1) per edge and self-loop, rows normalised; steps = the largest, over\n"
                "nodes, of the smallest v with a full-rank observability matrix. Asymptotic columns: Metropolis-Hastings\n"
                "weights from x(0) uniform in [0, 1), iterations until max |x_i - avg| <= tol * its initial value.\n");
  }
  return 0;
}

int bounds_cmd(const exact_options& o) {
  auto go = load(o.topology, o.seed);
  if (!ok(go)) return fail(std::get<graph_error>(go).message);
  const graph& g = std::get<graph>(go);
  auto rows = bounds(g, random_weights(g, o.seed));
  const int kappa = vertex_connectivity(g);
  if (o.json) {
    std::printf("{\"topology\": %s, \"n\": %d, \"kappa\": %d, \"diameter\": %d, \"nodes\": [", json_str(o.topology).c_str(),
                g.n(), kappa, diameter(g));
    for (std::size_t k = 0; k < rows.size(); ++k) {
      const auto& b = rows[k];
      std::printf("%s{\"node\": %d, \"degree\": %d, \"diameter\": %d, \"intake\": %d, \"node_intake\": %d, "
                  "\"largest_branch\": %d, \"upper\": %d, \"exact\": %d}",
                  k ? ", " : "", b.node, g.degree(b.node), b.diameter, b.intake, b.node_intake, b.largest_branch, b.upper, b.exact);
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("%s: n = %d, edges = %zu, kappa = %d, diameter = %d\n", g.name.c_str(), g.n(), g.edges(), kappa, diameter(g));
  std::printf("lower bounds: diameter, intake ceil((n-1)/min deg), ceil(n/(deg+1)); conjecture: largest branch;\n"
              "upper bound: n - deg; exact: the rank test with random weights (seed %llu)\n",
              static_cast<unsigned long long>(o.seed));
  std::printf("%-5s %-6s | %-9s %-7s %-13s | %-14s | %-6s | %-5s\n", "node", "degree", "diameter", "intake", "ceil n/(d+1)",
              "largest branch", "n-deg", "exact");
  for (const auto& b : rows) {
    std::printf("%-5d %-6d | %-9d %-7d %-13d | %-14d | %-6d | %-5d\n", b.node, g.degree(b.node), b.diameter, b.intake,
                b.node_intake, b.largest_branch, b.upper, b.exact);
  }
  return 0;
}

int recover_cmd(const exact_options& o) {
  auto go = load(o.topology, o.seed);
  if (!ok(go)) return fail(std::get<graph_error>(go).message);
  const graph& g = std::get<graph>(go);
  if (o.node < 0 || o.node >= g.n()) return fail("--node must be from 0 to " + std::to_string(g.n() - 1));
  if (!o.compromised.empty()) return fail("--compromised: malicious-node recovery is not built yet");
  const matrix W = random_weights(g, o.seed);
  const auto t0 = clk::now();
  auto steps = min_observations(g, W, o.node, g.n());
  if (steps.steps < 0) return fail("node " + std::to_string(o.node) + " cannot observe x(0) within n steps");
  const matrix gamma = recovery_matrix(observability(g, W, o.node, steps.steps));
  const auto x0 = random_state(g.n(), o.seed + 1);
  const auto y = observe(g, W, o.node, x0, steps.steps);
  const auto x = gamma.apply(y);
  const double ms = std::chrono::duration<double, std::milli>(clk::now() - t0).count();
  double err = 0;
  for (int i = 0; i < g.n(); ++i) err += (x[static_cast<std::size_t>(i)] - x0[static_cast<std::size_t>(i)]) * (x[static_cast<std::size_t>(i)] - x0[static_cast<std::size_t>(i)]);
  err = std::sqrt(err);
  if (o.json) {
    std::printf("{\"topology\": %s, \"node\": %d, \"steps\": %d, \"error_l2\": %.3e, \"time_ms\": %.4f, \"x0\": [", json_str(o.topology).c_str(),
                o.node, steps.steps, err, ms);
    for (int i = 0; i < g.n(); ++i) std::printf("%s%.12g", i ? ", " : "", x[static_cast<std::size_t>(i)]);
    std::printf("], \"identified\": []}\n");
    return 0;
  }
  std::printf("%s, node %d: %d steps, L2 error %.3e, %.3f ms (observability, SVD, recovery)\n", g.name.c_str(), o.node,
              steps.steps, err, ms);
  std::printf("recovered x(0):");
  for (int i = 0; i < g.n(); ++i) std::printf(" %.6f", x[static_cast<std::size_t>(i)]);
  std::printf("\n");
  return 0;
}

}  // namespace

int run_exact_command(const exact_options& o) {
  if (o.what == "table1") return table1(o);
  if (o.what == "bounds") return bounds_cmd(o);
  if (o.what == "recover") return recover_cmd(o);
  return fail("'" + o.what + "' is not built yet (table1, bounds and recover are)");
}

}  // namespace confab::tools
