// confab engine: owned background work.
//
// Every background task is spawned into a `task_scope` that its owner joins
// before it goes away. A scope counts its live tasks; `join()` suspends until
// the count reaches zero. A component that spawns work has an async `stop()`
// that requests stop on its scope's stop_source and then joins it.
//
//   task_scope scope;
//   scope.spawn(serve(std::move(conn), scope.token()));
//   ...
//   scope.request_stop();
//   co_await scope.join();
//
// Destroying a scope with live tasks is a broken invariant (assertion).
// Exceptions escaping a spawned task terminate the program: background work
// must handle its own failures.
//
// Thread: single-threaded; spawn, join and the tasks all run on one reactor.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <stop_token>

#include "engine/core/detached.hpp"
#include "engine/core/task.hpp"

namespace confab {


class task_scope {
 public:
  task_scope() = default;
  task_scope(const task_scope&) = delete;
  task_scope& operator=(const task_scope&) = delete;
  ~task_scope() { CONFAB_ASSERT(live_ == 0); }

  // ## spawn
  // Starts `t` now; it runs until its first suspension before spawn returns.
  void spawn(task<void> t) {
    ++live_;
    ++spawned_;
    run(this, std::move(t));
  }

  // ## join
  // Completes when every spawned task has finished. Only one joiner at a time.
  auto join() noexcept {
    struct awaiter {
      task_scope* s;
      bool await_ready() const noexcept { return s->live_ == 0; }
      void await_suspend(std::coroutine_handle<> h) noexcept { s->joiner_ = h; }
      void await_resume() const noexcept {}
    };
    return awaiter{this};
  }

  void request_stop() noexcept { stop_.request_stop(); }
  std::stop_token token() const noexcept { return stop_.get_token(); }
  bool stop_requested() const noexcept { return stop_.stop_requested(); }
  std::size_t live() const noexcept { return live_; }
  std::size_t spawned() const noexcept { return spawned_; }

 private:
  static detail::detached_task run(task_scope* s, task<void> t) {
    try {
      co_await std::move(t);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "confab: exception escaped a spawned task: %s\n", e.what());
      std::terminate();
    }
    s->finished();
  }
  void finished() noexcept {
    if (--live_ == 0 && joiner_) {
      auto h = std::exchange(joiner_, {});
      h.resume();
    }
  }

  std::size_t live_ = 0;
  std::size_t spawned_ = 0;
  std::coroutine_handle<> joiner_{};
  std::stop_source stop_;
};

}  // namespace confab
