#include "engine/io/uring_backend.hpp"

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace confab::io {
namespace {

constexpr std::uint64_t ignored_user_data = 0;  // cancel and link-timeout-free ops
constexpr unsigned buffer_group = 0;

__kernel_timespec to_timespec(clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  if (ns < 0) ns = 0;
  __kernel_timespec ts{};
  ts.tv_sec = ns / 1'000'000'000;
  ts.tv_nsec = ns % 1'000'000'000;
  return ts;
}

void noop_completion(completion*, std::int32_t, std::uint32_t) noexcept {}

// Linux 6.12's feature bit and getevents field (liburing 2.3 predates them:
// the field is the old `pad`).
constexpr unsigned feat_min_timeout = 1U << 15;

}  // namespace

result<std::unique_ptr<uring_backend>> uring_backend::create(const backend_options& o) {
  if (o.sq_entries > 4096) return make_error(errc::invalid_argument, "sq_entries above 4096");
  std::unique_ptr<uring_backend> b(new uring_backend());
  io_uring_params p{};
  p.cq_entries = o.cq_entries;
  const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  const unsigned tries[] = {
      base | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      base | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      base,
  };
  int rc = -EINVAL;
  for (unsigned flags : tries) {
    std::memset(&p, 0, sizeof p);
    p.cq_entries = o.cq_entries;
    p.flags = flags;
    rc = io_uring_queue_init_params(o.sq_entries, &b->ring_, &p);
    if (rc == 0) {
      b->info_.setup_flags = flags;
      break;
    }
    if (rc != -EINVAL) break;  // EPERM, ENOSYS, ENOMEM: not a flag problem
  }
  if (rc < 0) return error{from_errno(-rc).code, -rc, "io_uring_setup"};
  b->ring_ok_ = true;

  b->info_.kind = backend_kind::uring;
  b->info_.defer_taskrun = (b->info_.setup_flags & IORING_SETUP_DEFER_TASKRUN) != 0;
  b->info_.min_timeout = (p.features & feat_min_timeout) != 0;
  if (b->info_.min_timeout && o.batch_wait_max > 1 && o.batch_wait_us > 0) {
    b->batch_max_ = o.batch_wait_max;
    b->batch_us_ = o.batch_wait_us;
  }
  io_uring_register_ring_fd(&b->ring_);  // saves an fdget per enter; optional

  if (io_uring_probe* probe = io_uring_get_probe_ring(&b->ring_)) {
    b->info_.msg_ring = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
    const int needed[] = {IORING_OP_ACCEPT, IORING_OP_RECV,         IORING_OP_SEND,
                          IORING_OP_CONNECT, IORING_OP_TIMEOUT,     IORING_OP_LINK_TIMEOUT,
                          IORING_OP_ASYNC_CANCEL, IORING_OP_READ,   IORING_OP_PROVIDE_BUFFERS};
    bool ok = true;
    for (int op : needed) ok = ok && io_uring_opcode_supported(probe, op);
    io_uring_free_probe(probe);
    if (!ok) return make_error(errc::unsupported, "io_uring lacks a needed opcode");
  }

  // A sparse registered file table for direct descriptors, when asked.
  if (o.direct_descriptors > 0) {
    rlimit rl{};
    unsigned n = o.direct_descriptors;
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n) n = static_cast<unsigned>(rl.rlim_cur);
    if (io_uring_register_files_sparse(&b->ring_, n) == 0) {
      b->free_slots_.reserve(n);
      for (unsigned i = n; i > 0; --i) b->free_slots_.push_back(static_cast<int>(i - 1));
    }
  }
  b->ignore_.fn = [](completion*, std::int32_t, std::uint32_t) noexcept {};

  // Provided-buffer ring: one shared pool; a connection holds a buffer only
  // between a receive and the consumer releasing it.
  unsigned count = 1;
  while (count < o.buffer_count) count <<= 1;
  if (count > 32768) count = 32768;
  b->buffer_count_ = count;
  b->buffer_size_ = o.buffer_size;
  b->br_bytes_ = count * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, b->br_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return from_errno(errno);
  b->br_ = static_cast<io_uring_buf_ring*>(mem);
  b->buffers_bytes_ = static_cast<std::size_t>(count) * o.buffer_size;
  void* bufs = mmap(nullptr, b->buffers_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (bufs == MAP_FAILED) return from_errno(errno);
  b->buffers_ = static_cast<std::byte*>(bufs);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(b->br_);
  reg.ring_entries = count;
  reg.bgid = buffer_group;
  rc = io_uring_register_buf_ring(&b->ring_, &reg, 0);
  if (rc < 0) return error{from_errno(-rc).code, -rc, "io_uring_register_buf_ring"};
  io_uring_buf_ring_init(b->br_);
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned i = 0; i < count; ++i) {
    io_uring_buf_ring_add(b->br_, b->buffers_ + static_cast<std::size_t>(i) * o.buffer_size,
                          o.buffer_size, static_cast<unsigned short>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(b->br_, static_cast<int>(count));
  b->buffers_free_ = count;

  b->event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (b->event_fd_ < 0) return from_errno(errno);
  b->event_handle_.fd = b->event_fd_;
  b->wake_completion_.fn = &uring_backend::on_wake_read;
  b->wake_completion_.self = b.get();
  b->msg_ring_completion_.fn = &noop_completion;
  b->arm_wake_read();
  return b;
}

uring_backend::~uring_backend() {
  if (ring_ok_) io_uring_queue_exit(&ring_);
  if (event_fd_ >= 0) ::close(event_fd_);
  if (buffers_) munmap(buffers_, buffers_bytes_);
  if (br_) munmap(br_, br_bytes_);
}

io_uring_sqe* uring_backend::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (s == nullptr) [[unlikely]] {
    // A full submission queue is normal under load: flush it and go on.
    ++stats_.sq_full;
    ++stats_.enters;
    int n = io_uring_submit(&ring_);
    if (n > 0) stats_.submissions += static_cast<unsigned>(n);
    s = io_uring_get_sqe(&ring_);
    CONFAB_ASSERT(s != nullptr);
  }
  return s;
}

// An operation and its linked timeout must land in the same submission.
void uring_backend::reserve_link(const linked_deadline* d) {
  if (d == nullptr || io_uring_sq_space_left(&ring_) >= 2) return;
  ++stats_.enters;
  ++stats_.sq_full;
  int n = io_uring_submit(&ring_);
  if (n > 0) stats_.submissions += static_cast<unsigned>(n);
}

void uring_backend::link_deadline(io_uring_sqe* op, linked_deadline* d) {
  if (d == nullptr) return;
  static_assert(sizeof(d->storage_) >= sizeof(__kernel_timespec));
  auto* ts = reinterpret_cast<__kernel_timespec*>(d->storage_);
  *ts = to_timespec(d->at);
  op->flags |= IOSQE_IO_LINK;
  io_uring_sqe* t = io_uring_get_sqe(&ring_);
  CONFAB_ASSERT(t != nullptr);  // callers reserve two slots
  io_uring_prep_link_timeout(t, ts, IORING_TIMEOUT_ABS);
  io_uring_sqe_set_data(t, &d->done);
}

void uring_backend::timeout_at(completion* c, clock::time_point at) {
  // IORING_OP_TIMEOUT reads its timespec when the SQE is submitted, not
  // when it completes. At most sq_entries SQEs are ever unsubmitted (a full
  // queue is flushed in sqe()), so a per-thread ring of more slots than that
  // keeps every pending timespec alive without storage in the caller.
  io_uring_sqe* s = sqe();
  static thread_local __kernel_timespec slots[8192];
  static thread_local unsigned next = 0;
  __kernel_timespec* ts = &slots[next++ & 8191];
  *ts = to_timespec(at);
  io_uring_prep_timeout(s, ts, 0, IORING_TIMEOUT_ABS);
  io_uring_sqe_set_data(s, c);
}

void uring_backend::connect(completion* c, fd_handle& h, const sockaddr* a, socklen_t len,
                            linked_deadline* d) {
  reserve_link(d);
  io_uring_sqe* s = sqe();
  io_uring_prep_connect(s, h.fd, a, len);
  if (h.direct) s->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data(s, c);
  link_deadline(s, d);
}

void uring_backend::send(completion* c, fd_handle& h, const void* data, std::size_t len,
                         linked_deadline* d) {
  reserve_link(d);
  io_uring_sqe* s = sqe();
  io_uring_prep_send(s, h.fd, data, len, MSG_NOSIGNAL);
  if (h.direct) s->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data(s, c);
  link_deadline(s, d);
}

void uring_backend::recv(completion* c, fd_handle& h, void* data, std::size_t len,
                         linked_deadline* d) {
  reserve_link(d);
  io_uring_sqe* s = sqe();
  io_uring_prep_recv(s, h.fd, data, len, 0);
  if (h.direct) s->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data(s, c);
  link_deadline(s, d);
}

void uring_backend::read(completion* c, fd_handle& h, void* data, std::size_t len) {
  io_uring_sqe* s = sqe();
  io_uring_prep_read(s, h.fd, data, static_cast<unsigned>(len), 0);
  if (h.direct) s->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data(s, c);
}

void uring_backend::accept_multishot(completion* c, fd_handle& h) {
  io_uring_sqe* s = sqe();
  io_uring_prep_multishot_accept(s, h.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (h.direct) s->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data(s, c);
}

void uring_backend::recv_multishot(completion* c, fd_handle& h) {
  io_uring_sqe* s = sqe();
  io_uring_prep_recv_multishot(s, h.fd, nullptr, 0, 0);
  if (h.direct) s->flags |= IOSQE_FIXED_FILE;
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = buffer_group;
  io_uring_sqe_set_data(s, c);
}

bool uring_backend::make_direct(fd_handle& h) noexcept {
  if (h.direct || h.fd < 0 || free_slots_.empty()) return false;
  const int slot = free_slots_.back();
  int fd = h.fd;
  if (io_uring_register_files_update(&ring_, static_cast<unsigned>(slot), &fd, 1) != 1) return false;
  free_slots_.pop_back();
  ::close(h.fd);  // the table holds the socket now
  h.fd = slot;
  h.direct = true;
  ++stats_.direct_open;
  return true;
}

void uring_backend::close_fd(fd_handle& h) noexcept {
  if (h.fd < 0) return;
  if (!h.direct) {
    ::close(h.fd);
  } else {
    // Emptying the slot drops the table's reference; the socket closes
    // once no request holds it (callers wait for their final completions).
    int none = -1;
    if (io_uring_register_files_update(&ring_, static_cast<unsigned>(h.fd), &none, 1) == 1) {
      free_slots_.push_back(h.fd);
      --stats_.direct_open;
    }
    h.direct = false;
  }
  h.fd = -1;
}

void uring_backend::shutdown(fd_handle& h) noexcept {
  if (h.fd < 0) return;
  if (!h.direct) {
    ::shutdown(h.fd, SHUT_RDWR);
    return;
  }
  io_uring_sqe* s = sqe();
  io_uring_prep_shutdown(s, h.fd, SHUT_RDWR);
  s->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data(s, &ignore_);
}

void uring_backend::cancel(completion* c) {
  ++stats_.cancellations;
  io_uring_sqe* s = sqe();
  io_uring_prep_cancel64(s, reinterpret_cast<std::uint64_t>(c), 0);
  io_uring_sqe_set_data64(s, ignored_user_data);
}

std::span<std::byte> uring_backend::buffer(std::uint16_t id) noexcept {
  return {buffers_ + static_cast<std::size_t>(id) * buffer_size_, buffer_size_};
}

void uring_backend::release_buffer(std::uint16_t id) noexcept {
  io_uring_buf_ring_add(br_, buffers_ + static_cast<std::size_t>(id) * buffer_size_, buffer_size_, id,
                        io_uring_buf_ring_mask(buffer_count_), static_cast<int>(released_since_advance_));
  ++released_since_advance_;
  ++buffers_free_;
  // Publish at once: the kernel may be waiting for buffers right now.
  io_uring_buf_ring_advance(br_, static_cast<int>(released_since_advance_));
  released_since_advance_ = 0;
}

// Submits what is queued and waits for `want` completions, or for at least
// one once `batch_us_` has passed (the kernel's minimum wait). liburing 2.3
// has no call for it, so this publishes the SQ tail itself (what its
// submit does) and enters with the extended argument.
int uring_backend::submit_and_wait_batch(unsigned want) {
  io_uring_sq& sq = ring_.sq;
  const unsigned tail = sq.sqe_tail;
  if (sq.sqe_head != tail) {
    sq.sqe_head = tail;
    io_uring_smp_store_release(sq.ktail, tail);
  }
  const unsigned to_submit = tail - io_uring_smp_load_acquire(sq.khead);
  io_uring_getevents_arg arg{};
  arg.pad = batch_us_;  // min_wait_usec
  unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
  int fd = ring_.ring_fd;
  if (ring_.int_flags & 1U) {  // liburing's INT_FLAG_REG_RING
    flags |= IORING_ENTER_REGISTERED_RING;
    fd = ring_.enter_ring_fd;
  }
  for (;;) {
    int rc = io_uring_enter2(static_cast<unsigned>(fd), to_submit, want, flags,
                             reinterpret_cast<sigset_t*>(&arg), sizeof arg);
    if (rc == -EINTR && to_submit == 0) continue;
    if (rc == -ETIME) return 0;
    return rc;
  }
}

std::size_t uring_backend::poll(bool block) {
  const unsigned ready = io_uring_sq_ready(&ring_);
  int rc = 0;
  if (block) {
    ++stats_.enters;
    // Ask for as many completions as recent waits reaped (x16 fixed point).
    const unsigned want = std::min(batch_max_, reaped_avg16_ / 16);
    if (want >= batch_min) {
      ++stats_.batched_waits;
      rc = submit_and_wait_batch(want);
    } else {
      rc = io_uring_submit_and_wait(&ring_, 1);
    }
  } else if (ready > 0 || info_.defer_taskrun) {
    ++stats_.enters;
    rc = info_.defer_taskrun ? io_uring_submit_and_get_events(&ring_) : io_uring_submit(&ring_);
  }
  if (rc > 0) stats_.submissions += static_cast<unsigned>(rc > static_cast<int>(ready) ? ready : rc);

  std::size_t n = 0;
  io_uring_cqe* cqe = nullptr;
  // Copy each CQE out and mark it seen before dispatching: a handler may
  // submit (and so flush) and must never see a half-consumed ring.
  while (n < 65536 && io_uring_peek_cqe(&ring_, &cqe) == 0) {
    const std::uint64_t ud = cqe->user_data;
    const std::int32_t res = cqe->res;
    const std::uint32_t flags = cqe->flags;
    io_uring_cqe_seen(&ring_, cqe);
    ++n;
    if (ud == ignored_user_data) continue;
    auto* c = reinterpret_cast<completion*>(ud);
    if ((flags & cqe_buffer) != 0) --buffers_free_;
    if (res == -ENOBUFS) ++stats_.buffer_empties;
    c->fn(c, res, flags);
  }
  stats_.completions += n;
  if (block && batch_max_ > 0) {
    const int now16 = static_cast<int>(std::min<std::size_t>(n, 4096) * 16);
    reaped_avg16_ = static_cast<unsigned>(static_cast<int>(reaped_avg16_) + (now16 - static_cast<int>(reaped_avg16_)) / 4);
  }
  if (ring_.cq.koverflow) {
    unsigned ov = *ring_.cq.koverflow;
    if (ov != last_overflow_) {
      stats_.cq_overflows += ov - last_overflow_;
      last_overflow_ = ov;
    }
  }
  return n;
}

void uring_backend::arm_wake_read() {
  read(&wake_completion_, event_handle_, &wake_value_, sizeof wake_value_);
}

void uring_backend::on_wake_read(completion* c, std::int32_t, std::uint32_t) noexcept {
  static_cast<wake_slot*>(c)->self->arm_wake_read();
}

void uring_backend::wake() noexcept {
  ++stats_.wakeups_sent;  // racy from other threads; informational only
  std::uint64_t one = 1;
  [[maybe_unused]] auto w = ::write(event_fd_, &one, sizeof one);
}

bool uring_backend::wake_via(backend& target) noexcept {
  if (!info_.msg_ring || target.kind() != backend_kind::uring) return false;
  auto& t = static_cast<uring_backend&>(target);
  io_uring_sqe* s = sqe();
  io_uring_prep_msg_ring(s, t.ring_.ring_fd, 0, reinterpret_cast<std::uint64_t>(&t.msg_ring_completion_), 0);
  io_uring_sqe_set_data64(s, ignored_user_data);
  ++stats_.wakeups_sent;
  return true;
}

}  // namespace confab::io
