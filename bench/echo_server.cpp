// Echo server for the side-by-side benchmark (bench/echo_compare.py).
//
//   echo_server --impl confab --backend uring|epoll --port P [--batch-wait-us N] [--direct 0|1]
//   echo_server --impl asio --port P
//   echo_server --impl asio-uring|raw-uring --port P   (runs echo_server_asio_uring / echo_server_raw_uring)
//
// `confab` is the engine's server; `asio` is a conventional Boost.Asio echo
// server (one io_context, one thread, async_read_some into a per-connection
// buffer, then async_write), written as Asio's own examples do. Both run on
// one thread until SIGTERM or SIGINT. Prints "ready PORT" once listening.
#include <signal.h>
#include <sys/signalfd.h>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "engine/core/scope.hpp"
#include "engine/io/operation.hpp"
#include "engine/net/echo.hpp"

#include "bench/asio_echo.hpp"

namespace {

// ---- the confab server

using namespace confab;

task<void> wait_signal(io::reactor& r, int sfd) {
  io::fd_handle h{sfd};
  r.io().attach(h);
  signalfd_siginfo si{};
  (void)co_await io::io_operation(r, std::nullopt, {}, [&](io::backend& b, io::completion* c, io::linked_deadline*) {
    b.read(c, h, &si, sizeof si);
  });
  r.io().detach(h);
  r.request_drain();
}

task<void> serve(io::reactor& r, unsigned short port, int sfd, bool direct) {
  net::listen_options lo;
  lo.connection.direct = direct;
  auto l = net::listener::bind(r, net::address::loopback(port), lo);
  if (!l) {
    std::fprintf(stderr, "echo_server: %s\n", l.error().message().c_str());
    co_return;
  }
  std::printf("ready %u\n", (*l)->local().port());
  std::fflush(stdout);
  task_scope sessions, bg;
  bg.spawn(wait_signal(r, sfd));
  auto drain = r.drain_token();
  co_await net::accept_into(**l, drain, sessions, net::echo_session);
  co_await sessions.join();
  co_await bg.join();
}

int run_confab(unsigned short port, io::backend_choice b, unsigned batch_wait_us, bool direct) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  io::reactor_options ro;
  ro.backend = b;
  ro.io.batch_wait_us = batch_wait_us;
  if (direct) ro.io.direct_descriptors = 16384;
  auto r = io::reactor::create(ro);
  if (!r) {
    std::fprintf(stderr, "echo_server: %s\n", r.error().message().c_str());
    return 1;
  }
  (*r)->run(serve(**r, port, sfd, direct));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string impl = "confab", backend = "uring";
  unsigned short port = 0;
  unsigned batch_wait_us = io::backend_options{}.batch_wait_us;
  bool direct = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--impl") impl = v;
    else if (k == "--backend") backend = v;
    else if (k == "--port") port = static_cast<unsigned short>(std::stoi(v));
    else if (k == "--batch-wait-us") batch_wait_us = static_cast<unsigned>(std::stoul(v));
    else if (k == "--direct") direct = v == "1";
    else {
      std::fprintf(stderr, "echo_server: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (impl == "asio") return bench::run_asio_echo(port);
  if (impl == "asio-uring" || impl == "raw-uring") {
    // Separate programs: Asio's io_uring backend is a compile-time choice
    // (and must not share a program with the engine's Asio), and the raw
    // server uses no framework at all.
    std::string self = argv[0];
    const auto slash = self.rfind('/');
    const std::string path = (slash == std::string::npos ? std::string() : self.substr(0, slash + 1)) +
                             (impl == "asio-uring" ? "echo_server_asio_uring" : "echo_server_raw_uring");
    const std::string p = std::to_string(port);
    execl(path.c_str(), path.c_str(), "--port", p.c_str(), static_cast<char*>(nullptr));
    std::fprintf(stderr, "echo_server: cannot run %s: %s\n", path.c_str(), std::strerror(errno));
    return 1;
  }
  io::backend_choice b;
  if (impl != "confab" || !io::parse_backend_choice(backend, b)) {
    std::fprintf(stderr, "echo_server: --impl confab|asio|asio-uring|raw-uring, --backend uring|epoll\n");
    return 2;
  }
  return run_confab(port, b, batch_wait_us, direct);
}
