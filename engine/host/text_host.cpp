#include "engine/host/text_host.hpp"

#include "engine/net/framing.hpp"

namespace confab::host {

namespace {
// Stops `cut` at `at` unless `cancel` fires first.
task<void> stop_at(io::clock::time_point at, std::stop_source* cut, std::stop_token cancel) {
  auto slept = co_await io::sleep_until(at, cancel);
  if (slept) cut->request_stop();
}

// A fresh connection to `to` with `text` sent on it; closed again when the
// send fails.
task<result<std::unique_ptr<net::connection>>> connect_and_send(io::reactor& r, node_id to, const std::string& text,
                                                                std::stop_token st, const text_options& o) {
  net::connect_options co;
  co.deadline = io::clock::now() + o.connect_timeout;
  co.stop = st;
  auto c = co_await net::connect(r, endpoint_address(to), std::move(co));
  if (!c) co_return c.error();
  auto sent = co_await (*c)->send(net::as_bytes(text));
  if (!sent) {
    co_await (*c)->close();
    co_return sent.error();
  }
  co_return std::move(*c);
}
}  // namespace

task<result<std::string>> read_text_message(net::connection& c, std::stop_token st, std::chrono::milliseconds first_byte,
                                            std::chrono::milliseconds quiet, std::size_t bytes_max) {
  std::string text;
  std::stop_source cut;
  std::stop_callback forward(st, [&cut] { cut.request_stop(); });
  task_scope timers;
  auto timer = std::make_unique<std::stop_source>();
  timers.spawn(stop_at(io::clock::now() + first_byte, &cut, timer->get_token()));
  for (;;) {
    auto chunk = co_await c.receive(cut.get_token());
    if (!chunk) break;
    const auto b = chunk->bytes();
    text.append(reinterpret_cast<const char*>(b.data()), b.size());
    if (text.size() > bytes_max) break;
    timer->request_stop();
    timer = std::make_unique<std::stop_source>();
    timers.spawn(stop_at(io::clock::now() + quiet, &cut, timer->get_token()));
  }
  timer->request_stop();
  co_await timers.join();
  if (text.size() > bytes_max) co_return error{errc::too_large, 0, "text message over the limit", text.size(), bytes_max};
  co_return text;
}

task<result<void>> send_text(io::reactor& r, node_id to, std::string text, std::stop_token st, const text_options& o) {
  auto c = co_await connect_and_send(r, to, text, st, o);
  if (!c) co_return c.error();
  auto flushed = co_await (*c)->flush();
  co_await (*c)->close();
  if (!flushed) co_return flushed.error();
  co_return result<void>{};
}

task<result<std::string>> text_request(io::reactor& r, node_id to, std::string text, std::stop_token st,
                                       const text_options& o) {
  auto c = co_await connect_and_send(r, to, text, st, o);
  if (!c) co_return c.error();
  auto answer = co_await read_text_message(**c, st, o.answer_first_byte, o.answer_quiet, o.message_bytes_max);
  co_await (*c)->close();
  co_return answer;
}

class text_host::env_impl final : public env {
 public:
  env_impl(text_host& h, std::uint64_t seed) : h_(h), rng_(seed) {}
  node_id self() const noexcept override { return h_.self_; }
  time_point now() const noexcept override { return io::clock::now() - h_.epoch_; }
  random& rng() noexcept override { return rng_; }
  result<void> send(node_id to, std::span<const std::byte> text) override { return h_.send(to, text); }
  void set_timer(time_point at) override { h_.timer_.set(h_.epoch_ + at); }

 private:
  text_host& h_;
  random rng_;
};

text_host::text_host(io::reactor& r, node_id self, std::unique_ptr<node> n, std::uint64_t seed, text_options o)
    : r_(r), self_(self), node_(std::move(n)), opts_(std::move(o)),
      gate_({.per_source_max = opts_.connections_per_source_max, .total_max = opts_.connections_max}),
      epoch_(io::clock::now()) {
  env_ = std::make_unique<env_impl>(*this, seed);
}

text_host::~text_host() = default;

void text_host::log(const std::string& line) const {
  if (opts_.log) opts_.log(line);
}

void text_host::deliver(node_id from, const std::string& text) {
  const auto* bytes = reinterpret_cast<const std::byte*>(text.data());
  if (auto ok = node_->on_message(*env_, from, {bytes, text.size()}); !ok)
    log("text: the node refused a message from " + endpoint_address(from).to_string() + ": " + ok.error().message());
}

result<void> text_host::send(node_id to, std::span<const std::byte> text) {
  if (stop_.stop_requested()) return make_error(errc::cancelled, "stopping");
  if (!is_endpoint(to)) return make_error(errc::unreachable, "not an endpoint id");
  if (text.size() > opts_.message_bytes_max)
    return error{errc::too_large, 0, "text message over the limit", text.size(), opts_.message_bytes_max};
  tasks_.spawn(send_one(to, std::string(reinterpret_cast<const char*>(text.data()), text.size()), stop_));
  return {};
}

task<void> text_host::send_one(node_id to, std::string text, std::stop_token st) {
  if (opts_.answered && opts_.answered(to)) {
    auto answer = co_await text_request(r_, to, std::move(text), st, opts_);
    if (answer) {
      deliver(to, *answer);
      co_return;
    }
    log("text: no answer from " + endpoint_address(to).to_string() + ": " + answer.error().message());
    co_return;
  }
  auto sent = co_await send_text(r_, to, std::move(text), st, opts_);
  if (!sent && !st.stop_requested()) node_->on_link_down(*env_, to);
}

task<void> text_host::serve_connection(std::unique_ptr<net::connection> c, net::source_gate::ticket place,
                                       std::stop_token st) {
  const auto from = c->peer();
  auto text = co_await read_text_message(*c, st, opts_.first_byte, opts_.quiet, opts_.message_bytes_max);
  co_await c->close();
  place = {};
  if (!text) {
    log("text: closed a connection from " + from.to_string() + ": " + text.error().message());
    co_return;
  }
  deliver(endpoint_id(from.ipv4_host_order(), from.port()), *text);
}

task<void> text_host::accept_loop(net::listener& l, std::stop_token st) {
  for (;;) {
    auto c = co_await l.accept(st);
    if (!c) {
      if (c.code() == errc::cancelled) break;
      continue;
    }
    auto place = gate_.admit((*c)->peer().ipv4_host_order());
    if (!place) {
      log("text: refused a connection from " + (*c)->peer().to_string() + ": " + place.error().message());
      co_await (*c)->close();
      continue;
    }
    tasks_.spawn(serve_connection(std::move(*c), std::move(*place), st));
  }
}

task<result<void>> text_host::run(std::stop_token st) {
  stop_ = st;
  auto l = net::listener::bind(r_, endpoint_address(self_));
  if (!l) co_return l.error();
  tasks_.spawn(accept_loop(**l, st));
  tasks_.spawn(timer_.run(st, [this] { node_->on_timer(*env_); }));
  node_->on_start(*env_);
  co_await tasks_.join();
  co_await (*l)->close();
  co_return result<void>{};
}

}  // namespace confab::host
