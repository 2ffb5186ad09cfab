// `confab seed`: one seed node of the membership service, over TCP.
#pragma once

#include <string>

namespace confab::tools {

struct seed_options {
  std::string config;  // TOML settings (docs/config.md)
  std::string listen;  // IP:PORT, one of the seed list's entries
  std::string backend = "auto";
  int legacy_port = -1;  // overrides the settings' seed.legacy_port when >= 0
};

// Serves until SIGINT/SIGTERM; returns the process exit code (2 for bad
// settings, 1 when it cannot start).
int run_seed_command(const seed_options& o);

}  // namespace confab::tools
