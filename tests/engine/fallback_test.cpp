// The run-time fallback, in fresh processes (engine_fallback_probe): where
// the kernel refuses io_uring (EPERM from a container's seccomp profile,
// ENOSYS), `auto` runs on epoll, says why, and serves; `uring` forced is an
// error; a resource error (EMFILE) stays an error instead of falling back.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

std::string probe_path() {
  std::array<char, 4096> buf{};
  ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  std::string self(buf.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
  return self.substr(0, self.rfind('/') + 1) + "engine_fallback_probe";
}

// Runs the probe; stdout and stderr together.
std::string run_probe(const std::string& mode, const std::string& choice) {
  std::string cmd = probe_path() + " " + mode + " " + choice + " 2>&1";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    std::array<char, 512> line{};
    while (std::fgets(line.data(), line.size(), p)) out += line.data();
    ::pclose(p);
  }
  return out;
}

bool has(const std::string& out, const std::string& what) { return out.find(what) != std::string::npos; }

#define CONFAB_SKIP_IF_NO_SECCOMP(out) \
  if (has(out, "seccomp unavailable")) GTEST_SKIP() << "this process may not install a seccomp filter: " << out

// The reactor runs on epoll, the log line gives `why`, and it serves.
void expect_serving_on_epoll(const std::string& out, const std::string& why) {
  EXPECT_TRUE(has(out, "create ok epoll")) << out;
  EXPECT_TRUE(has(out, "engine backend epoll (" + why + ")")) << out;
  EXPECT_TRUE(has(out, "echo ok")) << out;
}

TEST(fallback, io_uring_refused_with_eperm_runs_on_epoll_and_says_why) {
  auto out = run_probe("eperm", "auto");
  CONFAB_SKIP_IF_NO_SECCOMP(out);
  expect_serving_on_epoll(out, "fallback: io_uring_setup refused: Operation not permitted");
}

TEST(fallback, io_uring_missing_with_enosys_runs_on_epoll) {
  auto out = run_probe("enosys", "auto");
  CONFAB_SKIP_IF_NO_SECCOMP(out);
  expect_serving_on_epoll(out, "fallback: io_uring_setup refused: Function not implemented");
}

TEST(fallback, forcing_io_uring_where_it_is_refused_is_an_error) {
  auto out = run_probe("eperm", "uring");
  CONFAB_SKIP_IF_NO_SECCOMP(out);
  EXPECT_TRUE(has(out, "io_uring was forced but the kernel refused it (Operation not permitted)")) << out;
  EXPECT_FALSE(has(out, "create ok")) << out;
}

TEST(fallback, forcing_epoll_needs_no_probe_result) {
  auto out = run_probe("eperm", "epoll");
  CONFAB_SKIP_IF_NO_SECCOMP(out);
  expect_serving_on_epoll(out, "forced by --backend=epoll");
}

TEST(fallback, out_of_descriptors_stays_an_error_and_does_not_fall_back) {
  auto out = run_probe("emfile", "auto");
  EXPECT_TRUE(has(out, "create error:")) << out;
  EXPECT_FALSE(has(out, "create ok")) << out;
  EXPECT_FALSE(has(out, "fallback")) << out;
}

TEST(fallback, an_unrestricted_process_gets_io_uring) {
  auto out = run_probe("none", "auto");
  if (has(out, "create ok epoll")) GTEST_SKIP() << "this kernel refuses io_uring itself: " << out;
  EXPECT_TRUE(has(out, "create ok io_uring")) << out;
  EXPECT_TRUE(has(out, "echo ok")) << out;
}

}  // namespace
