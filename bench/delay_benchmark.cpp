// The RTT emulator's cost per frame: submit (sample the link's model, file
// in the timing wheel) plus hand-over, with 1,000 links of 20 ms ± 2 ms
// (normal) one-way delay and frames arriving 10 per 100 µs of virtual time
// (100,000 frames/s), against the same work on a binary heap
// (std::priority_queue), the usual alternative, in the same run.
#include <benchmark/benchmark.h>

#include <queue>

#include "engine/delay/delay_line.hpp"

namespace {

using namespace confab;

void BM_delay_line_wheel(benchmark::State& state) {
  delay::delay_line d(1);
  delay::link_model m{.base_us = 20'000, .jitter_a_us = 2'000, .jitter = delay::jitter_kind::normal};
  for (int i = 0; i < 1000; ++i) d.add_link(m);
  seam::random rng(2);
  std::uint64_t now = 0, h = 0, got = 0;
  for (auto _ : state) {
    d.submit(static_cast<delay::link_id>(rng.below(1000)), now, 100, ++h);
    if ((h % 10) == 0) {
      now += 100'000;
      d.advance(now, [&](std::uint64_t x, std::uint64_t) { got += x; });
    }
  }
  benchmark::DoNotOptimize(got);
  state.SetItemsProcessed(state.iterations());
  state.counters["pending"] = static_cast<double>(d.pending());
}

void BM_delay_line_heap(benchmark::State& state) {
  // The same model sampling, filed in a binary heap instead.
  delay::delay_line sampler(1);
  delay::link_model m{.base_us = 20'000, .jitter_a_us = 2'000, .jitter = delay::jitter_kind::normal};
  std::vector<delay::link_model> links(1000, m);
  seam::random rng(2);
  using entry = std::pair<std::uint64_t, std::uint64_t>;
  std::priority_queue<entry, std::vector<entry>, std::greater<>> heap;
  std::uint64_t now = 0, h = 0, got = 0;
  for (auto _ : state) {
    auto& l = links[rng.below(1000)];
    auto due = now + sampler.sample_delay_ns(l);
    due = std::max(due, l.last_due_ns);
    l.last_due_ns = due;
    heap.emplace(due, ++h);
    if ((h % 10) == 0) {
      now += 100'000;
      while (!heap.empty() && heap.top().first <= now) {
        got += heap.top().second;
        heap.pop();
      }
    }
  }
  benchmark::DoNotOptimize(got);
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_delay_line_wheel);
BENCHMARK(BM_delay_line_heap);

}  // namespace

BENCHMARK_MAIN();
