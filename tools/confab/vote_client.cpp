#include "tools/confab/vote_client.hpp"

#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "engine/core/scope.hpp"
#include "engine/io/reactor.hpp"
#include "engine/net/connection.hpp"
#include "protocols/common/auth.hpp"
#include "tools/confab/config.hpp"

namespace confab::tools {

namespace {

using namespace std::chrono_literals;

// Lines from one connection, in order; `closed` once the stream ended or
// the run's stop was requested.
struct line_reader {
  net::connection& conn;
  std::stop_token st;
  std::string partial;
  std::deque<std::string> ready;
  bool closed = false;

  task<std::optional<std::string>> next() {
    while (ready.empty() && !closed) {
      auto got = co_await conn.receive(st);
      if (!got) {
        closed = true;
        break;
      }
      const auto b = got->bytes();
      partial.append(reinterpret_cast<const char*>(b.data()), b.size());
      std::size_t start = 0;
      for (auto lf = partial.find('\n'); lf != std::string::npos; lf = partial.find('\n', start)) {
        std::string line = partial.substr(start, lf - start);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        ready.push_back(std::move(line));
        start = lf + 1;
      }
      partial.erase(0, start);
    }
    if (ready.empty()) co_return std::nullopt;
    auto line = std::move(ready.front());
    ready.pop_front();
    co_return line;
  }
};

int code_of(const std::string& line) {
  if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
      !std::isdigit(static_cast<unsigned char>(line[1])) || !std::isdigit(static_cast<unsigned char>(line[2])))
    return 0;
  return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

// Reads up to the final line of one answer (a code followed by a blank;
// "250-" lines continue it), printing every line; pushes (6xx) met on the
// way are printed and counted. The answer's code, or 0 when the stream
// ended first.
task<int> answer(line_reader& in, int& decisions) {
  for (;;) {
    auto line = co_await in.next();
    if (!line) co_return 0;
    std::printf("%s\n", line->c_str());
    std::fflush(stdout);
    const int code = code_of(*line);
    if (code >= 600) {
      decisions += code == 603;
      continue;
    }
    if (code > 0 && line->size() >= 4 && (*line)[3] == '-') continue;
    co_return code;
  }
}

task<void> stop_at(io::clock::time_point at, std::stop_source& stop) {
  auto slept = co_await io::sleep_until(at, stop.get_token());
  (void)slept;
  stop.request_stop();
}

task<void> session(io::reactor& r, const vote_client_options& o, net::address at,
                   std::optional<protocols::cluster_key> key, int& exit_code) {
  std::stop_source stop;
  task_scope timer;
  timer.spawn(stop_at(io::clock::now() + std::chrono::seconds(o.timeout_s), stop));
  auto finish = [&](int code, const char* why) {
    if (why) std::fprintf(stderr, "confab vote: %s\n", why);
    exit_code = code;
  };
  net::connect_options co;
  co.deadline = io::clock::now() + std::chrono::seconds(o.timeout_s);
  co.stop = stop.get_token();
  auto conn = co_await net::connect(r, at, std::move(co));
  if (!conn) {
    std::fprintf(stderr, "confab vote: cannot connect to %s: %s\n", o.server.c_str(), conn.error().message().c_str());
    exit_code = 1;
    stop.request_stop();
    co_await timer.join();
    co_return;
  }
  line_reader in{**conn, stop.get_token()};
  int decisions = 0;
  bool refused = false;  // some command was answered 4xx/5xx
  auto send_line = [&](const std::string& line) -> decltype((*conn)->send(std::span<const std::byte>{})) {
    return (*conn)->send(std::as_bytes(std::span(line.data(), line.size())));
  };
  const auto greeting = co_await in.next();
  std::string auth;
  bool ok = true;
  if (!greeting || code_of(*greeting) != 220) {
    finish(1, greeting ? "the server did not greet with 220" : "the server closed or did not answer in time");
    ok = false;
  } else {
    std::printf("%s\n", greeting->c_str());
    std::fflush(stdout);
    if (key) {
      const auto pos = greeting->rfind("challenge ");
      if (pos == std::string::npos) {
        finish(1, "the greeting carries no challenge");
        ok = false;
      } else {
        auth = "AUTH " + protocols::challenge_answer(*key, greeting->substr(pos + 10)) + "\r\n";
      }
    } else {
      auth = "RIDDLE " + (o.answer.empty() ? std::string("keyboard") : o.answer) + "\r\n";
    }
  }
  if (ok) {
    // Authentication and every command at once: the server answers in order.
    std::string out = auth;
    for (const auto& c : o.commands) out += c + "\r\n";
    auto sent = co_await send_line(out);
    (void)sent;
    int code = co_await answer(in, decisions);
    if (code != 235) {
      finish(1, code == 0 ? "no answer to the authentication" : "authentication refused");
      ok = false;
    }
    for (std::size_t i = 0; ok && i < o.commands.size(); ++i) {
      code = co_await answer(in, decisions);
      if (code == 0) {
        finish(1, "the server closed or did not answer in time");
        ok = false;
      } else if (code >= 400) {
        refused = true;  // the rest are still answered
      }
    }
    while (ok && o.wait_closed && decisions == 0) {
      auto line = co_await in.next();
      if (!line) {
        finish(1, "no poll was decided before the time limit");
        ok = false;
        break;
      }
      std::printf("%s\n", line->c_str());
      std::fflush(stdout);
      decisions += code_of(*line) == 603;
    }
    if (ok) {
      auto bye = co_await send_line("QUIT\r\n");
      (void)bye;
      code = co_await answer(in, decisions);
      exit_code = refused ? 1 : 0;
    }
  }
  stop.request_stop();
  co_await (*conn)->close();
  co_await timer.join();
}

}  // namespace

int run_vote_client_command(const vote_client_options& o) {
  auto at = net::address::parse(o.server);
  if (!at) {
    std::fprintf(stderr, "confab vote: --server '%s': %s\n", o.server.c_str(), at.error().message().c_str());
    return 2;
  }
  if (o.commands.empty() && !o.wait_closed) {
    std::fprintf(stderr, "confab vote: give a command (OPEN, VOTE, STATS, DISCOVER, ...) or --wait-closed\n");
    return 2;
  }
  for (const auto& c : o.commands)
    if (c.empty() || c.size() > 510 || c.find_first_of("\r\n") != std::string::npos) {
      std::fprintf(stderr, "confab vote: a command must be one non-empty line of at most 510 bytes: '%s'\n", c.c_str());
      return 2;
    }
  std::optional<protocols::cluster_key> key;
  if (!o.key_file.empty()) {
    auto k = load_cluster_key(o.key_file);
    if (!k) {
      std::fprintf(stderr, "confab vote: --key-file: %s\n", k.error().text.c_str());
      return 2;
    }
    key = *k;
  }
  auto r = io::reactor::create({});
  if (!r) {
    std::fprintf(stderr, "confab vote: cannot start the reactor: %s\n", r.error().message().c_str());
    return 1;
  }
  int exit_code = 1;
  (*r)->run(session(**r, o, *at, key, exit_code));
  return exit_code;
}

}  // namespace confab::tools
