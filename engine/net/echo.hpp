// confab engine: the echo service, for demos, benchmarks and tests.
//
// `echo_session` sends back every byte it receives until the peer closes,
// the stop token fires or a send fails, then closes the connection.
// `accept_into` accepts until its token fires and spawns `session` for each
// connection into `sessions` (which the caller joins), then closes the
// listener. Out-of-descriptor errors are skipped: the listener keeps serving.
//
//   task_scope sessions;
//   co_await net::accept_into(listener, stop, sessions, net::echo_session);
//   co_await sessions.join();
#pragma once

#include <memory>
#include <stop_token>

#include "engine/core/scope.hpp"
#include "engine/net/listener.hpp"

namespace confab::net {

inline task<void> echo_session(std::unique_ptr<connection> c, std::stop_token st) {
  for (;;) {
    auto got = co_await c->receive(st);
    if (!got) break;
    auto sent = co_await c->send(got->bytes());
    if (!sent) break;
  }
  (void)co_await c->flush();
  co_await c->close();
}

template <class Session>
task<void> accept_into(listener& l, std::stop_token st, task_scope& sessions, Session session) {
  for (;;) {
    auto c = co_await l.accept(st);
    if (!c) {
      if (c.code() == errc::cancelled) break;
      continue;
    }
    sessions.spawn(session(std::move(*c), st));
  }
  co_await l.close();
}

}  // namespace confab::net
