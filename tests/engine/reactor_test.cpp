#include "engine/io/reactor.hpp"  // first: the header compiles alone

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "engine/core/scope.hpp"
#include "engine/io/operation.hpp"
#include "tests/engine/helpers.hpp"

using namespace confab;
using namespace std::chrono_literals;
using io::backend_choice;

namespace {

class reactor_test : public ::testing::TestWithParam<backend_choice> {};

TEST_P(reactor_test, reports_the_backend_it_runs) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  EXPECT_EQ(r->kind(), GetParam() == backend_choice::uring ? io::backend_kind::uring : io::backend_kind::epoll);
}

task<void> sleeper(io::clock::duration d, std::vector<int>* order, int id) {
  auto rs = co_await io::sleep_for(d);
  EXPECT_TRUE(rs);
  order->push_back(id);
}

task<void> sleep_many(std::vector<int>* order) {
  task_scope s;
  s.spawn(sleeper(30ms, order, 3));
  s.spawn(sleeper(10ms, order, 1));
  s.spawn(sleeper(20ms, order, 2));
  co_await s.join();
}

TEST_P(reactor_test, timers_fire_in_deadline_order) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  std::vector<int> order;
  auto t0 = io::clock::now();
  r->run(sleep_many(&order));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(io::clock::now() - t0, 30ms);
}

task<io::clock::duration> periodic(int n, io::clock::duration period) {
  auto start = io::clock::now();
  auto next = start;
  for (int i = 0; i < n; ++i) {
    next += period;
    // Some work of varying length that a relative timer would add up.
    auto busy_until = io::clock::now() + 300us;
    while (io::clock::now() < busy_until) {
    }
    auto rs = co_await io::sleep_until(next);
    EXPECT_TRUE(rs);
  }
  co_return io::clock::now() - start;
}

TEST_P(reactor_test, absolute_timers_do_not_drift) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  auto took = r->run(periodic(50, 2ms));
  // 50 periods of 2 ms with 0.3 ms of work each: relative sleeps would take
  // >= 115 ms; absolute ones end at 100 ms plus one wake-up's latency.
  EXPECT_GE(took, 100ms);
  EXPECT_LT(took, 112ms);
}

// Rounds of many timers due at one instant make every blocking wait reap
// dozens of completions, so the io_uring backend starts asking the kernel
// for batches; then one lone timer must still fire, not early and not stuck
// (the batch's minimum wait lets a wait return with fewer completions).
task<io::clock::duration> bursts_then_one(int rounds, int per_round) {
  for (int i = 0; i < rounds; ++i) {
    task_scope s;
    auto at = io::clock::now() + 2ms;
    for (int k = 0; k < per_round; ++k) {
      s.spawn([](io::clock::time_point t) -> task<void> { EXPECT_TRUE(co_await io::sleep_until(t)); }(at));
    }
    co_await s.join();
  }
  auto t0 = io::clock::now();
  EXPECT_TRUE(co_await io::sleep_for(1ms));
  co_return io::clock::now() - t0;
}

TEST_P(reactor_test, batched_waits_still_deliver_a_lone_completion) {
  CONFAB_MAKE_REACTOR(r, GetParam(), .io = {.batch_wait_max = 64, .batch_wait_us = 200});
  auto took = r->run(bursts_then_one(20, 64));
  EXPECT_GE(took, 1ms);
  EXPECT_LT(took, 2s) << "a lone completion was held by a batched wait";
  if (r->kind() == io::backend_kind::uring && r->io().info().min_timeout) {
    EXPECT_GT(r->stats().batched_waits, 0u) << "bursts of 64 completions never led to a batched wait";
  }
}

task<result<void>> sleep_with_token(std::stop_token st) { co_return co_await io::sleep_for(10s, st); }

task<void> cancel_after(std::stop_source* src, io::clock::duration d) {
  (void)co_await io::sleep_for(d);
  src->request_stop();
}

task<result<void>> cancelled_sleep() {
  std::stop_source src;
  task_scope s;
  s.spawn(cancel_after(&src, 5ms));
  auto r = co_await sleep_with_token(src.get_token());
  co_await s.join();
  co_return r;
}

TEST_P(reactor_test, stop_token_cancels_a_sleep) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  auto t0 = io::clock::now();
  auto res = r->run(cancelled_sleep());
  EXPECT_EQ(res.code(), errc::cancelled);
  EXPECT_LT(io::clock::now() - t0, 1s);
  EXPECT_GE(r->stats().cancellations, 1u);
}

TEST_P(reactor_test, already_stopped_token_completes_without_submitting) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  std::stop_source src;
  src.request_stop();
  auto before = r->stats().submissions;
  auto res = r->run(sleep_with_token(src.get_token()));
  EXPECT_EQ(res.code(), errc::cancelled);
  EXPECT_EQ(r->stats().submissions, before);
}

task<result<int>> recv_with_deadline(io::reactor& r, int fd, io::clock::time_point at) {
  io::fd_handle h{fd};
  r.io().attach(h);
  char buf[16];
  auto res = co_await io::io_operation(r, at, {}, [&](io::backend& b, io::completion* c, io::linked_deadline* d) {
    b.recv(c, h, buf, sizeof buf, d);
  });
  r.io().detach(h);
  co_return res;
}

TEST_P(reactor_test, linked_deadline_times_out_an_operation) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  auto t0 = io::clock::now();
  auto res = r->run(recv_with_deadline(*r, sv[0], io::clock::now() + 20ms));
  EXPECT_EQ(res.code(), errc::timed_out);
  EXPECT_GE(io::clock::now() - t0, 19ms);
  // With data present the operation wins and the deadline is cancelled.
  ASSERT_EQ(::write(sv[1], "hi", 2), 2);
  auto ok = r->run(recv_with_deadline(*r, sv[0], io::clock::now() + 1s));
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 2);
  ::close(sv[0]);
  ::close(sv[1]);
}

struct post_counter {
  int n = 0;
  static void bump(void* p) noexcept { ++static_cast<post_counter*>(p)->n; }
};

task<void> wait_until_count(post_counter* c, int target) {
  while (c->n < target) (void)co_await io::sleep_for(1ms);
}

TEST_P(reactor_test, cross_thread_posts_arrive_exactly_once_through_a_bounded_inbox) {
  CONFAB_MAKE_REACTOR(r, GetParam(), .inbox_capacity = 256);
  post_counter c;
  constexpr int per_thread = 50000;
  std::vector<std::thread> ts;
  std::atomic<long> retries{0};
  for (int t = 0; t < 2; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        while (!r->post({&post_counter::bump, &c})) {
          ++retries;  // full: the inbox never grows
          std::this_thread::yield();
        }
      }
    });
  }
  r->run(wait_until_count(&c, 2 * per_thread));
  for (auto& t : ts) t.join();
  EXPECT_EQ(c.n, 2 * per_thread);
}

TEST_P(reactor_test, drain_request_from_another_thread_triggers_the_token) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  std::thread t([&] {
    std::this_thread::sleep_for(5ms);
    r->request_drain_from_any_thread();
  });
  auto waiter = [](io::reactor& r) -> task<result<void>> { co_return co_await io::sleep_for(10s, r.drain_token()); };
  auto res = r->run(waiter(*r));
  t.join();
  EXPECT_EQ(res.code(), errc::cancelled);
  EXPECT_TRUE(r->draining());
}

INSTANTIATE_TEST_SUITE_P(backends, reactor_test, ::testing::Values(backend_choice::uring, backend_choice::epoll),
                         confab::testing::backend_param_name);

}  // namespace
