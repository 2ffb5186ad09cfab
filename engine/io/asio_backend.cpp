#include "engine/io/asio_backend.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

namespace confab::io {

namespace asio = boost::asio;

enum op_kind : int { k_connect, k_send, k_recv, k_read, k_accept_ms, k_recv_ms, k_timer };

struct asio_backend::op {
  completion* c = nullptr;
  fd_handle* h = nullptr;
  int kind = 0;
  const void* in = nullptr;
  void* out = nullptr;
  std::size_t len = 0;
  asio::cancellation_signal sig;
  std::unique_ptr<asio::steady_timer> timer;  // k_timer, or a linked deadline
  linked_deadline* deadline = nullptr;
  bool deadline_fired = false;
  bool cancel_requested = false;
  bool finished = false;
  int pending = 1;  // the operation, plus one for a linked deadline
};


result<std::unique_ptr<asio_backend>> asio_backend::create(const backend_options& o, std::string reason) {
  std::unique_ptr<asio_backend> b(new asio_backend());
  b->info_.kind = backend_kind::epoll;
  b->info_.reason = std::move(reason);
  unsigned count = o.buffer_count < 1 ? 1 : o.buffer_count;
  if (count > 32768) count = 32768;
  b->buffer_size_ = o.buffer_size;
  b->pool_.resize(static_cast<std::size_t>(count) * o.buffer_size);
  b->free_.reserve(count);
  for (unsigned i = count; i-- > 0;) b->free_.push_back(static_cast<std::uint16_t>(i));
  return b;
}

asio_backend::~asio_backend() {
  for (auto& [c, o] : ops_) delete o;
}

void asio_backend::attach(fd_handle& h) {
  // Readiness-based: every descriptor must be non-blocking, or a read that
  // is tried first would block the whole reactor.
  const int fl = ::fcntl(h.fd, F_GETFL);
  if (fl >= 0 && (fl & O_NONBLOCK) == 0) ::fcntl(h.fd, F_SETFL, fl | O_NONBLOCK);
  auto* d = new descriptor(ctx_, h.fd);
  h.ctx = d;
}

void asio_backend::detach(fd_handle& h) {
  auto* d = static_cast<descriptor*>(h.ctx);
  if (d) {
    d->release();  // the caller closes the descriptor itself
    delete d;
  }
  h.ctx = nullptr;
}

asio_backend::op* asio_backend::start(completion* c, fd_handle* h, int kind) {
  auto* o = new op();
  o->c = c;
  o->h = h;
  o->kind = kind;
  ops_[c] = o;
  ++stats_.submissions;
  return o;
}

void asio_backend::finish(op* o, std::int32_t res, std::uint32_t flags) {
  if (!o->finished) {
    o->finished = true;
    ops_.erase(o->c);
    if (o->deadline && !o->deadline_fired && o->timer) o->timer->cancel();
    ++stats_.completions;
    o->c->fn(o->c, res, flags);
  }
  if (--o->pending == 0) delete o;
}

void asio_backend::complete_later(completion* c, std::int32_t res, std::uint32_t flags) {
  deferred_.push_back({c, res, flags});
}

void asio_backend::arm_deadline(op* o, linked_deadline* d) {
  if (!d) return;
  o->deadline = d;
  ++o->pending;
  o->timer = std::make_unique<asio::steady_timer>(ctx_, d->at);
  o->timer->async_wait([this, o](const boost::system::error_code& ec) {
    linked_deadline* dl = o->deadline;
    if (!ec && !o->finished) {
      o->deadline_fired = true;
      o->cancel_requested = true;
      o->sig.emit(asio::cancellation_type::all);
      ++stats_.completions;
      dl->done.fn(&dl->done, -ETIME, 0);
    } else {
      ++stats_.completions;
      dl->done.fn(&dl->done, -ECANCELED, 0);
    }
    if (--o->pending == 0) delete o;
  });
}

void asio_backend::wait(op* o, descriptor::wait_type w) {
  auto* d = static_cast<descriptor*>(o->h->ctx);
  d->async_wait(w, asio::bind_cancellation_slot(o->sig.slot(), [this, o](const boost::system::error_code& ec) {
                  if (ec || o->cancel_requested) {
                    finish(o, -ECANCELED, 0);
                    return;
                  }
                  on_ready(o);
                }));
}

// Asio registers descriptors edge-triggered: a wait on a descriptor that is
// already readable may never fire. Reads therefore try first (in a later
// handler, never inside the call that started them) and wait only after
// EAGAIN, which guarantees a further edge.
void asio_backend::try_now(op* o) {
  asio::post(ctx_, [this, o] {
    if (o->cancel_requested) {
      finish(o, -ECANCELED, 0);
      return;
    }
    on_ready(o);
  });
}

void asio_backend::on_ready(op* o) {
  const int fd = o->h->fd;
  switch (o->kind) {
    case k_connect: {
      int err = 0;
      socklen_t l = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0) err = errno;
      finish(o, -err, 0);
      return;
    }
    case k_send: {
      ssize_t n = ::send(fd, o->in, o->len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return wait(o, descriptor::wait_write);
      finish(o, n < 0 ? -errno : static_cast<std::int32_t>(n), 0);
      return;
    }
    case k_recv:
    case k_read: {
      ssize_t n = o->kind == k_recv ? ::recv(fd, o->out, o->len, MSG_DONTWAIT) : ::read(fd, o->out, o->len);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return wait(o, descriptor::wait_read);
      finish(o, n < 0 ? -errno : static_cast<std::int32_t>(n), 0);
      return;
    }
    case k_accept_ms: {
      for (int i = 0; i < 64; ++i) {
        int nfd = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (nfd < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) return wait(o, descriptor::wait_read);
          if (errno == ECONNABORTED || errno == EINTR) continue;
          finish(o, -errno, 0);
          return;
        }
        ++stats_.completions;
        o->c->fn(o->c, nfd, cqe_more);
        if (o->cancel_requested) {
          finish(o, -ECANCELED, 0);
          return;
        }
      }
      try_now(o);
      return;
    }
    case k_recv_ms: {
      for (int i = 0; i < 16; ++i) {
        if (free_.empty()) {
          ++stats_.buffer_empties;
          finish(o, -ENOBUFS, 0);
          return;
        }
        std::uint16_t bid = free_.back();
        free_.pop_back();
        ssize_t n = ::recv(fd, pool_.data() + static_cast<std::size_t>(bid) * buffer_size_, buffer_size_,
                           MSG_DONTWAIT);
        if (n <= 0) {
          free_.push_back(bid);
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return wait(o, descriptor::wait_read);
          finish(o, n < 0 ? -errno : 0, 0);
          return;
        }
        ++stats_.completions;
        o->c->fn(o->c, static_cast<std::int32_t>(n),
                 cqe_more | cqe_buffer | (static_cast<std::uint32_t>(bid) << 16));
        if (o->cancel_requested) {
          finish(o, -ECANCELED, 0);
          return;
        }
        if (static_cast<std::size_t>(n) < buffer_size_) {
          wait(o, descriptor::wait_read);  // drained: the next edge will come
          return;
        }
      }
      try_now(o);  // more may be queued: an edge-triggered wait would never fire
      return;
    }
    default:
      CONFAB_ASSERT(false);
  }
}

