// `confab demo`: an in-process echo load that prints the engine's figures.
#pragma once

#include "engine/io/reactor.hpp"

namespace confab::tools {

struct demo_options {
  io::backend_choice backend = io::backend_choice::automatic;
  unsigned connections = 100;
  std::size_t message_bytes = 64;
  unsigned duration_ms = 3000;
};

// Returns the process exit code: 0 when every connection completed its load.
int run_demo_command(const demo_options& o);

}  // namespace confab::tools
