// `confab emulator-test`: the RTT emulator's own self-test on a live
// reactor. Two nodes bounce stamped frames through the delay line at a
// given rate; it reports lateness (hand-over time minus due time) and
// checks that the measured round trips match the configured distribution
// (p50, p90, p99 within 2%). Exit code 0 when they match.
#pragma once

#include <cstdint>
#include <string>

namespace confab::tools {

struct emulator_test_options {
  std::uint64_t rate = 100000;  // frames per second through the delay line (both directions)
  std::size_t samples = 1000000;  // round trips measured
  double delay_ms = 10, jitter_ms = 2.5;
  std::string jitter = "uniform";  // uniform (delay ± jitter), normal (sd = jitter), constant
  std::uint64_t seed = 1;
  unsigned quantum_us = 25;
  std::string backend = "auto";
  std::string json;  // write the figures here too
};

int run_emulator_test(const emulator_test_options& o);

}  // namespace confab::tools
