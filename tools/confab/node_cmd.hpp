// confab tools: what `confab seed` and `confab peer` share: serving one
// node on a one-thread runtime, and where its files go.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "engine/io/runtime.hpp"
#include "engine/host/tcp_host.hpp"
#include "tools/confab/config.hpp"
#include "tools/confab/event_log.hpp"
#include "tools/confab/metrics.hpp"

namespace confab::tools {

// Runs the host until the reactor drains (SIGINT/SIGTERM); on failure
// prints "confab WHO: cannot serve: ..." (its address in use, say), sets
// exit_code to 1 and drains the reactor, so the command exits.
task<void> serve_host(host::tcp_host& host, io::reactor& r, const char* who, int& exit_code);

// A node's identity and where it binds, from --listen and --advertise
// (NAME:PORT or IP:PORT each): the identity is --advertise when given, else
// --listen; 0.0.0.0 is never an identity. nullopt (exit code 2) after
// saying why.
struct node_address {
  seam::node_id self = 0;
  std::optional<net::address> bind;  // when it is not the identity's address
};
std::optional<node_address> node_identity(const std::string& listen, const std::string& advertise, const char* who);

// "<data_dir>/<kind>-IP-PORT", creating data_dir.
std::string node_file_base(const std::string& data_dir, const char* kind, seam::node_id id);

// Holds "<base>.lock" (flock, with this process's pid in it) for as long
// as the process lives, so two processes never share a node's files; an
// error naming the process that holds it otherwise.
result<int, problem> lock_node_files(const std::string& base);

// The --metrics address: nullopt for none, or after printing why it is
// not IP:PORT (exit code 2).
std::optional<std::optional<net::address>> metrics_address(const std::string& text, const char* who);

// Serves GET /metrics (and the node's POST `actions`) until the reactor
// drains; when the address cannot be bound, says so, sets exit_code to 1
// and drains the reactor.
task<void> serve_metrics_port(io::reactor& r, net::address at, std::function<std::string()> render, const char* who,
                              int& exit_code, event_log& logs, std::vector<metrics_action> actions = {});

// The host's counters, named PREFIX_... (connections, frames, hostile clients).
void add_host_metrics(metrics_text& m, const std::string& prefix, const host::tcp_host_stats& h);

// One reactor thread, not pinned, on the chosen backend (auto, uring, epoll).
io::runtime_options node_runtime(const std::string& backend);

// The [connections] and [logs] settings as the host and the event log take them.
host::tcp_host_options host_options(const node_limits& l);
event_log_limits log_limits(const node_limits& l);

}  // namespace confab::tools
