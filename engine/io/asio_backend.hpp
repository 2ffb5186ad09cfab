// confab engine: the Boost.Asio (epoll) backend (internal).
//
// Used where io_uring is refused. It emulates the io_uring primitives on
// Asio's reactor: readiness waits on `posix::stream_descriptor`, then
// non-blocking syscalls; multishot accept and receive re-arm their wait after
// each event, receives go into a pool of buffers taken only when data is
// ready, so an idle connection holds no receive buffer here either.
// Operations that complete at once are queued and dispatched in the next
// turn, never inside the call that started them.
#pragma once

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/io/backend.hpp"

namespace confab::io {

class asio_backend final : public backend {
 public:
  static result<std::unique_ptr<asio_backend>> create(const backend_options& o, std::string reason);
  ~asio_backend() override;

  backend_kind kind() const noexcept override { return backend_kind::epoll; }
  const backend_info& info() const noexcept override { return info_; }
  void attach(fd_handle& h) override;
  void detach(fd_handle& h) override;

  void timeout_at(completion* c, clock::time_point at) override;
  void connect(completion* c, fd_handle& h, const sockaddr* a, socklen_t len,
               linked_deadline* d) override;
  void send(completion* c, fd_handle& h, const void* data, std::size_t len,
            linked_deadline* d) override;
  void recv(completion* c, fd_handle& h, void* data, std::size_t len,
            linked_deadline* d) override;
  void read(completion* c, fd_handle& h, void* data, std::size_t len) override;
  void accept_multishot(completion* c, fd_handle& h) override;
  void recv_multishot(completion* c, fd_handle& h) override;
  void cancel(completion* c) override;

  std::span<std::byte> buffer(std::uint16_t id) noexcept override;
  void release_buffer(std::uint16_t id) noexcept override;
  std::size_t buffers_free() const noexcept override { return free_.size(); }
  std::size_t buffer_size() const noexcept override { return buffer_size_; }

  std::size_t poll(bool block) override;
  void wake() noexcept override;
  bool wake_via(backend&) noexcept override { return false; }

 private:
  struct op;
  using descriptor = boost::asio::posix::stream_descriptor;
  asio_backend() = default;
  op* start(completion* c, fd_handle* h, int kind);
  void finish(op* o, std::int32_t res, std::uint32_t flags);
  void complete_later(completion* c, std::int32_t res, std::uint32_t flags);
  void wait(op* o, descriptor::wait_type w);
  void on_ready(op* o);
  void try_now(op* o);
  void arm_deadline(op* o, linked_deadline* d);

  boost::asio::io_context ctx_{1};
  backend_info info_;
  std::unordered_map<completion*, op*> ops_;
  struct deferred {
    completion* c;
    std::int32_t res;
    std::uint32_t flags;
  };
  std::vector<deferred> deferred_;
  std::vector<deferred> running_;
  std::vector<std::byte> pool_;
  std::vector<std::uint16_t> free_;
  unsigned buffer_size_ = 0;
};

}  // namespace confab::io
