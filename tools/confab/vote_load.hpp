// `confab vote-load`: N clients of a voting server, in the document's
// dialect, from one process on the engine's reactor.
//
// The same run as bench/vote_compare.py's asyncio client, so it drives
// `confab vote-server` and the document-design baseline alike, without a
// Python loop as the bottleneck at 10,000 clients:
//   1. N clients connect and answer the riddle (at most `handshakes` at
//      once) until each has its PIN and the menu;
//   2. N-1 of them vote at once, alternately A and B (no choice reaches
//      more than half of N): votes/s is N-1 over the time from the first
//      vote sent to the last "Vote recorded", and each vote's latency is
//      sent -> recorded;
//   3. the last client votes A, which decides the poll: vote-to-broadcast
//      latency is that vote sent -> each client's "CONSENSUS REACHED" line.
// Every client must get the broadcast, with A at N/2+1 votes.
//
//   confab vote-load --server 127.0.0.1:6000 --clients 10000
//
// Output: a progress line on stderr each second, then one JSON object on
// stdout (registered, votes, votes_per_s, vote and broadcast p50/p99 in ms,
// the server's resident MB after registration when --server-pid is given,
// and the problems found). Exit 0 when every step completed as above, 1 when
// the run found problems (a refused or missing vote, a missing or wrong
// broadcast, the time limit), 2 for bad usage. Bounded by --timeout-s.
// Traffic goes only where --server points (tests use loopback).
#pragma once

#include <string>

namespace confab::tools {

struct vote_load_options {
  std::string server;                 // IP:PORT of the document's dialect
  unsigned clients = 1000;
  unsigned handshakes = 500;          // registrations in flight at once
  std::string answer = "keyboard";    // the riddle's answer
  unsigned timeout_s = 300;           // the whole run
  int server_pid = 0;                 // read its VmRSS once every client is registered
};
int run_vote_load_command(const vote_load_options& o);

}  // namespace confab::tools
