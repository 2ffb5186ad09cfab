// `confab sim`: S seeds and N peers in one process, over real TCP or the
// in-process transport, through the RTT emulator, with a workload and a
// fault schedule; a live progress line; a report as JSON and as one
// self-contained HTML file with SVG charts. The harness (harness/) does the
// work; this command parses, calls and prints. docs/sim.md has the details.
#pragma once

#include <string>
#include <vector>

#include "harness/scenario.hpp"

namespace confab::tools {

struct sim_options {
  std::string config;  // TOML scenario; empty: the embedded default
  std::string out = "sim-report";  // folder for report.json, report.html and trace.jsonl
  std::string backend = "auto";
  harness::overrides set;  // over the scenario, after the file
  bool quiet = false;  // no progress line
  std::vector<std::string> thresholds;  // METRIC OP NUMBER (harness/thresholds.hpp); a broken one: exit 1
};

// The exit code: 0 after a clean run, 1 when the run found problems or
// could not run, 2 for a bad scenario.
int run_sim_command(const sim_options& o);

}  // namespace confab::tools
