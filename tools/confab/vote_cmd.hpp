// `confab vote-server`: one voting server (source document 001) speaking
// the document's dialect on a TCP port (docs/voting.md).
//
//   confab vote-server --listen 127.0.0.1:6000
//   nc -C 127.0.0.1 6000        # the riddle, then the PIN and the menu
#pragma once

#include <string>

namespace confab::tools {

struct vote_server_options {
  std::string listen;
  std::string backend = "auto";
  std::string riddle = "What has keys but can't open locks?";
  std::string answer = "keyboard";
  std::string question = "Would you rather (A) be able to fly or (B) be invisible?";
  unsigned idle_timeout_ms = 300000;
  unsigned line_bytes_max = 512;
  unsigned connections_max = 16384;
  unsigned connections_per_source_max = 0;
};

// Serves until SIGINT/SIGTERM: 0 then, 1 when the port cannot be bound,
// 2 for bad options.
int run_vote_server_command(const vote_server_options& o);

}  // namespace confab::tools
