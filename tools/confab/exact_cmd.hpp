// `confab exact ...`: the paper's tables and single runs of exact consensus.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace confab::tools {

struct exact_options {
  std::string what;  // table1 | table2 | table3 | table4 | recover | bounds
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
};

// Prints the result (text or JSON); returns the exit code. Bad input gets a
// one-line error on stderr and exit code 2.
int run_exact_command(const exact_options& o);

}  // namespace confab::tools
