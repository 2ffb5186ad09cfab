// confab engine: the I/O backend seam (internal to the engine).
//
// A backend turns primitive operations on descriptors into completions. Two
// implement it: `uring_backend` (io_uring, the default) and `asio_backend`
// (Boost.Asio's epoll reactor, the run-time fallback). Everything above this
// seam (tasks, sockets, framing, timers) is shared.
//
// A `completion` is caller-owned: it lives in the awaiting coroutine's frame
// or in a connection object, the backend stores its address as the
// operation's user data, and calls `fn` with the kernel's result (negated
// errno on failure) and io_uring CQE flags. Multishot operations call `fn`
// once per event with `cqe_more` set, and a final time without it; the
// caller keeps the completion (and any buffer or descriptor it names) alive
// until that final call. No allocation per operation on io_uring.
//
// Thread: a backend belongs to one reactor thread; only `wake()` may be
// called from another thread.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace confab::io {

using clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as io_uring timeouts

inline constexpr std::uint32_t cqe_buffer = 1u << 0;  // IORING_CQE_F_BUFFER
inline constexpr std::uint32_t cqe_more = 1u << 1;    // IORING_CQE_F_MORE

inline std::uint16_t buffer_id(std::uint32_t flags) noexcept {
  return static_cast<std::uint16_t>(flags >> 16);
}

struct completion {
  using fn_type = void (*)(completion*, std::int32_t res, std::uint32_t flags) noexcept;
  fn_type fn = nullptr;
};

// A deadline linked to one operation: on io_uring an IORING_OP_LINK_TIMEOUT
// (absolute) submitted right behind it. It completes too: with -ETIME when it
// fired (the operation then ends with -ECANCELED) or -ECANCELED when the
// operation finished first. The caller waits for both.
struct linked_deadline {
  completion done;
  clock::time_point at;
  long long storage_[2];  // backend scratch (the kernel timespec on io_uring)
};

enum class backend_kind : unsigned char { uring, epoll };
const char* backend_name(backend_kind k) noexcept;

// A descriptor as the backends see it. `ctx` is backend-private (the Asio
// descriptor object on the epoll backend, unused on io_uring).
// `direct`: `fd` is a slot of the io_uring's registered file table (an
// io_uring direct descriptor), not a process descriptor: it does not count
// against RLIMIT_NOFILE (see backend::make_direct).
struct fd_handle {
  int fd = -1;
  void* ctx = nullptr;
  bool direct = false;
};

// Per-reactor counters. Plain integers: only the reactor thread writes them.
struct counters {
  std::uint64_t submissions = 0;     // SQEs handed to the kernel (ops started on epoll)
  std::uint64_t completions = 0;     // CQEs reaped (handlers run on epoll)
  std::uint64_t enters = 0;          // io_uring_enter calls (epoll_wait turns on epoll)
  std::uint64_t cq_overflows = 0;    // kernel's CQ overflow counter
  std::uint64_t buffer_empties = 0;  // multishot receives ended by ENOBUFS
  std::uint64_t cancellations = 0;   // cancel requests issued
  std::uint64_t sq_full = 0;         // times the SQ was full and flushed early
  std::uint64_t wakeups_sent = 0;    // cross-thread wakes sent
  std::uint64_t direct_open = 0;     // direct descriptors in use now
  std::uint64_t batched_waits = 0;   // blocking enters that asked for a batch
  double drain_ms = 0;               // time of the last graceful drain
};

// What a backend's set-up found; logged once per process.
struct backend_info {
  backend_kind kind = backend_kind::uring;
  std::string reason;         // why this backend was chosen
  unsigned setup_flags = 0;   // io_uring set-up flags in force
  bool msg_ring = false;      // IORING_OP_MSG_RING available
  bool defer_taskrun = false;
  bool min_timeout = false;   // IORING_FEAT_MIN_TIMEOUT: batched waits possible
};

struct backend_options {
  unsigned sq_entries = 4096;
  unsigned cq_entries = 16384;
  unsigned buffer_count = 4096;  // provided receive buffers per reactor (power of two)
  unsigned buffer_size = 4096;   // bytes each
  // io_uring: a registered file table of this many slots, for sockets made
  // direct (`make_direct`); at most RLIMIT_NOFILE per ring. 0: none.
  unsigned direct_descriptors = 0;
  // io_uring: batched waits under load. While recent blocking waits each
  // reaped several completions, the next one asks the kernel for about as
  // many (at most `batch_wait_max`) but returns `batch_wait_us` after it
  // began with whatever has arrived by then (the kernel's minimum wait,
  // IORING_FEAT_MIN_TIMEOUT, Linux 6.12+). A reactor that reaps one or two
  // completions per wait (low load, one ping-pong) keeps plain "wait for
  // one" waits, so its latency is unchanged; under load, a completion waits
  // at most batch_wait_us longer than it would have. 0 turns it off; a
  // fabric turns it off on its reactor (`disable_batched_waits`), since its
  // delay line wants every wake at the due time.
  unsigned batch_wait_max = 64;
  unsigned batch_wait_us = 50;
};

