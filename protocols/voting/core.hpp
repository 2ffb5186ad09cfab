// confab voting: the replicated state of the voting service.
//
// A `ballot_box` is what every vote server holds: the registered clients,
// their stored node information and the polls. It changes only by
// `apply(command)`, in log order, and applying is deterministic (no clock,
// no randomness: PINs are the lowest free numbers), so replicas that applied
// the same commands are equal (`==`), which the tests check after every
// step. The rule it decides polls by is in api.hpp.
//
//   std::vector<voting::event> events;
//   auto r = box.apply(voting::cast{pin, poll, "A"}, events);
//   if (!r) reply(voting::describe(r.error()));
//
// Thread: one (a value).
#pragma once

#include <map>
#include <set>

#include "engine/core/result.hpp"
#include "protocols/voting/api.hpp"

namespace confab::voting {

struct client {
  std::uint64_t serial = 0;  // this registration's number, never reused (PINs are)
  std::string address;
  std::optional<node_info> info;  // stored once the client granted it
  friend bool operator==(const client&, const client&) = default;
};

struct poll {
  std::string question;
  std::vector<std::string> choices;
  bool close_on_majority = true;
  // Voters by registration serial, not PIN: a PIN freed by a leave and
  // handed to a newcomer must not inherit the old client's place or vote.
  std::set<std::uint64_t> electorate;            // registered when the poll opened
  std::map<std::uint64_t, std::uint32_t> votes;  // voter -> choice index; a voter who leaves keeps its vote
  // Votes per choice, kept with `votes` so a vote costs O(log n), not a
  // recount (at 10,000 voters the recount was most of the server's time).
  std::vector<std::uint32_t> counts;
  std::uint32_t waiting = 0;  // electors still registered who have not voted
  bool closed = false;
  std::optional<std::uint32_t> winner;
  friend bool operator==(const poll&, const poll&) = default;
};

class ballot_box {
 public:
  // Applies one command. The value: the new PIN (join), the new poll's id
  // (open_poll), else 0. A refusal changes nothing and sends no event.
  result<std::uint64_t, refused> apply(const command& c, std::vector<event>& events);

  // ## queries
  const std::map<pin, client>& clients() const noexcept { return clients_; }
  const client* find(pin who) const;
  // Poll `id`'s counts so far (or final).
  std::optional<tally> count(poll_id id) const;
  // The newest poll still open, if any.
  std::optional<poll_id> open_poll_id() const;
  // The newest poll, open or closed, if any.
  std::optional<poll_id> latest_poll() const;
  std::size_t polls() const noexcept { return polls_.size(); }

  friend bool operator==(const ballot_box&, const ballot_box&) = default;

 private:
  result<std::uint64_t, refused> on(const join& c, std::vector<event>& events);
  result<std::uint64_t, refused> on(const leave& c, std::vector<event>& events);
  result<std::uint64_t, refused> on(const store_info& c, std::vector<event>& events);
  result<std::uint64_t, refused> on(const open_poll& c, std::vector<event>& events);
  result<std::uint64_t, refused> on(const cast& c, std::vector<event>& events);
  result<std::uint64_t, refused> on(const close_poll& c, std::vector<event>& events);
  // The choice that wins poll `p` now by the rule, if one does.
  static std::optional<std::uint32_t> deciding(const poll& p);
  void close(poll_id id, poll& p, std::vector<event>& events);

  std::map<pin, client> clients_;
  std::map<poll_id, poll> polls_;  // ids from 1
  pin next_pin_ = first_pin;       // never handed out yet from here up
  std::uint64_t registrations_ = 0;
  std::set<pin> released_;         // below next_pin_, free again
};

}  // namespace confab::voting
