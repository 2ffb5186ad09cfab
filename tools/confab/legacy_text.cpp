#include "tools/confab/legacy_text.hpp"

#include <memory>

#include "engine/core/scope.hpp"
#include "engine/net/framing.hpp"
#include "engine/host/tcp_host.hpp"
#include "protocols/seeds/legacy.hpp"

namespace confab::tools {

namespace {
using namespace std::chrono_literals;

// Stops `cut` at `at` unless `cancel` fires first.
task<void> stop_at(io::clock::time_point at, std::stop_source* cut, std::stop_token cancel) {
  auto slept = co_await io::sleep_until(at, cancel);
  if (slept) cut->request_stop();
}
}  // namespace

task<result<std::string>> read_legacy_message(net::connection& c, std::stop_token st, std::chrono::milliseconds first,
                                              std::chrono::milliseconds quiet) {
  std::string text;
  std::stop_source cut;
  std::stop_callback forward(st, [&cut] { cut.request_stop(); });
  task_scope timers;
  auto timer = std::make_unique<std::stop_source>();
  timers.spawn(stop_at(io::clock::now() + first, &cut, timer->get_token()));
  for (;;) {
    auto chunk = co_await c.receive(cut.get_token());
    if (!chunk) break;
    const auto b = chunk->bytes();
    text.append(reinterpret_cast<const char*>(b.data()), b.size());
    if (text.size() > seeds::legacy::max_message_bytes) break;
    timer->request_stop();
    timer = std::make_unique<std::stop_source>();
    timers.spawn(stop_at(io::clock::now() + quiet, &cut, timer->get_token()));
  }
  timer->request_stop();
  co_await timers.join();
  if (text.size() > seeds::legacy::max_message_bytes) co_return make_error(errc::too_large, "legacy: message over 4096 bytes");
  co_return text;
}

task<result<void>> send_legacy_text(io::reactor& r, seam::node_id to, std::string text, std::stop_token st) {
  net::connect_options co;
  co.deadline = io::clock::now() + 2s;
  co.stop = st;
  auto c = co_await net::connect(r, host::endpoint_address(to), std::move(co));
  if (!c) co_return c.error();
  auto sent = co_await (*c)->send(net::as_bytes(text));
  auto flushed = co_await (*c)->flush();
  co_await (*c)->close();
  if (!sent) co_return sent.error();
  if (!flushed) co_return flushed.error();
  co_return result<void>{};
}

task<result<std::string>> legacy_request(io::reactor& r, seam::node_id to, std::string text, std::stop_token st) {
  net::connect_options co;
  co.deadline = io::clock::now() + 2s;
  co.stop = st;
  auto c = co_await net::connect(r, host::endpoint_address(to), std::move(co));
  if (!c) co_return c.error();
  auto sent = co_await (*c)->send(net::as_bytes(text));
  if (!sent) {
    co_await (*c)->close();
    co_return sent.error();
  }
  // The answer may need a commit first: wait longer for its first bytes.
  auto answer = co_await read_legacy_message(**c, st, 10s, 100ms);
  co_await (*c)->close();
  co_return answer;
}

}  // namespace confab::tools
