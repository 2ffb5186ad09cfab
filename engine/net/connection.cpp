#include "engine/net/connection.hpp"

#include <netinet/tcp.h>
#include <unistd.h>

#include <cstring>

#include "engine/io/operation.hpp"

namespace confab::net {

result<int> open_tcp_socket(int family) noexcept {
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return from_errno(errno);
  return fd;
}

connection::connection(io::reactor& r, int fd, const connection_options& o) : r_(r), opts_(o) {
  h_.fd = fd;
  r_.io().attach(h_);
  recv_slot_.fn = &connection::on_recv;
  recv_slot_.self = this;
  send_slot_.fn = &connection::on_send;
  send_slot_.self = this;
  if (o.no_delay) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (o.direct) {
    socklen_t l = address::capacity;
    if (::getpeername(fd, peer_.data(), &l) == 0) peer_.set_size(l);
    l = address::capacity;
    if (::getsockname(fd, local_.data(), &l) == 0) local_.set_size(l);
    r_.io().make_direct(h_);
  }
}

std::unique_ptr<connection> connection::adopt(io::reactor& r, int fd, const connection_options& o) {
  return std::unique_ptr<connection>(new connection(r, fd, o));
}

connection::~connection() {
  // An operation in flight would complete into freed memory.
  CONFAB_ASSERT(!recv_armed_ && !sending_);
  if (queued_total_) *queued_total_ -= accounted_;
  r_.forget_buffer_waiter(this);
  while (pending_count_ > 0) {
    r_.io().release_buffer(ring_[ring_head_].id);
    ring_head_ = (ring_head_ + 1) % ring_size;
    --pending_count_;
  }
  for (auto& p : overflow_) r_.io().release_buffer(p.id);
  if (h_.fd >= 0) {
    r_.io().detach(h_);
    r_.io().close_fd(h_);
  }
}

address connection::peer() const {
  if (h_.direct) return peer_;
  address a;
  socklen_t l = address::capacity;
  if (::getpeername(h_.fd, a.data(), &l) == 0) a.set_size(l);
  return a;
}

address connection::local() const {
  if (h_.direct) return local_;
  address a;
  socklen_t l = address::capacity;
  if (::getsockname(h_.fd, a.data(), &l) == 0) a.set_size(l);
  return a;
}

// ---------------------------------------------------------------- receive

void connection::arm_receive() noexcept {
  if (recv_armed_ || closing_ || recv_end_ != errc::ok || h_.fd < 0) return;
  if (waiting_for_buffers) return;
  recv_armed_ = true;
  recv_paused_ = false;
  r_.io().recv_multishot(&recv_slot_, h_);
}

void connection::on_buffers_available() noexcept {
  if (!closing_ && recv_end_ == errc::ok && recv_waiter_ != nullptr) arm_receive();
}

void connection::push_chunk(std::uint16_t id, std::uint32_t len) noexcept {
  if (pending_count_ < ring_size && overflow_.empty()) {
    ring_[(ring_head_ + pending_count_) % ring_size] = {id, len};
    ++pending_count_;
  } else {
    overflow_.push_back({id, len});  // bounded: the receive is being paused
  }
}

void connection::on_recv(io::completion* c, std::int32_t res, std::uint32_t flags) noexcept {
  connection* self = static_cast<slot*>(c)->self;
  if ((flags & io::cqe_buffer) != 0) {
    if (res > 0) {
      self->push_chunk(io::buffer_id(flags), static_cast<std::uint32_t>(res));
    } else {
      self->r_.io().release_buffer(io::buffer_id(flags));
    }
  }
  if ((flags & io::cqe_more) == 0) {
    self->recv_armed_ = false;
    if (res == 0) {
      self->recv_end_ = errc::closed;
    } else if (res == -ENOBUFS) {
      if (!self->closing_) self->r_.wait_for_buffers(self);
    } else if (res == -ECANCELED) {
      // paused by us, or closing: nothing ended
    } else if (res < 0) {
      self->recv_end_ = from_errno(-res).code;
      self->recv_errno_ = -res;
    }
    if (self->closing_) {
      self->maybe_finish_close();
      return;
    }
    if (res == -ECANCELED && self->pending_count_ <= 2 && self->overflow_.empty()) {
      self->arm_receive();  // a pause whose consumer caught up before the cancel landed
    }
  } else if (self->pending_count_ >= ring_size - 4 && !self->recv_paused_) {
    // The consumer is behind: stop reading so the kernel's window, not our
    // memory, holds the backlog. Re-armed when the consumer catches up.
    self->recv_paused_ = true;
    self->r_.io().cancel(&self->recv_slot_);
  }
  if (self->recv_waiter_ && self->recv_ready()) {
    auto* w = std::exchange(self->recv_waiter_, nullptr);
    w->h.resume();
  }
}

connection::receive_awaiter connection::receive(std::stop_token st) noexcept {
  return receive_awaiter{this, std::move(st)};
}

void connection::receive_awaiter::canceller::operator()() const noexcept {
  if (self->c->recv_waiter_ == self) {
    self->c->recv_waiter_ = nullptr;
    self->c->r_.schedule(self->h);
  }
}

void connection::receive_awaiter::await_suspend(std::coroutine_handle<> awaiting) {
  h = awaiting;
  CONFAB_ASSERT(c->recv_waiter_ == nullptr);  // one receiver at a time
  c->recv_waiter_ = this;
  if (!c->recv_armed_) {
    if (c->r_.io().buffers_free() == 0) {
      c->r_.wait_for_buffers(c);
    } else {
      c->arm_receive();
    }
  }
  if (st.stop_possible()) cb.emplace(st, canceller{this});
}

result<chunk> connection::receive_awaiter::await_resume() noexcept {
  cb.reset();
  if (c->pending_count_ > 0) {
    pending_chunk p = c->ring_[c->ring_head_];
    c->ring_head_ = (c->ring_head_ + 1) % ring_size;
    --c->pending_count_;
    if (c->pending_count_ < ring_size && !c->overflow_.empty()) {
      c->ring_[(c->ring_head_ + c->pending_count_) % ring_size] = c->overflow_.front();
      c->overflow_.erase(c->overflow_.begin());
      ++c->pending_count_;
    }
    if (c->recv_paused_ && !c->recv_armed_ && c->pending_count_ <= 2) c->arm_receive();
    return chunk(&c->r_.io(), p.id, p.len);
  }
  if (c->recv_end_ != errc::ok) {
    if (c->recv_end_ == errc::closed) return errc::closed;  // clean end: no detail
    return error{c->recv_end_, c->recv_errno_, nullptr};
  }
  if (c->closing_) return make_error(errc::cancelled, "connection closing");
  return errc::cancelled;
}

// ---------------------------------------------------------------- send

void connection::append(std::span<const std::byte> b) { pending_.insert(pending_.end(), b.begin(), b.end()); }

void connection::count_queued_in(std::size_t* total) noexcept {
  if (queued_total_) *queued_total_ -= accounted_;
  queued_total_ = total;
  accounted_ = 0;
  account();
}

void connection::account() noexcept {
  if (!queued_total_) return;
  const std::size_t q = send_queued();
  *queued_total_ = *queued_total_ - accounted_ + q;
  accounted_ = q;
}

bool connection::send_blocked() const noexcept { return send_queued() > opts_.send_high_water; }

void connection::start_send() noexcept {
  if (sending_ || pending_.empty() || h_.fd < 0) return;
  inflight_.swap(pending_);
  inflight_off_ = 0;
  sending_ = true;
  r_.io().send(&send_slot_, h_, inflight_.data(), inflight_.size(), nullptr);
}

void connection::on_send(io::completion* c, std::int32_t res, std::uint32_t) noexcept {
  connection* self = static_cast<slot*>(c)->self;
  if (res < 0) {
    self->sending_ = false;
    if (self->send_error_.code == errc::ok) {
      self->send_error_ = res == -ECANCELED ? make_error(errc::cancelled, "connection closing")
                                            : from_errno(-res);
    }
    self->inflight_.clear();
    self->pending_.clear();
    self->inflight_off_ = 0;
    self->account();
    self->wake_senders(true);
    if (self->closing_) self->maybe_finish_close();
    return;
  }
  self->inflight_off_ += static_cast<std::size_t>(res);
  self->account();
  if (self->inflight_off_ < self->inflight_.size() && !self->closing_) {
    self->r_.io().send(&self->send_slot_, self->h_, self->inflight_.data() + self->inflight_off_,
                       self->inflight_.size() - self->inflight_off_, nullptr);
    self->wake_senders(false);
    return;
  }
  self->sending_ = false;
  self->inflight_.clear();
  self->inflight_off_ = 0;
  // Keep small buffers for reuse; give big ones back so a burst does not pin
  // memory on a connection that goes idle.
  if (self->inflight_.capacity() > 64 * 1024) std::vector<std::byte>().swap(self->inflight_);
  if (self->closing_) {
    self->maybe_finish_close();
    return;
  }
  self->start_send();
  self->wake_senders(false);
}

void connection::wake_senders(bool all) noexcept {
  const bool failed = send_error_.code != errc::ok;
  const std::size_t q = send_queued();
  send_awaiter** p = &send_waiters_;
  while (*p) {
    send_awaiter* w = *p;
    const bool is_flush = !w->queued;  // flush waiters wait for an empty queue
    const bool go = all || failed || (is_flush ? q == 0 : q <= opts_.send_low_water);
    if (go) {
      *p = w->next;
      w->next = nullptr;
      r_.schedule(w->h);
    } else {
      p = &w->next;
    }
  }
}

connection::send_awaiter connection::send(std::span<const std::byte> bytes, std::stop_token st) noexcept {
  std::span<const std::byte> one[1] = {bytes};
  return send(std::span<const std::span<const std::byte>>(one), std::move(st));
}

connection::send_awaiter connection::send(std::span<const std::span<const std::byte>> parts,
                                          std::stop_token st) noexcept {
  if (send_error_.code == errc::ok && !closing_) {
    for (auto p : parts) append(p);
    account();
    start_send();
  }
  return send_awaiter{this, std::move(st), true};
}

connection::send_awaiter connection::flush(std::stop_token st) noexcept {
  return send_awaiter{this, std::move(st), false};
}

bool connection::send_awaiter::await_ready() const noexcept {
  if (c->send_error_.code != errc::ok || c->closing_ || st.stop_requested()) return true;
  return queued ? !c->send_blocked() : c->send_queued() == 0;
}

void connection::send_awaiter::canceller::operator()() const noexcept {
  for (send_awaiter** p = &self->c->send_waiters_; *p; p = &(*p)->next) {
    if (*p == self) {
      *p = self->next;
      self->c->r_.schedule(self->h);
      return;
    }
  }
}

void connection::send_awaiter::await_suspend(std::coroutine_handle<> awaiting) {
  h = awaiting;
  next = c->send_waiters_;
  c->send_waiters_ = this;
  if (st.stop_possible()) cb.emplace(st, canceller{this});
}

result<void> connection::send_awaiter::await_resume() noexcept {
  cb.reset();
  if (c->send_error_.code != errc::ok) return c->send_error_;
  if (c->closing_) return make_error(errc::cancelled, "connection closing");
  const bool done = queued ? !c->send_blocked() : c->send_queued() == 0;
  if (!done) return errc::cancelled;
  return {};
}

// ---------------------------------------------------------------- close

void connection::maybe_finish_close() noexcept {
  if (!recv_armed_ && !sending_ && close_waiter_) {
    auto h = std::exchange(close_waiter_, {});
    h.resume();
  }
}

void connection::abort_on_close() noexcept {
  if (h_.fd < 0 || h_.direct) return;
  const linger l{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(h_.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

task<void> connection::close() {
  if (h_.fd < 0) co_return;
  closing_ = true;
  r_.forget_buffer_waiter(this);
  if (recv_armed_) r_.io().cancel(&recv_slot_);
  if (sending_) r_.io().cancel(&send_slot_);
  struct wait_final {
    connection* c;
    bool await_ready() const noexcept { return !c->recv_armed_ && !c->sending_; }
    void await_suspend(std::coroutine_handle<> h) noexcept { c->close_waiter_ = h; }
    void await_resume() const noexcept {}
  };
  wait_final final_completions{this};
  co_await final_completions;
  r_.io().detach(h_);
  r_.io().close_fd(h_);
  if (recv_end_ == errc::ok) recv_end_ = errc::cancelled;
  if (recv_waiter_) r_.schedule(std::exchange(recv_waiter_, nullptr)->h);
  wake_senders(true);
}

// ---------------------------------------------------------------- connect

task<result<std::unique_ptr<connection>>> connect(io::reactor& r, address to, connect_options o) {
  auto fd = open_tcp_socket(to.family());
  if (!fd) co_return fd.error();
  if (o.bind_ip) {
    int one = 1;
    ::setsockopt(*fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    address b = *o.bind_ip;
    b.set_port(0);
    if (::bind(*fd, b.data(), b.size()) < 0) {
      error e = from_errno(errno);
      ::close(*fd);
      co_return e;
    }
  }
  auto conn = connection::adopt(r, *fd, o.connection);
  if (conn->direct()) {
    conn->peer_ = to;  // not connected yet when it became direct
    if (o.bind_ip) conn->local_ = *o.bind_ip;
  }
  const sockaddr* sa = to.data();
  socklen_t len = to.size();
  io::fd_handle& h = conn->handle();
  auto res = co_await io::io_operation(r, o.deadline, o.stop,
                                       [sa, len, &h](io::backend& b, io::completion* c, io::linked_deadline* d) {
                                         b.connect(c, h, sa, len, d);
                                       });
  if (!res) co_return res.error();  // conn closes its descriptor (nothing in flight)
  co_return std::move(conn);
}

}  // namespace confab::net
