// `confab sim`: S seeds and N peers in one process, over real TCP or the
// in-process transport, through the RTT emulator, with a workload and a
// fault schedule; a live progress line; a report as JSON and as one
// self-contained HTML file with SVG charts. docs/sim.md has the details.
#pragma once

#include <optional>
#include <string>

namespace confab::tools {

struct sim_options {
  std::string config;  // TOML scenario; empty: the embedded default
  std::string out = "sim-report";  // folder for report.json and report.html
  std::string backend = "auto";
  // Overrides of the scenario (after the file).
  std::optional<std::size_t> peers, seeds, originators;
  std::optional<std::string> transport;
  std::optional<unsigned> threads;
  std::optional<std::uint64_t> seed;
  std::optional<double> duration_s, scale, delay_ms, jitter_ms;
  std::optional<std::uint16_t> base_port;
  bool quiet = false;  // no progress line
};

// The exit code: 0 after a run (its outcomes are in the report), 2 for a
// bad scenario, 1 when the run could not start.
int run_sim_command(const sim_options& o);

}  // namespace confab::tools
