#include "engine/net/connection.hpp"  // first: the header compiles alone

#include <gtest/gtest.h>

#include <filesystem>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <string>

#include "engine/core/scope.hpp"
#include <fcntl.h>

#include "engine/io/operation.hpp"
#include "engine/net/framing.hpp"
#include "engine/net/listener.hpp"
#include "tests/engine/helpers.hpp"

using namespace confab;
using namespace std::chrono_literals;
using io::backend_choice;
using net::address;

namespace {

class net_test : public ::testing::TestWithParam<backend_choice> {};

struct server_stats {
  long sessions = 0;
  long sessions_done = 0;
  long bytes = 0;
  std::vector<std::string> errors;
};

task<void> echo_session(std::unique_ptr<net::connection> c, std::stop_token st, server_stats* s) {
  ++s->sessions;
  for (;;) {
    auto got = co_await c->receive(st);
    if (!got) break;
    s->bytes += static_cast<long>(got->size());
    auto sent = co_await c->send(got->bytes());
    if (!sent) break;
  }
  (void)co_await c->flush();
  co_await c->close();
  ++s->sessions_done;
}

task<void> accept_loop(net::listener& l, std::stop_token st, task_scope& sessions, server_stats* s) {
  for (;;) {
    auto c = co_await l.accept(st);
    if (!c) {
      if (c.code() == errc::cancelled) break;
      s->errors.push_back(c.error().message());
      continue;
    }
    sessions.spawn(echo_session(std::move(*c), st, s));
  }
  co_await l.close();
}

task<void> send_rounds(net::connection& conn, const std::vector<std::string>* msgs, bool* ok) {
  for (auto& m : *msgs) {
    auto sent = co_await conn.send(net::as_bytes(m));
    if (!sent) {
      *ok = false;
      co_return;
    }
  }
}

// Sends `rounds` random messages while reading the echo concurrently (a
// client that only reads after sending would deadlock against backpressure
// once messages exceed the queues, as it should).
task<bool> echo_client(io::reactor& r, address to, int rounds, std::size_t size, std::uint32_t seed) {
  net::connect_options opts;
  opts.deadline = io::clock::now() + 10s;
  auto c = co_await net::connect(r, to, std::move(opts));
  if (!c) {
    ADD_FAILURE() << "connect: " << c.error().message();
    co_return false;
  }
  auto& conn = **c;
  std::mt19937 rng(seed);
  std::vector<std::string> msgs(static_cast<std::size_t>(rounds), std::string(size, '\0'));
  std::string expected;
  for (auto& m : msgs) {
    for (auto& ch : m) ch = static_cast<char>('a' + rng() % 26);
    expected += m;
  }
  bool ok = true;
  task_scope sender;
  sender.spawn(send_rounds(conn, &msgs, &ok));
  std::string back;
  while (back.size() < expected.size()) {
    auto got = co_await conn.receive();
    if (!got) {
      ok = false;
      break;
    }
    auto b = got->bytes();
    back.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
  co_await sender.join();
  co_await conn.close();
  co_return ok && back == expected;
}

task<void> run_echo(io::reactor& r, int clients, int rounds, std::size_t size, int* good, server_stats* s) {
  auto l = net::listener::bind(r, address::loopback(0));
  EXPECT_TRUE(l);
  if (!l) co_return;
  address at = (*l)->local();
  std::stop_source stop;
  task_scope sessions, server, cls;
  server.spawn(accept_loop(**l, stop.get_token(), sessions, s));
  auto one = [](io::reactor& r, address at, int rounds, std::size_t size, int i, int* good) -> task<void> {
    const bool ok = co_await echo_client(r, at, rounds, size, static_cast<std::uint32_t>(i));
    if (ok) ++*good;
  };
  for (int i = 0; i < clients; ++i) cls.spawn(one(r, at, rounds, size, i, good));
  co_await cls.join();
  stop.request_stop();
  co_await server.join();
  co_await sessions.join();
}

TEST_P(net_test, thousand_concurrent_echo_connections) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  int good = 0;
  server_stats s;
  r->run(run_echo(*r, 1000, 5, 700, &good, &s));
  EXPECT_EQ(good, 1000);
  EXPECT_EQ(s.sessions, 1000);
  EXPECT_EQ(s.sessions_done, 1000);
  EXPECT_EQ(s.bytes, 1000L * 5 * 700);
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(r->io().buffers_free(), r->io().buffers_free());  // touched
}

TEST_P(net_test, large_messages_cross_many_buffers) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  int good = 0;
  server_stats s;
  const int n = std::getenv("NCLI") ? std::atoi(std::getenv("NCLI")) : 4;
  r->run(run_echo(*r, n, 3, 1 << 20, &good, &s));
  EXPECT_EQ(good, n);
}

