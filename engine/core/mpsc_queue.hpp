// confab engine: a bounded lock-free queue for hand-off between threads.
//
// Fixed capacity (a power of two), allocated once. Any number of producers
// and consumers; each slot carries a sequence number so that a producer and
// a consumer never touch the same slot at once (the classic bounded
// sequence-ring design). `try_push` fails when full: the caller decides
// whether to wait, drop or report `queue_full`; the queue never grows.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>

#include "engine/core/result.hpp"

namespace confab {

template <class T>
class bounded_queue {
  static_assert(std::is_nothrow_move_constructible_v<T>);

 public:
  explicit bounded_queue(std::size_t capacity) {
    std::size_t cap = 2;
    while (cap < capacity) cap <<= 1;
    mask_ = cap - 1;
    slots_ = std::make_unique<slot[]>(cap);
    for (std::size_t i = 0; i < cap; ++i) slots_[i].seq.store(i, std::memory_order_relaxed);
  }

  bool try_push(T v) noexcept {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      slot& s = slots_[pos & mask_];
      std::size_t seq = s.seq.load(std::memory_order_acquire);
      auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          ::new (&s.storage) T(std::move(v));
          s.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  std::optional<T> try_pop() noexcept {
    std::size_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      slot& s = slots_[pos & mask_];
      std::size_t seq = s.seq.load(std::memory_order_acquire);
      auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos + 1);
      if (diff == 0) {
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          T* p = std::launder(reinterpret_cast<T*>(&s.storage));
          std::optional<T> out(std::move(*p));
          p->~T();
          s.seq.store(pos + mask_ + 1, std::memory_order_release);
          return out;
        }
      } else if (diff < 0) {
        return std::nullopt;  // empty
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
  }

  std::size_t capacity() const noexcept { return mask_ + 1; }

  ~bounded_queue() {
    while (try_pop()) {
    }
  }

 private:
  struct slot {
    std::atomic<std::size_t> seq{0};
    alignas(T) unsigned char storage[sizeof(T)];
  };
  std::unique_ptr<slot[]> slots_;
  std::size_t mask_ = 0;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
};

}  // namespace confab
