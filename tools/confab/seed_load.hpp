// `confab seed-load` and `confab seed-query`: drive and inspect the seeds.
//
// seed-load registers N synthetic peers (ids 127.2.x.y:port, no listener
// needed: seeds answer on the connection a request came on) with a majority
// of the seeds each, at most `window` outstanding, retrying an unanswered
// registration after `retry_ms` with another random majority (so a killed
// leader costs latency, not registrations). It prints a progress line each
// second and, at the end, one JSON object: registrations committed per
// second and commit latency p50/p99/max (first send to first answer).
//
// Unless --keep, the acknowledged synthetic peers then leave (leave_request
// for each, the same window and retries), so they do not outlive the run in
// the PL; the summary adds `left` and `leaves_per_s`.
//
// seed-query asks every seed for its PL and prints one JSON object per seed
// (commit index, PL size, an order-independent hash, the ids when
// --full), then whether all seeds agree.
//
// `--via SEED=IP:PORT` dials another address for one seed (a proxy, a
// port forward) while the seed is still addressed, and sealed for, by its
// identity from the seed list.
#pragma once

#include <string>
#include <vector>

namespace confab::tools {

struct seed_load_options {
  std::string seeds_file;
  unsigned peers = 1000;
  unsigned window = 256;
  unsigned retry_ms = 1000;
  unsigned timeout_ms = 60000;  // the whole run stops by itself
  unsigned first_peer = 0;      // ids start here (several runs, distinct peers)
  std::string acked_out;        // file for the acknowledged peers, one IP:PORT per line
  std::string key_file;         // the cluster key, when the seeds use one
  std::vector<std::string> via;  // SEED=IP:PORT: dial this address for that seed (a proxy, a port forward)
  bool keep = false;             // leave the synthetic peers in the PL at the end
};
int run_seed_load_command(const seed_load_options& o);

struct seed_query_options {
  std::string seeds_file;
  bool full = false;
  unsigned timeout_ms = 3000;
  std::string key_file;
  std::vector<std::string> via;
};
int run_seed_query_command(const seed_query_options& o);

// `confab members`: every member with its state (alive, suspected,
// leaving), declared degree and live reporters, paged from the first seed
// that answers, and that seed's role, term, leader and commit index.
struct members_options {
  std::string seeds_file;
  bool json = false;
  unsigned timeout_ms = 5000;
  std::string key_file;
  std::vector<std::string> via;
};
int run_members_command(const members_options& o);

// `confab force-leave PEER`: asks the seeds to remove PEER from the PL and
// waits until one confirms the removal committed (exit 0) or the timeout (1).
struct force_leave_options {
  std::string seeds_file;
  std::string peer;
  unsigned timeout_ms = 10000;
  std::string key_file;
  std::vector<std::string> via;
};
int run_force_leave_command(const force_leave_options& o);

}  // namespace confab::tools
