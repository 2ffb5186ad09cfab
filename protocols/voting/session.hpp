// confab voting: one client connection's conversation, whatever its dialect.
//
// A session is pure: lines in, lines out, and at most one `command` at a
// time for the servers to replicate. The driver proposes it and hands the
// outcome back with `on_applied` once it is applied; until then the
// session is `waiting()` and the driver holds further lines, so pipelined
// input is answered in order. Two dialects: the document's
// (legacy.hpp) and the native one (native.hpp).
//
// Thread: one (a value).
#pragma once

#include <string_view>

#include "protocols/voting/core.hpp"

namespace confab::voting {

// What a session wants done: lines to write (without line ends), a command
// to replicate, and whether to close the connection after the lines.
struct session_output {
  std::vector<std::string> lines;
  std::optional<command> propose;
  bool close = false;
};

class session {
 public:
  virtual ~session() = default;
  virtual void start(session_output& out) = 0;
  // One line from the client, without its line end. Not while waiting().
  virtual void on_line(std::string_view line, const ballot_box& box, session_output& out) = 0;
  // The outcome of the command this session proposed, once applied.
  virtual void on_applied(const result<std::uint64_t, refused>& r, const ballot_box& box, session_output& out) = 0;
  // Something every client is told.
  virtual void on_event(const event& e, session_output& out) const = 0;
  // The client sent a line over the host's bound (dropped; the connection stays).
  virtual void on_line_too_long(session_output& out) const = 0;
  // The connection closed without the dialect's goodbye: the command that
  // unregisters the client, if it had registered.
  virtual std::optional<command> on_closed() = 0;
  virtual bool waiting() const noexcept = 0;
  virtual std::optional<pin> who() const noexcept = 0;
};

}  // namespace confab::voting
