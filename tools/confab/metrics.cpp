#include "tools/confab/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>

#include "engine/core/scope.hpp"
#include "engine/host/text_host.hpp"
#include "engine/net/connection.hpp"
#include "engine/net/framing.hpp"
#include "engine/net/listener.hpp"
#include "engine/net/source_gate.hpp"

namespace confab::tools {

metrics_text& metrics_text::add(const char* name, const char* help, const char* type, double value) {
  char v[64];
  if (std::nearbyint(value) == value && std::fabs(value) < 9e15)
    std::snprintf(v, sizeof v, "%.0f", value);
  else
    std::snprintf(v, sizeof v, "%.17g", value);
  text_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + v + "\n";
  return *this;
}

namespace {

std::string response(const char* status, const std::string& type, const std::string& body) {
  return std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + type + "\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

bool from_loopback(const net::address& a) {
  if (a.family() == AF_INET) return (a.ipv4_host_order() >> 24) == 127;
  const std::string ip = a.ip_string();
  return ip == "::1" || ip.rfind("::ffff:127.", 0) == 0;
}

// The answer to `POST <path> ...` when `path` is an action's; nullopt otherwise.
std::optional<std::string> act(const std::string& req, const net::address& from,
                               const std::vector<metrics_action>& actions) {
  for (const auto& a : actions) {
    const std::string line = "POST " + a.path;
    if (req.rfind(line + " ", 0) != 0 && req.rfind(line + "?", 0) != 0) continue;
    if (!from_loopback(from)) return response("403 Forbidden", "text/plain", "actions are taken from loopback only\n");
    auto done = a.run();
    if (!done) return response("409 Conflict", "text/plain", done.error().message() + "\n");
    return response("202 Accepted", "text/plain", *done + "\n");
  }
  return std::nullopt;
}

task<void> answer(std::unique_ptr<net::connection> c, [[maybe_unused]] net::source_gate::ticket place,
                  const std::function<std::string()>& render, const std::vector<metrics_action>& actions,
                  std::stop_token st) {
  // The request ends with its blank line; a client then waits, so 20 ms of
  // quiet after it is the whole request.
  auto req = co_await host::read_text_message(*c, st, std::chrono::seconds(5), std::chrono::milliseconds(20), 8192);
  std::string out;
  if (!req || req->find("\r\n\r\n") == std::string::npos) {
    out = response("400 Bad Request", "text/plain", "a request line and headers ending with a blank line, under 8 KiB\n");
  } else if (auto acted = act(*req, c->peer(), actions)) {
    out = std::move(*acted);
  } else if (req->rfind("GET ", 0) != 0) {
    std::string allowed = "GET /metrics\n";
    for (const auto& a : actions) allowed += "POST " + a.path + "\n";
    out = response("405 Method Not Allowed", "text/plain", allowed);
  } else if (req->rfind("GET /metrics ", 0) == 0 || req->rfind("GET /metrics?", 0) == 0) {
    out = response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render());
  } else {
    out = response("404 Not Found", "text/plain", "GET /metrics\n");
  }
  (void)co_await c->send(net::as_bytes(out));
  (void)co_await c->flush();
  co_await c->close();
}

}  // namespace

task<result<void>> serve_metrics(io::reactor& r, net::address at, std::function<std::string()> render,
                                 std::stop_token st, std::function<void(const std::string&)> log,
                                 std::vector<metrics_action> actions) {
  auto l = net::listener::bind(r, at);
  if (!l) co_return l.error();
  net::source_gate gate({.per_source_max = 16, .total_max = 64});
  task_scope tasks;
  for (;;) {
    auto c = co_await (*l)->accept(st);
    if (!c) {
      if (c.code() == errc::cancelled) break;
      continue;
    }
    auto place = gate.admit((*c)->peer().ipv4_host_order());
    if (!place) {
      if (log) log("metrics: refused a connection from " + (*c)->peer().to_string() + ": " + place.error().message());
      co_await (*c)->close();
      continue;
    }
    tasks.spawn(answer(std::move(*c), std::move(*place), render, actions, st));
  }
  co_await tasks.join();
  co_await (*l)->close();
  co_return result<void>{};
}

}  // namespace confab::tools
