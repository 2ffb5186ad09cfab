#include "engine/io/runtime.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "engine/core/scope.hpp"
#include "engine/io/operation.hpp"

namespace confab::io {

runtime::runtime(runtime_options o) : opts_(std::move(o)) {
  unsigned n = opts_.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  threads_ = n;
  reactors_ = std::make_unique<std::atomic<reactor*>[]>(n);
  for (unsigned i = 0; i < n; ++i) reactors_[i].store(nullptr);
}

void runtime::request_drain() noexcept {
  if (draining_.exchange(true)) return;
  for (unsigned i = 0; i < threads_; ++i) {
    if (reactor* r = reactors_[i].load(std::memory_order_acquire)) r->request_drain_from_any_thread();
  }
}

task<void> runtime::watch_signals(runtime& rt, reactor& r, int sfd, std::stop_token st) {
  fd_handle h{sfd};
  r.io().attach(h);
  signalfd_siginfo si{};
  auto res = co_await io_operation(r, std::nullopt, st, [&](backend& b, completion* c, linked_deadline*) {
    b.read(c, h, &si, sizeof si);
  });
  r.io().detach(h);
  if (res && *res == static_cast<int>(sizeof si)) {
    rt.drain_signal_.store(static_cast<int>(si.ssi_signo));
    std::fprintf(stderr, "confab: %s received, draining\n", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
    rt.request_drain();
  }
}


void runtime::thread_body(unsigned index, const entry& fn) {
  if (opts_.pin_threads) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(index % std::max(1u, std::thread::hardware_concurrency()), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  auto made = reactor::create(opts_.reactor);
  if (!made) {
    if (!error_set_.exchange(true)) first_error_ = made.error();
    failed_.fetch_add(1);
    ready_.fetch_add(1);
    request_drain();
    return;
  }
  reactor& r = **made;
  reactors_[index].store(&r, std::memory_order_release);
  ready_.fetch_add(1);
  // Everyone sees every reactor before any entry runs.
  while (ready_.load() < threads_) std::this_thread::yield();
  if (draining_.load()) r.request_drain();

  auto body = [](runtime& rt, reactor& r, unsigned index, const entry& fn) -> task<void> {
    std::stop_source quit;
    task_scope bg;
    if (index == 0 && rt.signal_fd_ >= 0) bg.spawn(watch_signals(rt, r, rt.signal_fd_, quit.get_token()));
    co_await fn(rt, r, index);
    r.note_drained();
    quit.request_stop();
    co_await bg.join();
  };
  r.run(body(*this, r, index, fn));
  // Keep every reactor alive until all entries have ended, so a late
  // cross-thread post never reaches a destroyed inbox.
  finished_.fetch_add(1);
  while (finished_.load() < threads_ - failed_.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  reactors_[index].store(nullptr, std::memory_order_release);
}

result<void> runtime::run(entry fn) {
  sigset_t old{}, set{};
  if (opts_.handle_signals) {
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);  // threads inherit the mask
    signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  }
  std::vector<std::thread> ts;
  ts.reserve(threads_);
  for (unsigned i = 0; i < threads_; ++i) ts.emplace_back([this, i, &fn] { thread_body(i, fn); });
  for (auto& t : ts) t.join();
  if (signal_fd_ >= 0) {
    ::close(signal_fd_);
    signal_fd_ = -1;
  }
  if (opts_.handle_signals) pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (failed_.load() > 0) return first_error_;
  return {};
}

}  // namespace confab::io
