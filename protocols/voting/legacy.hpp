// confab voting: the document's dialect, one client connection's worth.
//
// Source document 001's server speaks plain lines that `nc -C` or `telnet`
// can type: a riddle first, then the client's PIN and a menu, then one
// option at a time (`setup`, `discover`, `negotiate`, `receive`, `vote`,
// `stats`, `exit`), some of which ask a question back. A `legacy_session`
// is that conversation as a pure state machine: lines in, lines out, and
// at most one `command` for the servers to replicate at a time; the driver
// proposes it, and hands the outcome back with `on_applied` once it is
// applied. Until then the session holds further lines (`waiting()`), so
// pipelined input is answered in order.
//
// What the document left open, decided here:
//   - a wrong riddle answer, an unknown option, or an option used out of
//     order is answered with one error line and the question again; the
//     connection stays;
//   - `vote` votes in the open poll; with none, it opens one on the
//     server's configured question (choices A and B, closed the moment a
//     choice wins: the document's behaviour). Its electorate is everyone
//     registered at that moment (api.hpp);
//   - decided polls, and clients joining and leaving, are pushed to every
//     registered client as they happen (`on_event`), a line each.
//
//   voting::legacy_session s(cfg, "127.0.0.1:5123");
//   voting::session_output out;
//   s.start(out);                      // out.lines: the riddle
//   s.on_line("keyboard", box, out);   // out.propose: join{...}
//   s.on_applied(box.apply(*out.propose, events), box, out);   // PIN and menu
//
// Thread: one (a value).
#pragma once

#include <string_view>

#include "protocols/voting/session.hpp"

namespace confab::voting {

struct legacy_config {
  std::string riddle = "What has keys but can't open locks?";
  std::string answer = "keyboard";  // compared without case and surrounding blanks
  std::string question = "Would you rather (A) be able to fly or (B) be invisible?";
};

class legacy_session final : public session {
 public:
  legacy_session(legacy_config cfg, std::string address);

  void start(session_output& out) override;
  void on_line(std::string_view line, const ballot_box& box, session_output& out) override;
  void on_applied(const result<std::uint64_t, refused>& r, const ballot_box& box, session_output& out) override;
  void on_event(const event& e, session_output& out) const override;
  void on_line_too_long(session_output& out) const override;
  std::optional<command> on_closed() override;

  bool waiting() const noexcept override { return waiting_ != pending::none; }
  std::optional<pin> who() const noexcept override { return pin_; }

 private:
  enum class state : std::uint8_t {
    riddle, menu, setup_services, setup_capabilities, setup_constraints, negotiate_grant, receive_target,
    vote_choice, closed
  };
  enum class pending : std::uint8_t { none, join, store, open, cast, leave };

  void menu(session_output& out) const;
  void propose(command c, pending p, session_output& out);
  void vote_prompt(const ballot_box& box, session_output& out);
  void stats(const ballot_box& box, session_output& out) const;
  void discover(const ballot_box& box, session_output& out) const;
  void receive(std::string_view target, const ballot_box& box, session_output& out) const;

  legacy_config cfg_;
  std::string address_;
  state state_ = state::riddle;
  pending waiting_ = pending::none;
  std::optional<pin> pin_;
  std::optional<node_info> declared_;
  node_info draft_;
  std::optional<poll_id> voting_in_;
  std::string choice_;
};

// "Votes: A 2 (66.7%), B 1 (33.3%); 3 of 5 voters", the `stats` line.
std::string describe(const tally& t);

}  // namespace confab::voting
