#include "tools/confab/node_cmd.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "protocols/common/endpoints.hpp"

namespace confab::tools {

task<void> serve_host(host::tcp_host& host, io::reactor& r, const char* who, int& exit_code) {
  auto ok = co_await host.run(r.drain_token());
  if (!ok) {
    std::fprintf(stderr, "confab %s: cannot serve: %s\n", who, ok.error().message().c_str());
    exit_code = 1;
  }
}

std::string node_file_base(const std::string& data_dir, const char* kind, seam::node_id id) {
  std::string stem = endpoints::id_string(id);
  std::replace(stem.begin(), stem.end(), ':', '-');
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  return (std::filesystem::path(data_dir) / (std::string(kind) + "-" + stem)).string();
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
  return o;
}

event_log_limits log_limits(const node_limits& l) {
  return {.file_bytes_max = static_cast<std::uint64_t>(l.log_file_mb_max) << 20, .lines_per_second = l.log_lines_per_second};
}

}  // namespace confab::tools
