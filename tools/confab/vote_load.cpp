#include "tools/confab/vote_load.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/histogram.hpp"
#include "engine/core/scope.hpp"
#include "engine/io/reactor.hpp"
#include "engine/net/connection.hpp"

namespace confab::tools {

namespace {

using namespace std::chrono_literals;
using clock_t_ = io::clock;

// One client's progress through the run, advanced by its reader.
struct vote_client {
  enum state_t : std::uint8_t { connecting, riddle, menu, registered, voting, voted, failed } state = connecting;
  net::connection* conn = nullptr;  // owned by the reader; null once it ends
  std::string partial;              // bytes after the last LF
  clock_t_::time_point vote_sent{}, recorded{}, told{};
  bool heard = false;  // the CONSENSUS REACHED line
  std::string told_line, error;
};

struct load_run {
  const vote_load_options& o;
  net::address server;
  std::vector<vote_client> clients;
  std::size_t in_handshake = 0, registered = 0, voted = 0, heard = 0, failed = 0;
  std::vector<std::string> problems;
  std::stop_source stop;
};

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

void fail(load_run& L, vote_client& c, std::string why) {
  if (c.state == vote_client::failed) return;
  if (c.state == vote_client::riddle || c.state == vote_client::menu || c.state == vote_client::connecting) --L.in_handshake;
  c.state = vote_client::failed;
  c.error = std::move(why);
  ++L.failed;
}

void on_line(load_run& L, vote_client& c, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.rfind("CONSENSUS REACHED", 0) == 0) {
    if (!c.heard) {
      c.heard = true;
      c.told = clock_t_::now();
      c.told_line = std::string(line);
      ++L.heard;
    }
    return;
  }
  switch (c.state) {
    case vote_client::riddle:  // the first line is the riddle
      (void)c.conn->send(bytes_of(L.o.answer + "\r\n"));
      c.state = vote_client::menu;
      break;
    case vote_client::menu:
      if (line.find("[Select an option]") != std::string_view::npos) {
        c.state = vote_client::registered;
        --L.in_handshake;
        ++L.registered;
      } else if (line.rfind("Incorrect", 0) == 0) {
        fail(L, c, "the riddle's answer was refused: " + std::string(line));
      }
      break;
    case vote_client::voting:
      if (line.rfind("Vote recorded", 0) == 0) {
        c.recorded = clock_t_::now();
        c.state = vote_client::voted;
        ++L.voted;
      } else if (line.rfind("Error", 0) == 0) {
        fail(L, c, std::string(line));
      }
      break;
    default: break;
  }
}

task<void> client(io::reactor& r, load_run& L, std::size_t i) {
  auto& c = L.clients[i];
  net::connect_options co;
  co.deadline = clock_t_::now() + 10s;
  co.stop = L.stop.get_token();
  auto conn = co_await net::connect(r, L.server, std::move(co));
  if (!conn) {
    fail(L, c, "connect: " + conn.error().message());
    co_return;
  }
  c.conn = conn->get();
  c.state = vote_client::riddle;
  for (;;) {
    auto got = co_await (*conn)->receive(L.stop.get_token());
    if (!got) {
      if (c.state != vote_client::failed && !L.stop.stop_requested() && !c.heard)
        fail(L, c, "the server closed the connection: " + got.error().message());
      break;
    }
    const auto b = got->bytes();
    c.partial.append(reinterpret_cast<const char*>(b.data()), b.size());
    std::size_t start = 0;
    for (auto lf = c.partial.find('\n'); lf != std::string::npos; lf = c.partial.find('\n', start)) {
      on_line(L, c, std::string_view(c.partial).substr(start, lf - start));
      start = lf + 1;
    }
    c.partial.erase(0, start);
    if (c.partial.size() > 65536) {
      fail(L, c, "a line over 64 KiB from the server");
      break;
    }
  }
  c.conn = nullptr;
  co_await (*conn)->close();
}


// Latencies go through the engine's one histogram (every quantile within
// 0.4% of its value); figures in ms.
void add_ms(latency_histogram& h, clock_t_::time_point a, clock_t_::time_point b) {
  h.add(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count()));
}
double quantile_ms(const latency_histogram& h, double q) { return h.count() ? h.quantile(q) / 1e6 : 0; }

double rss_mb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// Sleeps a little at a time until `done()` or the deadline, printing the
// progress line each second; false at the deadline.
task<bool> wait_until(load_run& L, const char* phase, clock_t_::time_point deadline, auto done) {
  auto next_line = clock_t_::now() + 1s;
  while (!done()) {
    if (clock_t_::now() >= deadline) co_return false;
    auto slept = co_await io::sleep_for(2ms);
    if (!slept) co_return false;
    if (clock_t_::now() >= next_line) {
      next_line += 1s;
      std::fprintf(stderr, "[%s] registered %zu/%zu | voted %zu | broadcast heard %zu | failed %zu\n", phase, L.registered,
                   L.clients.size(), L.voted, L.heard, L.failed);
    }
  }
  co_return true;
}

