// confab engine: lazy coroutine tasks.
//
// `task<T>` is the unit of asynchronous work. It is lazy (nothing runs until
// it is awaited or spawned), move-only, owns its coroutine frame (destroyed
// when the task object goes away) and resumes its awaiter by symmetric
// transfer, so a chain of tasks that complete synchronously never grows the
// stack.
//
//   task<int> answer() { co_return 42; }
//   task<void> caller() { int v = co_await answer(); ... }
//
// Exceptions thrown inside a task propagate to its awaiter; engine code
// itself reports failures as `result<T>` values and does not throw.
//
// Thread: a task runs on the reactor thread that resumed it; it must not be
// awaited from two places.
#pragma once

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include "engine/core/result.hpp"

namespace confab {

template <class T = void>
class task;

namespace detail {

struct task_promise_base {
  std::coroutine_handle<> continuation_{std::noop_coroutine()};
  std::exception_ptr exception_{};

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      return h.promise().continuation_;
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }
};

template <class T>
struct task_promise final : task_promise_base {
  std::variant<std::monostate, T> value_;
  task<T> get_return_object() noexcept;
  template <class U>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    value_.template emplace<1>(std::forward<U>(v));
  }
  T take() {
    if (exception_) std::rethrow_exception(exception_);
    return std::move(std::get<1>(value_));
  }
};

template <>
struct task_promise<void> final : task_promise_base {
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() {
    if (exception_) std::rethrow_exception(exception_);
  }
};

}  // namespace detail

// ## task<T>
// Awaiting a task starts it and suspends the awaiter until it finishes; the
// result (or the exception) is returned from `co_await`. A task that is
// destroyed before being awaited never runs.
template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  bool done() const noexcept { return !h_ || h_.done(); }

  auto operator co_await() && noexcept {
    struct awaiter {
      handle_type h;
      bool await_ready() const noexcept { return !h || h.done(); }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
        h.promise().continuation_ = awaiting;
        return h;
      }
      T await_resume() { return h.promise().take(); }
    };
    return awaiter{h_};
  }

  // For runners (sync_wait, scopes): the raw handle. The task keeps ownership.
  handle_type handle() const noexcept { return h_; }

 private:
  handle_type h_{};
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}
}  // namespace detail

}  // namespace confab
