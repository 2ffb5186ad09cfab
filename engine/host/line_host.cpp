#include "engine/host/line_host.hpp"

#include "engine/net/framing.hpp"

namespace confab::host {

struct line_host::client {
  seam::client_id id = 0;
  std::unique_ptr<net::connection> c;
  net::source_gate::ticket place;
  std::string outbox;               // written by the service, not yet handed to the connection
  bool reading = true;              // read_loop runs
  bool writing = false;             // write_loop runs
  bool input_ended = false;         // the client half-closed
  bool close_requested = false;
  bool finishing = false;
  seam::client_end why = seam::client_end::gone;
  std::stop_source cut;             // ends the reader
  std::stop_source abort;           // ends a writer blocked on a client that does not read
};

class line_host::env_impl final : public seam::line_env {
 public:
  explicit env_impl(line_host& h) : h_(h) {}
  seam::time_point now() const noexcept override { return io::clock::now() - h_.epoch_; }
  result<void> write(seam::client_id c, std::string_view line) override { return h_.write(c, line); }
  void close(seam::client_id c) override { h_.close(c, seam::client_end::closed); }
  void set_timer(seam::time_point at) override { h_.timer_.set(h_.epoch_ + at); }

 private:
  line_host& h_;
};

namespace {
// Sets `*fired` and stops `cut` at `at`, unless `cancel` fires first.
task<void> idle_watch(io::clock::time_point at, bool* fired, std::stop_source* cut, std::stop_token cancel) {
  auto slept = co_await io::sleep_until(at, cancel);
  if (slept) {
    *fired = true;
    cut->request_stop();
  }
}
// Stops `target` at `at`, unless `cancel` fires first.
task<void> stop_after(io::clock::time_point at, std::stop_source* target, std::stop_token cancel) {
  auto slept = co_await io::sleep_until(at, cancel);
  if (slept) target->request_stop();
}
}  // namespace

line_host::line_host(io::reactor& r, std::unique_ptr<seam::line_service> s, line_options o)
    : r_(r), service_(std::move(s)), opts_(std::move(o)),
      gate_({.per_source_max = opts_.connections_per_source_max, .total_max = opts_.connections_max}),
      epoch_(io::clock::now()) {
  env_ = std::make_unique<env_impl>(*this);
}

line_host::~line_host() = default;

void line_host::log(const std::string& line) const {
  if (opts_.log) opts_.log(line);
}

result<void> line_host::write(seam::client_id id, std::string_view line) {
  auto it = clients_.find(id);
  if (it == clients_.end() || it->second->close_requested) return make_error(errc::unreachable, "client gone");
  client& cl = *it->second;
  if (cl.outbox.size() + line.size() + 2 > opts_.outbox_bytes_max) {
    ++stats_.closed_slow;
    close(id, seam::client_end::slow);
    return make_error(errc::queue_full, "the client does not read what it is sent");
  }
  cl.outbox.append(line);
  cl.outbox.append("\r\n");
  if (!cl.writing) {
    cl.writing = true;
    tasks_.spawn(write_loop(cl));
  }
  return {};
}

void line_host::close(seam::client_id id, seam::client_end why) {
  auto it = clients_.find(id);
  if (it == clients_.end() || it->second->close_requested) return;
  client& cl = *it->second;
  cl.close_requested = true;
  cl.why = why;
  if (why == seam::client_end::closed || why == seam::client_end::idle) {
    // What was written goes out first: the reader is stopped once the writer
    // has flushed (with Asio, cancelling a receive cancels the socket's
    // send in flight too).
    if (!cl.writing) cl.cut.request_stop();
  } else {
    cl.outbox.clear();
    cl.abort.request_stop();
    cl.cut.request_stop();
  }
  maybe_finish(cl);
}

void line_host::maybe_finish(client& cl) {
  if (cl.reading || cl.writing || cl.finishing) return;
  // A half-closed client waits for the service to close it.
  if (cl.input_ended && !cl.close_requested) return;
  cl.finishing = true;
  tasks_.spawn(finish(cl.id));
}

task<void> line_host::finish(seam::client_id id) {
  auto it = clients_.find(id);
  CONFAB_ASSERT(it != clients_.end());
  std::unique_ptr<client> cl = std::move(it->second);
  clients_.erase(it);
  if (cl->why == seam::client_end::closed || cl->why == seam::client_end::idle) {
    // The last lines (a goodbye, the answers to a half-closed client's
    // lines) leave before the close, which would cancel a send in flight;
    // a client that does not take them gets 5 s.
    task_scope timers;
    std::stop_source done;
    timers.spawn(stop_after(io::clock::now() + std::chrono::seconds(5), &cl->abort, done.get_token()));
    auto flushed = co_await cl->c->flush(cl->abort.get_token());
    (void)flushed;  // gone or too slow: closed all the same
    done.request_stop();
    co_await timers.join();
  }
  co_await cl->c->close();
  --stats_.open;
  const auto why = cl->why;
  cl.reset();  // gives the place back to the gate
  service_->on_closed(*env_, id, why);
}

task<void> line_host::write_loop(client& cl) {
  while (!cl.outbox.empty() && !cl.abort.stop_requested()) {
    std::string batch = std::move(cl.outbox);
    cl.outbox.clear();
    auto sent = co_await cl.c->send(net::as_bytes(batch), cl.abort.get_token());
    if (!sent) break;
  }
  if (cl.close_requested && !cl.abort.stop_requested()) {
    auto flushed = co_await cl.c->flush(cl.abort.get_token());
    (void)flushed;  // a client gone before reading its last lines: nothing more to do
  }
  if (cl.close_requested) cl.cut.request_stop();
  cl.writing = false;
  maybe_finish(cl);
}

task<void> line_host::read_loop(client& cl) {
  std::string partial;
  bool dropping = false;
  bool idle = false;
  task_scope timers;
  auto timer = std::make_unique<std::stop_source>();
  const auto arm = [&] {
    if (opts_.idle_timeout.count() == 0) return;
    timer->request_stop();
    timer = std::make_unique<std::stop_source>();
    timers.spawn(idle_watch(io::clock::now() + opts_.idle_timeout, &idle, &cl.cut, timer->get_token()));
  };
  arm();
  bool eof = false;
  while (!cl.close_requested) {
    auto got = co_await cl.c->receive(cl.cut.get_token());
    if (!got) {
      eof = got.code() == errc::closed;
      break;
    }
    arm();
    const auto b = got->bytes();
    const char* p = reinterpret_cast<const char*>(b.data());
    for (std::size_t i = 0; i < b.size() && !cl.close_requested; ++i) {
      const char ch = p[i];
      if (ch == '\n') {
        if (dropping) {
          dropping = false;
        } else {
          if (!partial.empty() && partial.back() == '\r') partial.pop_back();
          ++stats_.lines;
          service_->on_line(*env_, cl.id, partial);
        }
        partial.clear();
      } else if (!dropping) {
        partial.push_back(ch);
        if (partial.size() > opts_.line_bytes_max) {
          dropping = true;
          partial.clear();
          ++stats_.too_long;
          service_->on_line_too_long(*env_, cl.id);
        }
      }
    }
  }
  timer->request_stop();
  co_await timers.join();
  cl.reading = false;
  if (eof && !cl.close_requested) {
    if (!partial.empty() && !dropping) {
      ++stats_.lines;
      service_->on_line(*env_, cl.id, partial);
    }
    cl.input_ended = true;
    service_->on_input_end(*env_, cl.id);
  } else if (idle && !cl.close_requested) {
    ++stats_.closed_idle;
    close(cl.id, seam::client_end::idle);
  } else if (!cl.close_requested) {
    close(cl.id, stop_.stop_requested() ? seam::client_end::stopped : seam::client_end::gone);
  }
  maybe_finish(cl);
}

task<void> line_host::accept_loop(net::listener& l, unsigned index, std::stop_token st) {
  for (;;) {
    auto c = co_await l.accept(st);
    if (!c) {
      if (c.code() == errc::cancelled) break;
      continue;
    }
    const auto from = (*c)->peer();
    auto place = gate_.admit(from.ipv4_host_order());
    if (!place) {
      ++stats_.refused_over_cap;
      log("lines: refused a connection from " + from.to_string() + ": " + place.error().message());
      co_await (*c)->close();
      continue;
    }
    ++stats_.accepted;
    ++stats_.open;
    const seam::client_id id = next_id_++;
    auto cl = std::make_unique<client>();
    cl->id = id;
    cl->c = std::move(*c);
    cl->place = std::move(*place);
    client& ref = *cl;
    clients_.emplace(id, std::move(cl));
    service_->on_open(*env_, id, from.to_string(), index);
    tasks_.spawn(read_loop(ref));
  }
}

task<result<void>> line_host::run(std::stop_token st) {
  stop_ = st;
  std::vector<std::unique_ptr<net::listener>> listeners;
  net::listen_options lo;
  lo.connection.direct = true;
  for (auto& a : opts_.listen) {
    auto l = net::listener::bind(r_, a, lo);
    if (!l) {
      for (auto& done : listeners) co_await done->close();
      co_return l.error();
    }
    bound_.push_back((*l)->local());
    listeners.push_back(std::move(*l));
  }
  for (unsigned i = 0; i < listeners.size(); ++i) tasks_.spawn(accept_loop(*listeners[i], i, st));
  tasks_.spawn(timer_.run(st, [this] { service_->on_timer(*env_); }));
  service_->on_start(*env_);
  {
    // On stop every client is closed, half-closed ones included.
    std::stop_callback on_stop(st, [this] {
      std::vector<seam::client_id> ids;
      for (auto& [id, _] : clients_) ids.push_back(id);
      for (auto id : ids) close(id, seam::client_end::stopped);
    });
    co_await tasks_.join();
  }
  for (auto& l : listeners) co_await l->close();
  co_return result<void>{};
}

}  // namespace confab::host