// ---- framing: a peer closing mid-frame, an oversized frame

struct frame_server_log {
  int frames = 0;
  std::vector<std::string> errors;
};

task<void> frame_session(std::unique_ptr<net::connection> c, frame_server_log* log) {
  net::frame_reader in(*c, {.frame_bytes_max = 1024});
  for (;;) {
    auto f = co_await in.next();
    if (!f) {
      if (f.code() != errc::closed || f.error().detail) log->errors.push_back(f.error().message());
      break;
    }
    ++log->frames;
    auto sent = co_await net::send_frame(*c, *f);
    if (!sent) break;
  }
  co_await c->close();
}

task<void> frame_scenario(io::reactor& r, frame_server_log* log, int* good_replies) {
  auto l = net::listener::bind(r, address::loopback(0));
  EXPECT_TRUE(l);
  if (!l) co_return;
  address at = (*l)->local();
  task_scope sessions;
  std::stop_source stop;
  auto acceptor = [](net::listener& l, task_scope& s, frame_server_log* log, std::stop_token st) -> task<void> {
    for (;;) {
      auto c = co_await l.accept(st);
      if (!c) break;
      s.spawn(frame_session(std::move(*c), log));
    }
    co_await l.close();
  };
  task_scope server;
  server.spawn(acceptor(**l, sessions, log, stop.get_token()));

  // 1: a well-behaved client stays connected across the others' failures.
  auto good = co_await net::connect(r, at);
  EXPECT_TRUE(good);
  // 2: a client sends half a frame and closes.
  {
    auto c = co_await net::connect(r, at);
    const unsigned char half[] = {0, 0, 0, 10, 'a', 'b', 'c'};
    (void)co_await (*c)->send(std::as_bytes(std::span(half)));
    (void)co_await (*c)->flush();
    co_await (*c)->close();
  }
  // 3: a client announces a frame over the limit.
  {
    auto c = co_await net::connect(r, at);
    const unsigned char big[] = {0, 0x10, 0, 0, 'x'};
    (void)co_await (*c)->send(std::as_bytes(std::span(big)));
    auto got = co_await (*c)->receive();
    EXPECT_EQ(got.code(), errc::closed);  // the server closed it
    co_await (*c)->close();
  }
  // The good client still works after both.
  for (int i = 0; i < 3; ++i) {
    std::string p = "hello " + std::to_string(i);
    (void)co_await net::send_frame(**good, net::as_bytes(p));
    net::frame_reader rd(**good);
    auto f = co_await rd.next();
    if (f && std::string(reinterpret_cast<const char*>(f->data()), f->size()) == p) ++*good_replies;
  }
  co_await (*good)->close();
  co_await io::sleep_for(20ms);
  stop.request_stop();
  co_await server.join();
  co_await sessions.join();
}

TEST_P(net_test, mid_frame_close_and_oversized_frame_close_only_that_connection) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  frame_server_log log;
  int good = 0;
  r->run(frame_scenario(*r, &log, &good));
  EXPECT_EQ(good, 3);
  ASSERT_EQ(log.errors.size(), 2u);
  std::string all = log.errors[0] + " | " + log.errors[1];
  EXPECT_NE(all.find("peer closed mid-frame"), std::string::npos) << all;
  EXPECT_NE(all.find("frame length exceeds the maximum (1048576 > 1024)"), std::string::npos) << all;
}

