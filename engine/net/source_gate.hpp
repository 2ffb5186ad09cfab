// confab engine: caps on the connections a listener holds, per source IP and
// in total.
//
// Every port that accepts connections from strangers (a node's native port,
// the text dialects' ports) admits each accepted connection through a gate:
// a connection over a cap is refused (counted, and the caller closes it with
// a logged reason); one admitted holds its place until its ticket is
// destroyed. A cap of 0 is no cap.
//
//   net::source_gate gate({.per_source_max = 64, .total_max = 1024});
//   auto t = gate.admit(conn->peer().ipv4_host_order());
//   if (!t) { log(t.error().detail); co_await conn->close(); }
//   else spawn(serve(std::move(conn), std::move(*t)));
//
// Thread: one (the reactor's). The gate outlives its tickets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>

#include "engine/core/result.hpp"

namespace confab::net {

struct source_limits {
  std::size_t per_source_max = 0;
  std::size_t total_max = 0;
};

class source_gate {
 public:
  using limits = source_limits;

  class ticket {
   public:
    ticket() = default;
    ticket(ticket&& o) noexcept : gate_(std::exchange(o.gate_, nullptr)), ip_(o.ip_) {}
    ticket& operator=(ticket&& o) noexcept {
      if (this != &o) {
        release();
        gate_ = std::exchange(o.gate_, nullptr);
        ip_ = o.ip_;
      }
      return *this;
    }
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;
    ~ticket() { release(); }

   private:
    friend class source_gate;
    ticket(source_gate* g, std::uint32_t ip) : gate_(g), ip_(ip) {}
    void release() noexcept {
      if (gate_) gate_->release(ip_);
      gate_ = nullptr;
    }
    source_gate* gate_ = nullptr;
    std::uint32_t ip_ = 0;
  };

  explicit source_gate(limits l = {}) : limits_(l) {}
  source_gate(const source_gate&) = delete;
  source_gate& operator=(const source_gate&) = delete;

  // A place for one more connection from `ip`, or `queue_full` naming the
  // cap that refused it.
  result<ticket> admit(std::uint32_t ip) {
    if (limits_.total_max > 0 && open_ >= limits_.total_max) {
      ++refused_total_;
      return make_error(errc::queue_full, "too many connections open on this port");
    }
    if (limits_.per_source_max > 0) {
      auto it = per_source_.find(ip);
      if (it != per_source_.end() && it->second >= limits_.per_source_max) {
        ++refused_source_;
        return make_error(errc::queue_full, "too many connections from this source IP");
      }
    }
    ++per_source_[ip];
    ++open_;
    return ticket(this, ip);
  }

  std::size_t open() const noexcept { return open_; }
  std::uint64_t refused_source() const noexcept { return refused_source_; }
  std::uint64_t refused_total() const noexcept { return refused_total_; }

 private:
  void release(std::uint32_t ip) noexcept {
    --open_;
    if (auto it = per_source_.find(ip); it != per_source_.end() && --it->second == 0) per_source_.erase(it);
  }
  limits limits_;
  std::unordered_map<std::uint32_t, std::size_t> per_source_;
  std::size_t open_ = 0;
  std::uint64_t refused_source_ = 0, refused_total_ = 0;
};

}  // namespace confab::net
