#include "engine/host/fabric.hpp"

#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/net/framing.hpp"
#include "engine/host/tcp_host.hpp"

namespace confab::host {

const char* transport_name(transport_kind k) noexcept { return k == transport_kind::tcp ? "tcp" : "inproc"; }

std::optional<transport_kind> transport_from_name(std::string_view name) noexcept {
  for (auto k : {transport_kind::tcp, transport_kind::inproc})
    if (name == transport_name(k)) return k;
  return std::nullopt;
}

namespace {
constexpr std::int64_t never = INT64_MAX;
constexpr int incarnation_shift = 40;
// A sender id no node has: "this connection was idle and is closing; not a
// failure". Answered with the same frame, then the connection closes.
constexpr node_id goodbye = ~node_id{0} - 1;
void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
void drop(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}
std::uint64_t pair_key(std::uint32_t a, std::uint32_t b) noexcept { return (std::uint64_t{a} << 32) | b; }
const bool trace_links = std::getenv("CONFAB_FABRIC_TRACE") != nullptr;
}  // namespace

// ---------------------------------------------------------------- group

fabric_group::fabric_group(fabric_group_options o) : o_(o), fabrics_(new std::atomic<fabric*>[o.threads]) {
  for (unsigned i = 0; i < o_.threads; ++i) fabrics_[i].store(nullptr);
}

std::int64_t fabric_group::index_of(node_id id) const noexcept {
  if (!is_endpoint(id)) return -1;
  const auto ip = endpoint_ipv4(id);
  if (ip < o_.first_ip) return -1;
  const std::uint32_t g = ip - o_.first_ip;
  if (id_of(g) != id) return -1;
  return g;
}

void fabric_group::attach(unsigned thread, fabric* f) { fabrics_[thread].store(f, std::memory_order_release); }

// ---------------------------------------------------------------- nodes

class fabric::env_impl final : public env {
 public:
  env_impl(fabric& f, slot& node_slot, std::uint64_t seed) : fabric_(f), slot_(node_slot), rng_(seed) {}
  node_id self() const noexcept override;
  time_point now() const noexcept override { return fabric_.now(); }
  random& rng() noexcept override { return rng_; }
  result<void> send(node_id to, std::span<const std::byte> payload) override { return fabric_.send(slot_, to, payload); }
  void set_timer(time_point at) override { fabric_.set_timer(slot_, at); }

