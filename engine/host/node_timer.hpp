// confab engine: the one timer of a seam::node, on a reactor.
//
// Hosts (tcp_host, and tools' own hosts) give a node the one timer the seam
// promises: `set(at)` replaces the deadline, `run` sleeps until it with an
// absolute timeout (no drift) and calls `fire` when it passes, until `st`
// is triggered.
//
//   host::node_timer t;
//   tasks.spawn(t.run(st, [&] { node->on_timer(env); }));
//   t.set(io::clock::now() + 1s);
//
// Thread: the reactor's.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>

#include "engine/core/task.hpp"
#include "engine/io/reactor.hpp"

namespace confab::host {

class node_timer {
 public:
  void set(io::clock::time_point at) {
    deadline_ = at;
    if (changed_) changed_->request_stop();
  }

  task<void> run(std::stop_token st, std::function<void()> fire) {
    while (!st.stop_requested()) {
      changed_ = std::make_unique<std::stop_source>();
      std::stop_source& changed = *changed_;
      std::stop_callback forward(st, [&changed] { changed.request_stop(); });
      const auto at = deadline_.value_or(io::clock::now() + std::chrono::hours(1));
      auto slept = co_await io::sleep_until(at, changed.get_token());
      if (slept && deadline_ && io::clock::now() >= *deadline_) {
        deadline_.reset();
        fire();
      }
    }
    changed_.reset();
  }

 private:
  std::optional<io::clock::time_point> deadline_;
  std::unique_ptr<std::stop_source> changed_;
};

}  // namespace confab::host
