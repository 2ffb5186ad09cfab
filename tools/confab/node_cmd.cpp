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

}  // namespace confab::tools
