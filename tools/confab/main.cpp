// The `confab` command.
//
//   confab demo [--backend auto|uring|epoll] [--connections N] [--bytes N] [--duration-ms N]
//   confab exact table1|bounds|recover [--topology T] [--seed S] [--runs R] [--json]
//   confab seed --config seed.toml --listen IP:PORT
//
// Unknown options and impossible values get a one-line error naming them and
// exit code 2, before anything starts.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "tools/confab/demo.hpp"
#include "tools/confab/exact_cmd.hpp"
#include "tools/confab/seed_cmd.hpp"

int main(int argc, char** argv) {
  CLI::App app{"confab: a networking engine for consensus and gossip systems"};
  app.require_subcommand(1);
  std::string backend = "auto";
  confab::tools::demo_options demo;
  auto* d = app.add_subcommand("demo", "echo load over loopback that prints the engine's own figures");
  d->add_option("--backend", backend, "auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  d->add_option("--connections", demo.connections, "concurrent connections")->check(CLI::Range(1u, 5000u));
  d->add_option("--bytes", demo.message_bytes, "message size in bytes")->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  d->add_option("--duration-ms", demo.duration_ms, "how long the load runs")->check(CLI::Range(100u, 600000u));
  confab::tools::exact_options exact;
  auto* e = app.add_subcommand("exact", "exact consensus: the paper's tables, bounds and recoveries");
  e->add_option("what", exact.what, "table1 | table2 | table3 | table4 | bounds | recover")
      ->required()
      ->check(CLI::IsMember({"table1", "table2", "table3", "table4", "bounds", "recover"}));
  e->add_option("--topology", exact.topology, "ring:N, torus:RxC, petersen, hypercube:D, complete:N, regular:NxD, er:NxP, ba:NxM, file:PATH");
  e->add_option("--compromised", exact.compromised, "comma-separated compromised nodes");
  e->add_option("--seed", exact.seed, "seed for weights and states");
  e->add_option("--runs", exact.runs, "timed runs")->check(CLI::Range(1, 10000000));
  e->add_option("--node", exact.node, "observing node (recover)");
  e->add_flag("--json", exact.json, "print JSON");
  confab::tools::seed_options seed;
  auto* sd = app.add_subcommand("seed", "one seed of the membership service (replicated peer list)");
  sd->add_option("--config", seed.config, "TOML settings (docs/config.md)")->required();
  sd->add_option("--listen", seed.listen, "IP:PORT, one of the seed list's entries")->required();
  sd->add_option("--backend", seed.backend, "auto, uring or epoll")->check(CLI::IsMember({"auto", "uring", "epoll"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (e->parsed()) return confab::tools::run_exact_command(exact);
  if (sd->parsed()) return confab::tools::run_seed_command(seed);
  if (d->parsed()) {
    confab::io::parse_backend_choice(backend, demo.backend);
    return confab::tools::run_demo_command(demo);
  }
  return 2;
}
