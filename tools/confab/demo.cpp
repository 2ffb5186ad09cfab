// `confab demo`: the engine's own figures on this machine.
//
// Starts an echo server and N clients in one process on the chosen backend,
// runs a bounded ping-pong load over loopback for a fixed time, and prints
// requests/s, round-trip p50/p99, and the reactor's counters per request
// (io_uring_enter calls, submissions, completions). Needs nothing but
// loopback; stops by itself.
#include "tools/confab/demo.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "engine/core/histogram.hpp"
#include "engine/core/scope.hpp"
#include "engine/net/echo.hpp"

namespace confab::tools {
namespace {

using namespace std::chrono_literals;

struct load_stats {
  std::uint64_t requests = 0;
  latency_histogram rtt_ns;
  std::uint64_t failures = 0;
};

task<void> client(io::reactor& r, net::address at, std::size_t size, io::clock::time_point until,
                  load_stats* s, std::size_t sample_every) {
  net::connect_options opts;
  opts.deadline = io::clock::now() + 5s;
  auto c = co_await net::connect(r, at, std::move(opts));
  if (!c) {
    ++s->failures;
    co_return;
  }
  std::vector<std::byte> msg(size, std::byte{'x'});
  std::uint64_t n = 0;
  while (io::clock::now() < until) {
    auto t0 = io::clock::now();
    auto sent = co_await (*c)->send(msg);
    if (!sent) break;
    std::size_t got_bytes = 0;
    bool ok = true;
    while (got_bytes < size) {
      auto got = co_await (*c)->receive();
      if (!got) {
        ok = false;
        break;
      }
      got_bytes += got->size();
    }
    if (!ok) {
      ++s->failures;
      break;
    }
    ++s->requests;
    if (++n % sample_every == 0) {
      s->rtt_ns.add(static_cast<std::uint64_t>((io::clock::now() - t0).count()));
    }
  }
  co_await (*c)->close();
}

task<void> run_demo(io::reactor& r, const demo_options& o, load_stats* s) {
  auto l = net::listener::bind(r, net::address::loopback(0));
  if (!l) {
    std::fprintf(stderr, "confab demo: cannot listen on loopback: %s\n", l.error().message().c_str());
    co_return;
  }
  std::stop_source stop;
  task_scope sessions, server, clients;
  server.spawn(net::accept_into(**l, stop.get_token(), sessions, net::echo_session));
  const auto until = io::clock::now() + std::chrono::milliseconds(o.duration_ms);
  for (unsigned i = 0; i < o.connections; ++i) {
    clients.spawn(client(r, (*l)->local(), o.message_bytes, until, s, 16));
  }
  co_await clients.join();
  stop.request_stop();
  co_await server.join();
  co_await sessions.join();
}

}  // namespace

int run_demo_command(const demo_options& o) {
  io::reactor_options ro;
  ro.backend = o.backend;
  auto r = io::reactor::create(ro);
  if (!r) {
    std::fprintf(stderr, "confab demo: cannot start the reactor: %s\n", r.error().message().c_str());
    return 1;
  }
  const auto& info = (*r)->io().info();
  std::printf("confab demo: backend %s (%s), %u connections, %zu-byte messages, %u ms, one reactor thread\n",
              io::backend_name((*r)->kind()), info.reason.empty() ? "io_uring available" : info.reason.c_str(),
              o.connections, o.message_bytes, o.duration_ms);
  load_stats s;
  const auto before = (*r)->stats();
  const auto t0 = io::clock::now();
  (*r)->run(run_demo(**r, o, &s));
  const double secs = std::chrono::duration<double>(io::clock::now() - t0).count();
  const auto& after = (*r)->stats();
  const double req = static_cast<double>(std::max<std::uint64_t>(s.requests, 1));
  std::printf("  requests        %llu in %.2f s = %.0f requests/s (client and server share the thread)\n",
              static_cast<unsigned long long>(s.requests), secs, static_cast<double>(s.requests) / secs);
  std::printf("  round trip      p50 %.1f us, p99 %.1f us\n", s.rtt_ns.quantile(0.5) / 1e3, s.rtt_ns.quantile(0.99) / 1e3);
  std::printf("  reactor turns   %.4f io_uring_enter (or epoll turns) per request\n",
              static_cast<double>(after.enters - before.enters) / req);
  std::printf("  submissions     %.3f per request, completions %.3f per request\n",
              static_cast<double>(after.submissions - before.submissions) / req,
              static_cast<double>(after.completions - before.completions) / req);
  std::printf("  buffer empties  %llu, CQ overflows %llu, cancellations %llu, failures %llu\n",
              static_cast<unsigned long long>(after.buffer_empties), static_cast<unsigned long long>(after.cq_overflows),
              static_cast<unsigned long long>(after.cancellations), static_cast<unsigned long long>(s.failures));
  return s.failures == 0 && s.requests > 0 ? 0 : 1;
}

}  // namespace confab::tools
