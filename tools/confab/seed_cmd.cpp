#include "tools/confab/seed_cmd.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "engine/io/runtime.hpp"
#include "engine/seam/tcp_host.hpp"
#include "protocols/common/endpoints.hpp"
#include "protocols/seeds/node.hpp"
#include "protocols/seeds/storage.hpp"
#include "engine/core/scope.hpp"
#include "tools/confab/config.hpp"
#include "tools/confab/legacy_gateway.hpp"

namespace confab::tools {

namespace {

std::string wall_clock() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[80];
  std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(ms));
  return b;
}

struct event_files {
  FILE* text = nullptr;
  FILE* json = nullptr;
  ~event_files() {
    if (text) std::fclose(text);
    if (json) std::fclose(json);
  }
};

task<void> serve(seam::tcp_host& host, io::reactor& r, int& exit_code) {
  auto ok = co_await host.run(r.drain_token());
  if (!ok) {
    std::fprintf(stderr, "confab seed: cannot serve: %s\n", ok.error().message().c_str());
    exit_code = 1;
  }
}

task<void> serve_legacy_port(io::reactor& r, legacy_gateway_options o, int& exit_code) {
  const auto port = o.listen.to_string();
  auto ok = co_await serve_legacy(r, std::move(o), r.drain_token());
  if (!ok) {
    std::fprintf(stderr, "confab seed: cannot serve the legacy port %s: %s\n", port.c_str(), ok.error().message().c_str());
    exit_code = 1;
  }
}

}  // namespace

int run_seed_command(const seed_options& o) {
  auto s = load_seed_settings(o.config);
  if (!s.error.empty()) {
    std::fprintf(stderr, "confab seed: %s\n", s.error.c_str());
    return 2;
  }
  auto self = endpoints::parse_endpoint(o.listen);
  if (!self) {
    std::fprintf(stderr, "confab seed: --listen '%s': %s\n", o.listen.c_str(), self.error().detail);
    return 2;
  }
  if (std::find(s.seed.seeds.begin(), s.seed.seeds.end(), *self) == s.seed.seeds.end()) {
    std::fprintf(stderr, "confab seed: --listen %s is not in the seed list %s\n", o.listen.c_str(), s.seeds_file.c_str());
    return 2;
  }
  if (o.legacy_port >= 0) s.legacy_port = static_cast<std::uint16_t>(o.legacy_port);
  s.seed.legacy_min_reporters = s.legacy_port != 0 ? s.legacy_min_reporters : 0;
  const std::string name = endpoints::id_string(*self);
  std::string stem = name;
  std::replace(stem.begin(), stem.end(), ':', '-');
  std::error_code ec;
  std::filesystem::create_directories(s.data_dir, ec);
  const std::string base = (std::filesystem::path(s.data_dir) / ("seed-" + stem)).string();
  auto store = seeds::file_store::open(base + ".raft");
  if (!store) {
    std::fprintf(stderr, "confab seed: cannot open %s.raft: %s\n", base.c_str(), store.error().message().c_str());
    return 1;
  }
  event_files logs;
  logs.text = std::fopen((base + ".events.txt").c_str(), "a");
  logs.json = std::fopen((base + ".events.jsonl").c_str(), "a");
  if (!logs.text || !logs.json) {
    std::fprintf(stderr, "confab seed: cannot write the event logs in %s\n", s.data_dir.c_str());
    return 1;
  }
  const auto recovered = (*store)->recovered();
  std::fprintf(logs.text, "%s seed %s starting: %zu seeds, quorum %zu, recovered term %llu, %zu log entries%s\n",
               wall_clock().c_str(), name.c_str(), s.seed.seeds.size(), s.seed.quorum(),
               static_cast<unsigned long long>(recovered.hard.term), recovered.log.size(),
               (*store)->torn_bytes() ? " (a torn tail was cut)" : "");
  std::fflush(logs.text);

  const seam::node_id id = *self;
  auto on_event = [&logs, id](const seeds::seed_event& e) {
    std::fprintf(logs.text, "%s %s\n", wall_clock().c_str(), seeds::event_text(e, id).c_str());
    std::fprintf(logs.json, "%s\n", seeds::event_json(e, id).c_str());
    // Commits and membership changes are flushed at once; the rest with them.
    if (e.kind == seeds::seed_event::committed || e.kind == seeds::seed_event::applied_add ||
        e.kind == seeds::seed_event::applied_remove || e.kind == seeds::seed_event::became_leader) {
      std::fflush(logs.text);
      std::fflush(logs.json);
    }
  };
  auto on_reject = [&logs](seam::node_id from, const char* why) {
    std::fprintf(logs.text, "%s refused a message from %s: %s\n", wall_clock().c_str(),
                 endpoints::id_string(from).c_str(), why);
    std::fflush(logs.text);
  };
  seam::tcp_host_options ho;
  ho.max_message_bytes = 1u << 20;
  ho.on_bad_input = [&logs](const net::address& from, const error& e) {
    std::fprintf(logs.text, "%s closed a connection from %s: %s\n", wall_clock().c_str(), from.to_string().c_str(),
                 e.message().c_str());
    std::fprintf(stderr, "confab seed: closed a connection from %s: %s\n", from.to_string().c_str(), e.message().c_str());
    std::fflush(logs.text);
  };

  io::runtime_options ro;
  ro.threads = 1;
  ro.pin_threads = false;
  io::parse_backend_choice(o.backend, ro.reactor.backend);
  io::runtime rt(ro);
  int exit_code = 0;
  std::fprintf(stderr, "confab seed: %s serving (%zu seeds, quorum %zu); logs in %s.events.{txt,jsonl}\n", name.c_str(),
               s.seed.seeds.size(), s.seed.quorum(), base.c_str());
  auto ran = rt.run([&](io::runtime&, io::reactor& r, unsigned) -> task<void> {
    seam::tcp_host host(r, id, {}, std::make_unique<seeds::seed_node>(s.seed, **store, on_event, on_reject),
                        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()), ho);
    task_scope both;
    both.spawn(serve(host, r, exit_code));
    if (s.legacy_port != 0) {
      legacy_gateway_options lo;
      lo.listen = net::address::ipv4(seam::endpoint_ipv4(id), s.legacy_port);
      lo.seed = id;
      lo.log = [&logs](const std::string& line) {
        std::fprintf(logs.text, "%s %s\n", wall_clock().c_str(), line.c_str());
        std::fflush(logs.text);
      };
      both.spawn(serve_legacy_port(r, std::move(lo), exit_code));
    }
    co_await both.join();
  });
  if (!ran) {
    std::fprintf(stderr, "confab seed: %s\n", ran.error().message().c_str());
    return 1;
  }
  std::fprintf(logs.text, "%s seed %s stopped\n", wall_clock().c_str(), name.c_str());
  return exit_code;
}

}  // namespace confab::tools
