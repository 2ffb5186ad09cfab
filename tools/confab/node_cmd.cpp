#include "tools/confab/node_cmd.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "protocols/common/endpoints.hpp"
#include "tools/confab/metrics.hpp"
#include "tools/confab/names.hpp"

namespace confab::tools {

task<void> serve_host(host::tcp_host& host, io::reactor& r, const char* who, int& exit_code) {
  auto ok = co_await host.run(r.drain_token());
  if (!ok) {
    std::fprintf(stderr, "confab %s: cannot serve: %s\n", who, ok.error().message().c_str());
    exit_code = 1;
    r.request_drain();  // nothing else of this node should go on without it
  }
}

std::optional<node_address> node_identity(const std::string& listen, const std::string& advertise, const char* who) {
  auto l = resolve_endpoint(listen);
  if (!l) {
    std::fprintf(stderr, "confab %s: --listen '%s': %s\n", who, listen.c_str(), l.error().text.c_str());
    return std::nullopt;
  }
  if (advertise.empty()) {
    if (seam::endpoint_ipv4(*l) == 0) {
      std::fprintf(stderr,
                   "confab %s: --listen %s: 0.0.0.0 is never an identity; give --advertise IP:PORT, the address others "
                   "reach this node at\n",
                   who, listen.c_str());
      return std::nullopt;
    }
    return node_address{.self = *l};
  }
  auto a = resolve_endpoint(advertise);
  if (!a) {
    std::fprintf(stderr, "confab %s: --advertise '%s': %s\n", who, advertise.c_str(), a.error().text.c_str());
    return std::nullopt;
  }
  if (seam::endpoint_ipv4(*a) == 0) {
    std::fprintf(stderr, "confab %s: --advertise %s: 0.0.0.0 is never an identity\n", who, advertise.c_str());
    return std::nullopt;
  }
  return node_address{.self = *a, .bind = host::endpoint_address(*l)};
}

std::string node_file_base(const std::string& data_dir, const char* kind, seam::node_id id) {
  std::string stem = endpoints::id_string(id);
  std::replace(stem.begin(), stem.end(), ':', '-');
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  return (std::filesystem::path(data_dir) / (std::string(kind) + "-" + stem)).string();
}

result<int, problem> lock_node_files(const std::string& base) {
  const std::string path = base + ".lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return problem{"cannot open " + path + ": " + std::strerror(errno)};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    const auto n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : std::string("another process");
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    return problem{path + " is held by process " + holder + ": that node is running on these files"};
  }
  const std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
    ::close(fd);
    return problem{"cannot write " + path + ": " + std::strerror(errno)};
  }
  return fd;  // kept open: the lock lasts as long as the process
}

std::optional<std::optional<net::address>> metrics_address(const std::string& text, const char* who) {
  if (text.empty()) return std::optional<net::address>{};
  auto id = resolve_endpoint(text);
  if (!id) {
    std::fprintf(stderr, "confab %s: --metrics '%s': %s\n", who, text.c_str(), id.error().text.c_str());
    return std::nullopt;
  }
  return std::optional<net::address>(host::endpoint_address(*id));
}

task<void> serve_metrics_port(io::reactor& r, net::address at, std::function<std::string()> render, const char* who,
                              int& exit_code, event_log& logs, std::vector<metrics_action> actions) {
  auto ok = co_await serve_metrics(
      r, at, std::move(render), r.drain_token(),
      [&logs](const std::string& line) {
        if (!logs.admit("metrics")) return;
        logs.line(line);
      },
      std::move(actions));
  if (!ok) {
    std::fprintf(stderr, "confab %s: cannot serve the metrics on %s: %s\n", who, at.to_string().c_str(),
                 ok.error().message().c_str());
    exit_code = 1;
    r.request_drain();
  }
}

void add_host_metrics(metrics_text& m, const std::string& prefix, const host::tcp_host_stats& h) {
  const std::string n[] = {prefix + "_frames_sent_total",      prefix + "_frames_received_total",
                           prefix + "_frames_dropped_total",   prefix + "_bad_frames_total",
                           prefix + "_connects_total",         prefix + "_reading_paused_total",
                           prefix + "_closed_unread_total",    prefix + "_closed_idle_total",
                           prefix + "_refused_source_total",   prefix + "_unread_bytes"};
  m.counters({{n[0].c_str(), "frames sent", double(h.sent)},
              {n[1].c_str(), "frames received", double(h.received)},
              {n[2].c_str(), "frames dropped (a full queue)", double(h.dropped)},
              {n[3].c_str(), "malformed or oversized frames (connection closed)", double(h.bad_frames)},
              {n[4].c_str(), "outbound connections made", double(h.connects)},
              {n[5].c_str(), "times reading paused for unread replies", double(h.paused)},
              {n[6].c_str(), "connections reset for leaving replies unread", double(h.closed_unread)},
              {n[7].c_str(), "connections closed idle or silent", double(h.closed_idle)},
              {n[8].c_str(), "connections refused over the per-source cap", double(h.refused_source)}});
  m.gauge(n[9].c_str(), "replies queued that peers have not read", double(h.unread_bytes));
}

io::runtime_options node_runtime(const std::string& backend) {
  io::runtime_options ro;
  ro.threads = 1;
  ro.pin_threads = false;
  io::parse_backend_choice(backend, ro.reactor.backend);
  return ro;
}

host::tcp_host_options host_options(const node_limits& l) {
  host::tcp_host_options o;
  o.first_frame_timeout = l.first_frame_timeout;
  o.idle_timeout = l.idle_timeout;
  o.connections_per_source_max = l.connections_per_source_max;
  o.unread_bytes_max_total = l.unread_mb_max << 20;
  o.unread_stall_max = l.unread_stall;
  // A node restarted right after a kill -9 may find its port still held by
  // the dead process's ring for a moment (tcp_host_options::bind_wait).
  o.bind_wait = std::chrono::seconds(5);
  return o;
}

event_log_limits log_limits(const node_limits& l) {
  return {.file_bytes_max = static_cast<std::uint64_t>(l.log_file_mb_max) << 20, .lines_per_second = l.log_lines_per_second};
}

}  // namespace confab::tools
