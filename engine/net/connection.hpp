// confab engine: TCP connections.
//
// A `connection` owns one connected socket. Receiving uses one multishot
// receive over the reactor's provided-buffer ring, armed on the first
// `receive()`: an idle connection holds no receive buffer, and received bytes
// are lent as a `chunk` that returns its buffer to the ring when destroyed.
// Sending copies into a bounded per-connection queue; `co_await send()`
// returns once the bytes are queued, and suspends while the queue is above
// its high-water mark until it drains below the low one, so a peer that
// never reads cannot grow memory without limit.
//
//   auto c = co_await connect(r, address::loopback(7000));
//   co_await (*c)->send(bytes);
//   auto got = co_await (*c)->receive();      // result<chunk>; `closed` at EOF
//   co_await (*c)->close();
//
// Cancellation: a stop_token given to `receive` or `send` ends that wait with
// `cancelled`; queued bytes stay queued and the receive stays armed. `close()`
// cancels what is in flight and completes after the final completion of
// every operation, then closes the descriptor; the object may then be
// destroyed. Destroying a connection with operations in flight is a broken
// invariant.
//
// Thread: a connection belongs to the reactor that created it.
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <vector>

#include "engine/core/task.hpp"
#include "engine/io/reactor.hpp"
#include "engine/net/address.hpp"

namespace confab::net {

struct connection_options {
  std::size_t send_high_water = 256 * 1024;
  std::size_t send_low_water = 64 * 1024;
  bool no_delay = true;
  // io_uring: keep the socket as a direct descriptor (backend::make_direct),
  // outside the open-files limit; its addresses are read once, up front.
  // Where that is not possible it stays an ordinary descriptor.
  bool direct = false;
};

struct connect_options;

// ## chunk
// Received bytes on loan from the provided-buffer ring.
class chunk {
 public:
  chunk() = default;
  chunk(io::backend* b, std::uint16_t id, std::uint32_t len) noexcept : b_(b), id_(id), len_(len) {}
  chunk(chunk&& o) noexcept : b_(std::exchange(o.b_, nullptr)), id_(o.id_), len_(o.len_) {}
  chunk& operator=(chunk&& o) noexcept {
    if (this != &o) {
      reset();
      b_ = std::exchange(o.b_, nullptr);
      id_ = o.id_;
      len_ = o.len_;
    }
    return *this;
  }
  ~chunk() { reset(); }
  std::span<const std::byte> bytes() const noexcept {
    return b_ ? b_->buffer(id_).first(len_) : std::span<const std::byte>{};
  }
  std::size_t size() const noexcept { return b_ ? len_ : 0; }
  void reset() noexcept {
    if (b_) std::exchange(b_, nullptr)->release_buffer(id_);
  }

 private:
  io::backend* b_ = nullptr;
  std::uint16_t id_ = 0;
  std::uint32_t len_ = 0;
};

class connection final : io::reactor::buffer_waiter {
 public:
  // Takes ownership of a connected, non-blocking socket.
  static std::unique_ptr<connection> adopt(io::reactor& r, int fd, const connection_options& o = {});
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  int fd() const noexcept { return h_.fd; }  // a table slot when direct()
  bool direct() const noexcept { return h_.direct; }
  io::fd_handle& handle() noexcept { return h_; }
  io::reactor& owner() noexcept { return r_; }
  bool open() const noexcept { return h_.fd >= 0 && !closing_; }
  address peer() const;
  address local() const;
  std::size_t send_queued() const noexcept { return (inflight_.size() - inflight_off_) + pending_.size(); }
  // Keeps `*total` (shared by many connections) up to date with this one's
  // send_queued(), so a host can bound what all peers leave unread.
  void count_queued_in(std::size_t* total) noexcept;

  struct receive_awaiter;
  struct send_awaiter;

  // ## receive
  // The next bytes received: a chunk, `closed` at end of stream, the
  // connection's error, or `cancelled` when `st` triggers first.
  receive_awaiter receive(std::stop_token st = {}) noexcept;

  // ## send
  // Queues all `parts` at once (so a header and its payload are never split
  // by another sender) and returns when they are queued; waits while the
  // queue is above the high-water mark. Fails with the connection's error.
  send_awaiter send(std::span<const std::byte> bytes, std::stop_token st = {}) noexcept;
  send_awaiter send(std::span<const std::span<const std::byte>> parts, std::stop_token st = {}) noexcept;

  // ## flush
  // Completes when the send queue is empty (or the connection failed).
  send_awaiter flush(std::stop_token st = {}) noexcept;

