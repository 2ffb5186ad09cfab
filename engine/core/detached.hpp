// confab engine: a coroutine that starts at once and frees its own frame.
//
// The building block for spawning (task_scope), for driving a task from
// plain code (reactor::run) and for the runtime's per-thread entry. Its body
// must not let an exception escape: that terminates the program.
#pragma once

#include <coroutine>
#include <exception>

namespace confab::detail {

struct detached_task {
  struct promise_type {
    detached_task get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

}  // namespace confab::detail
