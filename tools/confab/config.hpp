// confab tools: the TOML settings files of `confab seed` and `confab peer`.
//
// One file holds every setting with documented defaults (docs/config.md);
// the seed list stays in the documents' format in its own file, named by
// `seeds_file` (relative to the TOML file's folder). Unknown keys, wrong
// types and impossible values are errors naming the file, the key and what
// was wrong, before anything starts.
//
//   auto c = tools::load_seed_settings("seed.toml");   // result<seed_settings, problem>
//   if (!c) { fprintf(stderr, "%s\n", c.error().text.c_str()); return 2; }
#pragma once

#include <chrono>

#include <string>

#include <optional>

#include "protocols/common/auth.hpp"
#include "protocols/peers/api.hpp"
#include "protocols/seeds/api.hpp"

namespace confab::tools {

// What a node holds for, and writes because of, other people: the
// [connections] and [logs] tables (docs/config.md). Defaults differ by role
// where noted.
struct node_limits {
  std::chrono::milliseconds first_frame_timeout{10000};
  std::chrono::milliseconds idle_timeout{0};  // seeds: 300 s; peers: off (their links carry pings)
  std::size_t connections_per_source_max = 0;
  std::size_t text_connections_per_source_max = 64;  // the legacy text ports
  std::size_t text_connections_max = 1024;
  std::size_t unread_mb_max = 64;
  std::chrono::milliseconds unread_stall{10000};
  std::size_t log_file_mb_max = 64;
  double log_lines_per_second = 20;
};

struct seed_settings {
  seeds::seed_config seed;
  std::string seeds_file;  // resolved path
  std::string data_dir = ".";
  std::uint16_t legacy_port = 0;  // 0: the legacy text dialect is off
  node_limits limits{.idle_timeout = std::chrono::milliseconds(300000)};
  std::optional<protocols::cluster_key> key;  // from cluster_key_file
  std::chrono::milliseconds replay_window{60000};  // protocols/common/auth.hpp
};

result<seed_settings, problem> load_seed_settings(const std::string& path);

struct peer_settings {
  peers::peer_config peer;
  bool legacy = false;  // speak the original implementation's text dialect
  node_limits limits;
  std::string seeds_file;
  std::string data_dir = ".";
  std::optional<protocols::cluster_key> key;
  std::chrono::milliseconds replay_window{60000};
};

// A cluster key file: 64 hexadecimal digits. An error names the file.
result<protocols::cluster_key, problem> load_cluster_key(const std::string& path);

// The same file may hold [seed] and [peer] tables; each command reads its own.
result<peer_settings, problem> load_peer_settings(const std::string& path);

}  // namespace confab::tools
