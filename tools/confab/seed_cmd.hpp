// `confab seed`: one seed node of the membership service, over TCP.
#pragma once

#include <string>

#include "engine/core/result.hpp"

namespace confab::tools {

struct seed_options {
  std::string config;  // TOML settings (docs/config.md)
  std::string listen;     // IP:PORT or NAME:PORT to bind; the identity unless --advertise
  std::string advertise;  // the identity others reach (one of the seed list's entries), when not --listen
  std::string backend = "auto";
  int legacy_port = -1;  // overrides the settings' seed.legacy_port when >= 0
  std::string metrics;   // IP:PORT for GET /metrics (tools/confab/metrics.hpp); empty: none
  std::string ordinal;   // K or "auto": the identity is the seed list's entry K (docs/launch.md)
};

// Serves until SIGINT/SIGTERM; returns the process exit code (2 for bad
// settings, 1 when it cannot start).
int run_seed_command(const seed_options& o);

// `confab seed-repair`: the operator's override for a learner that cannot
// repair itself (a majority of seeds damaged at once: no leader to repair
// from). With the seed stopped, it prints what the seed's files hold and
// what making it a voter again can lose; with `accept_loss` it does so
// (learner off, no vote in a term up to the current one). Exit 0 when the
// seed votes (already or now), 1 when it is a learner and `accept_loss` was
// not given, 2 for bad usage or a seed that is running.
struct seed_repair_options {
  std::string config;
  std::string listen;
  std::string advertise;
  std::string ordinal;
  bool accept_loss = false;
};
int run_seed_repair_command(const seed_repair_options& o);

// A launcher's ordinal: a number as given, or "auto": SLURM_PROCID when set,
// else the number after the last '-' of the host name (a StatefulSet pod:
// seeds-2). An error says which source was tried.
result<std::size_t, problem> parse_ordinal(const std::string& text);

}  // namespace confab::tools
