// `confab vote`: one client of a voting server's native dialect
// (docs/voting.md), for people and scripts.
//
//   confab vote --server 127.0.0.1:6001 --key-file cluster.key "OPEN Cats or dogs?|cats|dogs"
//   confab vote --server 127.0.0.1:6001 --key-file cluster.key "VOTE 1 cats" --wait-closed
//   confab vote --server 127.0.0.1:6001 --answer keyboard "STATS"
//
// It connects, authenticates (AUTH with the HMAC of the server's challenge
// under the cluster key from --key-file, which never crosses the wire; else
// RIDDLE with --answer), sends each COMMAND as one line, in order
// (pipelined), and prints every line the server sends: answers as they are,
// pushes (6xx: joins, leaves, polls opened and closed) too. With
// --wait-closed it then waits for the next poll decision (a 603 line). It
// ends with QUIT.
//
// Exit: 0 when authentication and every command were answered 2xx (and,
// with --wait-closed, a decision arrived), 1 when the server refused
// something (4xx/5xx), closed early or did not answer within --timeout-s,
// 2 for bad usage (a bad address, an unreadable key file, no command and no
// --wait-closed).
#pragma once

#include <string>
#include <vector>

namespace confab::tools {

struct vote_client_options {
  std::string server;    // IP:PORT of the native dialect
  std::string key_file;  // the cluster key: AUTH by HMAC challenge
  std::string answer;    // the riddle's answer, when there is no key file (default "keyboard")
  std::vector<std::string> commands;
  bool wait_closed = false;
  unsigned timeout_s = 10;
};
int run_vote_client_command(const vote_client_options& o);

}  // namespace confab::tools
