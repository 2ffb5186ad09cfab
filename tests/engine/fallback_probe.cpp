// Helper for fallback_test: a fresh process (the backend probe runs once per
// process) that makes the kernel refuse io_uring the way containers do, then
// creates a reactor and, when it gets one, echoes a message over loopback.
//
//   engine_fallback_probe MODE CHOICE
//     MODE    none    leave the kernel alone
//             eperm   seccomp: io_uring_setup/enter/register fail with EPERM
//                     (Docker's and containerd's default profiles)
//             enosys  the same with ENOSYS (a kernel built without io_uring)
//             emfile  RLIMIT_NOFILE leaves no descriptor free (a resource
//                     error, which must stay an error)
//     CHOICE  auto | uring | epoll
//
// Prints "create ok BACKEND" and "echo ok" or "echo failed: ...", or
// "create error: MESSAGE". The engine's own log line goes to stderr.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/core/scope.hpp"
#include "engine/net/echo.hpp"

using namespace confab;

namespace {

bool refuse_io_uring(int err) {
  sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(err) & SECCOMP_RET_DATA)),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

task<std::string> echo_once(io::reactor& r) {
  auto l = net::listener::bind(r, net::address::loopback(0));
  if (!l) co_return "listen: " + l.error().message();
  std::stop_source stop;
  task_scope sessions, acceptor;
  acceptor.spawn(net::accept_into(**l, stop.get_token(), sessions, net::echo_session));
  std::string out;
  auto c = co_await net::connect(r, (*l)->local());
  if (!c) {
    out = "connect: " + c.error().message();
  } else {
    const char msg[] = "ping";
    auto sent = co_await (*c)->send(std::as_bytes(std::span(msg, 4)));
    while (sent && out.size() < 4) {
      auto got = co_await (*c)->receive();
      if (!got) break;
      for (std::byte b : got->bytes()) out.push_back(static_cast<char>(b));
    }
    co_await (*c)->close();
  }
  stop.request_stop();
  co_await acceptor.join();
  co_await sessions.join();
  co_return out == "ping" ? std::string("ok") : "failed: got '" + out + "'";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: engine_fallback_probe none|eperm|enosys|emfile auto|uring|epoll\n");
    return 2;
  }
  const std::string_view mode = argv[1];
  io::reactor_options ro;
  if (!io::parse_backend_choice(argv[2], ro.backend)) {
    std::fprintf(stderr, "engine_fallback_probe: unknown backend choice %s\n", argv[2]);
    return 2;
  }
  rlimit saved{};
  ::getrlimit(RLIMIT_NOFILE, &saved);
  if (mode == "eperm" || mode == "enosys") {
    if (!refuse_io_uring(mode == "eperm" ? EPERM : ENOSYS)) {
      std::printf("seccomp unavailable: %s\n", std::strerror(errno));
      return 3;
    }
  } else if (mode == "emfile") {
    rlimit none = saved;
    none.rlim_cur = 3;  // stdin, stdout, stderr: no descriptor left
    ::setrlimit(RLIMIT_NOFILE, &none);
  } else if (mode != "none") {
    std::fprintf(stderr, "engine_fallback_probe: unknown mode %s\n", argv[1]);
    return 2;
  }
  auto r = io::reactor::create(ro);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  if (!r) {
    std::printf("create error: %s\n", r.error().message().c_str());
    return 0;
  }
  std::printf("create ok %s\n", io::backend_name((*r)->kind()));
  std::fflush(stdout);
  std::printf("echo %s\n", (*r)->run(echo_once(**r)).c_str());
  return 0;
}
