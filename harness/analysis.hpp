// confab harness: what a run's record means.
//
// `analyse` turns a run_record (harness/cluster.hpp) into the report a
// reader sees: delivery (which messages reached every live peer, how fast,
// in how many hops), redundancy, the overlay's degrees and connectivity,
// crash-to-removal times and false removals, whether the live seeds agree
// on the PL, traffic and cost, the emulator's lateness and whether the
// emulation was faithful, and the problems a reader must see first.
// Pure: no clock, no I/O, so tests hand it records they build.
//
//   auto rep = harness::analyse(record);
//   if (!rep.problems.empty()) ...
//
// Thread: any.
#pragma once

#include <string>

#include "harness/cluster.hpp"
#include "harness/report.hpp"

namespace confab::harness {

// Lateness budget: p99 within this fraction of the shortest one-way delay
// (and at least the floor, for runs with almost no delay).
inline constexpr double lateness_budget_fraction = 0.10;
inline constexpr double lateness_budget_floor_us = 100.0;

report analyse(const run_record& run);

// ## powerlaw_mle
// The discrete power law's exponent, maximum likelihood over k >= kmin
// (the continuous approximation with kmin - 1/2); 0 without data.
double powerlaw_mle(const std::vector<std::size_t>& degrees, std::size_t kmin);

// ## summary_text
// The lines `confab sim` prints after a run, problems last.
std::string summary_text(const report& rep, const std::string& out_dir);

// ## write_trace
// DIR/trace.jsonl: every fault (planned and applied time, its nodes), every
// gossip origination, failure-detection step and removal, and every
// incomplete message with the live peers it missed, by time.
result<void, problem> write_trace(const run_record& run, const report& rep, const std::string& path);

}  // namespace confab::harness
