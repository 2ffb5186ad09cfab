#include "protocols/voting/core.hpp"

#include <algorithm>

namespace confab::voting {

const char* describe(refusal r) noexcept {
  switch (r) {
    case refusal::unknown_voter: return "no registered client has that PIN";
    case refusal::unknown_poll: return "no such poll";
    case refusal::poll_closed: return "the poll is closed";
    case refusal::not_in_electorate: return "you registered after this poll opened; you can vote in the next one";
    case refusal::bad_choice: return "not one of the poll's choices";
    case refusal::bad_poll: return "a poll needs 2 to 16 distinct, non-empty choices and a question";
    case refusal::too_long: return "a text is over 256 bytes";
    case refusal::poll_open: return "another poll is open";
  }
  return "refused";
}

result<std::uint64_t, refused> ballot_box::apply(const command& c, std::vector<event>& events) {
  return std::visit([&](const auto& x) { return on(x, events); }, c);
}

const client* ballot_box::find(pin who) const {
  auto it = clients_.find(who);
  return it == clients_.end() ? nullptr : &it->second;
}

result<std::uint64_t, refused> ballot_box::on(const join& c, std::vector<event>& events) {
  if (c.address.size() > text_bytes_max) return refused{refusal::too_long};
  // The lowest free PIN.
  pin p = next_pin_;
  if (!released_.empty()) {
    p = *released_.begin();
    released_.erase(released_.begin());
  } else {
    ++next_pin_;
  }
  clients_.emplace(p, client{.serial = ++registrations_, .address = c.address, .info = std::nullopt});
  events.push_back(joined{p, c.address});
  return std::uint64_t{p};
}

result<std::uint64_t, refused> ballot_box::on(const leave& c, std::vector<event>& events) {
  auto it = clients_.find(c.who);
  if (it == clients_.end()) return refused{refusal::unknown_voter};
  const std::uint64_t serial = it->second.serial;
  clients_.erase(it);
  released_.insert(c.who);
  events.push_back(left{c.who});
  // An elector who leaves without voting is no longer awaited.
  for (auto& [id, p] : polls_) {
    if (p.closed || !p.electorate.contains(serial) || p.votes.contains(serial)) continue;
    CONFAB_ASSERT(p.waiting > 0);
    if (--p.waiting == 0 && p.close_on_majority) close(id, p, events);
  }
  return std::uint64_t{0};
}

result<std::uint64_t, refused> ballot_box::on(const store_info& c, std::vector<event>&) {
  auto it = clients_.find(c.who);
  if (it == clients_.end()) return refused{refusal::unknown_voter};
  for (auto* f : {&c.info.services, &c.info.capabilities, &c.info.constraints})
    if (f->size() > text_bytes_max) return refused{refusal::too_long};
  it->second.info = c.info;
  return std::uint64_t{0};
}

result<std::uint64_t, refused> ballot_box::on(const open_poll& c, std::vector<event>& events) {
  if (c.question.empty() || c.choices.size() < 2 || c.choices.size() > choices_max) return refused{refusal::bad_poll};
  if (c.question.size() > text_bytes_max) return refused{refusal::too_long};
  for (std::size_t i = 0; i < c.choices.size(); ++i) {
    if (c.choices[i].empty()) return refused{refusal::bad_poll};
    if (c.choices[i].size() > text_bytes_max) return refused{refusal::too_long};
    for (std::size_t j = 0; j < i; ++j)
      if (c.choices[i] == c.choices[j]) return refused{refusal::bad_poll};
  }
  if (c.unless_open && open_poll_id()) return refused{refusal::poll_open};
  const poll_id id = polls_.empty() ? 1 : polls_.rbegin()->first + 1;
  poll p{.question = c.question, .choices = c.choices, .close_on_majority = c.close_on_majority,
         .electorate = {}, .votes = {}, .counts = std::vector<std::uint32_t>(c.choices.size(), 0), .closed = false,
         .winner = std::nullopt};
  for (auto& [_, cl] : clients_) p.electorate.insert(cl.serial);
  p.waiting = static_cast<std::uint32_t>(p.electorate.size());
  events.push_back(poll_opened{id, p.question, p.choices, static_cast<std::uint32_t>(p.electorate.size())});
  polls_.emplace(id, std::move(p));
  return id;
}

result<std::uint64_t, refused> ballot_box::on(const cast& c, std::vector<event>& events) {
  auto it = polls_.find(c.poll);
  if (it == polls_.end()) return refused{refusal::unknown_poll};
  poll& p = it->second;
  if (p.closed) return refused{refusal::poll_closed};
  auto voter = clients_.find(c.who);
  if (voter == clients_.end()) return refused{refusal::unknown_voter};
  if (!p.electorate.contains(voter->second.serial)) return refused{refusal::not_in_electorate};
  auto ch = std::find(p.choices.begin(), p.choices.end(), c.choice);
  if (ch == p.choices.end()) return refused{refusal::bad_choice};
  const auto choice = static_cast<std::uint32_t>(ch - p.choices.begin());
  auto [v, first] = p.votes.try_emplace(voter->second.serial, choice);
  if (first) {
    CONFAB_ASSERT(p.waiting > 0);
    --p.waiting;
  } else {
    --p.counts[v->second];  // a second vote replaces the first
    v->second = choice;
  }
  ++p.counts[choice];
  if (p.close_on_majority && (deciding(p) || p.waiting == 0)) close(c.poll, p, events);
  return std::uint64_t{0};
}

result<std::uint64_t, refused> ballot_box::on(const close_poll& c, std::vector<event>& events) {
  auto it = polls_.find(c.poll);
  if (it == polls_.end()) return refused{refusal::unknown_poll};
  if (it->second.closed) return refused{refusal::poll_closed};
  close(c.poll, it->second, events);
  return std::uint64_t{0};
}

std::optional<std::uint32_t> ballot_box::deciding(const poll& p) {
  const auto& counts = p.counts;
  const auto top = static_cast<std::uint32_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
  const auto ties = std::count(counts.begin(), counts.end(), counts[top]);
  // More than one vote, no tie for the lead, and more than half the electorate.
  if (p.votes.size() > 1 && ties == 1 && 2ull * counts[top] > p.electorate.size()) return top;
  return std::nullopt;
}

void ballot_box::close(poll_id id, poll& p, std::vector<event>& events) {
  CONFAB_ASSERT(!p.closed);
  p.closed = true;
  p.winner = deciding(p);
  events.push_back(poll_closed{*count(id)});
}

std::optional<tally> ballot_box::count(poll_id id) const {
  auto it = polls_.find(id);
  if (it == polls_.end()) return std::nullopt;
  const poll& p = it->second;
  tally t{.poll = id, .question = p.question, .choices = p.choices,
          .counts = p.counts,
          .cast = static_cast<std::uint32_t>(p.votes.size()),
          .electorate = static_cast<std::uint32_t>(p.electorate.size()), .closed = p.closed, .winner = std::nullopt};
  if (p.winner) t.winner = p.choices[*p.winner];
  return t;
}

std::optional<poll_id> ballot_box::open_poll_id() const {
  for (auto it = polls_.rbegin(); it != polls_.rend(); ++it)
    if (!it->second.closed) return it->first;
  return std::nullopt;
}

std::optional<poll_id> ballot_box::latest_poll() const {
  if (polls_.empty()) return std::nullopt;
  return polls_.rbegin()->first;
}

}  // namespace confab::voting
