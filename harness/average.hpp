// confab harness: average consensus (protocols/average) on N nodes in one
// process, run to its end, analysed and reported.
//
// `run_average` puts one average node per graph vertex on fabrics (over
// real loopback TCP or in-process, through the RTT emulator), shows a
// progress line, and stops when every node has finished, diverged, stalled
// or halted (or at `time_max`). It returns an `average_record`: plain data,
// every node's samples and outcome, so `analyse_average` is a pure function
// tests call with records of their own.
//
//   average_run_options o;
//   o.adjacency = ...; o.x0 = ...; o.dt = ...;
//   auto rec = harness::run_average(o);
//   auto a = harness::analyse_average(*rec, 1e-9);
//   harness::write_average_report(*rec, a, theory, "out");   // report.json, CSV, SVG
//
// The theory (contraction rate, stability bound) needs the Laplacian
// spectrum, which is linalg's; the command computes it and hands the
// numbers in, so this floor stays free of linalg.
//
// Thread: call from one thread; it runs its own reactor threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/delay/link_model.hpp"
#include "engine/host/fabric.hpp"
#include "protocols/average/node.hpp"

namespace confab::harness {

// A vertex's node when the caller builds it (protocols/exact puts its
// recovery and its compromised behaviours around `linear` rounds): the node
// to host, and the average node running its rounds inside, which the
// run's watcher and record read.
struct custom_node {
  std::unique_ptr<seam::node> node;
  average::average_node* rounds = nullptr;
};
// `group` gives every vertex's node id (group.id_of(v)).
using node_maker =
    std::function<custom_node(std::uint32_t vertex, const host::fabric_group& group, average::average_node::event_sink sink)>;

struct average_run_options {
  std::vector<std::vector<std::uint32_t>> adjacency;  // symmetric: j in adj[i] iff i in adj[j]
  std::vector<double> x0, dt;                          // per node
  average::average_config base;                        // mode, rounds, staleness, pause, intervals
  host::transport_kind transport = host::transport_kind::inproc;
  unsigned threads = 1;
  delay::link_model link{};  // every link's model (delay, jitter, loss, duplication)
  std::uint16_t base_port = 17400;
  std::string backend = "auto";
  seam::duration time_max = std::chrono::seconds(300);
  std::vector<std::uint32_t> silent;  // vertices with no node: neighbours that never answer
  std::uint64_t seed = 1;
  bool progress = true;
  std::string label = "confab avg";
  // Set: builds every node (and validates its own configs); x0 and dt are
  // then what the record and its analysis use.
  node_maker make_node;
};

struct average_record {
  std::size_t n = 0;
  average::mode how = average::mode::laplacian;
  std::uint32_t rounds = 0, staleness = 0;
  std::vector<double> x0, dt;
  std::vector<bool> hosted;                           // false for silent vertices
  std::vector<std::vector<average::sample>> history;  // per node
  std::vector<average::outcome> outcomes;
  struct stall {
    std::uint32_t node, neighbour;
    double t_s;
  };
  std::vector<stall> stalls;
  // push-sum: sum of s and of w held by the nodes, and on the links (sent
  // totals minus what the receiver took), at the end.
  double s_held = 0, w_held = 0, s_in_flight = 0, w_in_flight = 0;
  std::uint64_t stale_frames = 0, rejected = 0;
  std::uint64_t frames_sent = 0, bytes_sent = 0, dropped_loss = 0, bad_input = 0;
  bool timed_out = false, interrupted = false;
  double wall_s = 0, cpu_s = 0, rss_mb = 0;
  std::string backend, transport;
};

// Problems in the options (sizes that disagree, an asymmetric graph, an
// isolated vertex, a node config `average::validate` refuses) are
// `invalid_argument` with the detail; a fabric that cannot start is its error.
result<average_record, problem> run_average(const average_run_options& o);

struct average_analysis {
  double average = 0;         // mean of x0 over hosted nodes
  double weighted_limit = 0;  // sum(x0/dt) / sum(1/dt): the Laplacian mode's limit
  double final_spread = 0;    // max - min of the final values
  double final_error_average = 0, final_error_weighted = 0;  // max |x_i - target|
  std::vector<double> disagreement;  // lock-step: ||x(k) - mean x(k)||_2 per round k
  double rate = 0;            // lock-step: measured contraction per round (geometric mean over a window)
  int rate_from = 0, rate_to = 0;
  int rounds_to_tolerance = -1;        // first round with disagreement <= tol * disagreement(0)
  double seconds_to_tolerance = -1;    // first time every node stays within tol*scale of the average
  std::size_t finished = 0, diverged = 0, stalled = 0, halted = 0, running = 0;
  // push-sum: |s mass - sum x0| and |w mass - n|, relative to the sums
  double mass_error_s = 0, mass_error_w = 0;
};
average_analysis analyse_average(const average_record& r, double tol);

// What the spectrum says (computed by the caller): drawn beside the
// measurement and written to the report.
struct average_theory {
  bool known = false;
  double l2 = 0, lmax = 0, rho = 0, step_max = 0, step_best = 0;
  int predicted_rounds = -1;  // ceil(log tol / log rho)
};

// DIR/report.json, DIR/trajectories.csv, DIR/trajectories.svg,
// DIR/disagreement.svg.
result<void, problem> write_average_report(const average_record& r, const average_analysis& a, const average_theory& t,
                                           double tol, const std::string& dir);
// The figures as JSON text (report.json).
std::string average_report_json(const average_record& r, const average_analysis& a, const average_theory& t, double tol);

}  // namespace confab::harness
