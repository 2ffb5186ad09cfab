#include "engine/net/listener.hpp"

#include <unistd.h>

namespace confab::net {

result<std::unique_ptr<listener>> listener::bind(io::reactor& r, const address& at, const listen_options& o) {
  auto fd = open_tcp_socket(at.family());
  if (!fd) return fd.error();
  int one = 1;
  ::setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (o.reuse_port) ::setsockopt(*fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (!o.device.empty() &&
      ::setsockopt(*fd, SOL_SOCKET, SO_BINDTODEVICE, o.device.data(), static_cast<socklen_t>(o.device.size())) < 0) {
    error e = from_errno(errno);
    e.detail = "SO_BINDTODEVICE";
    ::close(*fd);
    return e;
  }
  if (::bind(*fd, at.data(), at.size()) < 0 || ::listen(*fd, o.backlog) < 0) {
    error e = from_errno(errno);
    e.detail = "bind/listen";
    ::close(*fd);
    return e;
  }
  return std::unique_ptr<listener>(new listener(r, *fd, o));
}

listener::listener(io::reactor& r, int fd, const listen_options& o) : r_(r), opts_(o) {
  h_.fd = fd;
  r_.io().attach(h_);
  slot_.fn = &listener::on_accept;
  slot_.self = this;
}

listener::~listener() {
  CONFAB_ASSERT(!armed_);
  for (std::size_t i = fds_head_; i < fds_.size(); ++i) ::close(fds_[i]);
  if (h_.fd >= 0) {
    r_.io().detach(h_);
    ::close(h_.fd);
  }
}

address listener::local() const {
  address a;
  socklen_t l = address::capacity;
  if (::getsockname(h_.fd, a.data(), &l) == 0) a.set_size(l);
  return a;
}

void listener::arm() noexcept {
  if (armed_ || closed_) return;
  armed_ = true;
  paused_ = false;
  r_.io().accept_multishot(&slot_, h_);
}

void listener::on_accept(io::completion* c, std::int32_t res, std::uint32_t flags) noexcept {
  listener* self = static_cast<slot*>(c)->self;
  if (res >= 0) {
    if (self->closed_) {
      ::close(res);
    } else {
      self->fds_.push_back(res);
    }
  }
  if ((flags & io::cqe_more) == 0) {
    self->armed_ = false;
    if (res < 0 && res != -ECANCELED) self->error_ = from_errno(-res);
    if (self->closed_) {
      if (self->close_waiter_) std::exchange(self->close_waiter_, {}).resume();
      return;
    }
  } else if (self->fds_.size() - self->fds_head_ >= self->opts_.queue_max && !self->paused_) {
    self->paused_ = true;  // nobody is taking them: let the backlog hold the rest
    self->r_.io().cancel(&self->slot_);
  }
  if (self->waiter_ && self->ready()) std::exchange(self->waiter_, nullptr)->h.resume();
}

int listener::take_fd() noexcept {
  if (fds_head_ >= fds_.size()) return -1;
  int fd = fds_[fds_head_++];
  if (fds_head_ == fds_.size()) {
    fds_.clear();
    fds_head_ = 0;
  }
  if (!armed_ && !closed_ && error_.code == errc::ok) arm();
  return fd;
}

void listener::accept_awaiter::canceller::operator()() const noexcept {
  if (self->l->waiter_ == self) {
    self->l->waiter_ = nullptr;
    self->l->r_.schedule(self->h);
  }
}

void listener::accept_awaiter::await_suspend(std::coroutine_handle<> awaiting) {
  h = awaiting;
  CONFAB_ASSERT(l->waiter_ == nullptr);
  l->waiter_ = this;
  l->arm();
  if (st.stop_possible()) cb.emplace(st, canceller{this});
}

result<std::unique_ptr<connection>> listener::accept_awaiter::await_resume() noexcept {
  cb.reset();
  int fd = l->take_fd();
  if (fd >= 0) return connection::adopt(l->r_, fd, l->opts_.connection);
  if (l->error_.code != errc::ok) {
    error e = std::exchange(l->error_, error{errc::ok});
    return e;  // the next accept() re-arms
  }
  if (l->closed_) return make_error(errc::cancelled, "listener closed");
  return errc::cancelled;
}

task<void> listener::close() {
  if (closed_) co_return;
  closed_ = true;
  if (armed_) {
    r_.io().cancel(&slot_);
    struct wait_final {
      listener* l;
      bool await_ready() const noexcept { return !l->armed_; }
      void await_suspend(std::coroutine_handle<> h) noexcept { l->close_waiter_ = h; }
      void await_resume() const noexcept {}
    };
    wait_final final_completions{this};
    co_await final_completions;
  }
  if (waiter_) r_.schedule(std::exchange(waiter_, nullptr)->h);
}

}  // namespace confab::net
