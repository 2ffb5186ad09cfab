#include "tools/confab/config.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

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
};

bool load_common(const std::string& path, common_settings& c, std::string& error) {
  const std::string text = read_file(path, error);
  if (!error.empty()) return false;
  if (!parse_toml(text, path, c.root, error)) return false;
  if (!only_known(c.root, "", {"seeds_file", "data_dir", "cluster_key_file", "seed", "peer"}, error, path)) return false;
  const auto base = std::filesystem::path(path).parent_path();
  if (auto f = c.root["seeds_file"].value<std::string>()) {
    c.seeds_file = (base / *f).string();
  } else {
    error = path + ": seeds_file (the seed list, one IP:PORT per line) is required";
    return false;
  }
  if (auto d = c.root["data_dir"].value<std::string>()) c.data_dir = (base / *d).string();
  else c.data_dir = base.empty() ? "." : base.string();
  if (auto k = c.root["cluster_key_file"].value<std::string>()) {
    c.key = load_cluster_key((base / *k).string(), error);
    if (!c.key) return false;
  }
  for (const char* table : {"seed", "peer"})
    if (c.root.get(table) && !c.root[table].as_table()) {
      error = path + ": [" + table + "] must be a table";
      return false;
    }
  std::string list_error;
  const std::string list = read_file(c.seeds_file, list_error);
  if (!list_error.empty()) {
    error = path + ": seeds_file " + list_error;
    return false;
  }
  auto seeds = endpoints::parse_seed_list(list);
  if (!seeds.error_text.empty()) {
    error = c.seeds_file + ": " + seeds.error_text;
    return false;
  }
  c.seeds = std::move(seeds.seeds);
  return true;
}

}  // namespace

std::optional<protocols::cluster_key> load_cluster_key(const std::string& path, std::string& error) {
  std::string e;
  const std::string text = read_file(path, e);
  if (!e.empty()) {
    error = "cluster key file " + e;
    return std::nullopt;
  }
  auto k = protocols::parse_cluster_key(text);
  if (!k) {
    error = path + ": " + k.error().detail;
    return std::nullopt;
  }
  return *k;
}

seed_settings load_seed_settings(const std::string& path) {
  seed_settings s;
  common_settings cs;
  if (!load_common(path, cs, s.error)) return s;
  s.seeds_file = cs.seeds_file;
  s.data_dir = cs.data_dir;
  s.seed.seeds = cs.seeds;
  s.key = cs.key;
  const toml::table& root = cs.root;
  if (const auto* t = root["seed"].as_table()) {
    if (!only_known(*t, "seed.",
                    {"heartbeat_ms", "election_timeout_min_ms", "election_timeout_max_ms", "forward_retry_ms",
                     "report_window_ms", "pl_sample_max", "pending_max", "reporters_without_neighbours", "legacy_port",
                     "legacy_min_reporters"},
                    s.error, path))
      return s;
    auto& c = s.seed;
    // Every default is seeds::seed_config's own (protocols/seeds/api.hpp).
    long long hb = milliseconds_of(c.heartbeat), emin = milliseconds_of(c.election_timeout_min),
              emax = milliseconds_of(c.election_timeout_max), fr = milliseconds_of(c.forward_retry),
              rw = milliseconds_of(c.report_window);
    if (!integer(*t, "seed.", "heartbeat_ms", 1, 60000, hb, s.error, path) ||
        !integer(*t, "seed.", "election_timeout_min_ms", 2, 600000, emin, s.error, path) ||
        !integer(*t, "seed.", "election_timeout_max_ms", 2, 600000, emax, s.error, path) ||
        !integer(*t, "seed.", "forward_retry_ms", 1, 600000, fr, s.error, path) ||
        !integer(*t, "seed.", "report_window_ms", 1, 86400000, rw, s.error, path) ||
        !integer(*t, "seed.", "pl_sample_max", 1, static_cast<long long>(seeds::max_peers_per_reply), c.pl_sample_max,
                 s.error, path) ||
        !integer(*t, "seed.", "pending_max", 1, 1 << 20, c.pending_max, s.error, path) ||
        !integer(*t, "seed.", "reporters_without_neighbours", 1, 1000, c.reporters_without_neighbours, s.error, path) ||
        !integer(*t, "seed.", "legacy_port", 0, 65535, s.legacy_port, s.error, path) ||
        !integer(*t, "seed.", "legacy_min_reporters", 1, 1000, s.legacy_min_reporters, s.error, path))
      return s;
    if (emin <= hb || emax < emin) {
      s.error = path + ": need heartbeat_ms < election_timeout_min_ms <= election_timeout_max_ms (got " +
                std::to_string(hb) + ", " + std::to_string(emin) + ", " + std::to_string(emax) + ")";
      return s;
    }
    c.heartbeat = std::chrono::milliseconds(hb);
    c.election_timeout_min = std::chrono::milliseconds(emin);
    c.election_timeout_max = std::chrono::milliseconds(emax);
    c.forward_retry = std::chrono::milliseconds(fr);
    c.report_window = std::chrono::milliseconds(rw);
  }
  return s;
}