 private:
  fabric& fabric_;
  slot& slot_;
  random rng_;
};

struct fabric::tcp_link {
  std::shared_ptr<net::connection> conn;  // the pair's one connection, either side's dial
  std::vector<std::vector<std::byte>> pending;  // framed, while connecting
  bool connecting = false;
  std::int64_t last_active_ns = 0;
};

struct fabric::slot {
  enum state_t : std::uint8_t { waiting, running, paused, dead };
  std::uint32_t g = 0;
  node_id id = 0;
  std::unique_ptr<node> n;
  std::unique_ptr<env_impl> env;
  state_t state = waiting;
  std::int64_t start_at = 0, paused_until = 0;
  std::int64_t timer_at = never;   // the node's own timer
  std::int64_t queued_at = never;  // earliest entry of this slot in the timer heap
  std::vector<handoff> backlog;    // while paused
  std::unordered_map<node_id, std::unique_ptr<tcp_link>> links;  // tcp
  std::vector<std::uint32_t> out;  // the nodes it has a link to (inproc: its "connections")
  std::unordered_set<net::connection*> conns;  // tcp: every connection with a read loop
  struct sent_seq {
    std::uint64_t seq = 0;
    std::int64_t at_ns = 0;  // when the last one was accepted
  };
  std::unordered_map<node_id, sent_seq> seq_out;     // tcp: last sequence number sent per peer
  std::unordered_map<node_id, std::uint64_t> seq_in;  // tcp: last sequence number received per peer
  std::uint64_t incarnation = 0;                                // restarts so far
};

node_id fabric::env_impl::self() const noexcept { return slot_.id; }

fabric::fabric(fabric_group& g, unsigned thread, io::reactor& r, std::uint64_t seed, fabric_options o)
    : group_(g), thread_(thread), r_(r), o_(std::move(o)), delay_(seed), rng_(seed ^ 0x5eedf00dull) {
  outbox_.resize(group_.options().threads);
  // The pump's timer must wake the reactor at the due time; a batched wait
  // would hold it up to batch_wait_us (measured: lateness p50 36 -> 110 us
  // for 1,000 peers over TCP).
  r_.io().disable_batched_waits();
  group_.attach(thread, this);
}

fabric::~fabric() = default;

time_point fabric::now() const noexcept { return io::clock::now() - epoch_; }
std::uint64_t fabric::now_ns() const noexcept {
  const auto d = (io::clock::now() - epoch_).count();
  return d < 0 ? 0 : static_cast<std::uint64_t>(d);
}

void fabric::add(std::uint32_t g, std::unique_ptr<node> n, time_point start_at) {
  CONFAB_ASSERT(group_.thread_of(g) == thread_);
  const std::size_t li = g / group_.options().threads;
  if (slots_.size() <= li) slots_.resize(li + 1);
  auto node_slot = std::make_unique<slot>();
  node_slot->g = g;
  node_slot->id = group_.id_of(g);
  node_slot->n = std::move(n);
  node_slot->env = std::make_unique<env_impl>(*this, *node_slot, rng_.next());
  node_slot->start_at = start_at.count();
  slots_[li] = std::move(node_slot);
  auto& sl = *slots_[li];
  sl.queued_at = sl.start_at;
  timers_.push({sl.start_at, static_cast<std::uint32_t>(li)});
  if (running_ && armed_ns_ >= 0 && sl.start_at < armed_ns_) wake();
}

fabric::slot* fabric::local_g(std::uint32_t g) noexcept {
  if (group_.thread_of(g) != thread_) return nullptr;
  const std::size_t li = g / group_.options().threads;
  return li < slots_.size() ? slots_[li].get() : nullptr;
}

fabric::slot* fabric::local(node_id id) noexcept {
  const auto g = group_.index_of(id);
  return g < 0 ? nullptr : local_g(static_cast<std::uint32_t>(g));
}

node* fabric::get(std::uint32_t g) noexcept {
  auto* node_slot = local_g(g);
  return node_slot ? node_slot->n.get() : nullptr;
}
bool fabric::alive(std::uint32_t g) const noexcept {
  const std::size_t li = g / group_.options().threads;
  return group_.thread_of(g) == thread_ && li < slots_.size() && slots_[li] && slots_[li]->state != slot::dead;
}
bool fabric::started(std::uint32_t g) const noexcept {
  const std::size_t li = g / group_.options().threads;
  return group_.thread_of(g) == thread_ && li < slots_.size() && slots_[li] && slots_[li]->state != slot::waiting;
}

void fabric::wake() noexcept {
  if (wake_) wake_->request_stop();
}

// ---------------------------------------------------------------- timers

void fabric::set_timer(slot& node_slot, time_point at) {
  node_slot.timer_at = at.count();
  if (node_slot.state != slot::running) return;  // resume / start look at it
  if (node_slot.timer_at < node_slot.queued_at) {
    node_slot.queued_at = node_slot.timer_at;
    timers_.push({node_slot.timer_at, static_cast<std::uint32_t>(node_slot.g / group_.options().threads)});
    if (running_ && armed_ns_ >= 0 && node_slot.timer_at < armed_ns_) wake();
  }
}

void fabric::start_node(slot& node_slot) {
  node_slot.state = slot::running;
  bump(stats_.nodes_up);
  node_slot.n->on_start(*node_slot.env);
}

void fabric::resume_node(slot& node_slot) {
  node_slot.state = slot::running;
  auto held = std::move(node_slot.backlog);
  node_slot.backlog.clear();
  for (auto& h : held) {
    if (node_slot.state != slot::running) break;  // paused or killed again by what it handled
    if (h.link_down) {
      bump(stats_.link_downs);
      node_slot.n->on_link_down(*node_slot.env, h.from);
    } else {
      bump(stats_.frames_delivered);
      (void)node_slot.n->on_message(*node_slot.env, h.from, h.payload);
    }
  }
}

void fabric::fire_timers(time_point now_tp) {
  const std::int64_t now = now_tp.count();
  while (!timers_.empty() && timers_.top().first <= now) {
    const auto [at, li] = timers_.top();
    timers_.pop();
    auto& node_slot = *slots_[li];
    if (at != node_slot.queued_at) continue;  // superseded by an earlier entry
    node_slot.queued_at = never;
    std::int64_t again = never;
    switch (node_slot.state) {
      case slot::waiting: start_node(node_slot); again = node_slot.state == slot::running ? node_slot.timer_at : never; break;
      case slot::paused:
        if (now >= node_slot.paused_until) {
          resume_node(node_slot);
          again = node_slot.state == slot::running ? node_slot.timer_at : never;
        } else {
          again = node_slot.paused_until;
        }
        break;
      case slot::running: again = node_slot.timer_at; break;
      case slot::dead: break;
    }
    if (node_slot.state == slot::running && node_slot.timer_at <= now) {
      node_slot.timer_at = never;
      bump(stats_.timers);
      node_slot.n->on_timer(*node_slot.env);
      again = node_slot.timer_at;
    }
    if (again != never && again < node_slot.queued_at) {
      node_slot.queued_at = again;
      timers_.push({again, li});
    }
  }
}

// ---------------------------------------------------------------- sending

delay::link_id fabric::link_for(std::uint32_t from_g, std::uint32_t to_g) {
  const auto key = pair_key(from_g, to_g);
  auto it = links_.find(key);
  if (it != links_.end()) return it->second;
  auto m = group_.link_model_for ? group_.link_model_for(from_g, to_g) : group_.default_link;
  if (cut(from_g, to_g)) m.flags |= delay::partitioned;
  if (matches(clogs_, from_g, to_g)) m.flags |= delay::clogged;
  const auto l = delay_.add_link(m);
  links_.emplace(key, l);
  if (slot* node_slot = local_g(from_g)) node_slot->out.push_back(to_g);
  link_keys_.push_back(key);
  return l;
}

bool fabric::matches(const std::vector<partition_rule>& rules, std::uint32_t from_g, std::uint32_t to_g) {
  for (const auto& r : rules) {
    if (r.a.count(from_g) && r.b.count(to_g)) return true;
    if (r.symmetric && r.b.count(from_g) && r.a.count(to_g)) return true;
  }
  return false;
}

result<void> fabric::send(slot& node_slot, node_id to, std::span<const std::byte> payload) {
  if (node_slot.state != slot::running) return make_error(errc::unreachable, "sender is not running");
  const auto to_g = group_.index_of(to);
  if (to_g < 0 || to == node_slot.id) return make_error(errc::unreachable, "unknown peer");
  if (payload.size() + sender_header_bytes + sequence_header_bytes > o_.message_bytes_max) return make_error(errc::too_large, "message over the limit");
  std::uint32_t h;
  if (free_frame_ != ~std::uint32_t{0}) {
    h = free_frame_;
    free_frame_ = frames_[h].next_free;
  } else {
    frames_.emplace_back();
    h = static_cast<std::uint32_t>(frames_.size() - 1);
  }
  auto& f = frames_[h];
  f.from = node_slot.id;
  f.to = to;
  const auto l = link_for(node_slot.g, static_cast<std::uint32_t>(to_g));
  f.link = l;
  const bool tcp = group_.options().transport == transport_kind::tcp;
  const auto bytes = static_cast<std::uint32_t>(payload.size() + (tcp ? 4 + sender_header_bytes + sequence_header_bytes : 0));
  const auto v = delay_.submit(l, now_ns(), bytes, h);
  if (v == delay::verdict::queued || v == delay::verdict::duplicated) {
    // Only a frame that goes on the wire takes a sequence number: one the
    // emulated network drops at the sender (loss, partition) leaves no gap.
    if (tcp) {
      auto& out = node_slot.seq_out.try_emplace(to, slot::sent_seq{node_slot.incarnation << incarnation_shift, 0}).first->second;
      out.at_ns = static_cast<std::int64_t>(now_ns());
      f.bytes = sequenced_frame(node_slot.id, ++out.seq, payload);
    } else {
      f.bytes.assign(payload.begin(), payload.end());
    }
    // A duplicated frame is filed twice: the record lives until both left.
    f.next_free = v == delay::verdict::duplicated ? 2 : 1;
    bump(stats_.frames_sent);
    bump(stats_.bytes_sent, bytes);
    if (running_ && armed_ns_ >= 0 && static_cast<std::int64_t>(delay_.next_due_ns()) < armed_ns_) wake();
  } else {
    bump(v == delay::verdict::partitioned ? stats_.dropped_partition : stats_.dropped_loss);
    f.bytes.clear();
    f.next_free = free_frame_;
    free_frame_ = h;
  }
  return {};
}

void fabric::hand_over(std::uint64_t handle, std::uint64_t due_ns, std::uint64_t now) {
  lateness_.add(now > due_ns ? now - due_ns : 0);
  if (delay_.link(frames_[handle].link).flags & delay::clogged) {
    held_[frames_[handle].link].push_back(handle);  // leaves when the clog lifts
    return;
  }
  release(handle);
}

void fabric::release(std::uint64_t handle) {
  auto& f = frames_[handle];
  const node_id from = f.from, to = f.to;
  std::vector<std::byte> bytes;
  if (--f.next_free == 0) {
    bytes = std::move(f.bytes);
    f.bytes = {};
    f.next_free = free_frame_;
    free_frame_ = static_cast<std::uint32_t>(handle);
  } else {
    bytes = f.bytes;  // the first of a duplicated pair
  }
  slot* node_slot = local(from);
  if (!node_slot || node_slot->state == slot::dead) return;  // the sender died with the frame on the wire
  if (group_.options().transport == transport_kind::tcp) {
    tcp_write(*node_slot, to, std::move(bytes));
    return;
  }
  const auto to_g = static_cast<std::uint32_t>(group_.index_of(to));
  const unsigned t = group_.thread_of(to_g);
  if (t == thread_) deliver(from, to, bytes);
  else outbox_[t].push_back({from, to, std::move(bytes), false});
}

// In-process hand-over to a node of this thread (or one read off TCP).
void fabric::deliver(node_id from, node_id to, std::span<const std::byte> payload) {
  slot* d = local(to);
  if (!d || d->state == slot::dead || d->state == slot::waiting) {
    bump(stats_.dropped_dead);
    if (group_.options().transport == transport_kind::inproc) {
      // As a refused connect or a reset: the sender learns the link is down.
      const auto from_g = static_cast<std::uint32_t>(group_.index_of(from));
      const unsigned t = group_.thread_of(from_g);
      if (t == thread_) deliver_link_down(to, from);
      else outbox_[t].push_back({to, from, {}, true});
    }
    return;
  }
  if (d->state == slot::paused) {
    if (d->backlog.size() < o_.backlog_max) d->backlog.push_back({from, to, {payload.begin(), payload.end()}, false});
    else bump(stats_.dropped_queue);
    return;
  }
  bump(stats_.frames_delivered);
  if (auto ok = d->n->on_message(*d->env, from, payload); !ok) {
    bump(stats_.bad_input);
    if (o_.on_bad_input) o_.on_bad_input(endpoint_address(from), ok.error());
  }
}

void fabric::deliver_link_down(node_id gone, node_id to) {
  slot* d = local(to);
  if (!d || d->state == slot::dead || d->state == slot::waiting) return;
  if (d->state == slot::paused) {
    d->backlog.push_back({gone, to, {}, true});
    return;
  }
  bump(stats_.link_downs);
  d->n->on_link_down(*d->env, gone);
}

void fabric::on_posted(void* self) noexcept { static_cast<fabric*>(self)->wake(); }

void fabric::take_inbox() {
  {
    std::lock_guard lk(inbox_mu_);
    inbox_taken_.swap(inbox_);
    inbox_posted_.store(false, std::memory_order_relaxed);
  }
  for (auto& h : inbox_taken_) {
    if (h.link_down) deliver_link_down(h.from, h.to);
    else deliver(h.from, h.to, h.payload);
  }
  inbox_taken_.clear();
}

std::uint64_t fabric::frames_never_delivered(const fabric_group& g, duration settle) {
  std::uint64_t lost = 0;
  for (unsigned t = 0; t < g.options().threads; ++t) {
    const fabric* f = g.at(t);
    if (!f) continue;
    const auto end_ns = static_cast<std::int64_t>(f->now_ns());
    for (const auto& node_slot : f->slots_) {
      if (!node_slot || node_slot->state == slot::dead || node_slot->state == slot::waiting) continue;
      for (const auto& [to, out] : node_slot->seq_out) {
        if (out.at_ns > end_ns - settle.count()) continue;  // may still be on its way
        const auto to_g = g.index_of(to);
        if (to_g < 0) continue;
        const fabric* rf = g.at(g.thread_of(static_cast<std::uint32_t>(to_g)));
        const std::size_t li = static_cast<std::uint32_t>(to_g) / g.options().threads;
        const slot* r = rf && li < rf->slots_.size() ? rf->slots_[li].get() : nullptr;  // an id never added: no receiver
        if (!r || r->state == slot::dead || r->state == slot::waiting) continue;
        auto in = r->seq_in.find(node_slot->id);
        // A restarted receiver that has heard nothing from this sender
        // since: what went to its former self is not comparable.
        if (in == r->seq_in.end() && r->incarnation > 0) continue;
        const std::uint64_t got = in == r->seq_in.end() ? 0 : in->second;
        const std::uint64_t inc_out = out.seq >> incarnation_shift, inc_in = got >> incarnation_shift;
        const std::uint64_t mask = (std::uint64_t{1} << incarnation_shift) - 1;
        // Frames of the sender's current incarnation after the last that came.
        const std::uint64_t missing = inc_in == inc_out ? (out.seq > got ? out.seq - got : 0) : inc_in < inc_out ? (out.seq & mask) : 0;
        if (missing && trace_links)
          std::fprintf(stderr, "fabric: link %s -> %s: %llu frames accepted, never delivered (last sent %.3f s, end %.3f s)\n",
                       endpoint_address(node_slot->id).to_string().c_str(), endpoint_address(to).to_string().c_str(),
                       static_cast<unsigned long long>(missing), static_cast<double>(out.at_ns) / 1e9, static_cast<double>(end_ns) / 1e9);
        lost += missing;
      }
    }
  }
  return lost;
}

// ---------------------------------------------------------------- faults

void fabric::crash(std::uint32_t g) {
  slot* node_slot = local_g(g);
  if (!node_slot || node_slot->state == slot::dead) return;
  if (node_slot->state != slot::waiting) drop(stats_.nodes_up);
  node_slot->state = slot::dead;
  node_slot->backlog.clear();
  if (group_.options().transport == transport_kind::tcp) {
    drop_connections(*node_slot);
  } else {
    // Its "connections" reset: every peer it has a link to hears at once
    // (one that only ever sent to it learns on its next send, as a refusal).
    for (auto pg : node_slot->out) {
      const auto p = group_.id_of(pg);
      const unsigned t = group_.thread_of(pg);
      if (t == thread_) deliver_link_down(node_slot->id, p);
      else outbox_[t].push_back({node_slot->id, p, {}, true});
    }
  }
  wake();  // flush the outbox
}

void fabric::restart(std::uint32_t g, std::unique_ptr<node> n) {
  slot* node_slot = local_g(g);
  if (!node_slot || node_slot->state != slot::dead) return;
  node_slot->n = std::move(n);
  node_slot->env = std::make_unique<env_impl>(*this, *node_slot, rng_.next());
  node_slot->state = slot::waiting;
  node_slot->timer_at = never;
  node_slot->start_at = now().count();
  node_slot->links.clear();
  node_slot->seq_out.clear();
  node_slot->seq_in.clear();
  ++node_slot->incarnation;
  node_slot->queued_at = node_slot->start_at;
  timers_.push({node_slot->start_at, g / group_.options().threads});
  wake();
}

void fabric::pause(std::uint32_t g, duration d) {
  slot* node_slot = local_g(g);
  if (!node_slot || node_slot->state != slot::running) return;
  node_slot->state = slot::paused;
  node_slot->paused_until = now().count() + d.count();
  if (node_slot->paused_until < node_slot->queued_at) {
    node_slot->queued_at = node_slot->paused_until;
    timers_.push({node_slot->paused_until, g / group_.options().threads});
  }
  wake();
}

void fabric::partition(std::vector<std::uint32_t> a, std::vector<std::uint32_t> b, bool symmetric) {
  rules_.push_back({{a.begin(), a.end()}, {b.begin(), b.end()}, symmetric});
  for (delay::link_id l = 0; l < link_keys_.size(); ++l) {
    const auto key = link_keys_[l];
    if (cut(static_cast<std::uint32_t>(key >> 32), static_cast<std::uint32_t>(key))) delay_.link(l).flags |= delay::partitioned;
  }
}

void fabric::clog(std::vector<std::uint32_t> a, std::vector<std::uint32_t> b, bool symmetric) {
  clogs_.push_back({{a.begin(), a.end()}, {b.begin(), b.end()}, symmetric});
  for (delay::link_id l = 0; l < link_keys_.size(); ++l) {
    const auto key = link_keys_[l];
    if (matches(clogs_, static_cast<std::uint32_t>(key >> 32), static_cast<std::uint32_t>(key))) delay_.link(l).flags |= delay::clogged;
  }
}

void fabric::apply(const fault::action<std::uint32_t>& a, const node_factory& make) {
  fault::play(*this, a, [&](std::uint32_t g) {
    if (make && get(g) && !alive(g)) restart(g, make(g));
  });
}

void fabric::unclog() {
  clogs_.clear();
  for (delay::link_id l = 0; l < link_keys_.size(); ++l) delay_.link(l).flags &= static_cast<std::uint8_t>(~delay::clogged);
  auto held = std::move(held_);
  held_.clear();
  for (auto& [l, handles] : held)
    for (auto h : handles) release(h);
  wake();  // flush the outbox
}

void fabric::heal() {
  rules_.clear();
  for (delay::link_id l = 0; l < link_keys_.size(); ++l) delay_.link(l).flags &= static_cast<std::uint8_t>(~delay::partitioned);
}

// ---------------------------------------------------------------- tcp

void fabric::tcp_write(slot& node_slot, node_id to, std::vector<std::byte>&& framed) {
  auto& l = node_slot.links[to];
  if (!l) l = std::make_unique<tcp_link>();
  l->last_active_ns = static_cast<std::int64_t>(now_ns());
  if (l->conn && l->conn->open()) {
    if (l->conn->send_queued() > o_.send_high_water) {
      bump(stats_.dropped_queue);
      return;
    }
    (void)l->conn->send(framed);  // queued now; the awaiter only reports backpressure
    return;
  }
  if (l->pending.size() >= o_.pending_max) {
    bump(stats_.dropped_queue);
    return;
  }
  l->pending.push_back(std::move(framed));
  if (!l->connecting && !stop_.stop_requested()) {
    l->connecting = true;
    tasks_.spawn(connect_link(node_slot.g, to, stop_));
  }
}

task<void> fabric::connect_link(std::uint32_t self_g, node_id to, std::stop_token st) {
  net::connect_options o;
  o.deadline = io::clock::now() + o_.connect_timeout;
  o.stop = st;
  o.bind_ip = endpoint_address(group_.id_of(self_g));
  o.connection.direct = o_.direct;
  auto c = co_await net::connect(r_, endpoint_address(to), std::move(o));
  slot* node_slot = local_g(self_g);
  auto it = node_slot->links.find(to);
  if (it == node_slot->links.end() || !it->second || node_slot->state == slot::dead) {  // killed meanwhile
    if (c) co_await (*c)->close();
    co_return;
  }
  auto& l = *it->second;
  l.connecting = false;
  if (!c) {
    if (trace_links)
      std::fprintf(stderr, "fabric: connect %s -> %s failed (%s), %zu frames dropped at %.3f s\n",
                   endpoint_address(node_slot->id).to_string().c_str(), endpoint_address(to).to_string().c_str(), c.error().message().c_str(),
                   l.pending.size(), static_cast<double>(now_ns()) / 1e9);
    bump(stats_.connect_failures);
    bump(stats_.dropped_dead, l.pending.size());
    l.pending.clear();
    if (c.code() != errc::cancelled && !st.stop_requested() && node_slot->state != slot::dead) {
      if (node_slot->state == slot::paused) node_slot->backlog.push_back({to, node_slot->id, {}, true});
      else {
        bump(stats_.link_downs);
        node_slot->n->on_link_down(*node_slot->env, to);
      }
    }
    co_return;
  }
  bump(stats_.connects);
  bump(stats_.open_connections);
  l.conn = std::shared_ptr<net::connection>(std::move(*c));
  for (auto& f : l.pending) (void)l.conn->send(f);
  l.pending.clear();
  tasks_.spawn(read_loop(l.conn, self_g, to, st));
}

task<void> fabric::read_loop(std::shared_ptr<net::connection> c, std::uint32_t self_g, node_id peer, std::stop_token st) {
  net::frame_reader in(*c, {.frame_bytes_max = o_.message_bytes_max});
  if (slot* s0 = local_g(self_g)) s0->conns.insert(c.get());
  bool farewell = false;  // ended by a goodbye, not a failure
  auto refuse = [&](const error& e) {
    bump(stats_.bad_input);
    if (o_.on_bad_input) o_.on_bad_input(c->peer(), e);
  };
  for (;;) {
    auto f = co_await in.next(st);
    if (!f) {
      if (net::bad_end_of_stream(f.error())) refuse(f.error());
      break;
    }
    slot* node_slot = local_g(self_g);
    if (!node_slot || node_slot->state == slot::dead || node_slot->state == slot::waiting) break;
    const auto sender = read_sender(*f);
    const auto sequence = read_sequence(*f);
    if (!sender || (*sender != goodbye && !sequence)) {
      refuse(!sender ? sender.error() : sequence.error());
      break;
    }
    const node_id from = *sender;
    if (from == goodbye) {
      farewell = true;
      // The other side closes an idle connection: answer, then close ours.
      if (peer != 0) {
        auto it = node_slot->links.find(peer);
        if (it != node_slot->links.end() && it->second->conn == c) it->second->conn.reset();
      }
      auto bye = frame(goodbye, {});
      (void)c->send(bye);
      co_await c->flush(st);
      break;
    }
    if (group_.index_of(from) < 0) {
      refuse(make_error(errc::malformed, "frame names a sender that is not a node of this cluster"));
      break;
    }
    if (peer == 0) {
      peer = from;
      auto& l = node_slot->links[from];
      if (!l) l = std::make_unique<tcp_link>();
      // One connection per pair: reply on theirs, unless our own dial is
      // in flight with frames queued behind it; frames sent meanwhile must
      // queue after those, or the pair's frames arrive out of order.
      if ((!l->conn || !l->conn->open()) && !l->connecting) l->conn = c;
    }
    if (auto it = node_slot->links.find(peer); it != node_slot->links.end()) it->second->last_active_ns = static_cast<std::int64_t>(now_ns());
    {
      const std::uint64_t seq = *sequence;
      auto [in, first] = node_slot->seq_in.try_emplace(from, 0);
      auto& last = in->second;
      // A restarted node cannot know what its peers sent its former self:
      // their first frame to it sets where it starts.
      if (first && node_slot->incarnation > 0) last = seq - 1;
      // The top bits count the sender's restarts: a new incarnation starts
      // its links afresh.
      if ((seq >> incarnation_shift) > (last >> incarnation_shift)) last = (seq >> incarnation_shift) << incarnation_shift;
      if (seq > last + 1) bump(stats_.frames_gap, seq - last - 1);
      if (seq <= last) bump(stats_.frames_late);
      if (seq != last + 1 && trace_links)
        std::fprintf(stderr, "fabric: link %s -> %s: expected frame %llu, got %llu at %.3f s\n",
                     endpoint_address(from).to_string().c_str(), endpoint_address(node_slot->id).to_string().c_str(),
                     static_cast<unsigned long long>(last + 1), static_cast<unsigned long long>(seq), static_cast<double>(now_ns()) / 1e9);
      last = std::max(last, seq);
    }
    if (node_slot->state == slot::paused) {
      if (node_slot->backlog.size() < o_.backlog_max) node_slot->backlog.push_back({from, node_slot->id, {payload_of(*f, true).begin(), payload_of(*f, true).end()}, false});
      else bump(stats_.dropped_queue);
      continue;
    }
    bump(stats_.frames_delivered);
    if (auto ok = node_slot->n->on_message(*node_slot->env, from, payload_of(*f, true)); !ok) {
      bump(stats_.bad_input);
      if (o_.on_bad_input) o_.on_bad_input(c->peer(), ok.error());
      break;  // the node refused the message: close this connection only
    }
  }
  slot* node_slot = local_g(self_g);
  if (node_slot) node_slot->conns.erase(c.get());
  if (node_slot && peer != 0) {
    auto it = node_slot->links.find(peer);
    if (it != node_slot->links.end() && it->second->conn == c) it->second->conn.reset();
  }
  if (trace_links && !farewell && node_slot && node_slot->state != slot::dead && !st.stop_requested())
    std::fprintf(stderr, "fabric: connection %s <-> %s ended under a live node at %.3f s\n",
                 endpoint_address(node_slot->id).to_string().c_str(), peer ? endpoint_address(peer).to_string().c_str() : "?",
                 static_cast<double>(now_ns()) / 1e9);
  co_await c->close();
  drop(stats_.open_connections);
  // A connection to a live peer ended under us: the node hears of it.
  if (!farewell && node_slot && peer != 0 && !st.stop_requested()) {
    if (node_slot->state == slot::running) {
      bump(stats_.link_downs);
      node_slot->n->on_link_down(*node_slot->env, peer);
    } else if (node_slot->state == slot::paused) {
      node_slot->backlog.push_back({peer, node_slot->id, {}, true});
    }
  }
}

task<void> fabric::accept_loop(net::listener& l, std::stop_token st) {
  for (;;) {
    auto c = co_await l.accept(st);
    if (!c) {
      if (c.code() == errc::cancelled) break;
      continue;  // out of descriptors: keep serving the others
    }
    // Route by the address the peer dialled.
    const auto dst = (*c)->local();
    const auto id = endpoint_id(dst.ipv4_host_order(), dst.port());
    slot* node_slot = local(id);
    std::shared_ptr<net::connection> conn(std::move(*c));
    if (!node_slot || node_slot->state == slot::dead || node_slot->state == slot::waiting) {
      // Nobody listens there: the dialler sees the connection end, as a refusal.
      bump(stats_.dropped_dead);
      tasks_.spawn([](std::shared_ptr<net::connection> cc) -> task<void> { co_await cc->close(); }(conn));
      continue;
    }
    bump(stats_.open_connections);
    tasks_.spawn(read_loop(std::move(conn), node_slot->g, 0, st));
  }
}

void fabric::drop_connections(slot& node_slot) {
  // Shut the sockets down: each read loop sees the end of its stream and
  // closes its connection (one closer per connection); the peers see the
  // end too, as when a process dies.
  for (auto* c : node_slot.conns)
    if (c->open()) c->shutdown();
  node_slot.links.clear();
}

task<void> fabric::idle_sweeper(std::stop_token st) {
  const auto shortest = o_.quick_below > 0 ? std::min(o_.idle_close, o_.idle_close_quick) : o_.idle_close;
  const auto period = std::max<duration>(shortest / 4, std::chrono::milliseconds(100));
  while (!st.stop_requested()) {
    auto slept = co_await io::sleep_for(period, st);
    if (!slept) break;
    const auto now = static_cast<std::int64_t>(now_ns());
    for (auto& node_slot : slots_) {
      if (!node_slot || node_slot->state != slot::running) continue;
      for (auto& [peer, l] : node_slot->links) {
        if (!l || !l->conn || !l->conn->open() || l->conn->send_queued() > 0) continue;
        const auto pg = group_.index_of(peer);
        const bool quick = node_slot->g < o_.quick_below || (pg >= 0 && static_cast<std::uint64_t>(pg) < o_.quick_below);
        if (l->last_active_ns > now - (quick ? o_.idle_close_quick : o_.idle_close).count()) continue;
        // Say goodbye; the read loop closes once the other side answers.
        auto bye = frame(goodbye, {});
        (void)l->conn->send(bye);
        l->conn.reset();  // new messages open a new connection
        bump(stats_.idle_closed);
      }
    }
  }
}

// ---------------------------------------------------------------- pump

task<void> fabric::pump(std::stop_token st) {
  while (!st.stop_requested()) {
    armed_ns_ = -1;
    const auto n = now_ns();
    take_inbox();
    delay_.advance(n, [&](std::uint64_t h, std::uint64_t due) { hand_over(h, due, n); });
    fire_timers(now());
    for (unsigned t = 0; t < outbox_.size(); ++t) {
      if (outbox_[t].empty()) continue;
      fabric* f = group_.at(t);
      {
        std::lock_guard lk(f->inbox_mu_);
        for (auto& h : outbox_[t]) f->inbox_.push_back(std::move(h));
      }
      outbox_[t].clear();
      if (!f->inbox_posted_.exchange(true) && !f->r_.post({&fabric::on_posted, f})) f->inbox_posted_.store(false);
    }
    std::int64_t next = static_cast<std::int64_t>(std::min<std::uint64_t>(delay_.next_due_ns(), INT64_MAX));
    if (!timers_.empty()) next = std::min(next, timers_.top().first);
    next = std::min<std::int64_t>(next, static_cast<std::int64_t>(n) + 1'000'000'000);  // look at the inbox now and then
    next = std::max<std::int64_t>(next, static_cast<std::int64_t>(n) + o_.wake_quantum.count());
    wake_ = std::make_unique<std::stop_source>();
    std::stop_source& w = *wake_;
    std::stop_callback forward(st, [&w] { w.request_stop(); });
    armed_ns_ = next;
    auto slept = co_await io::sleep_until(epoch_ + std::chrono::nanoseconds(next), w.get_token());
    (void)slept;
  }
  armed_ns_ = -1;
  wake_.reset();
}

task<result<void>> fabric::run(io::clock::time_point epoch, std::stop_token st) {
  epoch_ = epoch;
  stop_ = st;
  running_ = true;
  if (group_.options().transport == transport_kind::tcp) {
    // One listener for every node of this thread: any address, loopback
    // only (SO_BINDTODEVICE lo), routed by the destination address.
    net::listen_options lo;
    lo.device = "lo";
    lo.backlog = 4096;
    lo.queue_max = 4096;
    lo.connection.direct = o_.direct;
    auto l = net::listener::bind(r_, net::address::ipv4(0, static_cast<std::uint16_t>(group_.options().base_port + thread_)), lo);
    if (!l) {
      running_ = false;
      co_return l.error();
    }
    listener_ = std::move(*l);
    tasks_.spawn(accept_loop(*listener_, st));
    if (o_.idle_close.count() > 0) tasks_.spawn(idle_sweeper(st));
  }
  co_await pump(st);
  running_ = false;
  for (auto& node_slot : slots_)
    if (node_slot) drop_connections(*node_slot);
  co_await tasks_.join();
  if (listener_) {
    co_await listener_->close();
    listener_.reset();  // belongs to the reactor, which may end before the fabric
  }
  co_return result<void>{};
}

}  // namespace confab::host
