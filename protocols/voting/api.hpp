// confab voting: the voting service of source document 001.
//
// Clients register (and get a PIN), declare their node information, let the
// servers store it, discover each other, and vote on polls; a result is
// decided once and pushed to every client. The servers replicate every
// change as a `command`, applied in log order by the `ballot_box`
// (core.hpp); every replica applying the same commands holds the same
// state, so a vote acknowledged by a majority survives any one server.
//
//   voting::ballot_box box;
//   auto pin = box.apply(voting::join{"127.0.0.1:5123"}, events);
//   auto poll = box.apply(voting::open_poll{"Cats or dogs?", {"A", "B"}, true}, events);
//   box.apply(voting::cast{*pin, *poll, "A"}, events);   // events: poll_closed when decided
//
// The rule (the document's, made well defined): the electorate is every
// registered client at the moment the poll opens; one vote per voter,
// replaceable until the poll closes; a choice wins when more than one vote
// was cast, it has more votes than any other choice, and more than half the
// electorate chose it. A poll with `close_on_majority` (the document's
// behaviour) closes the moment a choice wins, or once every elector still
// registered has voted (nothing but replacements could follow); any poll
// closes on `close_poll` (an operator, a deadline), with its winner or none.
//
// Thread: values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace confab::voting {

// A client's number, unique across the cluster while it is registered: the
// lowest free number from 100, so three digits while fewer than 900
// clients are registered (the document's PINs are random three-digit
// numbers, which collide at about 35 clients).
using pin = std::uint32_t;
inline constexpr pin first_pin = 100;
using poll_id = std::uint64_t;

// What a client declares in `setup` and lets the server store in
// `negotiate` (the document's services, capabilities and constraints).
struct node_info {
  std::string services, capabilities, constraints;
  friend bool operator==(const node_info&, const node_info&) = default;
};

// Bounds on what a client may make the servers hold.
inline constexpr std::size_t text_bytes_max = 256;     // a field of node_info, a question, a choice, an address
inline constexpr std::size_t choices_max = 16;

// ## commands: what the servers replicate
struct join {
  std::string address;  // IP:PORT the client connected from (discover shows it)
};
struct leave {
  pin who = 0;
};
struct store_info {  // negotiate, granted
  pin who = 0;
  node_info info;
};
struct open_poll {
  std::string question;
  std::vector<std::string> choices;  // 2..choices_max, distinct
  bool close_on_majority = true;
  bool unless_open = false;  // refused (poll_open) while another poll is open
};
struct cast {
  pin who = 0;
  poll_id poll = 0;
  std::string choice;
};
struct close_poll {
  poll_id poll = 0;
};
using command = std::variant<join, leave, store_info, open_poll, cast, close_poll>;

// Why a command changed nothing. Every refusal is an answer to the client;
// none stops a server.
enum class refusal : std::uint8_t {
  unknown_voter,      // no registered client has that PIN
  unknown_poll,
  poll_closed,
  not_in_electorate,  // registered after the poll opened
  bad_choice,         // not one of the poll's choices
  bad_poll,           // fewer than 2 choices, more than choices_max, repeated or empty ones
  too_long,           // a text over text_bytes_max
  poll_open,          // open_poll{.unless_open}: another poll is open
};
const char* describe(refusal r) noexcept;
// The error of an apply: why, and the sentence a client is shown.
struct refused {
  refusal why;
  std::string message() const { return describe(why); }
  friend bool operator==(const refused& a, refusal b) noexcept { return a.why == b; }
};

// ## results
struct tally {
  poll_id poll = 0;
  std::string question;
  std::vector<std::string> choices;
  std::vector<std::uint32_t> counts;  // per choice
  std::uint32_t cast = 0;             // voters who voted
  std::uint32_t electorate = 0;
  bool closed = false;
  std::optional<std::string> winner;  // once closed: the choice that won, if any
};

// ## events: what every connected client is told
struct joined {
  pin who;
  std::string address;
};
struct left {
  pin who;
};
struct poll_opened {
  poll_id poll;
  std::string question;
  std::vector<std::string> choices;
  std::uint32_t electorate;
};
struct poll_closed {
  tally result;  // winner set when a choice won
};
// Joins and leaves gathered over an interval by a driver, so a thousand
// registrations cost each client one line, not a thousand (the box emits
// joined/left; the driver turns them into this).
struct members_changed {
  std::vector<joined> joins;
  std::vector<pin> leaves;
  std::uint32_t registered = 0;
};
using event = std::variant<joined, left, poll_opened, poll_closed, members_changed>;

}  // namespace confab::voting
