#include "engine/io/reactor.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "engine/io/asio_backend.hpp"
#include "engine/io/uring_backend.hpp"

namespace confab::io {

namespace {
thread_local reactor* tls_current = nullptr;
}

const char* backend_name(backend_kind k) noexcept { return k == backend_kind::uring ? "io_uring" : "epoll"; }

bool parse_backend_choice(std::string_view s, backend_choice& out) noexcept {
  if (s == "auto") out = backend_choice::automatic;
  else if (s == "uring" || s == "io_uring") out = backend_choice::uring;
  else if (s == "epoll" || s == "asio") out = backend_choice::epoll;
  else return false;
  return true;
}

// The probe sets up a small ring with the wanted flags, submits a NOP and
// checks the opcodes the engine needs. Decided once per process.
backend_probe probe_backend(backend_choice choice) {
  static std::once_flag once;
  static backend_probe cached;
  std::call_once(once, [] {
    io_uring ring{};
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int rc = io_uring_queue_init_params(8, &ring, &p);
    if (rc == -EINVAL) {
      std::memset(&p, 0, sizeof p);
      rc = io_uring_queue_init_params(8, &ring, &p);
    }
    if (rc < 0) {
      cached.kind = backend_kind::epoll;
      cached.error = -rc;
      cached.reason = std::string("io_uring_setup refused: ") + std::strerror(-rc);
      return;
    }
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    io_uring_prep_nop(s);
    rc = io_uring_submit_and_wait(&ring, 1);
    io_uring_cqe* cqe = nullptr;
    if (rc < 0 || io_uring_peek_cqe(&ring, &cqe) != 0 || cqe->res < 0) {
      cached.kind = backend_kind::epoll;
      cached.error = rc < 0 ? -rc : EIO;
      cached.reason = "io_uring NOP failed";
      io_uring_queue_exit(&ring);
      return;
    }
    io_uring_cqe_seen(&ring, cqe);
    io_uring_probe* probe = io_uring_get_probe_ring(&ring);
    bool ok = probe != nullptr;
    const int needed[] = {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SEND, IORING_OP_CONNECT,
                          IORING_OP_TIMEOUT, IORING_OP_LINK_TIMEOUT, IORING_OP_ASYNC_CANCEL,
                          IORING_OP_READ};
    for (int op : needed) ok = ok && io_uring_opcode_supported(probe, op);
    if (probe) io_uring_free_probe(probe);
    io_uring_queue_exit(&ring);
    if (!ok) {
      cached.kind = backend_kind::epoll;
      cached.error = ENOSYS;
      cached.reason = "io_uring lacks a needed opcode";
      return;
    }
    cached.kind = backend_kind::uring;
    cached.reason = "io_uring available";
  });
  backend_probe out = cached;
  if (choice == backend_choice::epoll) {
    out.kind = backend_kind::epoll;
    out.reason = "forced by --backend=epoll";
    out.error = 0;
  } else if (choice == backend_choice::uring) {
    if (cached.kind != backend_kind::uring) return out;  // caller reports the error
    out.reason = "forced by --backend=uring";
  } else if (cached.kind == backend_kind::epoll) {
    // Only refusals fall back. Resource errors stay errors.
    if (cached.error == ENOMEM || cached.error == EMFILE || cached.error == ENFILE) {
      out.kind = backend_kind::uring;  // caller will hit the same error and report it
    } else {
      out.reason = "fallback: " + cached.reason;
    }
  }
  return out;
}

result<std::unique_ptr<reactor>> reactor::create(const reactor_options& o) {
  std::unique_ptr<reactor> r(new reactor());
  backend_probe pr = probe_backend(o.backend);
  if (o.backend == backend_choice::uring && pr.kind != backend_kind::uring) {
    return error{errc::unsupported, pr.error, "io_uring was forced but the kernel refused it"};
  }
  if (pr.kind == backend_kind::uring) {
    auto b = uring_backend::create(o.io);
    if (!b) return b.error();
    r->backend_ = std::move(b).value();
  } else {
    auto b = asio_backend::create(o.io, pr.reason);
    if (!b) return b.error();
    r->backend_ = std::move(b).value();
  }
  r->inbox_ = std::make_unique<bounded_queue<posted_work>>(o.inbox_capacity);
  // The choice is logged once per process with its reason (CONFAB_QUIET=1
  // silences it for tools that print their own).
  static std::once_flag logged;
  std::call_once(logged, [&] {
    const char* quiet = std::getenv("CONFAB_QUIET");
    if (quiet == nullptr || quiet[0] != '1') {
      std::fprintf(stderr, "confab: engine backend %s (%s)\n", backend_name(pr.kind), pr.reason.c_str());
    }
  });
  tls_current = r.get();
  return r;
}

reactor::~reactor() {
  if (tls_current == this) tls_current = nullptr;
}

reactor* reactor::current() noexcept { return tls_current; }

void reactor::turn(const bool* done) {
  tls_current = this;
  // Ready coroutines first (resumed by stop callbacks, scope joins, posts).
  std::size_t n = ready_.size();
  for (std::size_t i = 0; i < n && !ready_.empty(); ++i) {
    auto h = ready_.front();
    ready_.pop_front();
    h.resume();
  }
  run_inbox();
  const bool finished = done != nullptr && *done;
  backend_->poll(!finished && ready_.empty() && !wake_pending_.load(std::memory_order_acquire));
  if (starved_head_ && backend_->buffers_free() > 0) rearm_starved();
}

void reactor::run_inbox() noexcept {
  wake_pending_.store(false, std::memory_order_release);
  for (std::size_t i = 0; i < inbox_->capacity(); ++i) {
    auto w = inbox_->try_pop();
    if (!w) break;
    w->fn(w->arg);
  }
}

bool reactor::post(posted_work w) noexcept {
  if (!inbox_->try_push(w)) return false;
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    reactor* self = tls_current;
    if (self == this) return true;  // we are the target: the loop will see it
    if (self == nullptr || !self->backend_->wake_via(*backend_)) backend_->wake();
  }
  return true;
}