task<void> drive(io::reactor& r, load_run& L, int& exit_code) {
  const auto n = L.clients.size();
  const auto deadline = clock_t_::now() + std::chrono::seconds(L.o.timeout_s);
  task_scope readers;
  nlohmann::ordered_json out{{"server", L.o.server}, {"clients", n}};
  bool ok = true;
  // 1. Register, at most `handshakes` at once.
  const auto t_register = clock_t_::now();
  std::size_t next = 0;
  ok = co_await wait_until(L, "register", deadline, [&] {
    while (next < n && L.in_handshake < L.o.handshakes) {
      ++L.in_handshake;
      readers.spawn(client(r, L, next++));
    }
    return next == n && L.in_handshake == 0;
  });
  out["registered"] = L.registered;
  out["register_s"] = std::chrono::duration<double>(clock_t_::now() - t_register).count();
  if (L.o.server_pid > 0) out["server_rss_mb"] = rss_mb(L.o.server_pid);
  if (!ok || L.registered < n)
    L.problems.push_back(std::to_string(L.registered) + " of " + std::to_string(n) + " clients registered" +
                         (ok ? "" : " before the time limit"));
  // 2. N-1 vote at once, alternately A and B.
  if (L.problems.empty()) {
    const auto t_first = clock_t_::now();
    for (std::size_t i = 0; i + 1 < n; ++i) {
      auto& c = L.clients[i];
      c.state = vote_client::voting;
      c.vote_sent = clock_t_::now();
      (void)c.conn->send(bytes_of(i % 2 == 0 ? "vote\r\nA\r\n" : "vote\r\nB\r\n"));
    }
    ok = co_await wait_until(L, "vote", deadline, [&] { return L.voted + L.failed >= n - 1; });
    latency_histogram vote_ns;
    clock_t_::time_point last = t_first;
    for (std::size_t i = 0; i + 1 < n; ++i)
      if (L.clients[i].state == vote_client::voted) {
        add_ms(vote_ns, L.clients[i].vote_sent, L.clients[i].recorded);
        last = std::max(last, L.clients[i].recorded);
      }
    out["votes"] = L.voted;
    out["votes_per_s"] = L.voted / std::max(1e-9, std::chrono::duration<double>(last - t_first).count());
    out["vote_p50_ms"] = quantile_ms(vote_ns, 0.5);
    out["vote_p99_ms"] = quantile_ms(vote_ns, 0.99);
    if (L.voted < n - 1)
      L.problems.push_back(std::to_string(L.voted) + " of " + std::to_string(n - 1) + " votes recorded" +
                           (ok ? "" : " before the time limit"));
  }
  // 3. The last client's A decides the poll; every client must hear it.
  if (L.problems.empty()) {
    auto& last = L.clients[n - 1];
    last.state = vote_client::voting;
    const auto t_decide = clock_t_::now();
    (void)last.conn->send(bytes_of("vote\r\nA\r\n"));
    ok = co_await wait_until(L, "broadcast", deadline, [&] { return L.heard + L.failed >= n; });
    latency_histogram told_ns;
    const std::string want = "A " + std::to_string(n / 2 + 1);
    std::size_t wrong = 0;
    for (const auto& c : L.clients)
      if (c.heard) {
        add_ms(told_ns, t_decide, c.told);
        if (c.told_line.find(want) == std::string::npos && ++wrong == 1)
          L.problems.push_back("a broadcast with the wrong counts: '" + c.told_line + "' (wanted " + want + ")");
      }
    out["broadcast_heard"] = L.heard;
    out["broadcast_p50_ms"] = quantile_ms(told_ns, 0.5);
    out["broadcast_p99_ms"] = quantile_ms(told_ns, 0.99);
    if (L.heard < n)
      L.problems.push_back(std::to_string(L.heard) + " of " + std::to_string(n) + " clients heard the broadcast" +
                           (ok ? "" : " before the time limit"));
  }
  std::size_t shown = 0;
  for (const auto& c : L.clients)
    if (c.state == vote_client::failed && shown++ < 3) L.problems.push_back("a client failed: " + c.error);
  if (L.failed > 3) L.problems.push_back(std::to_string(L.failed) + " clients failed in all");
  out["failed"] = L.failed;
  out["problems"] = L.problems;
  std::printf("%s\n", out.dump().c_str());
  exit_code = L.problems.empty() ? 0 : 1;
  L.stop.request_stop();
  co_await readers.join();
}

}  // namespace

int run_vote_load_command(const vote_load_options& o) {
  auto at = net::address::parse(o.server);
  if (!at) {
    std::fprintf(stderr, "confab vote-load: --server '%s': %s\n", o.server.c_str(), at.error().message().c_str());
    return 2;
  }
  if (o.clients < 2) {
    std::fprintf(stderr, "confab vote-load: --clients must be at least 2 (one decides the poll)\n");
    return 2;
  }
  io::reactor_options ro;
  ro.io.buffer_count = 16384;
  auto r = io::reactor::create(ro);
  if (!r) {
    std::fprintf(stderr, "confab vote-load: cannot start the reactor: %s\n", r.error().message().c_str());
    return 1;
  }
  load_run L{o, *at, std::vector<vote_client>(o.clients), 0, 0, 0, 0, 0, {}, {}};
  int exit_code = 1;
  (*r)->run(drive(**r, L, exit_code));
  return exit_code;
}

}  // namespace confab::tools
