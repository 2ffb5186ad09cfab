// Duplicate suppression: confab's lock-free table against
// absl::flat_hash_set behind a std::mutex, at 1 and 2 threads sharing one
// table (bench/dedup_compare.py runs it and writes the ratios).
//
// Each operation is what a peer does per gossip copy: insert the key
// (peer, origin, seq), learning whether it is new. Every key is offered
// twice (the second copy is the duplicate a flooding peer receives). As in
// a process, each thread serves its own peers, so keys differ between
// threads while the table (and, for the set, its lock) is shared. Both
// tables are bounded: the lock-free one by its time buckets, the set by
// clearing it at the same capacity.
#include <absl/container/flat_hash_set.h>
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "protocols/peers/dedup.hpp"

namespace {

using namespace confab;
constexpr std::size_t capacity = 1u << 21;

std::unique_ptr<peers::dedup_table> lockfree;
absl::flat_hash_set<std::uint64_t> locked_set;
std::mutex locked_mu;

std::uint64_t key_for(int thread, std::uint64_t i) { return peers::dedup_table::key(100 + static_cast<std::uint64_t>(thread), 2, i); }

void BM_dedup_lockfree(benchmark::State& state) {
  if (state.thread_index() == 0) lockfree = std::make_unique<peers::dedup_table>(peers::dedup_options{.capacity = capacity});
  std::uint64_t i = 0, fresh = 0;
  const int t = state.thread_index();
  const auto now = std::chrono::nanoseconds(0);
  for (auto _ : state) {
    fresh += lockfree->insert(key_for(t, i / 2), now);  // each key twice
    ++i;
  }
  benchmark::DoNotOptimize(fresh);
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) state.counters["bytes_per_entry"] = lockfree->bytes_per_entry();
}

void BM_dedup_mutex_flat_hash_set(benchmark::State& state) {
  if (state.thread_index() == 0) {
    std::lock_guard g(locked_mu);
    locked_set.clear();
    locked_set.reserve(capacity);
  }
  std::uint64_t i = 0, fresh = 0;
  const int t = state.thread_index();
  for (auto _ : state) {
    {
      std::lock_guard g(locked_mu);
      if (locked_set.size() >= capacity) locked_set.clear();
      fresh += locked_set.insert(key_for(t, i / 2)).second;
    }
    ++i;
  }
  benchmark::DoNotOptimize(fresh);
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    std::lock_guard g(locked_mu);
    // Slots of 8 bytes plus one control byte each, over the live entries.
    state.counters["bytes_per_entry"] =
        static_cast<double>(locked_set.bucket_count() * 9) / static_cast<double>(std::max<std::size_t>(locked_set.size(), 1));
  }
}

BENCHMARK(BM_dedup_lockfree)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_dedup_mutex_flat_hash_set)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
