// `confab vote-server`: one voting server (source document 001) speaking
// the document's dialect on a TCP port (docs/voting.md).
//
//   confab vote-server --listen 127.0.0.1:6000
//   nc -C 127.0.0.1 6000        # the riddle, then the PIN and the menu
//   confab vote-server --listen 127.0.0.1:6000 --native-listen 127.0.0.1:6001 --key-file cluster.key
#pragma once

#include <string>

namespace confab::tools {

struct vote_server_options {
  std::string listen;         // the document's dialect
  std::string native_listen;  // the native dialect (docs/voting.md), when given
  std::string key_file;       // the cluster key: native AUTH by HMAC challenge
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
