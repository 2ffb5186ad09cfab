#include "tools/confab/config.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "protocols/common/endpoints.hpp"

namespace confab::tools {

namespace {

std::string read_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot be read";
    return {};
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Reads an integer key in [lo, hi] into `out` (left as is when absent).
template <class T>
bool integer(const toml::table& t, const std::string& table, const char* key, long long lo, long long hi, T& out,
             std::string& error, const std::string& file) {
  const auto* node = t.get(key);
  if (!node) return true;
  const auto v = node->value<long long>();
  if (!v || !node->is_integer()) {
    error = file + ": " + table + key + " must be an integer";
    return false;
  }
  if (*v < lo || *v > hi) {
    error = file + ": " + table + key + " = " + std::to_string(*v) + " is outside " + std::to_string(lo) + ".." +
            std::to_string(hi);
    return false;
  }
  out = static_cast<T>(*v);
  return true;
}

bool only_known(const toml::table& t, const std::string& table, std::initializer_list<const char*> known,
                std::string& error, const std::string& file) {
  std::set<std::string> k(known.begin(), known.end());
  for (auto&& [key, node] : t) {
    if (!k.count(std::string(key.str()))) {
      error = file + ": unknown key '" + table + std::string(key.str()) + "'";
      return false;
    }
  }
  return true;
}

}  // namespace

seed_settings load_seed_settings(const std::string& path) {
  seed_settings s;
  const std::string text = read_file(path, s.error);
  if (!s.error.empty()) return s;
  // Debian's toml++ is built with exceptions; they stop here and become a
  // value naming the line and column.
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    s.error = path + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) + ": " +
              std::string(e.description());
    return s;
  }
  if (!only_known(root, "", {"seeds_file", "data_dir", "seed"}, s.error, path)) return s;
  const auto base = std::filesystem::path(path).parent_path();
  if (auto f = root["seeds_file"].value<std::string>()) {
    s.seeds_file = (base / *f).string();
  } else {
    s.error = path + ": seeds_file (the seed list, one IP:PORT per line) is required";
    return s;
  }
  if (auto d = root["data_dir"].value<std::string>()) s.data_dir = (base / *d).string();
  else s.data_dir = base.empty() ? "." : base.string();
  if (const auto* t = root["seed"].as_table()) {
    if (!only_known(*t, "seed.",
                    {"heartbeat_ms", "election_timeout_min_ms", "election_timeout_max_ms", "forward_retry_ms",
                     "report_window_ms", "pl_sample_max", "pending_max", "reporters_without_neighbours", "legacy_port",
                     "legacy_min_reporters"},
                    s.error, path))
      return s;
    long long hb = 50, emin = 300, emax = 600, fr = 500, rw = 60000;
    auto& c = s.seed;
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
  } else if (root.get("seed")) {
    s.error = path + ": [seed] must be a table";
    return s;
  }
  std::string list_error;
  const std::string list = read_file(s.seeds_file, list_error);
  if (!list_error.empty()) {
    s.error = path + ": seeds_file " + list_error;
    return s;
  }
  auto seeds = endpoints::parse_seed_list(list);
  if (!seeds.error_text.empty()) {
    s.error = s.seeds_file + ": " + seeds.error_text;
    return s;
  }
  s.seed.seeds = std::move(seeds.seeds);
  return s;
}

}  // namespace confab::tools
