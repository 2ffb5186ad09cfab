// Exact-consensus recovery: the batched path against the naive one, per
// topology and number of compromised nodes, in the same run.
//
//   ./build/bench/linalg_benchmark --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Each benchmark plans once (outside the timing), then times one recovery
// from a fresh random attack per iteration.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>

#include "linalg/malicious.hpp"
#include "harness/topology.hpp"

namespace {

using namespace confab::linalg;

struct fixture {
  graph g;
  matrix W;
  attack_plan plan;
};

fixture& get(const std::string& spec, int f) {
  static std::map<std::pair<std::string, int>, std::unique_ptr<fixture>> cache;
  auto& slot = cache[{spec, f}];
  if (!slot) {
    slot = std::make_unique<fixture>();
    slot->g = confab::harness::parse_topology(spec, 1).value();
    slot->W = random_weights(slot->g, 1);
    slot->plan = plan_attack_recovery(slot->g, slot->W, 0, f);
  }
  return *slot;
}

template <bool Batched>
void BM_recover(benchmark::State& state, const char* spec, int f) {
  fixture& fx = get(spec, f);
  if (fx.plan.status != attack_status::ok) {
    state.SkipWithError(attack_status_name(fx.plan.status));
    return;
  }
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(-1, 1);
  const int n = fx.g.n();
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<double> x0(static_cast<std::size_t>(n));
    for (auto& v : x0) v = u(rng);
    std::vector<int> att;
    while (static_cast<int>(att.size()) < f) {
      int v = 1 + static_cast<int>(rng() % static_cast<unsigned>(n - 1));
      if (std::find(att.begin(), att.end(), v) == att.end()) att.push_back(v);
    }
    std::sort(att.begin(), att.end());
    std::vector<std::vector<double>> err(static_cast<std::size_t>(fx.plan.L), std::vector<double>(static_cast<std::size_t>(f)));
    for (auto& r : err)
      for (auto& v : r) v = u(rng);
    auto y = observe_attacked(fx.g, fx.W, 0, x0, fx.plan.L, att, err);
    state.ResumeTiming();
    auto r = Batched ? recover_batched(fx.plan, y) : recover_naive(fx.plan, y);
    benchmark::DoNotOptimize(r);
  }
  state.counters["steps"] = fx.plan.L + 1;
}

// x(0) at every node for T runs (the argument: 64, and 1 as one
// `confab exact run` is): one GEMM (all_nodes_recovery) against each node
// applying its own Gamma_i to its own observations (a GEMV per node and
// run, observations gathered from the trajectory), same inputs.
template <bool Gemm>
void BM_all_nodes(benchmark::State& state, const char* spec) {
  const graph g = confab::harness::parse_topology(spec, 1).value();
  const matrix W = random_weights(g, 1);
  const auto plan = all_nodes_recovery(g, W);
  const int n = g.n(), T = static_cast<int>(state.range(0));
  std::vector<matrix> gammas;
  for (int i = 0; i < n; ++i) gammas.push_back(recovery_matrix(observability(g, W, i, plan.steps)));
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  matrix traj(n * plan.steps, T);
  for (int t = 0; t < T; ++t) {
    std::vector<double> x0(static_cast<std::size_t>(n));
    for (auto& v : x0) v = u(rng);
    const auto tr = trajectory(W, x0, plan.steps);
    std::copy(tr.begin(), tr.end(), traj.data.begin() + static_cast<std::ptrdiff_t>(t) * traj.rows);
  }
  for (auto _ : state) {
    if constexpr (Gemm) {
      benchmark::DoNotOptimize(recover_all_nodes(plan, traj));
    } else {
      matrix out(n * n, T);
      std::vector<double> y;
      for (int i = 0; i < n; ++i) {
        const auto& nb = g.adj[static_cast<std::size_t>(i)];
        for (int t = 0; t < T; ++t) {
          y.clear();
          for (int k = 0; k < plan.steps; ++k) {
            y.push_back(traj(k * n + i, t));
            for (int j : nb) y.push_back(traj(k * n + j, t));
          }
          const auto x = gammas[static_cast<std::size_t>(i)].apply(y);
          std::copy(x.begin(), x.end(), out.data.begin() + static_cast<std::ptrdiff_t>(t) * out.rows + i * n);
        }
      }
      benchmark::DoNotOptimize(out);
    }
  }
  state.counters["steps"] = plan.steps;
}

void register_all() {
  for (auto [name, spec] : {std::pair{"torus25", "torus:5x5"}, std::pair{"petersen", "petersen"},
                             std::pair{"hypercube6", "hypercube:6"}}) {
    benchmark::RegisterBenchmark((std::string("BM_all_nodes_gemm/") + name).c_str(), BM_all_nodes<true>, spec)
        ->Arg(64)->Arg(1)->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark((std::string("BM_all_nodes_per_node/") + name).c_str(), BM_all_nodes<false>, spec)
        ->Arg(64)->Arg(1)->Unit(benchmark::kMicrosecond);
  }
  const std::pair<const char*, const char*> topologies[] = {
      {"ring9", "ring:9"}, {"torus9", "torus:3x3"}, {"torus25", "torus:5x5"}, {"petersen", "petersen"}};
  for (auto [name, spec] : topologies) {
    for (int f = 0; f <= 2; ++f) {
      const std::string suffix = std::string(name) + "_f" + std::to_string(f);
      benchmark::RegisterBenchmark(("BM_recover_batched/" + suffix).c_str(), BM_recover<true>, spec, f)
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("BM_recover_naive/" + suffix).c_str(), BM_recover<false>, spec, f)
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
