#include "tools/confab/vote_cmd.hpp"

#include <cstdio>

#include "engine/host/line_host.hpp"
#include "engine/io/runtime.hpp"
#include "protocols/voting/node.hpp"
#include "tools/confab/config.hpp"
#include "tools/confab/node_cmd.hpp"

namespace confab::tools {

int run_vote_server_command(const vote_server_options& o) {
  auto at = net::address::parse(o.listen);
  if (!at) {
    std::fprintf(stderr, "confab vote-server: --listen '%s': %s\n", o.listen.c_str(), at.error().message().c_str());
    return 2;
  }
  std::optional<net::address> native_at;
  if (!o.native_listen.empty()) {
    auto n = net::address::parse(o.native_listen);
    if (!n) {
      std::fprintf(stderr, "confab vote-server: --native-listen '%s': %s\n", o.native_listen.c_str(),
                   n.error().message().c_str());
      return 2;
    }
    native_at = *n;
  }
  std::optional<protocols::cluster_key> key;
  if (!o.key_file.empty()) {
    auto k = load_cluster_key(o.key_file);
    if (!k) {
      std::fprintf(stderr, "confab vote-server: --key-file: %s\n", k.error().text.c_str());
      return 2;
    }
    key = *k;
  }
  if (o.riddle.empty() || o.answer.empty() || o.question.empty()) {
    std::fprintf(stderr, "confab vote-server: --riddle, --answer and --question must not be empty\n");
    return 2;
  }
  for (const auto* t : {&o.riddle, &o.question})
    if (t->size() > voting::text_bytes_max) {
      std::fprintf(stderr, "confab vote-server: '%s...' is over %zu bytes\n", t->substr(0, 32).c_str(),
                   voting::text_bytes_max);
      return 2;
    }
  io::runtime rt(node_runtime(o.backend));
  int exit_code = 0;
  auto ran = rt.run([&](io::runtime&, io::reactor& r, unsigned) -> task<void> {
    host::line_host* hp = nullptr;
    voting::server_config cfg;
    cfg.legacy = {.riddle = o.riddle, .answer = o.answer, .question = o.question};
    cfg.native = {.key = key, .riddle_answer = o.answer};
    cfg.log = [](const std::string& l) { std::fprintf(stderr, "confab vote-server: %s\n", l.c_str()); };
    cfg.on_serving = [&hp] {
      for (std::size_t i = 0; i < hp->bound().size(); ++i)
        std::printf("confab vote-server: serving %s (%s)\n", hp->bound()[i].to_string().c_str(),
                    i == voting::legacy_listener ? "the document's dialect" : "the native dialect");
      std::fflush(stdout);
    };
    host::line_options lo;
    lo.listen = {*at};
    if (native_at) lo.listen.push_back(*native_at);
    lo.line_bytes_max = o.line_bytes_max;
    lo.idle_timeout = std::chrono::milliseconds(o.idle_timeout_ms);
    lo.connections_max = o.connections_max;
    lo.connections_per_source_max = o.connections_per_source_max;
    lo.log = cfg.log;
    host::line_host h(r, std::make_unique<voting::vote_server>(std::move(cfg)), std::move(lo));
    hp = &h;
    auto ok = co_await h.run(r.drain_token());
    if (!ok) {
      std::fprintf(stderr, "confab vote-server: cannot serve %s: %s\n", o.listen.c_str(), ok.error().message().c_str());
      exit_code = 1;
      r.request_drain();
      co_return;
    }
    const auto& s = static_cast<const voting::vote_server&>(h.get()).stats();
    std::printf("confab vote-server: stopped; %llu clients, %llu lines, %llu votes, %llu polls decided\n",
                static_cast<unsigned long long>(s.clients_opened), static_cast<unsigned long long>(s.lines),
                static_cast<unsigned long long>(s.votes), static_cast<unsigned long long>(s.polls_decided));
  });
  if (!ran) {
    std::fprintf(stderr, "confab vote-server: %s\n", ran.error().message().c_str());
    return 1;
  }
  return exit_code;
}

}  // namespace confab::tools
