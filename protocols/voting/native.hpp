// confab voting: the native dialect, side by side with the document's.
//
// The same service in lines a program can parse: every answer starts with a
// three-digit code in the SMTP classes (2xx done, 4xx try again, 5xx
// refused), a multi-line answer is `CODE-text` lines ending with one
// `CODE text` line, and notices the server pushes on its own are 6xx, so a
// client tells them from answers by the first digit. Pipelined commands are
// answered in order (the driver holds lines while one is in flight).
//
//   S: 220 confab-vote ready; challenge 5f1e...(64 hex)
//   C: AUTH 9a0c...(64 hex)            HMAC of the challenge with the cluster key
//   S: 235 PIN 100                     (RIDDLE keyboard also works: interop)
//   C: OPEN Cats or dogs?|cats|dogs
//   S: 250 poll 1 open; electorate 1
//   C: VOTE 1 cats
//   S: 250 vote recorded in poll 1
//   S: 603 CLOSED 1 none cats=1,dogs=0 1/1
//
// Commands: AUTH hex, RIDDLE answer, SETUP services|capabilities|constraints,
// STORE, DISCOVER, RECEIVE pin|all, OPEN question|choice|choice..., VOTE
// poll choice, CLOSE poll, STATS [poll], NOOP, QUIT. Notices (joins and
// leaves gathered by the driver, more than five as 604 MEMBERS +j -l n): 600 JOINED pin
// address, 601 LEFT pin, 602 OPENED poll electorate question|choices...,
// 603 CLOSED poll winner|none counts cast/electorate. docs/voting.md has
// every code.
//
// Thread: one (a value).
#pragma once

#include "protocols/common/auth.hpp"
#include "protocols/voting/session.hpp"

namespace confab::voting {

struct native_config {
  std::optional<protocols::cluster_key> key;  // AUTH works only with a key
  std::string riddle_answer = "keyboard";     // RIDDLE works always (interop with the document's clients)
};

class native_session final : public session {
 public:
  // `challenge_hex`: fresh random bytes for this connection (protocols::challenge()).
  native_session(native_config cfg, std::string address, std::string challenge_hex);

  void start(session_output& out) override;
  void on_line(std::string_view line, const ballot_box& box, session_output& out) override;
  void on_applied(const result<std::uint64_t, refused>& r, const ballot_box& box, session_output& out) override;
  void on_event(const event& e, session_output& out) const override;
  void on_line_too_long(session_output& out) const override;
  std::optional<command> on_closed() override;

  bool waiting() const noexcept override { return waiting_ != pending::none; }
  std::optional<pin> who() const noexcept override { return pin_; }

 private:
  enum class pending : std::uint8_t { none, join, store, open, cast, close, leave };
  void propose(command c, pending p, session_output& out);

  native_config cfg_;
  std::string address_;
  std::string challenge_;
  pending waiting_ = pending::none;
  std::optional<pin> pin_;
  std::optional<node_info> declared_;
  bool quitting_ = false;
  std::uint32_t auth_failures_ = 0;
};

// "cats=1,dogs=0 1/1": a tally's counts, cast and electorate.
std::string counts_text(const tally& t);

}  // namespace confab::voting