void asio_backend::timeout_at(completion* c, clock::time_point at) {
  op* o = start(c, nullptr, k_timer);
  o->timer = std::make_unique<asio::steady_timer>(ctx_, at);
  o->timer->async_wait([this, o](const boost::system::error_code& ec) {
    finish(o, ec ? -ECANCELED : -ETIME, 0);
  });
}

void asio_backend::connect(completion* c, fd_handle& h, const sockaddr* a, socklen_t len,
                           linked_deadline* d) {
  int rc = ::connect(h.fd, a, len);
  if (rc == 0 || errno != EINPROGRESS) {
    ++stats_.submissions;
    complete_later(c, rc == 0 ? 0 : -errno, 0);
    if (d) complete_later(&d->done, -ECANCELED, 0);
    return;
  }
  op* o = start(c, &h, k_connect);
  arm_deadline(o, d);
  wait(o, descriptor::wait_write);
}

void asio_backend::send(completion* c, fd_handle& h, const void* data, std::size_t len,
                        linked_deadline* d) {
  // Speculative first attempt, as Asio's own async_write_some does.
  ssize_t n = ::send(h.fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
    ++stats_.submissions;
    complete_later(c, n < 0 ? -errno : static_cast<std::int32_t>(n), 0);
    if (d) complete_later(&d->done, -ECANCELED, 0);
    return;
  }
  op* o = start(c, &h, k_send);
  o->in = data;
  o->len = len;
  arm_deadline(o, d);
  wait(o, descriptor::wait_write);
}

void asio_backend::recv(completion* c, fd_handle& h, void* data, std::size_t len, linked_deadline* d) {
  op* o = start(c, &h, k_recv);
  o->out = data;
  o->len = len;
  arm_deadline(o, d);
  try_now(o);
}

void asio_backend::read(completion* c, fd_handle& h, void* data, std::size_t len) {
  op* o = start(c, &h, k_read);
  o->out = data;
  o->len = len;
  try_now(o);
}

void asio_backend::accept_multishot(completion* c, fd_handle& h) {
  op* o = start(c, &h, k_accept_ms);
  try_now(o);
}

void asio_backend::recv_multishot(completion* c, fd_handle& h) {
  op* o = start(c, &h, k_recv_ms);
  try_now(o);
}

void asio_backend::cancel(completion* c) {
  ++stats_.cancellations;
  auto it = ops_.find(c);
  if (it == ops_.end()) return;  // finished already, or completing in the deferred queue
  op* o = it->second;
  o->cancel_requested = true;
  if (o->kind == k_timer) {
    o->timer->cancel();
  } else {
    o->sig.emit(asio::cancellation_type::all);
  }
}

std::span<std::byte> asio_backend::buffer(std::uint16_t id) noexcept {
  return {pool_.data() + static_cast<std::size_t>(id) * buffer_size_, buffer_size_};
}

void asio_backend::release_buffer(std::uint16_t id) noexcept { free_.push_back(id); }

std::size_t asio_backend::poll(bool block) {
  std::size_t n = 0;
  if (!deferred_.empty()) {
    running_.swap(deferred_);
    for (auto& d : running_) {
      ++stats_.completions;
      d.c->fn(d.c, d.res, d.flags);
    }
    n += running_.size();
    running_.clear();
    block = false;
  }
  ++stats_.enters;
  if (ctx_.stopped()) ctx_.restart();
  if (block) {
    auto guard = asio::make_work_guard(ctx_);  // keep run_one blocking with no ops
    n += ctx_.run_one();
  }
  n += ctx_.poll();
  return n;
}

void asio_backend::wake() noexcept {
  ++stats_.wakeups_sent;
  asio::post(ctx_, [] {});
}

}  // namespace confab::io
