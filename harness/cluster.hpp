// confab harness: a load-test cluster in one process, run to its end.
//
// `run_cluster` builds what a scenario describes (S seeds and N peers as
// protocol cores on fabrics, one fabric per reactor thread, over real TCP
// or in-process through the RTT emulator), plays the workload and the
// fault schedule, shows a progress line, and returns a `run_record`: a
// plain snapshot of what happened and of every node's state at the end.
// Nothing in the record refers to a live object, so the analysis that
// turns it into a report (harness/analysis.hpp) is a pure function that
// tests call with records of their own.
//
//   auto scen = harness::default_scenario();
//   harness::validate(scen);
//   auto record = harness::run_cluster(scen, {.backend = "auto"});
//   if (!record) fail(record.error().message());
//   auto rep = harness::analyse(*record);
//
// Errors: a fabric that cannot start (a listener that cannot bind, a
// descriptor table that cannot be registered) ends the run with its error.
// SIGINT/SIGTERM end it early; the record says so (`interrupted`).
// Thread: call from one thread; it runs its own reactor threads and joins
// them before it returns.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/histogram.hpp"
#include "engine/core/result.hpp"
#include "engine/host/fabric.hpp"
#include "harness/faults.hpp"
#include "harness/scenario.hpp"
#include "protocols/peers/core.hpp"
#include "protocols/seeds/api.hpp"

namespace confab::harness {

// ## protocol_settings
// The documents' intervals times the scenario's scale, and every timeout
// at least a few emulated round trips, written once for seeds, peers and
// the fabric's idle timers.
struct protocol_settings {
  seeds::seed_config seed;
  peers::peer_config peer;
  host::fabric_options fabric;
};
protocol_settings derive_settings(const scenario& scen, seam::duration rtt, std::vector<seam::node_id> seed_ids);

// ## run_record
// What a run produced. Nodes are numbered as in the fabric group: seeds
// 0..S-1, then peers.
struct run_record {
  scenario scen;
  unsigned threads = 0;
  std::string backend;
  double wall_s = 0;
  bool interrupted = false;
  double one_way_ms_min = 0, one_way_ms_max = 0;
  std::vector<planned_fault> plan;
  std::vector<double> applied_at_s;     // when each planned fault was applied
  std::vector<seam::node_id> ids;       // each node's id (its address)

  // Events, times in ns since the run's epoch.
  struct send {
    std::uint32_t origin, seq;
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
  struct note {  // failure-detection and overlay steps, for the trace
    std::uint32_t by, about, other;  // other: ~0u when none
    std::int64_t t;
    const char* what;
    const char* why;  // static storage, or nullptr
  };
  std::vector<send> sends;
  std::vector<receipt> receipts;
  std::vector<removal> removals;
  std::vector<note> notes;
  std::vector<std::pair<double, double>> members_over_time;  // (s, PL size at a leader)

  // Every node at the end.
  struct node_state {
    bool started = false, alive = false;  // as the fabric saw it
    bool core_started = false;            // the protocol core exists (stats, PL and neighbours are set)
    // peers
    peers::peer_stats stats;
    std::vector<std::uint32_t> neighbours;  // node numbers
    // seeds
    std::uint64_t pl_digest = 0;
    std::vector<seam::node_id> members;  // the PL, sorted
  };
  std::vector<node_state> nodes;

  // Traffic, summed over the fabrics.
  struct traffic {
    std::uint64_t frames_sent = 0, bytes_sent = 0, dropped_loss = 0, dropped_partition = 0, dropped_dead = 0,
                  dropped_queue = 0, bad_input = 0, connects = 0, connect_failures = 0, idle_closed = 0,
                  peak_connections = 0, frames_out_of_order = 0, frames_lost_on_links = 0;
  } traffic;
  latency_histogram lateness;  // ns
  double cpu_s = 0, rss_mb = 0;
};

struct run_options {
  std::string backend = "auto";  // auto, uring, epoll
  bool progress = true;          // a progress line on stderr every second
};

// ## process figures
// This process's peak resident set (MiB) and CPU time (user + system, s).
double peak_rss_mb();
double cpu_seconds();

// ## run_cluster
// Runs `scen` (already validated) to its end; see the banner.
result<run_record> run_cluster(const scenario& scen, const run_options& o);

// ## prepare
// What run_cluster needs settled before `validate`: the io_uring direct
// descriptor capacity a TCP run may count on with this backend choice.
void prepare(scenario& scen, const std::string& backend);

}  // namespace confab::harness
