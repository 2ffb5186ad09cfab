// A toy protocol used by the engine's own tests of the seam: every node
// floods each rumour it first hears to every other node; node 0 starts
// `rumours` of them, one per 5 ms tick. The same object runs in the
// simulator and on real TCP (tcp_host).
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <set>

#include "engine/seam/env.hpp"

namespace confab::testing {

using namespace std::chrono_literals;

// The toy protocol: every node floods each
// rumour it first hears to every other node, and node 0 starts one rumour
// per timer tick.
struct flood_node : seam::node {
  std::set<std::uint32_t> seen;
  std::map<std::uint32_t, int> copies;
  int started = 0;
  int to_start = 0;
  std::size_t n = 0;
  flood_node(std::size_t nodes, int rumours) : to_start(rumours), n(nodes) {}

  void on_start(seam::env& e) override {
    if (e.self() == 0 && to_start > 0) e.set_timer(e.now() + 5ms);
  }
  void forward(seam::env& e, std::uint32_t rumour, seam::node_id except) {
    for (seam::node_id p = 0; p < n; ++p) {
      if (p == e.self() || p == except) continue;
      const auto* b = reinterpret_cast<const std::byte*>(&rumour);
      (void)e.send(p, {b, sizeof rumour});
    }
  }
  result<void> on_message(seam::env& e, seam::node_id from, std::span<const std::byte> m) override {
    if (m.size() != sizeof(std::uint32_t)) {
      ADD_FAILURE() << "flood_node: message of " << m.size() << " bytes";
      return make_error(errc::malformed, "flood_node: wrong size");
    }
    std::uint32_t r;
    std::memcpy(&r, m.data(), sizeof r);
    ++copies[r];
    if (seen.insert(r).second) forward(e, r, from);
    return {};
  }
  void on_timer(seam::env& e) override {
    std::uint32_t r = static_cast<std::uint32_t>(e.rng().below(1u << 30)) * 4 + static_cast<std::uint32_t>(started);
    seen.insert(r);
    forward(e, r, e.self());
    if (++started < to_start) e.set_timer(e.now() + 5ms);
  }
};

}  // namespace confab::testing
