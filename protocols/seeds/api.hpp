// confab seeds: configuration and events of a seed node.
//
// A seed keeps the peer list (PL) as a replicated membership log: a leader
// elected by a majority of the configured seeds appends ADD and REMOVE
// entries, an entry commits once a majority holds it on disk, and every seed
// applies committed entries in order (Raft's election, log-replication and
// safety rules; docs/seeds.md). A peer registers with a majority of seeds;
// a confirmed death removes a peer only with enough independent reports.
//
//   seeds::seed_config c; c.seeds = {a, b, c};
//   seeds::seed_core core(c, self, recovered);
//
// Thread: values; a core is driven from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "protocols/seeds/wire.hpp"

namespace confab::seeds {

using namespace std::chrono_literals;
using seam::duration;
using seam::time_point;

// ## seed_config
// Defaults suit loopback and LAN round trips (≤ 10 ms); for wide-area links
// raise the election timeouts to ~10× the RTT.
struct seed_config {
  std::vector<node_id> seeds;          // every configured seed, this one included
  duration heartbeat = 50ms;           // leader -> followers
  duration election_timeout_min = 300ms;
  duration election_timeout_max = 600ms;
  duration forward_retry = 500ms;      // a pending peer request is re-sent this often
  duration report_window = 60s;        // a dead report counts this long
  std::size_t pl_sample_max = 256;     // a register reply carries the whole PL up to this size, else a sample
  std::size_t pending_max = 4096;      // peer requests awaiting commit; above it a register is answered `busy`
  // After a removal (a leave or a death) is applied, registrations of that
  // peer are ignored this long: a late forward or a duplicate of its old
  // request must not re-add it. A restarted peer retries and gets in.
  duration rejoin_hold = 2s;
  // The least number of distinct reporters for any removal (so one peer
  // never removes another alone while a third member exists); with
  // legacy_reports, also what removes a suspect that never declared
  // neighbours (the legacy dialect declares none).
  std::size_t reporters_without_neighbours = 2;
  // A member's neighbour declaration is a lease: peers renew it every
  // peer_config::declare_refresh, and a member that has not declared for
  // this long (counted from its addition, and from this leader's election)
  // counts as nobody's witness and is itself watched by `watchers` live
  // members the leader picks at random (watch_request), re-asked every
  // `watch_retry` while it stays lapsed. A suspect with fewer than
  // `watchers` live declared neighbours gets watchers too. Removal needs a
  // majority of the live witnesses (docs/peers.md, "Orphans"). 0: no lease.
  duration declare_lease = 30s;
  std::size_t watchers = 3;
  duration watch_retry = 5s;
  // Legacy reports (reporter = an IP with port 0, seeds::legacy) are
  // accepted; each counts as a report from the PL member with that IP (a
  // declared neighbour of the suspect first), under the same rule as a
  // native report. Off: ignored.
  bool legacy_reports = false;
  std::size_t quorum() const noexcept { return seeds.size() / 2 + 1; }
};

enum class role : std::uint8_t { follower, pre_candidate, candidate, leader };
const char* role_name(role r) noexcept;

// ## seed_event
// What a seed did, for its human-readable and JSON-lines logs.
struct seed_event {
  enum kind_t : std::uint8_t {
    became_follower,
    became_candidate,
    became_leader,
    vote_granted,     // peer = the candidate
    proposed,         // a new entry at `index`
    committed,        // `index` committed
    applied_add,      // peer joined the PL
    applied_remove,   // peer left the PL
    register_received,
    report_received,  // peer = suspect, other = reporter
    report_ignored,   // with `why`
    register_answered,
    follower_behind,  // peer = the follower, index = where its log really ends, with `why`
    learner_ended,    // this seed may vote again (index = its commit), with `why`
    storage_refused,  // the disk refused a save (full): replies held, retried; with `why`
    leave_received,   // peer = the one leaving, other = who asked (itself, or an operator)
    watch_asked,      // peer = a member nobody watches, other = the member asked to probe it, with `why`
  } kind;
  time_point at{};
  std::uint64_t term = 0;
  std::uint64_t index = 0;
  node_id peer = no_node;
  node_id other = no_node;
  entry_kind entry = entry_kind::noop;
  const char* why = nullptr;
};
const char* event_name(seed_event::kind_t k) noexcept;

// ## hard_state and persist_batch
// What must be on disk before a seed's replies leave (Raft's persistent
// state). A driver writes the batch and syncs it, then sends.
struct hard_state {
  std::uint64_t term = 0;
  node_id voted_for = no_node;
  std::uint64_t commit = 0;  // a hint only: committed entries are permanent
  // A learner neither votes nor stands: a seed whose storage is new, wiped
  // or was found damaged may have forgotten entries it acknowledged or a
  // vote it cast. It stays one until it holds what a leader had committed
  // when they first spoke (or until a majority of seeds, itself included,
  // show they never held anything: a new cluster). Saved, so a restart
  // during repair does not end it. docs/seeds.md, "Storage faults".
  bool learner = true;
  // No vote is granted in a term at or below this one: the term in which
  // a learner's repair ended, in which it may have voted before the damage.
  std::uint64_t vote_floor = 0;
  friend bool operator==(const hard_state&, const hard_state&) = default;
};

struct persist_batch {
  bool hard_changed = false;
  hard_state hard;
  // Drop every entry after this index before appending (no truncation when
  // it is ~0).
  std::uint64_t truncate_after = ~std::uint64_t{0};
  std::uint64_t first_index = 0;  // index of entries[0]
  std::vector<entry> entries;
  bool empty() const noexcept { return !hard_changed && entries.empty() && truncate_after == ~std::uint64_t{0}; }
};

struct recovered_state {
  hard_state hard;
  std::vector<entry> log;  // entries 1..n
};

// ## output
// Everything one call into the core produced. Messages go out only after
// `persist` is durable.
struct output {
  persist_batch persist;
  std::vector<std::pair<node_id, message>> sends;
  std::vector<seed_event> events;
  void clear() {
    persist = {};
    sends.clear();
    events.clear();
  }
};

}  // namespace confab::seeds
