// `confab peer`: one gossip peer over TCP.
#pragma once

#include <string>

namespace confab::tools {

struct peer_options {
  std::string config;  // TOML settings (docs/config.md)
  std::string listen;     // IP:PORT or NAME:PORT to bind; the identity unless --advertise
  std::string advertise;  // the identity others reach, when not --listen
  std::string backend = "auto";
  std::string metrics;  // IP:PORT for GET /metrics (tools/confab/metrics.hpp); empty: none
};

// Serves until SIGINT/SIGTERM; the process exit code (2 for bad settings).
int run_peer_command(const peer_options& o);

}  // namespace confab::tools