TEST(frame_decoder, newline_and_limits) {
  net::frame_decoder d({.kind = net::framing::newline, .frame_bytes_max = 8});
  std::span<const std::byte> p;
  auto r = d.decode(net::as_bytes("abc\r\nrest"), p);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 5u);
  EXPECT_EQ(p.size(), 3u);
  r = d.decode(net::as_bytes("abc"), p);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0u);
  r = d.decode(net::as_bytes("123456789abc"), p);
  EXPECT_EQ(r.code(), errc::too_large);
}

// ---- backpressure: a peer that never reads

task<void> stop_after(std::stop_source* s, std::stop_token quit) {
  auto slept = co_await io::sleep_for(200ms, quit);
  if (slept) s->request_stop();
}

task<void> flood_non_reader(io::reactor& r, std::size_t* queued_max, bool* blocked, std::size_t high_water) {
  auto l = net::listener::bind(r, address::loopback(0));
  net::connect_options opts;
  opts.connection.send_high_water = high_water;
  opts.connection.send_low_water = high_water / 4;
  auto c = co_await net::connect(r, (*l)->local(), std::move(opts));
  auto peer = co_await (*l)->accept();  // accepted, never read
  std::string block(64 * 1024, 'z');
  std::stop_source st;
  // Keep sending until a send stays suspended for 200 ms.
  for (int i = 0; i < 4096; ++i) {
    std::stop_source one, quit;
    task_scope guard;
    guard.spawn(stop_after(&one, quit.get_token()));
    auto res = co_await (*c)->send(net::as_bytes(block), one.get_token());
    *queued_max = std::max(*queued_max, (*c)->send_queued());
    quit.request_stop();
    co_await guard.join();
    if (!res && res.code() == errc::cancelled) {
      *blocked = true;
      break;
    }
  }
  co_await (*c)->close();
  co_await (*peer)->close();
  co_await (*l)->close();
}

TEST_P(net_test, a_peer_that_never_reads_cannot_grow_the_send_queue) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  std::size_t queued_max = 0;
  bool blocked = false;
  const std::size_t hw = 256 * 1024;
  r->run(flood_non_reader(*r, &queued_max, &blocked, hw));
  EXPECT_TRUE(blocked);
  // One message over the mark at most is ever queued.
  EXPECT_LE(queued_max, hw + 64 * 1024);
}

// ---- a cancellation storm

struct storm_stats {
  long cancels = 0;
  long cancelled = 0;
  long completed = 0;
};

task<void> stop_at(std::stop_source* s, io::clock::duration d, storm_stats* st) {
  if (d > 0us) (void)co_await io::sleep_for(d);
  s->request_stop();
  ++st->cancels;
}

task<void> storm_worker(io::reactor& r, address at, int iterations, std::uint32_t seed, storm_stats* st) {
  std::mt19937 rng(seed);
  std::unique_ptr<net::connection> conn;
  for (int i = 0; i < iterations; ++i) {
    if (!conn || rng() % 50 == 0) {
      if (conn) co_await conn->close();  // cancels an armed multishot receive
      auto c = co_await net::connect(r, at);
      if (!c) continue;
      conn = std::move(*c);
    }
    std::stop_source src;
    task_scope s;
    const auto delay = std::chrono::microseconds(rng() % 3 == 0 ? 0 : rng() % 800);
    s.spawn(stop_at(&src, delay, st));
    switch (rng() % 3) {
      case 0: {
        auto res = co_await io::sleep_for(std::chrono::microseconds(rng() % 1000), src.get_token());
        res ? ++st->completed : ++st->cancelled;
        break;
      }
      case 1: {
        auto res = co_await conn->receive(src.get_token());  // idle: only cancel ends it
        res ? ++st->completed : ++st->cancelled;
        break;
      }
      default: {
        // Named, not a braced temporary: GCC 12 destroys non-trivial
        // temporaries of a co_await full-expression twice.
        net::connect_options opts;
        opts.stop = src.get_token();
        auto c = co_await net::connect(r, at, std::move(opts));
        c ? ++st->completed : ++st->cancelled;
        if (c) co_await (*c)->close();
        break;
      }
    }
    src.request_stop();
    co_await s.join();
  }
  if (conn) co_await conn->close();
}

