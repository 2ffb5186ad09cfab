// Load client for the side-by-side echo benchmark (bench/echo_compare.py).
//
//   echo_client --port P --connections N --bytes B --duration-ms D [--warmup-ms W]
//   echo_client --port P --idle N --hold-ms H
//
// Ping-pong: each connection sends one message, waits for all of it back,
// repeats. Runs on confab's io_uring backend on its own core; the same
// client measures every server. Prints one JSON line: requests, seconds,
// requests_per_s, p50_us, p99_us, failures. Idle mode opens N connections
// (sources spread over 127.0.0.0/8), prints "idle-ready N" and holds them.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/core/scope.hpp"
#include "engine/net/connection.hpp"

using namespace confab;
using namespace std::chrono_literals;

namespace {

struct stats {
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
  std::vector<float> rtt_us;
};

task<void> pinger(io::reactor& r, net::address at, std::size_t bytes, io::clock::time_point measure_from,
                  io::clock::time_point until, stats* s, int index) {
  net::connect_options opts;
  opts.deadline = io::clock::now() + 10s;
  opts.bind_ip = net::address::ipv4(0x7f000000u | static_cast<std::uint32_t>(2 + index % 250), 0);
  auto c = co_await net::connect(r, at, std::move(opts));
  if (!c) {
    ++s->failures;
    co_return;
  }
  std::vector<std::byte> msg(bytes, std::byte{'p'});
  while (io::clock::now() < until) {
    const auto t0 = io::clock::now();
    auto sent = co_await (*c)->send(msg);
    if (!sent) {
      ++s->failures;
      break;
    }
    std::size_t got = 0;
    while (got < bytes) {
      auto g = co_await (*c)->receive();
      if (!g) break;
      got += g->size();
    }
    if (got < bytes) {
      ++s->failures;
      break;
    }
    if (t0 >= measure_from) {
      ++s->requests;
      s->rtt_us.push_back(std::chrono::duration<float, std::micro>(io::clock::now() - t0).count());
    }
  }
  co_await (*c)->close();
}

task<int> run_load(io::reactor& r, unsigned short port, unsigned conns, std::size_t bytes, unsigned duration_ms,
                   unsigned warmup_ms) {
  stats s;
  const auto start = io::clock::now();
  const auto from = start + std::chrono::milliseconds(warmup_ms);
  const auto until = from + std::chrono::milliseconds(duration_ms);
  task_scope scope;
  for (unsigned i = 0; i < conns; ++i) scope.spawn(pinger(r, net::address::loopback(port), bytes, from, until, &s, static_cast<int>(i)));
  co_await scope.join();
  const double secs = duration_ms / 1000.0;
  auto pct = [&](double p) -> double {
    if (s.rtt_us.empty()) return 0;
    auto k = static_cast<std::size_t>(p * static_cast<double>(s.rtt_us.size() - 1));
    std::nth_element(s.rtt_us.begin(), s.rtt_us.begin() + static_cast<std::ptrdiff_t>(k), s.rtt_us.end());
    return s.rtt_us[k];
  };
  std::printf("{\"requests\": %llu, \"seconds\": %.3f, \"requests_per_s\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"failures\": %llu}\n",
              static_cast<unsigned long long>(s.requests), secs, static_cast<double>(s.requests) / secs, pct(0.5),
              pct(0.99), static_cast<unsigned long long>(s.failures));
  co_return s.failures == 0 ? 0 : 1;
}

task<int> run_idle(io::reactor& r, unsigned short port, unsigned n, unsigned hold_ms) {
  std::vector<std::unique_ptr<net::connection>> conns;
  conns.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    net::connect_options opts;
    opts.deadline = io::clock::now() + 10s;
    opts.bind_ip = net::address::ipv4(0x7f000000u | (2 + i % 250), 0);
    auto c = co_await net::connect(r, net::address::loopback(port), std::move(opts));
    if (!c) {
      std::fprintf(stderr, "echo_client: connect %u: %s\n", i, c.error().message().c_str());
      co_return 1;
    }
    conns.push_back(std::move(*c));
  }
  std::printf("idle-ready %u\n", n);
  std::fflush(stdout);
  co_await io::sleep_for(std::chrono::milliseconds(hold_ms));
  conns.clear();  // nothing in flight on idle connections
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  unsigned conns = 1, duration = 2000, warmup = 300, idle = 0, hold = 3000;
  std::size_t bytes = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    unsigned long v = std::stoul(argv[i + 1]);
    if (k == "--port") port = static_cast<unsigned short>(v);
    else if (k == "--connections") conns = static_cast<unsigned>(v);
    else if (k == "--bytes") bytes = v;
    else if (k == "--duration-ms") duration = static_cast<unsigned>(v);
    else if (k == "--warmup-ms") warmup = static_cast<unsigned>(v);
    else if (k == "--idle") idle = static_cast<unsigned>(v);
    else if (k == "--hold-ms") hold = static_cast<unsigned>(v);
    else {
      std::fprintf(stderr, "echo_client: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (port == 0 || bytes == 0 || bytes > (1u << 20)) {
    std::fprintf(stderr, "echo_client: need --port, and --bytes from 1 to 1048576\n");
    return 2;
  }
  io::reactor_options ro;
  ro.io.buffer_count = 8192;
  auto r = io::reactor::create(ro);
  if (!r) {
    std::fprintf(stderr, "echo_client: %s\n", r.error().message().c_str());
    return 1;
  }
  if (idle > 0) return (*r)->run(run_idle(**r, port, idle, hold));
  return (*r)->run(run_load(**r, port, conns, bytes, duration, warmup));
}