void reactor::request_drain() noexcept {
  if (drain_.stop_requested()) return;
  drain_started_ = clock::now();
  drain_.request_stop();
}

void reactor::drain_trampoline(void* self) noexcept { static_cast<reactor*>(self)->request_drain(); }

void reactor::request_drain_from_any_thread() noexcept {
  while (!post({&reactor::drain_trampoline, this})) {
  }
}

void reactor::note_drained() noexcept {
  if (drain_started_ != clock::time_point{}) {
    stats().drain_ms = std::chrono::duration<double, std::milli>(clock::now() - drain_started_).count();
  }
}

void reactor::wait_for_buffers(buffer_waiter* w) noexcept {
  if (w->waiting_for_buffers) return;
  w->waiting_for_buffers = true;
  w->next_waiter = starved_head_;
  starved_head_ = w;
}

void reactor::forget_buffer_waiter(buffer_waiter* w) noexcept {
  if (!w->waiting_for_buffers) return;
  for (buffer_waiter** p = &starved_head_; *p; p = &(*p)->next_waiter) {
    if (*p == w) {
      *p = w->next_waiter;
      break;
    }
  }
  w->waiting_for_buffers = false;
  w->next_waiter = nullptr;
}

void reactor::rearm_starved() noexcept {
  buffer_waiter* list = std::exchange(starved_head_, nullptr);
  while (list) {
    buffer_waiter* w = list;
    list = w->next_waiter;
    w->next_waiter = nullptr;
    w->waiting_for_buffers = false;
    w->on_buffers_available();
  }
}

// ---- sleep ----

sleep_awaiter sleep_until(clock::time_point at, std::stop_token st) { return sleep_awaiter(at, std::move(st)); }
sleep_awaiter sleep_for(clock::duration d, std::stop_token st) {
  return sleep_awaiter(clock::now() + d, std::move(st));
}

void sleep_awaiter::canceller::operator()() const noexcept { self->r->io().cancel(&self->c); }

void sleep_awaiter::await_suspend(std::coroutine_handle<> awaiting) {
  h = awaiting;
  r = reactor::current();
  CONFAB_ASSERT(r != nullptr);
  c.fn = &sleep_awaiter::on_complete;
  c.self = this;
  started = true;
  r->io().timeout_at(&c, at);
  if (st.stop_possible()) cb.emplace(st, canceller{this});
}

void sleep_awaiter::on_complete(completion* c, std::int32_t res, std::uint32_t) noexcept {
  auto* self = static_cast<slot*>(c)->self;
  self->res = res;
  self->h.resume();
}

result<void> sleep_awaiter::await_resume() noexcept {
  cb.reset();
  if (!started || res == -ECANCELED) return errc::cancelled;
  if (res == -ETIME || res == 0) return {};
  return from_errno(-res);
}

}  // namespace confab::io
