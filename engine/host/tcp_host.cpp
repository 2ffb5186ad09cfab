#include "engine/host/tcp_host.hpp"

#include <cstring>

#include "engine/net/framing.hpp"
#include "engine/net/listener.hpp"

namespace confab::host {

class tcp_host::env_impl final : public env {
 public:
  env_impl(tcp_host& h, std::uint64_t seed) : h_(h), rng_(seed) {}
  node_id self() const noexcept override { return h_.self_; }
  time_point now() const noexcept override { return h_.now(); }
  random& rng() noexcept override { return rng_; }
  result<void> send(node_id to, std::span<const std::byte> payload) override { return h_.send(to, payload); }
  void set_timer(time_point at) override { h_.set_timer(at); }

 private:
  tcp_host& h_;
  random rng_;
};

struct tcp_host::link {
  std::shared_ptr<net::connection> conn;  // ours; its read loop holds it too and closes it
  net::connection* inbound = nullptr;  // the peer's own connection to us, owned by its read loop
  std::vector<std::vector<std::byte>> pending;  // framed, while connecting
  bool connecting = false;
};

namespace {
constexpr node_id no_peer = ~node_id{0};
}  // namespace

tcp_host::tcp_host(io::reactor& r, node_id self, std::vector<net::address> directory, std::unique_ptr<node> n,
                   std::uint64_t seed, tcp_host_options o)
    : r_(r), self_(self), directory_(std::move(directory)), node_(std::move(n)), opts_(o), epoch_(io::clock::now()),
      gate_({.per_source_max = o.connections_per_source_max}) {
  env_ = std::make_unique<env_impl>(*this, seed);
}

std::optional<net::address> tcp_host::resolve(node_id id) const {
  if (id < directory_.size()) return directory_[id];
  if (is_endpoint(id)) return endpoint_address(id);
  return std::nullopt;
}

tcp_host::~tcp_host() = default;

time_point tcp_host::now() const noexcept { return io::clock::now() - epoch_; }

result<void> tcp_host::send(node_id to, std::span<const std::byte> payload) {
  if (to == self_ || !resolve(to)) return make_error(errc::unreachable, "unknown peer");
  if (payload.size() + sender_header_bytes > opts_.message_bytes_max) return make_error(errc::too_large, "message over the limit");
  auto& l = links_[to];
  if (!l) l = std::make_unique<link>();
  auto framed = frame(self_, payload);
  // An open link of ours first, else the connection the peer opened to us
  // (so a node that only dialled us, or cannot be dialled, gets its reply).
  net::connection* via = l->conn && l->conn->open() ? l->conn.get() : l->inbound && l->inbound->open() ? l->inbound : nullptr;
  if (via) {
    if (over_unread_share(*via)) {
      ++stats_.refused;
      return make_error(errc::queue_full, "peer's send queue is full");
    }
    (void)via->send(framed);  // queued now; the awaiter only reports backpressure
    ++stats_.sent;
    return {};
  }
  if (l->pending.size() >= opts_.pending_max) {
    ++stats_.refused;
    return make_error(errc::queue_full, "peer not connected and its queue is full");
  }
  l->pending.push_back(std::move(framed));
  ++stats_.sent;
  if (!l->connecting && !stop_.stop_requested()) {
    l->connecting = true;
    tasks_.spawn(connect_link(to, stop_));
  }
  return {};
}

task<void> tcp_host::connect_link(node_id to, std::stop_token st) {
  net::connect_options o;
  o.deadline = io::clock::now() + opts_.connect_timeout;
  o.stop = st;
  const net::address peer_addr = *resolve(to);
  auto c = co_await net::connect(r_, peer_addr, std::move(o));
  auto& l = *links_[to];
  l.connecting = false;
  if (!c) {
    stats_.dropped += l.pending.size();  // the next send retries
    l.pending.clear();
    if (c.code() != errc::cancelled && !st.stop_requested()) node_->on_link_down(*env_, to);
    co_return;
  }
  ++stats_.connects;
  // The previous connection, if any, is already closing: its read loop ends
  // it. Replies and the peer's own messages may come back on this one.
  l.conn = std::shared_ptr<net::connection>(std::move(*c));
  l.conn->count_queued_in(&unread_total_);
  for (auto& f : l.pending) (void)l.conn->send(f);
  l.pending.clear();
  tasks_.spawn(read_loop(l.conn, to, st));
}

void tcp_host::set_timer(time_point at) { timer_.set(epoch_ + at); }

bool tcp_host::over_unread_share(const net::connection& c) const noexcept {
  const auto q = c.send_queued();
  return q > opts_.send_high_water || (unread_total_ > opts_.unread_bytes_max_total && q > opts_.unread_share_min);
}

namespace {
// Requests `s` after `d` unless `cancel` comes first.
task<void> stop_after(io::clock::duration d, std::shared_ptr<std::stop_source> s, std::stop_token cancel) {
  auto slept = co_await io::sleep_for(d, cancel);
  if (slept) s->request_stop();
}
}  // namespace

task<void> tcp_host::read_loop(std::shared_ptr<net::connection> c, node_id peer, std::stop_token st) {
  net::frame_reader in(*c, {.frame_bytes_max = opts_.message_bytes_max});
  auto refuse = [&](const error& e) {
    ++stats_.bad_frames;
    if (opts_.on_bad_input) opts_.on_bad_input(c->peer(), e);
  };
  auto* idle = inbound_.count(c.get()) ? &inbound_[c.get()] : nullptr;
  for (;;) {
    if (over_unread_share(*c)) {
      // The peer reads none of its replies: read none of its requests until
      // it does, and give up on it after unread_stall_max.
      ++stats_.paused;
      bool progress = true, flushed = false;
      while (progress && !flushed && !st.stop_requested()) {  // a slow reader that reads something is waited for
        const auto before = c->send_queued();
        auto give_up = std::make_shared<std::stop_source>();
        std::stop_source drained;
        tasks_.spawn(stop_after(opts_.unread_stall_max, give_up, drained.get_token()));
        std::stop_callback host_stopping(st, [give_up] { give_up->request_stop(); });
        auto done = co_await c->flush(give_up->get_token());
        drained.request_stop();
        flushed = done && c->send_queued() == 0;
        progress = c->send_queued() < before;
      }
      if (st.stop_requested()) break;
      if (!flushed) {
        ++stats_.closed_unread;
        c->abort_on_close();  // its unsent replies go with it
        refuse(make_error(errc::timed_out, "the peer left its replies unread (reading paused, then gave up)"));
        break;
      }
      if (idle) idle->last_frame = io::clock::now();
    }
    auto f = co_await in.next(st);
    if (!f) {
      if (idle && idle->idle_closed) {
        ++stats_.closed_idle;
        refuse(make_error(errc::timed_out, idle->identified ? "no complete frame within the idle timeout"
                                                            : "no first frame within the first-frame timeout (idle or slowloris)"));
      } else if (net::bad_end_of_stream(f.error())) {
        refuse(f.error());
      }
      break;
    }
    if (idle) {
      idle->last_frame = io::clock::now();
      idle->identified = true;
    }
    const auto sender = read_sender(*f);
    if (!sender) {
      refuse(sender.error());
      break;
    }
    const node_id from = *sender;
    if (!resolve(from)) {
      refuse(make_error(errc::malformed, "frame names a sender that is neither in the directory nor an endpoint"));
      break;
    }
    ++stats_.received;
    if (peer == no_peer) peer = from;
    if (from != self_) {
      auto& lk = links_[from];
      if (!lk) lk = std::make_unique<link>();
      if (!lk->inbound) lk->inbound = c.get();
    }
    if (auto ok = node_->on_message(*env_, from, payload_of(*f, false)); !ok) {
      ++stats_.rejected;
      if (opts_.on_bad_input) opts_.on_bad_input(c->peer(), ok.error());
      break;  // the node refused the message: close this connection only
    }
  }
  for (auto& [id, lk] : links_)
    if (lk && lk->inbound == c.get()) lk->inbound = nullptr;
  const bool closed_idle = idle && idle->idle_closed;
  if (idle) {
    inbound_.erase(c.get());  // gives its place back
    idle = nullptr;
  }
  co_await c->close();
  // An idle connection we closed is no sign of a dead peer.
  if (closed_idle) co_return;
  // The connection to a known node ended while we serve: tell the node.
  if (peer != no_peer && peer != self_ && !st.stop_requested()) node_->on_link_down(*env_, peer);
}

task<void> tcp_host::accept_loop(net::listener& l, std::stop_token st) {
  for (;;) {
    auto c = co_await l.accept(st);
    if (!c) {
      if (c.code() == errc::cancelled) break;
      continue;  // out of descriptors: keep serving the others
    }
    std::shared_ptr<net::connection> conn(std::move(*c));
    conn->count_queued_in(&unread_total_);
    auto place = gate_.admit(conn->peer().ipv4_host_order());
    if (!place) {
      if (opts_.on_bad_input) opts_.on_bad_input(conn->peer(), place.error());
      co_await conn->close();
      continue;
    }
    inbound_[conn.get()] = inbound_state{.last_frame = io::clock::now(), .place = std::move(*place)};
    tasks_.spawn(read_loop(std::move(conn), no_peer, st));
  }
}

task<void> tcp_host::idle_sweep(std::stop_token st) {
  auto shortest = opts_.first_frame_timeout;
  if (shortest == io::clock::duration::zero() || (opts_.idle_timeout > io::clock::duration::zero() && opts_.idle_timeout < shortest))
    shortest = opts_.idle_timeout;
  const auto period = std::max<io::clock::duration>(shortest / 4, std::chrono::milliseconds(50));
  while (!st.stop_requested()) {
    auto slept = co_await io::sleep_for(period, st);
    if (!slept) break;
    const auto now = io::clock::now();
    for (auto& [c, state] : inbound_) {
      const auto limit = state.identified ? opts_.idle_timeout : opts_.first_frame_timeout;
      if (state.idle_closed || limit == io::clock::duration::zero() || now - state.last_frame < limit) continue;
      state.idle_closed = true;
      c->shutdown();  // its read loop sees the end and reports why
    }
  }
}

task<result<void>> tcp_host::run(std::stop_token st) {
  stop_ = st;
  const auto self_addr = opts_.bind ? opts_.bind : resolve(self_);
  if (!self_addr) co_return make_error(errc::invalid_argument, "tcp_host: own node id has no address");
  auto l = net::listener::bind(r_, *self_addr);
  const auto give_up = io::clock::now() + opts_.bind_wait;
  for (bool told = false; !l && l.code() == errc::address_in_use && io::clock::now() < give_up;) {
    if (!told && opts_.on_bind_wait) opts_.on_bind_wait(l.error());
    told = true;
    auto slept = co_await io::sleep_for(std::chrono::milliseconds(100), st);
    if (!slept) break;  // stopping
    l = net::listener::bind(r_, *self_addr);
  }
  if (!l) co_return l.error();
  if (opts_.on_serving) opts_.on_serving();
  tasks_.spawn(accept_loop(**l, st));
  if (opts_.idle_timeout > io::clock::duration::zero() || opts_.first_frame_timeout > io::clock::duration::zero())
    tasks_.spawn(idle_sweep(st));
  tasks_.spawn(timer_.run(st, [this] { node_->on_timer(*env_); }));
  node_->on_start(*env_);
  // Wait for the stop, then close outbound links so their peers' readers end.
  struct wait_stop {
    std::stop_token st;
    std::coroutine_handle<> h{};
    struct cb_fn {
      wait_stop* w;
      void operator()() const noexcept { io::reactor::current()->schedule(w->h); }
    };
    std::optional<std::stop_callback<cb_fn>> cb;
    bool await_ready() const noexcept { return st.stop_requested(); }
    void await_suspend(std::coroutine_handle<> hh) {
      h = hh;
      cb.emplace(st, cb_fn{this});
    }
    void await_resume() noexcept { cb.reset(); }
  };
  wait_stop stopped{st};  // named: see scripts/check_co_await_conditions.sh
  co_await stopped;
  // Every read loop (ours and the peers') sees the stop and closes its
  // connection; peers' readers then see the end of stream.
  co_await tasks_.join();
  for (auto& [id, lk] : links_) {
    if (lk && lk->conn) co_await lk->conn->close();  // a link that connected during the drain
  }
  co_await (*l)->close();
  co_return result<void>{};
}

void tcp_host::act(const std::function<void(seam::env&)>& fn) { fn(*env_); }

}  // namespace confab::host
