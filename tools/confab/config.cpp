#include "tools/confab/config.hpp"

#include "tools/confab/names.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>
#include <cstdio>
#include <thread>

#include "protocols/common/endpoints.hpp"
#include "harness/toml_util.hpp"

namespace confab::tools {

using namespace confab::harness;  // the TOML helpers

namespace {

long long milliseconds_of(seam::duration d) {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// What both settings files share: the TOML root (syntax errors named by
// line and column), unknown top-level keys refused, seeds_file and data_dir
// resolved against the file's folder, and the seed list parsed.
struct common_settings {
  toml::table root;
  std::string seeds_file, data_dir;
  std::vector<seam::node_id> seeds;
  std::optional<protocols::cluster_key> key;
  std::chrono::milliseconds replay_window{60000};
};

result<common_settings, problem> load_common(const std::string& path) {
  auto root = read_toml(path);
  if (!root) return root.error();
  common_settings c;
  c.root = std::move(root).value();
  table_reader top(c.root, "", path);
  top.only({"seeds_file", "data_dir", "cluster_key_file", "replay_window_ms", "resolve_wait_ms", "seed", "peer",
            "connections", "logs"})
      .require("seeds_file", "the seed list, one IP:PORT per line");
  std::string seeds_file, data_dir, key_file;
  top.text("seeds_file", seeds_file).text("data_dir", data_dir).text("cluster_key_file", key_file);
  top.milliseconds("replay_window_ms", 1000, 3600000, c.replay_window);
  std::chrono::milliseconds resolve_wait{0};
  top.milliseconds("resolve_wait_ms", 0, 3600000, resolve_wait);
  for (const char* table : {"seed", "peer", "connections", "logs"})
    top.check(!c.root.get(table) || c.root[table].as_table(), std::string("[") + table + "] must be a table");
  if (auto done = top.done(); !done) return done.error();
  const auto base = std::filesystem::path(path).parent_path();
  c.seeds_file = (base / seeds_file).string();
  c.data_dir = !data_dir.empty() ? (base / data_dir).string() : base.empty() ? "." : base.string();
  if (!key_file.empty()) {
    auto key = load_cluster_key((base / key_file).string());
    if (!key) return key.error();
    c.key = *key;
  }
  const auto list = read_file(c.seeds_file);
  if (!list) return problem{path + ": seeds_file " + list.error().text};
  // Names that do not resolve yet (a StatefulSet's pods start together)
  // are asked again every 500 ms for up to resolve_wait_ms.
  const auto give_up = std::chrono::steady_clock::now() + resolve_wait;
  auto next_note = std::chrono::steady_clock::now();
  auto patient = [&](std::string_view text) {
    for (;;) {
      auto id = resolve_endpoint(text);
      const auto now = std::chrono::steady_clock::now();
      if (id || now >= give_up) return id;
      if (now >= next_note) {
        std::fprintf(stderr, "confab: %s; asking again for up to %lld s (resolve_wait_ms)\n", id.error().text.c_str(),
                     static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(give_up - now).count()));
        next_note = now + std::chrono::seconds(5);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  };
  auto seeds = endpoints::parse_seed_list(*list, patient);
  if (!seeds) return problem{c.seeds_file + ": " + seeds.error().text};
  c.seeds = std::move(seeds).value();
  return c;
}

// [connections] and [logs]: the same keys for seeds and peers, over the
// role's defaults.
result<void, problem> read_limits(const common_settings& cs, const std::string& path, node_limits& l) {
  if (const auto* t = cs.root["connections"].as_table()) {
    table_reader r(*t, "connections.", path);
    r.only({"first_frame_timeout_ms", "idle_timeout_ms", "connections_per_source_max", "unread_mb_max", "unread_stall_ms",
            "text_connections_per_source_max", "text_connections_max"})
        .milliseconds("first_frame_timeout_ms", 0, 86400000, l.first_frame_timeout)
        .milliseconds("idle_timeout_ms", 0, 86400000, l.idle_timeout)
        .integer("connections_per_source_max", 0, 1000000, l.connections_per_source_max)
        .integer("unread_mb_max", 1, 1 << 20, l.unread_mb_max)
        .milliseconds("unread_stall_ms", 1, 86400000, l.unread_stall)
        .integer("text_connections_per_source_max", 0, 1000000, l.text_connections_per_source_max)
        .integer("text_connections_max", 0, 1000000, l.text_connections_max);
    if (auto done = r.done(); !done) return done.error();
  }
  if (const auto* t = cs.root["logs"].as_table()) {
    table_reader r(*t, "logs.", path);
    r.only({"file_mb_max", "lines_per_second"})
        .integer("file_mb_max", 1, 1 << 20, l.log_file_mb_max)
        .number("lines_per_second", 0.1, 1e6, l.log_lines_per_second);
    if (auto done = r.done(); !done) return done.error();
  }
  return {};
}

}  // namespace

result<protocols::cluster_key, problem> load_cluster_key(const std::string& path) {
  const auto text = read_file(path);
  if (!text) return problem{"cluster key file " + text.error().text};
  auto k = protocols::parse_cluster_key(*text);
  if (!k) return problem{path + ": " + k.error().detail};
  return *k;
}

result<seed_settings, problem> load_seed_settings(const std::string& path) {
  auto common = load_common(path);
  if (!common) return common.error();
  const common_settings& cs = *common;
  seed_settings s;
  s.seeds_file = cs.seeds_file;
  s.data_dir = cs.data_dir;
  s.seed.seeds = cs.seeds;
  s.key = cs.key;
  s.replay_window = cs.replay_window;
  if (auto l = read_limits(cs, path, s.limits); !l) return l.error();
  if (const auto* t = cs.root["seed"].as_table()) {
    auto& c = s.seed;
    // Every default is seeds::seed_config's own (protocols/seeds/api.hpp).
    table_reader r(*t, "seed.", path);
    r.only({"heartbeat_ms", "election_timeout_min_ms", "election_timeout_max_ms", "forward_retry_ms", "report_window_ms",
            "pl_sample_max", "pending_max", "reporters_without_neighbours", "legacy_port", "rejoin_hold_ms",
            "declare_lease_ms", "watchers", "watch_retry_ms"})
        .milliseconds("heartbeat_ms", 1, 60000, c.heartbeat)
        .milliseconds("election_timeout_min_ms", 2, 600000, c.election_timeout_min)
        .milliseconds("election_timeout_max_ms", 2, 600000, c.election_timeout_max)
        .milliseconds("forward_retry_ms", 1, 600000, c.forward_retry)
        .milliseconds("report_window_ms", 1, 86400000, c.report_window)
        .milliseconds("rejoin_hold_ms", 0, 600000, c.rejoin_hold)
        .milliseconds("declare_lease_ms", 0, 86400000, c.declare_lease)
        .integer("watchers", 1, 64, c.watchers)
        .milliseconds("watch_retry_ms", 1, 600000, c.watch_retry)
        .integer("pl_sample_max", 1, static_cast<long long>(seeds::peers_per_reply_max), c.pl_sample_max)
        .integer("pending_max", 1, 1 << 20, c.pending_max)
        .integer("reporters_without_neighbours", 1, 1000, c.reporters_without_neighbours)
        .integer("legacy_port", 0, 65535, s.legacy_port);
    r.check(c.election_timeout_min > c.heartbeat && c.election_timeout_max >= c.election_timeout_min,
            "need heartbeat_ms < election_timeout_min_ms <= election_timeout_max_ms (got " +
                std::to_string(milliseconds_of(c.heartbeat)) + ", " + std::to_string(milliseconds_of(c.election_timeout_min)) +
                ", " + std::to_string(milliseconds_of(c.election_timeout_max)) + ")");
    if (auto done = r.done(); !done) return done.error();
  }
  return s;
}

result<peer_settings, problem> load_peer_settings(const std::string& path) {
  auto common = load_common(path);
  if (!common) return common.error();
  const common_settings& cs = *common;
  peer_settings s;
  s.seeds_file = cs.seeds_file;
  s.data_dir = cs.data_dir;
  s.key = cs.key;
  s.replay_window = cs.replay_window;
  if (auto l = read_limits(cs, path, s.limits); !l) return l.error();
  auto& c = s.peer;
  if (const auto* t = cs.root["peer"].as_table()) {
    // Every default is peers::peer_config's own (protocols/peers/api.hpp).
    table_reader r(*t, "peer.", path);
    r.only({"overlay", "attach", "degree_max", "degree_cap", "mode", "gossip_interval_ms", "gossip_count", "gossip_padding",
            "ping_interval_ms", "ping_misses", "probe_timeout_ms", "probers_min", "register_retry_ms", "ihave_timeout_ms",
            "declare_refresh_ms", "legacy"})
        .choice("overlay", peers::overlay_model_names, c.overlay)
        .choice("mode", peers::dissemination_names, c.mode)
        .integer("attach", 1, 64, c.attach)
        .integer("degree_max", 1, 1000, c.degree_max)
        .integer("degree_cap", 0, 100000, c.degree_cap)
        .milliseconds("gossip_interval_ms", 1, 86400000, c.gossip_interval)
        .integer("gossip_count", 0, 100000000, c.gossip_count)
        .integer("gossip_padding", 0, 16000, c.gossip_padding)
        .milliseconds("ping_interval_ms", 10, 86400000, c.ping_interval)
        .integer("ping_misses", 1, 100, c.ping_misses)
        .milliseconds("probe_timeout_ms", 1, 600000, c.probe_timeout)
        .integer("probers_min", 0, 64, c.probers_min)
        .milliseconds("register_retry_ms", 10, 600000, c.register_retry)
        .milliseconds("ihave_timeout_ms", 1, 600000, c.ihave_timeout)
        .milliseconds("declare_refresh_ms", 10, 86400000, c.declare_refresh)
        .boolean("legacy", s.legacy);
    r.check(c.probe_timeout * 2 < c.ping_interval, "peer.probe_timeout_ms must be under half of peer.ping_interval_ms");
    if (auto done = r.done(); !done) return done.error();
  }
  c.seeds = cs.seeds;
  return s;
}

}  // namespace confab::tools