  // ## shutdown
  // shutdown(SHUT_RDWR) without closing: what is in flight ends, the peer
  // sees the end of the stream; `close()` still follows.
  void shutdown() noexcept { r_.io().shutdown(h_); }
  // ## abort_on_close
  // The next close resets the connection (SO_LINGER 0) instead of queueing
  // a FIN behind unsent bytes: for a peer that reads nothing, the kernel
  // then frees its send buffer at once rather than holding it as an orphan.
  // A direct descriptor (no setsockopt without a file) closes normally.
  void abort_on_close() noexcept;

  // ## close
  // Cancels in-flight operations, waits for their final completions, closes
  // the descriptor. Queued but unsent bytes are dropped: `flush()` first for
  // a graceful close. Safe to call twice.
  task<void> close();

  struct receive_awaiter {
    connection* c;
    std::stop_token st;
    std::coroutine_handle<> h{};
    struct canceller {
      receive_awaiter* self;
      void operator()() const noexcept;
    };
    std::optional<std::stop_callback<canceller>> cb;
    bool await_ready() const noexcept { return c->recv_ready() || st.stop_requested(); }
    void await_suspend(std::coroutine_handle<> awaiting);
    result<chunk> await_resume() noexcept;
  };
  struct send_awaiter {
    connection* c;
    std::stop_token st;
    bool queued = false;
    std::coroutine_handle<> h{};
    send_awaiter* next = nullptr;
    struct canceller {
      send_awaiter* self;
      void operator()() const noexcept;
    };
    std::optional<std::stop_callback<canceller>> cb;
    bool await_ready() const noexcept;
    void await_suspend(std::coroutine_handle<> awaiting);
    result<void> await_resume() noexcept;
  };

 private:
  friend class listener;
  connection(io::reactor& r, int fd, const connection_options& o);
  struct slot : io::completion {
    connection* self = nullptr;
  };
  struct pending_chunk {
    std::uint16_t id;
    std::uint32_t len;
  };
  static void on_recv(io::completion* c, std::int32_t res, std::uint32_t flags) noexcept;
  static void on_send(io::completion* c, std::int32_t res, std::uint32_t flags) noexcept;
  void on_buffers_available() noexcept override;
  bool recv_ready() const noexcept { return pending_count_ > 0 || recv_end_ != errc::ok; }
  void arm_receive() noexcept;
  void push_chunk(std::uint16_t id, std::uint32_t len) noexcept;
  void start_send() noexcept;
  void wake_senders(bool all) noexcept;
  void append(std::span<const std::byte> b);
  bool send_blocked() const noexcept;
  void account() noexcept;
  void maybe_finish_close() noexcept;

  friend task<result<std::unique_ptr<connection>>> connect(io::reactor& r, address to, connect_options o);
  io::reactor& r_;
  io::fd_handle h_;
  connection_options opts_;
  address peer_, local_;  // read up front for direct descriptors
  // receive
  slot recv_slot_{};
  static constexpr unsigned ring_size = 16;  // chunks held before pausing the receive
  std::array<pending_chunk, ring_size> ring_{};
  unsigned ring_head_ = 0;
  unsigned pending_count_ = 0;
  std::vector<pending_chunk> overflow_;  // chunks that raced the pause
  bool recv_armed_ = false;
  bool recv_paused_ = false;  // we cancelled the multishot to stop reading
  errc recv_end_ = errc::ok;  // why the stream ended (closed at EOF)
  int recv_errno_ = 0;
  receive_awaiter* recv_waiter_ = nullptr;
  // send
  slot send_slot_{};
  std::vector<std::byte> inflight_;
  std::size_t inflight_off_ = 0;
  std::vector<std::byte> pending_;
  bool sending_ = false;
  error send_error_{errc::ok};
  send_awaiter* send_waiters_ = nullptr;
  std::size_t* queued_total_ = nullptr;
  std::size_t accounted_ = 0;  // this connection's share of *queued_total_
  // close
  bool closing_ = false;
  std::coroutine_handle<> close_waiter_{};
};

// ## connect_options
// `bind_ip` picks the local address (any of 127.0.0.0/8, say) with
// IP_BIND_ADDRESS_NO_PORT, so the port is chosen at connect time per
// (source, destination) pair and one machine can hold more connections than
// one address's ephemeral range allows.
struct connect_options {
  std::optional<address> bind_ip;
  std::optional<io::clock::time_point> deadline;
  std::stop_token stop;
  connection_options connection;
};

// ## connect
// A connected `connection`, or `refused`, `timed_out` (deadline), `cancelled`,
// `resource` (out of descriptors), `address_in_use` (no port left).
task<result<std::unique_ptr<connection>>> connect(io::reactor& r, address to, connect_options o = {});

// Opens a non-blocking TCP socket for `family` (descriptor errors as values).
result<int> open_tcp_socket(int family) noexcept;

}  // namespace confab::net
