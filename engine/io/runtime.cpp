#include "engine/io/runtime.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "engine/core/scope.hpp"
#include "engine/io/operation.hpp"

namespace confab::io {

namespace {
// Threads the runtime did not start (a BLAS pool created before main, say)
// may leave SIGINT/SIGTERM unblocked, and the kernel then delivers the
// signal to one of them instead of the signalfd. A handler catches that case
// and passes the signal on through an eventfd (write(2) is
// async-signal-safe).
std::atomic<int> g_signal_eventfd{-1};
std::atomic<int> g_signal_number{0};
extern "C" void forward_signal(int signo) {
  g_signal_number.store(signo);
  const int fd = g_signal_eventfd.load();
  if (fd >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
  }
}
}  // namespace

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

task<void> runtime::watch_forwarded_signals(runtime& rt, reactor& r, int efd, std::stop_token st) {
  fd_handle h{efd};
  r.io().attach(h);
  std::uint64_t count = 0;
  auto res = co_await io_operation(r, std::nullopt, st, [&](backend& b, completion* c, linked_deadline*) {
    b.read(c, h, &count, sizeof count);
  });
  r.io().detach(h);
  if (res && *res == static_cast<int>(sizeof count)) {
    const int signo = g_signal_number.load();
    rt.drain_signal_.store(signo);
    std::fprintf(stderr, "confab: %s received, draining\n", signo == SIGINT ? "SIGINT" : "SIGTERM");
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
    if (index == 0 && rt.signal_event_fd_ >= 0)
      bg.spawn(watch_forwarded_signals(rt, r, rt.signal_event_fd_, quit.get_token()));
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
    signal_event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_signal_eventfd.store(signal_event_fd_);
    struct sigaction sa {};
    sa.sa_handler = forward_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  std::vector<std::thread> ts;
  ts.reserve(threads_);
  for (unsigned i = 0; i < threads_; ++i) ts.emplace_back([this, i, &fn] { thread_body(i, fn); });
  for (auto& t : ts) t.join();
  if (signal_fd_ >= 0) {
    ::close(signal_fd_);
    signal_fd_ = -1;
  }
  if (opts_.handle_signals) {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    g_signal_eventfd.store(-1);
  }
  if (signal_event_fd_ >= 0) {
    ::close(signal_event_fd_);
    signal_event_fd_ = -1;
  }
  if (opts_.handle_signals) pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (failed_.load() > 0) return first_error_;
  return {};
}

}  // namespace confab::io
