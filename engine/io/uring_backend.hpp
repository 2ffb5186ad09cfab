// confab engine: the io_uring backend (internal).
#pragma once

#include <liburing.h>

#include <memory>
#include <vector>

#include "engine/core/result.hpp"
#include "engine/io/backend.hpp"

namespace confab::io {

class uring_backend final : public backend {
 public:
  // Sets up the ring (SINGLE_ISSUER|DEFER_TASKRUN where the kernel has them,
  // COOP_TASKRUN otherwise), registers the provided-buffer ring and the
  // wake-up eventfd.
  static result<std::unique_ptr<uring_backend>> create(const backend_options& o);
  ~uring_backend() override;

  backend_kind kind() const noexcept override { return backend_kind::uring; }
  const backend_info& info() const noexcept override { return info_; }
  void attach(fd_handle&) override {}
  void detach(fd_handle&) override {}
  bool make_direct(fd_handle& h) noexcept override;
  void close_fd(fd_handle& h) noexcept override;
  void shutdown(fd_handle& h) noexcept override;

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
  std::size_t buffers_free() const noexcept override { return buffers_free_; }
  std::size_t buffer_size() const noexcept override { return buffer_size_; }

  void disable_batched_waits() noexcept override { batch_max_ = 0; }
  std::size_t poll(bool block) override;
  void wake() noexcept override;
  bool wake_via(backend& target) noexcept override;

 private:
  uring_backend() = default;
  io_uring_sqe* sqe();
  void link_deadline(io_uring_sqe* op, linked_deadline* d);
  void reserve_link(const linked_deadline* d);
  int submit_and_wait_batch(unsigned want);
  void arm_wake_read();
  static void on_wake_read(completion* c, std::int32_t res, std::uint32_t flags) noexcept;

  io_uring ring_{};
  bool ring_ok_ = false;
  backend_info info_;
  // provided buffers
  io_uring_buf_ring* br_ = nullptr;
  std::size_t br_bytes_ = 0;
  std::byte* buffers_ = nullptr;
  std::size_t buffers_bytes_ = 0;
  unsigned buffer_count_ = 0;
  unsigned buffer_size_ = 0;
  std::size_t buffers_free_ = 0;
  unsigned released_since_advance_ = 0;
  // cross-thread wake
  int event_fd_ = -1;
  struct wake_slot : completion {
    uring_backend* self = nullptr;
  };
  wake_slot wake_completion_{};
  std::uint64_t wake_value_ = 0;
  fd_handle event_handle_{};
  completion msg_ring_completion_{};  // target of MSG_RING wakes; no-op
  unsigned last_overflow_ = 0;
  // registered file table: free slots (direct descriptors)
  std::vector<int> free_slots_;
  completion ignore_{};  // target of fire-and-forget operations (shutdown)
  // batched waits (backend_options::batch_wait_*); batch_max_ 0: off
  static constexpr unsigned batch_min = 4;  // below this, a plain wait
  unsigned batch_max_ = 0;
  unsigned batch_us_ = 0;
  unsigned reaped_avg16_ = 0;  // completions per blocking wait, EWMA x16

};

}  // namespace confab::io
