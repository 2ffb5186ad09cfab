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

// A TCP port on 127.0.0.1 that was free a moment ago (bound, read, closed).
inline std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t l = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
  ::close(fd);
  return ntohs(a.sin_port);
}

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