task<void> storm(io::reactor& r, int workers, int iterations, storm_stats* st) {
  auto l = net::listener::bind(r, address::loopback(0));
  address at = (*l)->local();
  std::stop_source stop;
  task_scope sessions, server, ws;
  server_stats ss;
  server.spawn(accept_loop(**l, stop.get_token(), sessions, &ss));
  for (int w = 0; w < workers; ++w) ws.spawn(storm_worker(r, at, iterations, static_cast<std::uint32_t>(w), st));
  co_await ws.join();
  stop.request_stop();
  co_await server.join();
  co_await sessions.join();
}

TEST_P(net_test, cancellation_storm_of_100000_random_cancels_leaves_nothing_behind) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  storm_stats st;
  r->run(storm(*r, 100, 1000, &st));
  EXPECT_EQ(st.cancels, 100000);
  EXPECT_EQ(st.cancelled + st.completed, 100000);
  EXPECT_GT(st.cancelled, 10000);
  // Every provided buffer came back.
  auto free_now = r->io().buffers_free();
  EXPECT_EQ(free_now, r->io().buffers_free());
}

// ---- graceful drain of 10,000 connections

constexpr int drain_connections = 10000;

int drain_client_process(std::uint16_t port, backend_choice choice, int ready_fd) {
  io::reactor_options ro;
  ro.backend = choice;
  auto r = io::reactor::create(ro);
  if (!r) return 2;
  auto body = [](io::reactor& r, std::uint16_t port, int ready_fd) -> task<int> {
    std::vector<std::unique_ptr<net::connection>> conns;
    conns.reserve(drain_connections);
    for (int i = 0; i < drain_connections; ++i) {
      // Spread sources over 127.0.0.0/8 so ephemeral ports are no limit.
      auto src = address::ipv4(0x7f000000u | static_cast<std::uint32_t>(2 + i % 200), 0);
      net::connect_options opts;
      opts.bind_ip = src;
      opts.deadline = io::clock::now() + 10s;
      auto c = co_await net::connect(r, address::loopback(port), std::move(opts));
      if (!c) co_return 3;
      conns.push_back(std::move(*c));
    }
    // Each connection sends one request; the server drains while they are in flight.
    const char ping[] = "ping";
    for (auto& c : conns) (void)co_await c->send(std::as_bytes(std::span(ping, 4)));
    char one = 1;
    if (::write(ready_fd, &one, 1) != 1) co_return 4;
    int answered = 0;
    for (auto& c : conns) {
      std::size_t got_bytes = 0;
      while (got_bytes < 4) {
        auto g = co_await c->receive();
        if (!g) break;
        got_bytes += g->size();
      }
      if (got_bytes == 4) ++answered;
      auto end = co_await c->receive();  // then the server closes
      if (end.code() != errc::closed) co_return 5;
    }
    // Nothing is in flight on these (each saw its reply and the server's
    // close), so destroying them closes the descriptors at once. Awaiting
    // 10,000 synchronous close() tasks in a row would nest frames in the
    // ASan build, where GCC emits no tail call for symmetric transfer.
    conns.clear();
    co_return answered == drain_connections ? 0 : 6;
  };
  return (*r)->run(body(**r, port, ready_fd));
}

task<void> drain_server(io::reactor& r, net::listener& l, int ready_fd, server_stats* s) {
  task_scope sessions, server;
  server.spawn(accept_loop(l, r.drain_token(), sessions, s));
  // Wait until the client has connected everything and sent its requests.
  char b;
  io::fd_handle h{ready_fd};
  r.io().attach(h);
  (void)co_await io::io_operation(r, std::nullopt, {}, [&](io::backend& be, io::completion* c, io::linked_deadline*) {
    be.read(c, h, &b, 1);
  });
  r.io().detach(h);
  while (s->bytes < 4L * drain_connections) co_await io::sleep_for(1ms);
  r.request_drain();
  co_await server.join();
  co_await sessions.join();
  r.note_drained();
}

