// confab engine: TCP listeners with multishot accept.
//
// One multishot accept per listener; accepted descriptors wait in a bounded
// queue until `accept()` takes them (the accept is paused, not the queue
// grown, when nobody takes them). With `reuse_port`, each reactor thread
// binds its own listener on the same address and the kernel spreads
// connections across them.
//
//   auto l = listener::bind(r, address::loopback(7000), {.reuse_port = true});
//   while (auto c = co_await (*l)->accept(stop)) scope.spawn(serve(std::move(*c)));
//
// `accept` fails with `cancelled` when its token triggers, `resource` when
// the process is out of descriptors (the listener stays usable: retry after
// freeing some). `close()` cancels the accept and waits for its final
// completion before closing; queued descriptors are closed.
//
// Thread: the reactor that bound it.
#pragma once

#include <coroutine>
#include <memory>
#include <optional>
#include <string>
#include <stop_token>
#include <vector>

#include "engine/net/connection.hpp"

namespace confab::net {

struct listen_options {
  int backlog = 4096;
  bool reuse_port = false;
  std::size_t queue_max = 1024;  // accepted descriptors waiting for accept()
  // SO_BINDTODEVICE: accept only what arrives on this interface ("lo":
  // a wildcard address that serves loopback alone).
  std::string device;
  connection_options connection;
};

class listener {
 public:
  static result<std::unique_ptr<listener>> bind(io::reactor& r, const address& at, const listen_options& o = {});
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  address local() const;
  int fd() const noexcept { return h_.fd; }

  struct accept_awaiter {
    listener* l;
    std::stop_token st;
    std::coroutine_handle<> h{};
    struct canceller {
      accept_awaiter* self;
      void operator()() const noexcept;
    };
    std::optional<std::stop_callback<canceller>> cb;
    bool await_ready() const noexcept { return l->ready() || st.stop_requested(); }
    void await_suspend(std::coroutine_handle<> awaiting);
    result<std::unique_ptr<connection>> await_resume() noexcept;
  };

  // ## accept
  accept_awaiter accept(std::stop_token st = {}) noexcept { return accept_awaiter{this, std::move(st)}; }

  // Takes an accepted descriptor without wrapping it (for routers that hand
  // descriptors to other owners). -1 when none is queued.
  int take_fd() noexcept;

  task<void> close();

 private:
  listener(io::reactor& r, int fd, const listen_options& o);
  struct slot : io::completion {
    listener* self = nullptr;
  };
  static void on_accept(io::completion* c, std::int32_t res, std::uint32_t flags) noexcept;
  bool ready() const noexcept { return !fds_.empty() || error_.code != errc::ok || closed_; }
  void arm() noexcept;

  io::reactor& r_;
  io::fd_handle h_;
  listen_options opts_;
  slot slot_{};
  std::vector<int> fds_;
  std::size_t fds_head_ = 0;
  bool armed_ = false;
  bool paused_ = false;
  bool closed_ = false;
  error error_{errc::ok};
  accept_awaiter* waiter_ = nullptr;
  std::coroutine_handle<> close_waiter_{};
};

}  // namespace confab::net
