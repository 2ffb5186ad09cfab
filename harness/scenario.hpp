// confab harness: the scenario of a `confab sim` run.
//
// A scenario says what runs (S seeds, N peers, which transport, how many
// reactor threads), over what network (the link model of the RTT emulator,
// or a latency matrix), under what workload (who gossips, how often, how
// big) and what faults (kill or pause peers, crash and restart a seed,
// partition and heal), on a time scale. Every field has a default, so an
// empty file (or none) is the embedded default of README's main command:
// 3 seeds, 1,000 peers over real TCP, one-way delay 40 ms ± 10 ms, 2% of
// the peers killed part-way, the documents' intervals scaled to finish
// within two minutes on two cores. docs/sim.md documents every key.
//
//   auto s = harness::load_scenario("scenario.toml");   // result<scenario, problem>; or default_scenario()
//   if (!s) { fprintf(stderr, "%s\n", s.error().text.c_str()); return 2; }
//
// Errors (syntax, unknown keys, wrong types, impossible values, a broken
// latency matrix, more peers than the descriptor limit allows over TCP)
// name the file and the key, before anything starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/delay/link_model.hpp"
#include "engine/host/fabric.hpp"
#include "protocols/peers/api.hpp"

namespace confab::harness {

struct fault {
  enum kind_t : std::uint8_t { kill, pause, crash_seed, restart_seed, partition, heal, clog, unclog, churn } kind;
  double at_s = 0;
  double for_s = 0;           // churn: how long it lasts
  double rate = 0;            // churn: peers per second that crash, and as many new ones that join
  std::size_t steps() const;  // churn: how many leave (and join): for_s × rate, at least 1
  std::size_t count = 0;      // kill, pause: peers chosen at random (seeded)
  double pause_s = 0;         // pause
  std::size_t seed_index = 0; // crash_seed, restart_seed
  double fraction = 0.5;      // partition, clog: the first `fraction` of the nodes (by number) against the rest
  bool symmetric = true;      // partition, clog
  bool include_seeds = false; // partition, clog: seeds take part (else peers only)
};
const char* fault_name(fault::kind_t k) noexcept;

struct scenario {
  // cluster
  std::size_t seeds = 3, peers = 1000;
  host::transport_kind transport = host::transport_kind::tcp;
  unsigned threads = 0;  // 0: one per core
  std::uint16_t base_port = 17400;
  std::uint64_t seed = 1;
  std::size_t pl_sample_max = 256;  // a register reply carries up to this many peers
  // network: one-way delay base ± jitter
  // 40 ms ± 10 ms one way (a cross-continent link): the delay two cores
  // emulate faithfully over TCP at 1,000 peers. At 10 ms ± 2.5 ms a flood
  // over loopback TCP (about 21 us of CPU per frame) puts lateness p99 at
  // 3-7 ms, over the 1 ms budget (bench/RESULTS.md).
  double delay_ms = 40, jitter_ms = 10;
  delay::jitter_kind jitter = delay::jitter_kind::uniform;  // uniform: base - jitter + U[0, 2·jitter)
  double jitter_shape = 0;  // pareto shape, lognormal sigma
  double loss = 0, duplicate = 0;
  unsigned wake_quantum_us = 25;  // least time between two wake-ups of a fabric's pump
  std::string latency_matrix;  // file: one-way delays (ms) between R regions; nodes go to regions round-robin
  std::vector<std::vector<double>> matrix;  // parsed
  // time
  double scale = 0.5;           // the documents' intervals (gossip 5 s, ping 13 s) times this
  double join_window_s = 0;     // peers start spread over it; 0: 5 ms per peer, at least 2 s
  double duration_s = 0;        // 0: until the workload and the faults have played out
  // workload
  std::size_t originators = 50;  // peers that gossip (0: all)
  std::uint32_t messages = 10;   // per originator (the documents: 10)
  std::size_t message_bytes = 0; // extra body bytes per message
  peers::dissemination mode = peers::dissemination::flood;
  peers::overlay_model overlay = peers::overlay_model::preferential;
  std::size_t attach = 2;
  // faults; default: 2% of the peers killed once gossip is under way
  std::vector<fault> faults;
  bool default_faults = true;
  // Set by the caller before `validate`: connection ends the reactors can
  // hold as io_uring direct descriptors (threads × table size), 0 without.
  std::size_t direct_capacity = 0;

  // Derived timings (seconds since the start).
  double join_start_s() const { return 1.0; }
  double join_end_s() const;
  double gossip_start_s() const { return join_end_s() + 2.0; }
  double gossip_interval_s() const;  // peers::peer_config's gossip interval times `scale`
  double ping_interval_s() const;    // peers::peer_config's ping interval times `scale`
  double gossip_end_s() const { return gossip_start_s() + gossip_interval_s() * messages; }
  double detection_bound_s() const;  // a killed peer is removed within this
  double end_s() const;
  // Churn brings new peers: node numbers seeds + peers onwards, started at
  // their join times (harness/faults.hpp).
  std::size_t joiners() const;
  std::size_t peer_nodes() const { return peers + joiners(); }
};

scenario default_scenario();

// ## originator_mask
// Which peers (by index, 0..peers-1) gossip: `originators` of them spread
// evenly over the numbers (all when 0). Joiners never do.
std::vector<bool> originator_mask(const scenario& scen);

// ## overrides
// What a command line may set over the scenario file, applied after it.
struct overrides {
  std::optional<std::size_t> peers, seeds, originators;
  std::optional<host::transport_kind> transport;
  std::optional<unsigned> threads;
  std::optional<std::uint64_t> seed;
  std::optional<double> duration_s, scale, delay_ms, jitter_ms;
  std::optional<std::uint16_t> base_port;
};
void apply(const overrides& o, scenario& scen);

// ## describe
// One line per setting, as run (the report's "scenario" field).
std::string describe(const scenario& scen, unsigned threads);

// ## link_model_of
// The emulator's model of one link: `base_ms` one way, the scenario's
// jitter, loss and duplication.
delay::link_model link_model_of(const scenario& scen, double base_ms);
// Reads a TOML scenario over the defaults, and validates it.
result<scenario, problem> load_scenario(const std::string& path);
// Checks the values (also after command-line overrides): impossible
// combinations, and the descriptor limit for `tcp`. Derives the default
// faults from the final peer count.
result<void, problem> validate(scenario& s);
// Descriptors a TCP run needs at most (connection ends: direct or not), and
// how many this process may open.
std::size_t tcp_descriptors_needed(const scenario& s);
std::size_t descriptor_limit();

}  // namespace confab::harness
