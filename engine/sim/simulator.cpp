#include "engine/sim/simulator.hpp"

namespace confab::sim {

class simulator::node_env final : public seam::env {
 public:
  node_env(simulator& s, seam::node_id id, std::uint64_t seed) : s_(s), id_(id), rng_(seed) {}
  seam::node_id self() const noexcept override { return id_; }
  seam::time_point now() const noexcept override { return s_.now_; }
  seam::random& rng() noexcept override { return rng_; }
  result<void> send(seam::node_id to, std::span<const std::byte> payload) override {
    return s_.send_from(id_, to, payload);
  }
  void set_timer(seam::time_point at) override { s_.set_timer_for(id_, at); }

 private:
  simulator& s_;
  seam::node_id id_;
  seam::random rng_;
};

struct simulator::slot {
  factory make;
  std::unique_ptr<seam::node> node;
  std::unique_ptr<node_env> env;
  std::uint64_t incarnation = 0;
  std::uint64_t timer_generation = 0;
  seam::time_point paused_until{0};
};

simulator::simulator(std::uint64_t seed, network_model m) : seed_(seed), model_(m), rng_(seed) {}
simulator::~simulator() = default;

void simulator::mix(std::uint64_t v) noexcept {
  // FNV-1a over 8-byte words: order-sensitive, so a reordered replay differs.
  for (int i = 0; i < 8; ++i) {
    hash_ ^= (v >> (8 * i)) & 0xff;
    hash_ *= 0x100000001b3ull;
  }
}

void simulator::push(event e) {
  e.seq = seq_++;
  events_.push(std::move(e));
}

seam::node_id simulator::add_node(factory f) {
  const auto id = static_cast<seam::node_id>(nodes_.size());
  auto s = std::make_unique<slot>();
  s->make = std::move(f);
  nodes_.push_back(std::move(s));
  restart(id);
  return id;
}

seam::node* simulator::get(seam::node_id id) noexcept {
  return id < nodes_.size() ? nodes_[id]->node.get() : nullptr;
}

bool simulator::alive(seam::node_id id) const noexcept { return id < nodes_.size() && nodes_[id]->node != nullptr; }

void simulator::crash(seam::node_id id) {
  CONFAB_ASSERT(id < nodes_.size());
  auto& s = *nodes_[id];
  s.node.reset();
  s.env.reset();
  ++s.incarnation;  // messages in flight to the old incarnation are dropped
  ++s.timer_generation;
  mix(0xdead0000ull | id);
  // As with TCP, a crashed process resets its connections: every live node
  // hears that its link to it is down.
  if (model_.reset_on_crash) {
    for (seam::node_id y = 0; y < nodes_.size(); ++y)
      if (y != id && nodes_[y]->node) push(event{now_ + model_.delay_min, 0, 2, id, y, nodes_[y]->incarnation, {}});
  }
}

void simulator::pause(seam::node_id id, seam::duration d) {
  CONFAB_ASSERT(id < nodes_.size());
  nodes_[id]->paused_until = now_ + d;
  mix(0x9a000000ull | id);
}

void simulator::restart(seam::node_id id) {
  CONFAB_ASSERT(id < nodes_.size());
  auto& s = *nodes_[id];
  if (s.node) crash(id);
  ++s.incarnation;
  // Each incarnation draws its own seed from the simulator's generator.
  s.env = std::make_unique<node_env>(*this, id, rng_.next());
  s.node = s.make(id);
  mix(0x57a70000ull | id);
  s.node->on_start(*s.env);
}

void simulator::partition(const std::vector<seam::node_id>& a, const std::vector<seam::node_id>& b, bool symmetric) {
  for (auto x : a) {
    for (auto y : b) {
      cut_.insert({x, y});
      if (symmetric) cut_.insert({y, x});
    }
  }
}

void simulator::heal() { cut_.clear(); }

void simulator::clog(const std::vector<seam::node_id>& a, const std::vector<seam::node_id>& b, bool symmetric) {
  for (auto x : a) {
    for (auto y : b) {
      clogged_.insert({x, y});
      if (symmetric) clogged_.insert({y, x});
    }
  }
}

void simulator::unclog() {
  clogged_.clear();
  // Released in the order they fell due; push gives each a later sequence
  // number, so that order holds among equal times.
  auto held = std::move(held_);
  held_.clear();
  for (auto& e : held) {
    e.at = now_;
    push(std::move(e));
  }
}

void simulator::apply(const fault::action<seam::node_id>& a) {
  fault::play(*this, a, [this](seam::node_id id) { restart(id); });
}

bool simulator::blocked(seam::node_id from, seam::node_id to) const { return cut_.count({from, to}) != 0; }

result<void> simulator::send_from(seam::node_id from, seam::node_id to, std::span<const std::byte> payload) {
  if (to >= nodes_.size()) return make_error(errc::unreachable, "unknown node");
  if (!nodes_[to]->node && model_.reset_on_crash) {
    // A connect to a crashed node is refused: the sender hears so.
    ++stats_.to_crashed;
    push(event{now_ + model_.delay_min, 0, 2, to, from, nodes_[from]->incarnation, {}});
    return {};
  }
  if (payload.size() > model_.message_bytes_max) return make_error(errc::too_large, "message over the model's limit");
  ++stats_.sent;
  // Draw every random number whether or not it is used, so the sequence
  // does not depend on the outcome of earlier draws.
  const double loss_draw = rng_.unit();
  const double dup_draw = rng_.unit();
  const auto span_ns = static_cast<std::uint64_t>((model_.delay_max - model_.delay_min).count());
  const auto d1 = model_.delay_min + seam::duration(span_ns ? static_cast<long long>(rng_.below(span_ns + 1)) : 0);
  const auto d2 = model_.delay_min + seam::duration(span_ns ? static_cast<long long>(rng_.below(span_ns + 1)) : 0);
  seam::duration extra{0};
  if (loss_draw < model_.loss) {
    if (!model_.retransmit) {
      ++stats_.lost;
      return {};
    }
    ++stats_.retransmitted;
    extra = model_.rto;
  }
  event e{now_ + d1 + extra, 0, 0, from, to, nodes_[to]->incarnation, {payload.begin(), payload.end()}};
  if (dup_draw < model_.duplicate) {
    ++stats_.duplicated;
    event dup = e;
    dup.at = now_ + d2;
    push(std::move(dup));
  }
  push(std::move(e));
  return {};
}

void simulator::set_timer_for(seam::node_id id, seam::time_point at) {
  auto& s = *nodes_[id];
  ++s.timer_generation;
  push(event{std::max(at, now_), 0, 1, id, id, s.timer_generation, {}});
}

bool simulator::step() {
  if (events_.empty()) return false;
  event e = events_.top();
  events_.pop();
  now_ = e.at;
  auto& s = *nodes_[e.to];
  if (now_ < s.paused_until) {
    // A paused node (SIGSTOP) handles nothing until it resumes; its events
    // wait, in order.
    e.at = s.paused_until;
    push(std::move(e));
    return true;
  }
  if (e.kind == 2) {
    if (!s.node || e.generation != s.incarnation) return true;
    mix(0x1d000000ull ^ (static_cast<std::uint64_t>(now_.count()) * 31 + e.to * 7 + e.from));
    s.node->on_link_down(*s.env, e.from);
    return true;
  }
  if (e.kind == 1) {
    if (!s.node || e.generation != s.timer_generation) return true;  // replaced or crashed
    ++stats_.timers;
    mix(0x71000000ull ^ (static_cast<std::uint64_t>(now_.count()) * 31 + e.to));
    s.node->on_timer(*s.env);
    return true;
  }
  if (!s.node || e.generation != s.incarnation) {
    ++stats_.to_crashed;
    return true;
  }
  if (blocked(e.from, e.to)) {
    ++stats_.partitioned;
    return true;
  }
  if (clogged_.count({e.from, e.to})) {
    ++stats_.clogged;
    held_.push_back(std::move(e));
    return true;
  }
  ++stats_.delivered;
  mix(static_cast<std::uint64_t>(now_.count()));
  mix((static_cast<std::uint64_t>(e.from) << 32) | e.to);
  for (auto b : e.payload) hash_ = (hash_ ^ static_cast<unsigned char>(b)) * 0x100000001b3ull;
  if (!s.node->on_message(*s.env, e.from, e.payload)) ++stats_.rejected;
  return true;
}

void simulator::run_until(seam::time_point t, const std::function<void()>& after_each) {
  while (!events_.empty() && events_.top().at <= t) {
    step();
    if (after_each) after_each();
  }
  if (now_ < t) now_ = t;
}

}  // namespace confab::sim
