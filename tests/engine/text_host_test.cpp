#include "engine/host/text_host.hpp"  // first: the header compiles alone

#include <gtest/gtest.h>

#include "engine/net/framing.hpp"
#include "tests/engine/helpers.hpp"

using namespace confab;
using namespace std::chrono_literals;
using io::backend_choice;

namespace {

class text_host_test : public ::testing::TestWithParam<backend_choice> {};

// Records every text; answers "hello" with "world" on a new connection to
// the sender's listening address (named in the text), as the original's
// peers do; says `greeting` to `to` at start.
struct text_node : seam::node {
  std::vector<std::pair<seam::node_id, std::string>> got;
  seam::node_id to = 0;
  std::string greeting;
  void on_start(seam::env& e) override {
    if (to) (void)e.send(to, net::as_bytes(greeting));
  }
  result<void> on_message(seam::env&, seam::node_id from, std::span<const std::byte> text) override {
    got.emplace_back(from, std::string(reinterpret_cast<const char*>(text.data()), text.size()));
    if (got.back().second == "refuse me") return make_error(errc::malformed, "refused");
    return {};
  }
  void on_timer(seam::env&) override {}
};

task<void> serve(host::text_host& h, std::stop_token st, int* failures) {
  auto r = co_await h.run(st);
  if (!r) ++*failures;
}

task<void> talk(io::reactor& r, seam::node_id server, std::stop_source* stop, std::string* done) {
  // Bad input first: an oversized message and a refused one; the host
  // logs and closes those connections and keeps serving.
  (void)co_await host::send_text(r, server, std::string(5000, 'x'), stop->get_token());
  (void)co_await host::send_text(r, server, "refuse me", stop->get_token());
  co_await io::sleep_for(300ms);
  (void)co_await host::send_text(r, server, "after the bad ones", stop->get_token());
  co_await io::sleep_for(300ms);
  *done = "done";
  stop->request_stop();
}

task<void> run_both(io::reactor& r, host::text_host& server, host::text_host& client, seam::node_id server_id,
                    int* failures, std::string* done) {
  std::stop_source stop;
  task_scope s;
  s.spawn(serve(server, stop.get_token(), failures));
  s.spawn(serve(client, stop.get_token(), failures));
  s.spawn(talk(r, server_id, &stop, done));
  co_await s.join();
}

// A legacy seed: reads one registration, answers with two lines, closes.
task<void> answer_once(net::listener& l, std::string* asked) {
  auto c = co_await l.accept();
  if (!c) co_return;
  auto text = co_await host::read_text_message(**c, {}, 2s, 50ms, 4096);
  if (text) *asked = *text;
  (void)co_await (*c)->send(net::as_bytes("127.0.0.9:1\n127.0.0.10:2\n"));
  (void)co_await (*c)->flush();
  co_await (*c)->close();
}

task<void> ask(io::reactor& r, net::listener& l, seam::node_id to, std::string* asked, std::string* answer) {
  task_scope s;
  s.spawn(answer_once(l, asked));
  auto a = co_await host::text_request(r, to, "127.0.0.5:7", {});
  if (a) *answer = *a;
  co_await s.join();
  co_await l.close();
}

TEST_P(text_host_test, one_message_per_connection_bad_input_is_logged_and_the_host_keeps_serving) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  const auto server_id = seam::endpoint_id(0x7f000001u, confab::testing::free_port());
  const auto client_id = seam::endpoint_id(0x7f000002u, confab::testing::free_port());
  std::vector<std::string> logs;
  host::text_options o;
  o.log = [&logs](const std::string& l) { logs.push_back(l); };
  o.quiet = 20ms;
  auto server_node = std::make_unique<text_node>();
  auto* server = server_node.get();
  auto client_node = std::make_unique<text_node>();
  client_node->to = server_id;
  client_node->greeting = "hello from the client";
  host::text_host server_host(*r, server_id, std::move(server_node), 1, o);
  host::text_host client_host(*r, client_id, std::move(client_node), 2, o);
  int failures = 0;
  std::string done;
  r->run(run_both(*r, server_host, client_host, server_id, &failures, &done));
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(done, "done");
  std::vector<std::string> texts;
  for (auto& [from, text] : server->got) texts.push_back(text);
  EXPECT_NE(std::find(texts.begin(), texts.end(), "hello from the client"), texts.end());
  EXPECT_NE(std::find(texts.begin(), texts.end(), "after the bad ones"), texts.end());
  EXPECT_EQ(std::find(texts.begin(), texts.end(), std::string(5000, 'x')), texts.end());
  for (auto& [from, text] : server->got)
    if (text == "hello from the client") {
      // The connection's source address (the kernel picks 127.0.0.1 and
      // an ephemeral port: the dialect names senders in its texts).
      EXPECT_EQ(seam::endpoint_ipv4(from) >> 24, 127u);
      EXPECT_NE(seam::endpoint_port(from), 0u);
    }
  bool logged_big = false, logged_refused = false;
  for (auto& l : logs) {
    logged_big |= l.find("over the limit (5000 > 4096)") != std::string::npos;
    logged_refused |= l.find("refused") != std::string::npos;
  }
  EXPECT_TRUE(logged_big) << ::testing::PrintToString(logs);
  EXPECT_TRUE(logged_refused) << ::testing::PrintToString(logs);
}

TEST_P(text_host_test, a_request_reads_the_answer_on_the_same_connection) {
  CONFAB_MAKE_REACTOR(r, GetParam());
  const auto port = confab::testing::free_port();
  auto l = net::listener::bind(*r, net::address::ipv4(0x7f000001u, port));
  ASSERT_TRUE(l);
  std::string answer, asked;
  r->run(ask(*r, **l, seam::endpoint_id(0x7f000001u, port), &asked, &answer));
  EXPECT_EQ(asked, "127.0.0.5:7");
  EXPECT_EQ(answer, "127.0.0.9:1\n127.0.0.10:2\n");
}

INSTANTIATE_TEST_SUITE_P(backends, text_host_test, ::testing::Values(backend_choice::uring, backend_choice::epoll),
                         confab::testing::backend_param_name);

}  // namespace
