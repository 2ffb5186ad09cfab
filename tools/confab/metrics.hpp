// confab tools: a node's counters as a Prometheus text endpoint.
//
// `confab seed --metrics IP:PORT` and `confab peer --metrics IP:PORT` serve
// `GET /metrics` in the Prometheus text exposition format (version 0.0.4):
// each scrape renders the node's counters at that moment, on the node's own
// reactor thread, so nothing is shared or locked. Any other path is 404, any
// other method 405; a request over 8 KiB, or one not complete within 5 s, is
// answered 400 and closed. Connections held at once are capped (16 per
// source IP, 64 in total). One request per connection (Connection: close).
//
// A node may also take actions by POST (`confab peer`: `POST /gossip`
// originates one message now): only from a loopback source (any other is
// 403, since the port is often bound wider for scrapes), answered 202 with
// the action's text, or 409 with its error when the node cannot act yet.
//
//   metrics_text m;
//   m.counter("confab_seed_frames_received_total", "frames the seed took in", n);
//   co_await serve_metrics(r, address, [&] { return render(); }, st, log);
//
// Thread: the reactor's.
#pragma once

#include <functional>
#include <initializer_list>
#include <stop_token>
#include <string>
#include <vector>

#include "engine/core/task.hpp"
#include "engine/io/reactor.hpp"
#include "engine/net/address.hpp"

namespace confab::tools {

struct metric_row {
  const char* name;
  const char* help;
  double value;
};

class metrics_text {
 public:
  metrics_text& counter(const char* name, const char* help, double value) { return add(name, help, "counter", value); }
  metrics_text& gauge(const char* name, const char* help, double value) { return add(name, help, "gauge", value); }
  metrics_text& counters(std::initializer_list<metric_row> rows) {
    for (const auto& r : rows) counter(r.name, r.help, r.value);
    return *this;
  }
  metrics_text& gauges(std::initializer_list<metric_row> rows) {
    for (const auto& r : rows) gauge(r.name, r.help, r.value);
    return *this;
  }
  const std::string& text() const noexcept { return text_; }

 private:
  metrics_text& add(const char* name, const char* help, const char* type, double value);
  std::string text_;
};

// An action taken by `POST <path>`, run on the reactor's thread; the text
// it returns is the 202 answer's body.
struct metrics_action {
  std::string path;
  std::function<result<std::string>()> run;
};

// Serves until `st` is triggered; fails only when the address cannot be bound.
task<result<void>> serve_metrics(io::reactor& r, net::address at, std::function<std::string()> render,
                                 std::stop_token st, std::function<void(const std::string&)> log,
                                 std::vector<metrics_action> actions = {});

}  // namespace confab::tools
