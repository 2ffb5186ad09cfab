// `confab avg ...` and `confab avg-node`: average consensus (document 000).
//
//   confab avg --topology torus:5x5 --dt 0.1 [--mode laplacian] [--transport tcp] [--out DIR]
//   confab avg paper [--out DIR]                 the document's Table I and Table II
//   confab avg-node --listen IP:PORT --config node.toml
//
// Exit codes: 0 the run converged as the mode says it must; 1 it did not
// (diverged, stalled, timed out); 2 bad usage or configuration.
#pragma once

#include <cstdint>
#include <string>

#include "engine/host/tcp_host.hpp"
#include "protocols/average/node.hpp"

namespace confab::tools {

struct avg_options {
  std::string what = "run";  // run | paper
  std::string topology = "ring:4";
  std::string dt = "0.1";    // one value, a comma list (one per node), "best" (2 / (l2 + lmax)) or "safe" (1 / (1 + max degree))
  std::string x0 = "random"; // "random" (uniform [0, 10), seeded) or a comma list
  std::string mode = "laplacian";
  std::uint32_t rounds = 200;
  std::uint32_t staleness = 0;
  double delay_ms = 0, jitter_ms = 0, pause_ms = 0;
  std::string jitter = "uniform";
  double loss = 0, dup = 0;  // fractions of frames, by the emulator
  double push_interval_ms = 10, stall_timeout_ms = 5000;
  std::string transport = "inproc";
  unsigned threads = 1;
  double tolerance = 1e-9;
  double time_max_s = 300;
  std::string out;
  std::string backend = "auto";
  std::uint16_t base_port = 17400;
  std::uint64_t seed = 1;
  bool quiet = false;
};
int run_avg_command(const avg_options& o);

struct avg_node_options {
  std::string listen;
  std::string config;
  std::string backend = "auto";
};
int run_avg_node_command(const avg_node_options& o);

// Serves a node whose lock-step rounds are `node` (avg-node, exact-node)
// until they end and every neighbour has its last states, or `linger`
// after the end; exit_code 2 when the host cannot serve.
task<void> serve_rounds_node(host::tcp_host& host, average::average_node& node, io::reactor& r, seam::duration linger,
                             int& exit_code, const char* command);

}  // namespace confab::tools
