// confab engine: thread per core.
//
// A `runtime` starts one thread per core (or as asked), each with its own
// reactor (shared nothing), and runs the same entry task on each. Threads
// talk only through `reactor::post` (a bounded inbox). SIGINT and SIGTERM
// are turned into a graceful drain of every reactor: each reactor's
// `drain_token()` fires, servers stop accepting and finish what is in
// flight, and `run` returns when every entry task has ended.
//
//   runtime rt({.threads = 2});
//   auto r = rt.run([](runtime& rt, io::reactor& r, unsigned i) -> task<void> {
//     auto l = net::listener::bind(r, at, {.reuse_port = true});  // one per core
//     ...
//   });
//
// Signals reach the runtime through a signalfd, so they must be blocked in
// every thread of the process: `run` blocks them in the calling thread and
// its reactor threads; threads started earlier must block them themselves.
//
// `run` fails when a reactor cannot be created on some thread (the others
// are drained and joined first). Thread: `run` from one thread at a time;
// `request_drain` from any thread.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/core/task.hpp"
#include "engine/io/reactor.hpp"

namespace confab::io {

struct runtime_options {
  unsigned threads = 0;  // 0: one per online core
  bool pin_threads = true;
  bool handle_signals = true;  // SIGINT/SIGTERM start a drain
  reactor_options reactor;
};

class runtime {
 public:
  using entry = std::function<task<void>(runtime&, reactor&, unsigned index)>;

  explicit runtime(runtime_options o = {});
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // ## run
  // Blocks until the entry task has ended on every thread.
  result<void> run(entry fn);

  unsigned size() const noexcept { return threads_; }
  // Valid while `run` is running, for cross-thread posts.
  reactor& at(unsigned index) noexcept { return *reactors_[index].load(std::memory_order_acquire); }
  // Any thread: drain every reactor.
  void request_drain() noexcept;
  // Signal that started the drain, or 0.
  int drain_signal() const noexcept { return drain_signal_.load(); }

 private:
  void thread_body(unsigned index, const entry& fn);
  static task<void> watch_signals(runtime& rt, reactor& r, int sfd, std::stop_token st);
  static task<void> watch_forwarded_signals(runtime& rt, reactor& r, int efd, std::stop_token st);

  runtime_options opts_;
  unsigned threads_ = 1;
  std::unique_ptr<std::atomic<reactor*>[]> reactors_;
  std::atomic<unsigned> ready_{0};
  std::atomic<unsigned> failed_{0};
  std::atomic<unsigned> finished_{0};
  std::atomic<int> drain_signal_{0};
  std::atomic<bool> draining_{false};
  error first_error_{errc::ok};
  std::atomic<bool> error_set_{false};
  int signal_fd_ = -1;
  int signal_event_fd_ = -1;
  struct sigaction old_int_ {}, old_term_ {};
};

}  // namespace confab::io
