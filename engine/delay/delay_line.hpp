// confab engine: the delay line of the RTT emulator.
//
// Frames wait here between send and delivery. `submit` samples the link's
// model (engine/delay/link_model.hpp) and files the frame under its due
// time in a hierarchical timing wheel (4 levels of 256 slots, 32.768 µs per
// slot at level 0, so a due time up to 39 hours ahead costs O(1)); `advance`
// hands over, in due order, every frame whose slot has come, and
// `next_due` tells the reactor when to wake (one absolute timeout, so no
// drift accumulates). Frames are opaque 64-bit handles owned by the caller.
//
//   delay::delay_line d(seed);
//   auto l = d.add_link(model);
//   d.submit(l, now_ns, bytes, handle);           // dropped, or filed (maybe twice)
//   d.advance(now_ns, [&](std::uint64_t h, std::uint64_t due_ns) { deliver(h); });
//
// A frame is never handed over before its due time, and `next_due_ns` is
// the exact due time of the earliest frame in the nearest occupied slot, so
// a reactor that sleeps until it is late only by its own wake-up latency.
//
// Thread: one (a reactor's).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/delay/link_model.hpp"
#include "engine/seam/env.hpp"

namespace confab::delay {

using link_id = std::uint32_t;

enum class verdict : std::uint8_t { queued, duplicated, lost, partitioned, rate_limited };

struct delay_stats {
  std::uint64_t submitted = 0, queued = 0, duplicated = 0, lost = 0, partitioned = 0, delivered = 0;
};

class delay_line {
 public:
  static constexpr int slot_shift = 15;  // 32.768 µs per level-0 slot
  explicit delay_line(std::uint64_t seed = 1);

  link_id add_link(const link_model& m);
  link_model& link(link_id l) { return links_[l]; }
  std::size_t links() const noexcept { return links_.size(); }
  // A shared empirical delay table (ns); returns its index for link_model::table.
  std::uint16_t add_table(std::vector<std::uint64_t> delays_ns);

  // ## submit
  // Samples the link for a frame of `bytes` sent at `now_ns`. `queued` (or
  // `duplicated`: filed twice, the copy with its own delay) or why it was
  // dropped.
  verdict submit(link_id l, std::uint64_t now_ns, std::uint32_t bytes, std::uint64_t handle);
  // The delay alone (no loss, no filing), for self-tests of the model.
  std::uint64_t sample_delay_ns(link_model& m);

  // ## advance
  // Calls fn(handle, due_ns) for every filed frame due at or before now_ns,
  // in due order (frames in one slot in filing order).
  template <class Fn>
  void advance(std::uint64_t now_ns, Fn&& fn);

  // The due time of the earliest frame when it is in the level-0 wheel
  // (within 8.4 ms), else the next block boundary (where frames cascade
  // down); UINT64_MAX when nothing is filed.
  std::uint64_t next_due_ns() const noexcept;
  std::size_t pending() const noexcept { return pending_; }
  const delay_stats& stats() const noexcept { return stats_; }

 private:
  struct item {
    std::uint64_t due_ns;
    std::uint64_t handle;
    std::uint32_t next;
  };
  static constexpr std::uint32_t none = ~std::uint32_t{0};
  static constexpr int levels = 4;
  struct slot {
    std::uint32_t head = none, tail = none;
  };
  void file(std::uint64_t due_ns, std::uint64_t handle);
  void place(std::uint32_t i);
  void cascade(int level);
  std::uint32_t alloc();
  double gaussian();

  std::vector<link_model> links_;
  std::vector<std::vector<std::uint64_t>> tables_;
  std::vector<item> items_;
  std::uint32_t free_ = none;
  std::array<std::array<slot, 256>, levels> wheel_{};
  std::array<std::array<std::uint64_t, 4>, levels> occupied_{};  // bitmap per level
  std::uint64_t cur_tick_ = 0;  // the level-0 slot being served next
  bool started_ = false;
  std::size_t pending_ = 0;
  seam::random rng_;
  double spare_ = 0;
  bool has_spare_ = false;
  delay_stats stats_;
};

template <class Fn>
void delay_line::advance(std::uint64_t now_ns, Fn&& fn) {
  if (!started_) return;
  const std::uint64_t now_tick = now_ns >> slot_shift;
  while (cur_tick_ < now_tick && pending_ > 0) {
    const auto pos = static_cast<std::size_t>(cur_tick_ & 255);
    auto& s = wheel_[0][pos];
    // A slot wholly in the past: every item in it is due before now.
    while (s.head != none) {
      const std::uint32_t i = s.head;
      s.head = items_[i].next;
      if (s.head == none) s.tail = none;
      const item it = items_[i];
      items_[i].next = free_;
      free_ = i;
      --pending_;
      ++stats_.delivered;
      fn(it.handle, it.due_ns);
    }
    occupied_[0][pos / 64] &= ~(std::uint64_t{1} << (pos % 64));
    ++cur_tick_;
    if ((cur_tick_ & 255) == 0) cascade(1);
  }
  if (pending_ == 0) {
    if (cur_tick_ < now_tick) cur_tick_ = now_tick;  // an empty wheel jumps ahead
    return;
  }
  if (cur_tick_ != now_tick) return;
  // The slot `now` is in: only what is due by now (never early); the rest
  // stays, in filing order. Taken out first, so frames filed by `fn` wait
  // for the next call.
  const auto pos = static_cast<std::size_t>(cur_tick_ & 255);
  auto& s = wheel_[0][pos];
  std::uint32_t prev = none, i = s.head, taken = none, taken_tail = none;
  while (i != none) {
    const std::uint32_t next = items_[i].next;
    if (items_[i].due_ns <= now_ns) {
      if (prev == none) s.head = next;
      else items_[prev].next = next;
      if (s.tail == i) s.tail = prev;
      items_[i].next = none;
      if (taken == none) taken = taken_tail = i;
      else items_[taken_tail].next = i, taken_tail = i;
    } else {
      prev = i;
    }
    i = next;
  }
  if (s.head == none) occupied_[0][pos / 64] &= ~(std::uint64_t{1} << (pos % 64));
  while (taken != none) {
    const item it = items_[taken];
    items_[taken].next = free_;
    free_ = taken;
    taken = it.next;
    --pending_;
    ++stats_.delivered;
    fn(it.handle, it.due_ns);
  }
}

}  // namespace confab::delay
