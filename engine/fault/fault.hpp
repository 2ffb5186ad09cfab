// confab engine: the one vocabulary of injected faults.
//
// The deterministic simulator (engine/sim, virtual time) and the fabric
// (engine/host, real time and real TCP) suffer the same faults, named the
// same way, and both take them as an `action`:
//
//   fault::action<seam::node_id> a{.what = fault::kind::clog, .side_a = {1, 2}, .side_b = {3}};
//   simulator.apply(a);                 // or fabric.apply(a_with_slot_numbers, make_node)
//
// `Node` names a node as its host does: a node_id in the simulator, a slot
// number in the fabric. The harness's scenario faults (kill N peers, crash
// seed i, partition a fraction) choose the nodes and become actions.
//
// Thread: values.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/seam/env.hpp"

namespace confab::fault {

enum class kind : std::uint8_t {
  crash,      // the node stops at once; its connections reset; its state is gone
  restart,    // a crashed node comes back fresh (what it kept on disk is its own business)
  pause,      // SIGSTOP for `pause_for`: it handles nothing, then everything that waited, in order
  partition,  // frames from side_a to side_b (and back when symmetric) are dropped
  heal,       // every partition lifted
  clog,       // frames between the sides are held, and leave in order when the clog lifts
  unclog,     // every clog lifted
};

inline const char* name(kind k) noexcept {
  switch (k) {
    case kind::crash: return "crash";
    case kind::restart: return "restart";
    case kind::pause: return "pause";
    case kind::partition: return "partition";
    case kind::heal: return "heal";
    case kind::clog: return "clog";
    case kind::unclog: return "unclog";
  }
  return "unknown";
}

inline std::optional<kind> from_name(std::string_view text) noexcept {
  for (auto k : {kind::crash, kind::restart, kind::pause, kind::partition, kind::heal, kind::clog, kind::unclog})
    if (text == name(k)) return k;
  return std::nullopt;
}

template <class Node>
struct action {
  kind what = kind::crash;
  std::vector<Node> nodes;          // crash, restart, pause
  std::vector<Node> side_a, side_b;  // partition, clog
  bool symmetric = true;
  seam::duration pause_for{};
};

// ## play
// Plays `a` on a host that has crash, pause, partition, heal, clog and
// unclog of its own; `restart(node)` brings a node back (each host makes
// its fresh nodes its own way). Both hosts' `apply` are this.
template <class Host, class Node, class Restart>
void play(Host& host, const action<Node>& a, Restart&& restart) {
  switch (a.what) {
    case kind::crash:
      for (auto n : a.nodes) host.crash(n);
      break;
    case kind::restart:
      for (auto n : a.nodes) restart(n);
      break;
    case kind::pause:
      for (auto n : a.nodes) host.pause(n, a.pause_for);
      break;
    case kind::partition: host.partition(a.side_a, a.side_b, a.symmetric); break;
    case kind::heal: host.heal(); break;
    case kind::clog: host.clog(a.side_a, a.side_b, a.symmetric); break;
    case kind::unclog: host.unclog(); break;
  }
}

}  // namespace confab::fault