class backend {
 public:
  virtual ~backend() = default;
  virtual backend_kind kind() const noexcept = 0;
  virtual const backend_info& info() const noexcept = 0;

  // Registers a descriptor the backend will see operations on; `detach`
  // before closing it. Both are cheap on io_uring.
  virtual void attach(fd_handle& h) = 0;
  virtual void detach(fd_handle& h) = 0;

  // ## direct descriptors
  // Moves a socket into the ring's registered file table and closes its
  // process descriptor, so thousands of connections do not count against
  // the open-files limit. False (nothing changed) where there is no table,
  // it is full, or the backend has none (epoll). Call before any operation
  // is in flight and after every setsockopt/getsockname it needs.
  virtual bool make_direct(fd_handle& h) noexcept {
    (void)h;
    return false;
  }
  // Closes a descriptor, direct or not (after `detach`).
  virtual void close_fd(fd_handle& h) noexcept {
    if (h.fd >= 0) ::close(h.fd);
    h.fd = -1;
  }
  // shutdown(SHUT_RDWR): operations in flight end, the peer sees the end.
  virtual void shutdown(fd_handle& h) noexcept {
    if (h.fd >= 0) ::shutdown(h.fd, SHUT_RDWR);
  }

  // Single-shot operations.
  virtual void timeout_at(completion* c, clock::time_point at) = 0;  // -ETIME on expiry
  virtual void connect(completion* c, fd_handle& h, const sockaddr* a, socklen_t len,
                       linked_deadline* d) = 0;
  virtual void send(completion* c, fd_handle& h, const void* data, std::size_t len,
                    linked_deadline* d) = 0;
  virtual void recv(completion* c, fd_handle& h, void* data, std::size_t len,
                    linked_deadline* d) = 0;
  virtual void read(completion* c, fd_handle& h, void* data, std::size_t len) = 0;  // files, eventfd, signalfd

  // Multishot operations.
  virtual void accept_multishot(completion* c, fd_handle& h) = 0;  // res: new fd
  virtual void recv_multishot(completion* c, fd_handle& h) = 0;    // res: bytes, buffer in flags

  // Asks the kernel to cancel the operation of `c`. It completes later with
  // -ECANCELED, or with its real result if it raced the cancel.
  virtual void cancel(completion* c) = 0;

  // Provided receive buffers.
  virtual std::span<std::byte> buffer(std::uint16_t id) noexcept = 0;
  virtual void release_buffer(std::uint16_t id) noexcept = 0;
  virtual std::size_t buffers_free() const noexcept = 0;
  virtual std::size_t buffer_size() const noexcept = 0;

  // Turns batched waits (backend_options::batch_wait_*) off, for a reactor
  // whose wakes must come at their due time (a fabric's delay line). No-op
  // where there are none.
  virtual void disable_batched_waits() noexcept {}

  // One reactor turn: submit what is queued, wait for at least one event when
  // `block`, and dispatch completions in a batch. Returns completions run.
  virtual std::size_t poll(bool block) = 0;

  // Any thread: interrupt a blocking poll. Reactors with MSG_RING use
  // `wake_via(other)` from their own thread instead of the eventfd.
  virtual void wake() noexcept = 0;
  virtual bool wake_via(backend& target) noexcept = 0;

  counters& stats() noexcept { return stats_; }

 protected:
  counters stats_;
};

// Probes io_uring and builds the backend asked for. `auto` picks io_uring and
// falls back to epoll only when io_uring is refused (EPERM, ENOSYS, a missing
// opcode); resource errors (ENOMEM, EMFILE) are reported, not hidden.
enum class backend_choice : unsigned char { automatic, uring, epoll };
struct backend_probe {
  backend_kind kind = backend_kind::epoll;
  std::string reason;
  int error = 0;  // errno when the wanted backend could not be had
};
backend_probe probe_backend(backend_choice choice);
bool parse_backend_choice(std::string_view s, backend_choice& out) noexcept;

}  // namespace confab::io
