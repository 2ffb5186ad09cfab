// `confab exact ...`: the paper's tables and single runs of exact consensus.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace confab::tools {

struct exact_options {
  std::string what;  // table1 | table2 | table3 | table4 | recover | bounds | run
  std::string topology;
  std::string compromised;  // "3,17"
  // Errors the compromised nodes add: "crafted" (an attack another subset
  // explains too), "node:value,..." (every step), "node@step:value,...", or
  // a file of "node step value" lines. Empty: uniform in [-1, 1].
  std::string inject;
  std::uint64_t seed = 1;
  int runs = 0;  // 0: the table's default
  int node = 0;
  bool json = false;
  // run: exact consensus over the network (tools/confab/exact_run.cpp)
  int f = 0;
  std::string malicious;  // "3:offset:0.5,7:silent:4"
  std::string weights = "random";
  std::string transport = "inproc";
  double delay_ms = 0, jitter_ms = 0, stall_timeout_ms = 5000, time_max_s = 300;
  unsigned threads = 1;
  std::string out;
  std::string backend = "auto";
  std::uint16_t base_port = 17600;
  bool quiet = false;
};

// `confab exact run`: N nodes over the network in one process.
int run_exact_network(const exact_options& o);

struct exact_node_options {
  std::string listen;
  std::string config;
  std::string backend = "auto";
};
// `confab exact-node`: one node as its own process (exact_node_cmd.cpp).
int run_exact_node_command(const exact_node_options& o);

// Prints the result (text or JSON); returns the exit code. Bad input gets a
// one-line error on stderr and exit code 2.
int run_exact_command(const exact_options& o);

}  // namespace confab::tools
