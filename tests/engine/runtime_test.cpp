#include "engine/io/runtime.hpp"  // first: the header compiles alone

#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include "engine/core/scope.hpp"
#include "engine/net/framing.hpp"
#include "engine/net/echo.hpp"
#include "tests/engine/helpers.hpp"

using namespace confab;
using namespace std::chrono_literals;
using io::backend_choice;

namespace {

class runtime_test : public ::testing::TestWithParam<backend_choice> {
 protected:
  void SetUp() override {
    if (GetParam() == backend_choice::uring && io::probe_backend(backend_choice::automatic).kind != io::backend_kind::uring)
      GTEST_SKIP() << "io_uring refused by this kernel";
  }
};

struct shared_state {
  std::uint16_t port = 0;
  std::atomic<int> bound{0};
  std::atomic<int> accepted[2] = {0, 0};
  std::atomic<int> echoed{0};
};

task<void> ping_once(io::reactor& r, std::uint16_t port, shared_state* s) {
  auto c = co_await net::connect(r, net::address::loopback(port));
  if (!c) co_return;
  auto sent = co_await (*c)->send(net::as_bytes(std::string_view("ping")));
  auto got = co_await (*c)->receive();
  if (sent && got && got->size() == 4) ++s->echoed;
  co_await (*c)->close();
}

task<void> per_core_entry(io::runtime& rt, io::reactor& r, unsigned index, shared_state* s) {
  net::listen_options lo;
  lo.reuse_port = true;
  auto l = net::listener::bind(r, net::address::loopback(s->port), lo);
  EXPECT_TRUE(l) << l.error().message();
  if (!l) {
    rt.request_drain();
    co_return;
  }
  ++s->bound;
  task_scope sessions, acceptor, clients;
  auto accept_all = [](net::listener& l, std::stop_token st, task_scope& sessions, std::atomic<int>* n) -> task<void> {
    for (;;) {
      auto c = co_await l.accept(st);
      if (!c) break;
      ++*n;
      sessions.spawn(net::echo_session(std::move(*c), st));
    }
    co_await l.close();
  };
  acceptor.spawn(accept_all(**l, r.drain_token(), sessions, &s->accepted[index]));
  while (s->bound.load() < static_cast<int>(rt.size())) co_await io::sleep_for(1ms);
  if (index == 0) {
    for (int i = 0; i < 200; ++i) clients.spawn(ping_once(r, s->port, s));
    co_await clients.join();
    rt.request_drain();
  }
  co_await acceptor.join();
  co_await sessions.join();
}

TEST_P(runtime_test, per_core_reuseport_listeners_share_the_load_and_drain_together) {
  io::runtime_options o;
  o.threads = 2;
  o.reactor.backend = GetParam();
  o.handle_signals = false;
  io::runtime rt(o);
  shared_state s;
  s.port = confab::testing::free_port();
  auto res = rt.run([&s](io::runtime& rt, io::reactor& r, unsigned i) { return per_core_entry(rt, r, i, &s); });
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(s.echoed.load(), 200);
  EXPECT_EQ(s.accepted[0].load() + s.accepted[1].load(), 200);
  EXPECT_GT(s.accepted[0].load(), 0);  // the kernel spread connections over both cores
  EXPECT_GT(s.accepted[1].load(), 0);
}

TEST_P(runtime_test, sigterm_drains_every_reactor) {
  io::runtime_options o;
  o.threads = 2;
  o.reactor.backend = GetParam();
  io::runtime rt(o);
  std::atomic<int> drained{0};
  std::thread killer([] {
    // Like every thread of a process that uses the runtime's signal
    // handling, this one keeps SIGTERM blocked, so the reactors' signalfd
    // receives it.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::this_thread::sleep_for(100ms);
    ::kill(::getpid(), SIGTERM);
  });
  auto res = rt.run([&drained](io::runtime&, io::reactor& r, unsigned) -> task<void> {
    return [](io::reactor& r, std::atomic<int>* d) -> task<void> {
      auto slept = co_await io::sleep_for(30s, r.drain_token());
      if (!slept && r.draining()) ++*d;
    }(r, &drained);
  });
  killer.join();
  ASSERT_TRUE(res);
  EXPECT_EQ(rt.drain_signal(), SIGTERM);
  EXPECT_EQ(drained.load(), 2);
}

INSTANTIATE_TEST_SUITE_P(backends, runtime_test, ::testing::Values(backend_choice::uring, backend_choice::epoll),
                         confab::testing::backend_param_name);

}  // namespace
