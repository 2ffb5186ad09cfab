// confab peers: configuration and events of a gossip peer.
//
// A peer registers with a majority of the seeds, links to neighbours so the
// overlay's degrees follow a power law (preferential attachment), gossips
// (flooding as in the documents, or Plumtree), and detects failures in two
// levels: pings and indirect probes among the suspect's neighbours, then
// removal by a seed majority. docs/peers.md has the design.
//
// Thread: values.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/seam/env.hpp"
#include "protocols/common/names.hpp"

namespace confab::peers {

using namespace std::chrono_literals;
using seam::duration;
using seam::node_id;
using seam::time_point;

enum class overlay_model : std::uint8_t {
  preferential,  // link to `attach` neighbours, each chosen with probability ∝ degree + 1
  exponential,   // the documents' P(k) ∝ 40·1.5^(−k/10): draw k, link to k uniformly chosen peers
};
enum class dissemination : std::uint8_t { flood, plumtree };

// The names settings files, scenarios and reports use, one table each.
inline constexpr std::pair<const char*, overlay_model> overlay_model_names[] = {
    {"preferential", overlay_model::preferential}, {"exponential", overlay_model::exponential}};
inline constexpr std::pair<const char*, dissemination> dissemination_names[] = {
    {"flood", dissemination::flood}, {"plumtree", dissemination::plumtree}};
using names::name_in;

// ## peer_config
// Defaults are the documents' values (a message every 5 s, 10 of them; a
// ping every 13 s, 3 misses), except where the documents are silent.
struct peer_config {
  std::vector<node_id> seeds;
  overlay_model overlay = overlay_model::preferential;
  std::size_t attach = 2;          // preferential: links made at join
  std::size_t degree_max = 30;     // exponential: the largest k drawn
  // The active view's upper bound: at it, a peer refuses new links (the
  // asker links elsewhere). 0: none, the default: a power law needs hubs,
  // and a cap cuts its tail (docs/peers.md, "Joining and the overlay").
  std::size_t degree_cap = 0;
  dissemination mode = dissemination::flood;
  duration gossip_interval = 5s;
  duration gossip_first = duration::zero();  // the first message this long after registering; 0: one interval
  std::uint32_t gossip_count = 10;
  std::size_t gossip_padding = 0;  // extra body bytes (workloads)
  duration ping_interval = 13s;
  std::uint32_t ping_misses = 3;
  duration probe_timeout = 1s;     // indirect probes answer within this
  std::size_t probers_min = 2;     // a suspect with fewer other neighbours is probed by random peers too
  duration register_retry = 2s;
  // A peer tells the seeds its neighbours when they change, at most once per
  // this (a hub that gains links during a join sends one update, not one per
  // link, and its connections to the seeds can close between updates).
  duration declare_interval = 1s;
  // ...and again at least this often even when they did not change: the
  // seeds hold a declaration as a lease (seed_config::declare_lease, 30 s
  // by default; keep this well under it), and a member whose lease lapsed
  // is watched by members the seeds pick (docs/peers.md, "Orphans").
  duration declare_refresh = 10s;
  duration ihave_timeout = 400ms;  // Plumtree: wait this long for the eager copy before grafting
  std::uint32_t eager_hops = 2;    // Plumtree: the first hops push to every neighbour
  duration message_keep = 120s;    // Plumtree: messages kept to answer grafts
  // Both modes: recent messages are announced to every new neighbour, which
  // grafts those it lacks, so a peer orphaned when all its neighbours die at
  // once gets, on relinking, every message that flooded past meanwhile.
  // Kept for catch_up_keep or the time an orphan takes to relink (detection,
  // ping_misses x ping_interval, a probe round and two PL refreshes),
  // whichever is longer; at most catch_up_max of them, the newest.
  duration catch_up_keep = 10s;
  std::size_t catch_up_max = 256;
  std::size_t probes_in_flight_max = 64;  // above it a prober answers `busy`
};

// ## peer_event
struct peer_event {
  enum kind_t : std::uint8_t {
    registered,        // a seed answered; `count` = PL size it sent
    linked,            // `peer` became a neighbour
    unlinked,          // `peer` is no longer a neighbour
    gossip_sent,       // own message `seq`
    gossip_received,   // first receipt of (origin=peer, seq) from `other`, `hops`
    suspected,         // `peer` suspected (`why`)
    refuted,           // suspicion of `peer` cleared
    confirmed,         // `peer` confirmed dead by `count` neighbours
    reported,          // dead report about `peer` sent to the seeds
    probe_declined,    // overloaded: answered busy
    leaving,           // this peer asked the seeds to remove it (a clean shutdown)
    left,              // seed `peer` confirmed the removal, at commit index `count`
    rechecking,        // this peer did not run for `count` ms (paused, starved): registering again
  } kind;
  time_point at{};
  node_id peer = 0;
  node_id other = 0;
  std::uint64_t seq = 0;
  std::uint32_t hops = 0;
  std::uint64_t count = 0;
  const char* why = nullptr;
};
const char* event_name(peer_event::kind_t k) noexcept;

}  // namespace confab::peers
