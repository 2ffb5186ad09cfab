// confab engine: the reactor, one per thread.
//
// A reactor owns one backend (an io_uring, or an Asio io_context where
// io_uring is refused), a local ready queue, and a bounded cross-thread inbox.
// Each turn it runs ready coroutines and posted work, submits everything
// queued in one go, waits, and dispatches completions in a batch.
//
//   auto r = reactor::create({});
//   int v = r.value()->run(compute());   // drives the loop until the task ends
//
// Graceful drain: `request_drain()` (or SIGINT/SIGTERM through `runtime`)
// triggers `drain_token()`; servers stop accepting, finish in-flight work
// and return, and the reactor records the drain time.
//
// Thread: everything here runs on the reactor's thread, except `post` and
// `request_drain_from_any_thread`, which any thread may call.
#pragma once

#include <coroutine>
#include <deque>
#include <memory>
#include <optional>
#include <stop_token>

#include "engine/core/detached.hpp"
#include "engine/core/mpsc_queue.hpp"
#include "engine/core/result.hpp"
#include "engine/core/task.hpp"
#include "engine/io/backend.hpp"

namespace confab::io {

struct reactor_options {
  backend_choice backend = backend_choice::automatic;
  backend_options io;
  std::size_t inbox_capacity = 4096;
};

// A unit of cross-thread work: a function pointer and its argument; no
// allocation, fits the bounded queue.
struct posted_work {
  void (*fn)(void*) noexcept = nullptr;
  void* arg = nullptr;
};

class reactor {
 public:
  // ## create
  // Probes and sets up the backend. Fails with `resource` (ENOMEM, EMFILE)
  // or `unsupported` when `backend` names one this kernel refuses.
  static result<std::unique_ptr<reactor>> create(const reactor_options& o);
  ~reactor();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  // The reactor of the calling thread, or nullptr.
  static reactor* current() noexcept;

  backend& io() noexcept { return *backend_; }
  backend_kind kind() const noexcept { return backend_->kind(); }
  counters& stats() noexcept { return backend_->stats(); }
  clock::time_point now() const noexcept { return clock::now(); }

  // ## run
  // Drives the loop on this thread until `t` completes; returns its value.
  template <class T>
  T run(task<T> t);

  // One loop turn (used by `run`); blocks when nothing is ready, unless
  // `done` became true while running ready work (then nothing may ever
  // complete again, and blocking would hang).
  void turn(const bool* done = nullptr);

  // Resumes `h` at the start of the next turn (never inline).
  void schedule(std::coroutine_handle<> h) { ready_.push_back(h); }

  // ## post
  // Any thread: queue `w` for this reactor and wake it (MSG_RING from a
  // uring reactor thread, eventfd otherwise). False when the inbox is full;
  // the caller retries later: the inbox never grows.
  bool post(posted_work w) noexcept;

  // ## drain
  std::stop_token drain_token() const noexcept { return drain_.get_token(); }
  void request_drain() noexcept;
  void request_drain_from_any_thread() noexcept;
  bool draining() const noexcept { return drain_.stop_requested(); }
  void note_drained() noexcept;  // records drain time

  // Called when a provided buffer came back, so starved receivers re-arm.
  struct buffer_waiter {
    virtual void on_buffers_available() noexcept = 0;
    buffer_waiter* next_waiter = nullptr;
    bool waiting_for_buffers = false;
  };
  void wait_for_buffers(buffer_waiter* w) noexcept;
  void forget_buffer_waiter(buffer_waiter* w) noexcept;

 private:
  reactor() = default;
  void run_inbox() noexcept;
  void rearm_starved() noexcept;
  static void drain_trampoline(void* self) noexcept;

  std::unique_ptr<backend> backend_;
  std::deque<std::coroutine_handle<>> ready_;
  std::unique_ptr<bounded_queue<posted_work>> inbox_;
  std::atomic<bool> wake_pending_{false};
  std::stop_source drain_;
  clock::time_point drain_started_{};
  buffer_waiter* starved_head_ = nullptr;
};

namespace detail {
template <class T>
struct run_state {
  std::optional<T> value;
  std::exception_ptr ex;
};
template <>
struct run_state<void> {
  bool value = false;
  std::exception_ptr ex;
};
template <class T>
confab::detail::detached_task drive(task<T> t, run_state<T>* st, bool* done) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      st->value = true;
    } else {
      st->value.emplace(co_await std::move(t));
    }
  } catch (...) {
    st->ex = std::current_exception();
  }
  *done = true;
}
}  // namespace detail

template <class T>
T reactor::run(task<T> t) {
  detail::run_state<T> st;
  bool done = false;
  detail::drive(std::move(t), &st, &done);
  while (!done) turn(&done);
  if (st.ex) std::rethrow_exception(st.ex);
  if constexpr (!std::is_void_v<T>) return std::move(*st.value);
}

// ## sleep_until / sleep_for
// Absolute deadlines (IORING_TIMEOUT_ABS): a loop of sleep_until(t += period)
// does not drift. Returns `cancelled` when `st` is triggered first.
struct sleep_awaiter;
sleep_awaiter sleep_until(clock::time_point at, std::stop_token st = {});
sleep_awaiter sleep_for(clock::duration d, std::stop_token st = {});

struct sleep_awaiter {
  struct slot : completion {
    sleep_awaiter* self = nullptr;
  };
  struct canceller {
    sleep_awaiter* self;
    void operator()() const noexcept;
  };
  clock::time_point at;
  std::stop_token st;
  reactor* r = nullptr;
  slot c{};
  std::int32_t res = 0;
  bool started = false;
  std::coroutine_handle<> h{};
  std::optional<std::stop_callback<canceller>> cb;

  sleep_awaiter(clock::time_point t, std::stop_token s) : at(t), st(std::move(s)) {}
  sleep_awaiter(sleep_awaiter&& o) noexcept : at(o.at), st(std::move(o.st)) {}
  bool await_ready() const noexcept { return st.stop_requested(); }
  void await_suspend(std::coroutine_handle<> h);
  result<void> await_resume() noexcept;
  static void on_complete(completion* c, std::int32_t res, std::uint32_t) noexcept;
};

}  // namespace confab::io