namespace {
bool text_choice(const toml::table& t, const char* key, std::initializer_list<const char*> choices, std::string& out,
                 std::string& error, const std::string& file) {
  const auto* node = t.get(key);
  if (!node) return true;
  auto v = node->value<std::string>();
  if (!v) {
    error = file + ": peer." + key + " must be a string";
    return false;
  }
  for (const char* c : choices)
    if (*v == c) {
      out = *v;
      return true;
    }
  std::string list;
  for (const char* c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
  error = file + ": peer." + key + " = '" + *v + "' is not one of: " + list;
  return false;
}
}  // namespace

peer_settings load_peer_settings(const std::string& path) {
  peer_settings s;
  common_settings cs;
  if (!load_common(path, cs, s.error)) return s;
  s.seeds_file = cs.seeds_file;
  s.data_dir = cs.data_dir;
  s.key = cs.key;
  const toml::table& root = cs.root;
  auto& c = s.peer;
  if (const auto* t = root["peer"].as_table()) {
    if (!only_known(*t, "peer.",
                    {"overlay", "attach", "degree_max", "mode", "gossip_interval_ms", "gossip_count", "gossip_padding",
                     "ping_interval_ms", "ping_misses", "probe_timeout_ms", "probers_min", "register_retry_ms",
                     "ihave_timeout_ms", "legacy"},
                    s.error, path))
      return s;
    std::string overlay = "preferential", mode = "flood";
    // Every default is peers::peer_config's own (protocols/peers/api.hpp).
    long long gi = milliseconds_of(c.gossip_interval), pi = milliseconds_of(c.ping_interval),
              pt = milliseconds_of(c.probe_timeout), rr = milliseconds_of(c.register_retry),
              ih = milliseconds_of(c.ihave_timeout);
    if (!text_choice(*t, "overlay", {"preferential", "exponential"}, overlay, s.error, path) ||
        !text_choice(*t, "mode", {"flood", "plumtree"}, mode, s.error, path) ||
        !integer(*t, "peer.", "attach", 1, 64, c.attach, s.error, path) ||
        !integer(*t, "peer.", "degree_max", 1, 1000, c.degree_max, s.error, path) ||
        !integer(*t, "peer.", "gossip_interval_ms", 1, 86400000, gi, s.error, path) ||
        !integer(*t, "peer.", "gossip_count", 0, 100000000, c.gossip_count, s.error, path) ||
        !integer(*t, "peer.", "gossip_padding", 0, 16000, c.gossip_padding, s.error, path) ||
        !integer(*t, "peer.", "ping_interval_ms", 10, 86400000, pi, s.error, path) ||
        !integer(*t, "peer.", "ping_misses", 1, 100, c.ping_misses, s.error, path) ||
        !integer(*t, "peer.", "probe_timeout_ms", 1, 600000, pt, s.error, path) ||
        !integer(*t, "peer.", "probers_min", 0, 64, c.probers_min, s.error, path) ||
        !integer(*t, "peer.", "register_retry_ms", 10, 600000, rr, s.error, path) ||
        !integer(*t, "peer.", "ihave_timeout_ms", 1, 600000, ih, s.error, path))
      return s;
    if (const auto* lg = t->get("legacy")) {
      auto b = lg->value<bool>();
      if (!b || !lg->is_boolean()) {
        s.error = path + ": peer.legacy must be true or false";
        return s;
      }
      s.legacy = *b;
    }
    c.overlay = overlay == "exponential" ? peers::overlay_model::exponential : peers::overlay_model::preferential;
    c.mode = mode == "plumtree" ? peers::dissemination::plumtree : peers::dissemination::flood;
    c.gossip_interval = std::chrono::milliseconds(gi);
    c.ping_interval = std::chrono::milliseconds(pi);
    c.probe_timeout = std::chrono::milliseconds(pt);
    c.register_retry = std::chrono::milliseconds(rr);
    c.ihave_timeout = std::chrono::milliseconds(ih);
    if (c.probe_timeout * 2 >= c.ping_interval) {
      s.error = path + ": peer.probe_timeout_ms must be under half of peer.ping_interval_ms";
      return s;
    }
  }
  c.seeds = cs.seeds;
  return s;
}

}  // namespace confab::tools