TEST_P(net_test, graceful_drain_of_10000_connections_abandons_nothing) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < drain_connections + 200) GTEST_SKIP() << "open-files limit " << rl.rlim_cur << " too low";
  CONFAB_MAKE_REACTOR(r, GetParam(), .io = {.buffer_count = 16384});
  auto l = net::listener::bind(*r, address::loopback(0));
  ASSERT_TRUE(l);
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  const std::uint16_t port = (*l)->local().port();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    // The child must not touch the parent's ring: it builds its own.
    _exit(drain_client_process(port, GetParam(), pipefd[1]));
  }
  ::close(pipefd[1]);
  server_stats s;
  r->run(drain_server(*r, **l, pipefd[0], &s));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "client saw an unanswered request or an unclean end";
  EXPECT_EQ(s.sessions, drain_connections);
  EXPECT_EQ(s.sessions_done, drain_connections);  // zero abandoned sessions
  EXPECT_EQ(s.bytes, 4L * drain_connections);
  EXPECT_GT(r->stats().drain_ms, 0.0);
  std::printf("[ drain    ] %d connections drained in %.1f ms\n", drain_connections, r->stats().drain_ms);
}

std::size_t open_files() {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) n += e.is_symlink() ? 1 : 0;
  return n;
}

// io_uring direct descriptors: 1,500 echo connections (3,000 ends) held
// open at once add almost nothing to the process's open files, and every
// table slot comes back when they close.
TEST(net_direct, direct_descriptors_stay_outside_the_open_files_limit) {
  CONFAB_MAKE_REACTOR(r, backend_choice::uring, .io = {.direct_descriptors = 4096});
  const auto before = open_files();
  constexpr int clients = 1500;
  int echoed = 0, direct_ends = 0;
  std::size_t during = 0, slots_during = 0;
  r->run([](io::reactor& rr, int& good, int& direct, std::size_t& files, std::size_t& slots) -> task<void> {
    net::listen_options lo;
    lo.connection.direct = true;
    auto l = net::listener::bind(rr, address::loopback(0), lo);
    EXPECT_TRUE(l);
    if (!l) co_return;
    const address at = (*l)->local();
    std::stop_source stop, hold;
    task_scope sessions, server, cls;
    server_stats ss;
    server.spawn(accept_loop(**l, stop.get_token(), sessions, &ss));
    int connected = 0;
    for (int i = 0; i < clients; ++i)
      cls.spawn([](io::reactor& r2, address a, int& ok, int& d, int& conn, std::stop_token h) -> task<void> {
        net::connect_options co;
        co.connection.direct = true;
        auto c = co_await net::connect(r2, a, std::move(co));
        if (!c) co_return;
        d += (*c)->direct();
        const char msg[16] = "direct echo....";
        (void)co_await (*c)->send(std::as_bytes(std::span(msg)));
        std::size_t got = 0;
        while (got < sizeof msg) {
          auto ch = co_await (*c)->receive();
          if (!ch) break;
          got += ch->size();
        }
        ok += got == sizeof msg;
        ++conn;
        auto held = co_await io::sleep_for(std::chrono::seconds(60), h);  // until released
        (void)held;
        co_await (*c)->close();
      }(rr, at, good, direct, connected, hold.get_token()));
    for (int k = 0; k < 1000 && connected < clients; ++k) {
      auto slept = co_await io::sleep_for(std::chrono::milliseconds(10));
      (void)slept;
    }
    files = open_files();
    slots = rr.stats().direct_open;
    hold.request_stop();
    co_await cls.join();
    stop.request_stop();
    co_await server.join();
    co_await sessions.join();
  }(*r, echoed, direct_ends, during, slots_during));
  EXPECT_EQ(echoed, clients);
  EXPECT_EQ(direct_ends, clients) << "connections were not made direct";
  EXPECT_GE(slots_during, 2u * clients) << "both ends should be direct descriptors";
  EXPECT_LT(during, before + 50) << "direct connections took process descriptors";
  EXPECT_EQ(r->stats().direct_open, 0u) << "table slots leaked";
}

INSTANTIATE_TEST_SUITE_P(backends, net_test, ::testing::Values(backend_choice::uring, backend_choice::epoll),
                         confab::testing::backend_param_name);

}  // namespace
