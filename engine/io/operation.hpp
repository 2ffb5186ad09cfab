// confab engine: one awaited single-shot I/O operation.
//
// The awaiter is the operation: it lives in the coroutine frame, the backend
// stores its address, and the completion resumes the waiter. It takes an
// optional deadline (a linked timeout on io_uring) and a stop_token whose
// trigger becomes an async cancel of the in-flight submission. It resumes
// only after every completion it is owed has arrived, so its memory (and the
// buffer it names) stays valid until the kernel is done with it.
//
//   auto r = co_await io_operation(reactor, deadline, st, [&](backend& b, completion* c,
//                                  linked_deadline* d) { b.connect(c, h, addr, len, d); });
#pragma once

#include <optional>
#include <stop_token>

#include "engine/io/reactor.hpp"

namespace confab::io {

template <class Start>
class io_operation {
 public:
  io_operation(reactor& r, std::optional<clock::time_point> deadline, std::stop_token st, Start start)
      : r_(r), deadline_(deadline), st_(std::move(st)), start_(std::move(start)) {}
  io_operation(const io_operation&) = delete;

  bool await_ready() const noexcept { return st_.stop_requested(); }

  void await_suspend(std::coroutine_handle<> h) {
    h_ = h;
    started_ = true;
    op_.fn = &io_operation::on_op;
    op_.self = this;
    pending_ = 1;
    linked_deadline* d = nullptr;
    if (deadline_) {
      dl_.done.fn = &io_operation::on_deadline;
      dl_.self = this;
      dl_.at = *deadline_;
      d = &dl_;
      pending_ = 2;
    }
    start_(r_.io(), &op_, d);
    if (st_.stop_possible()) cb_.emplace(st_, canceller{this});
  }

  // The operation's result (bytes, a descriptor, 0), or its error; a
  // deadline that fired reads as `timed_out`, a stop as `cancelled`.
  result<int> await_resume() noexcept {
    cb_.reset();
    if (!started_) return errc::cancelled;
    if (res_ >= 0) return res_;
    if (res_ == -ECANCELED && timed_out_) return error{errc::timed_out, ETIMEDOUT, nullptr};
    return from_errno(-res_);
  }

 private:
  struct op_slot : completion {
    io_operation* self = nullptr;
  };
  struct deadline_slot : linked_deadline {
    io_operation* self = nullptr;
  };
  struct canceller {
    io_operation* self;
    void operator()() const noexcept {
      if (self->pending_ > 0) self->r_.io().cancel(&self->op_);
    }
  };
  static void on_op(completion* c, std::int32_t res, std::uint32_t) noexcept {
    auto* self = static_cast<op_slot*>(c)->self;
    self->res_ = res;
    self->done_one();
  }
  static void on_deadline(completion* c, std::int32_t res, std::uint32_t) noexcept {
    // `done` is the first member of linked_deadline, so c is its address.
    auto* self = static_cast<deadline_slot*>(reinterpret_cast<linked_deadline*>(c))->self;
    if (res == -ETIME) self->timed_out_ = true;
    self->done_one();
  }
  void done_one() noexcept {
    if (--pending_ == 0) h_.resume();
  }

  reactor& r_;
  std::optional<clock::time_point> deadline_;
  std::stop_token st_;
  Start start_;
  op_slot op_{};
  deadline_slot dl_{};
  std::int32_t res_ = 0;
  int pending_ = 0;
  bool started_ = false;
  bool timed_out_ = false;
  std::coroutine_handle<> h_{};
  std::optional<std::stop_callback<canceller>> cb_;
};

}  // namespace confab::io
