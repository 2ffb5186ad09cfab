// Test helpers: a reactor per backend, skipping honestly where the kernel
// refuses io_uring.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>

#include "engine/io/reactor.hpp"

namespace confab::testing {

inline std::string backend_param_name(const ::testing::TestParamInfo<io::backend_choice>& i) {
  return i.param == io::backend_choice::uring ? "uring" : "epoll";
}

// A reactor for the test's backend, or GTEST_SKIP when it is refused here.
#define CONFAB_MAKE_REACTOR(var, choice, ...)                                                  \
  std::unique_ptr<confab::io::reactor> var;                                                    \
  {                                                                                            \
    confab::io::reactor_options ro_{__VA_ARGS__};                                              \
    ro_.backend = (choice);                                                                    \
    auto r_ = confab::io::reactor::create(ro_);                                                \
    if (!r_ && (choice) == confab::io::backend_choice::uring &&                                \
        r_.code() == confab::errc::unsupported) {                                              \
      GTEST_SKIP() << "io_uring refused by this kernel: " << r_.error().message();             \
    }                                                                                          \
    ASSERT_TRUE(r_) << r_.error().message();                                                   \
    var = std::move(r_).value();                                                               \
  }

// `n` consecutive TCP ports, all free on every address a moment ago,
// drawn below the kernel's ephemeral range (32768 and up) so that no
// outgoing connection of this or another test can take one of them
// between this check and the caller's bind. A listener that binds
// 0.0.0.0:P conflicts with any socket holding P, so each port is tried on
// INADDR_ANY, the way the fabric binds it.
inline std::uint16_t free_port_block(unsigned n) {
  static unsigned salt = static_cast<unsigned>(::getpid()) * 2654435761u;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    salt = salt * 1103515245u + 12345u;
    const auto base = static_cast<std::uint16_t>(20000 + (salt >> 8) % (32000 - 20000 - n));
    bool all = true;
    for (unsigned i = 0; i < n && all; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_ANY);
      a.sin_port = htons(static_cast<std::uint16_t>(base + i));
      all = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
    }
    if (all) return base;
  }
  ADD_FAILURE() << "no block of " << n << " free ports below 32000";
  return 0;
}

// One TCP port, free a moment ago (see free_port_block).
inline std::uint16_t free_port() { return free_port_block(1); }

// Counts live instances, to catch leaked or doubly destroyed frames.
struct counted {
  static inline std::atomic<long> live{0};
  static inline std::atomic<long> constructed{0};
  counted() { ++live; ++constructed; }
  counted(const counted&) { ++live; ++constructed; }
  counted(counted&&) noexcept { ++live; ++constructed; }
  counted& operator=(const counted&) = default;
  ~counted() { --live; }
};

}  // namespace confab::testing
