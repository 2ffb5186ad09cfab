// The `confab` command.
//
//   confab demo [--backend auto|uring|epoll] [--connections N] [--bytes N] [--duration-ms N]
//
// Unknown options and impossible values get a one-line error naming them and
// exit code 2, before anything starts.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "tools/confab/demo.hpp"

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (d->parsed()) {
    confab::io::parse_backend_choice(backend, demo.backend);
    return confab::tools::run_demo_command(demo);
  }
  return 2;
}
