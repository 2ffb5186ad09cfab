#include "protocols/voting/legacy.hpp"

#include "protocols/voting/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace confab::voting {

namespace {

std::string info_text(const node_info& i) {
  return "services: " + i.services + "; capabilities: " + i.capabilities + "; constraints: " + i.constraints;
}

std::string info_line(pin p, const node_info& i) { return "PIN " + std::to_string(p) + ": " + info_text(i); }

}  // namespace

std::string describe(const tally& t) {
  std::string s = "Votes:";
  for (std::size_t i = 0; i < t.choices.size(); ++i) {
    char pct[32];
    std::snprintf(pct, sizeof pct, " (%.1f%%)", t.cast == 0 ? 0.0 : 100.0 * t.counts[i] / t.cast);
    s += (i == 0 ? " " : ", ") + t.choices[i] + " " + std::to_string(t.counts[i]) + pct;
  }
  s += "; " + std::to_string(t.cast) + " of " + std::to_string(t.electorate) + " voters";
  return s;
}

legacy_session::legacy_session(legacy_config cfg, std::string address)
    : cfg_(std::move(cfg)), address_(std::move(address)) {}

void legacy_session::start(session_output& out) { out.lines.push_back(cfg_.riddle); }

void legacy_session::menu(session_output& out) const {
  out.lines.insert(out.lines.end(), {"<<'setup' to declare node info", "<<'discover' to discover nodes",
                                     "<<'negotiate' to negotiate with server (store node info)",
                                     "<<'receive' to receive stored node info from server",
                                     "<<'vote' to enter voting consensus",
                                     "<<'stats' to view current consensus statistics",
                                     "<<'exit' to exit consensus protocol", "[Select an option]"});
}

void legacy_session::propose(command c, pending p, session_output& out) {
  CONFAB_ASSERT(waiting_ == pending::none);
  waiting_ = p;
  out.propose = std::move(c);
}

void legacy_session::on_line(std::string_view raw, const ballot_box& box, session_output& out) {
  CONFAB_ASSERT(waiting_ == pending::none);
  const std::string_view line = trim(raw);
  switch (state_) {
    case state::riddle:
      if (lower(line) == lower(cfg_.answer)) {
        propose(join{address_}, pending::join, out);
      } else {
        out.lines.push_back("Incorrect answer, try again.");
        out.lines.push_back(cfg_.riddle);
      }
      return;
    case state::setup_services:
      draft_.services = std::string(line);
      state_ = state::setup_capabilities;
      out.lines.push_back("Enter your capabilities:");
      return;
    case state::setup_capabilities:
      draft_.capabilities = std::string(line);
      state_ = state::setup_constraints;
      out.lines.push_back("Enter your constraints:");
      return;
    case state::setup_constraints:
      draft_.constraints = std::string(line);
      declared_ = draft_;
      state_ = state::menu;
      out.lines.push_back("Node info set: " + info_text(*declared_));
      menu(out);
      return;
    case state::negotiate_grant: {
      const std::string a = lower(line);
      if (a == "yes" || a == "y" || a == "grant") {
        propose(store_info{*pin_, *declared_}, pending::store, out);
      } else if (a == "no" || a == "n" || a == "deny") {
        state_ = state::menu;
        out.lines.push_back("Permission denied: nothing stored.");
        menu(out);
      } else {
        out.lines.push_back("Please answer 'yes' or 'no'.");
        out.lines.push_back("Server requests permission to store your node info. Grant? (yes/no)");
      }
      return;
    }
    case state::receive_target:
      state_ = state::menu;
      receive(line, box, out);
      menu(out);
      return;
    case state::vote_choice: {
      const auto t = box.count(*voting_in_);
      std::string c(line);
      for (auto& ch : t ? t->choices : std::vector<std::string>{})
        if (lower(ch) == lower(line)) c = ch;
      choice_ = c;
      propose(cast{*pin_, *voting_in_, c}, pending::cast, out);
      return;
    }
    case state::closed:
      return;
    case state::menu:
      break;
  }
  const std::string option = lower(line);
  if (option == "setup") {
    draft_ = {};
    state_ = state::setup_services;
    out.lines.push_back("Enter your services:");
  } else if (option == "discover") {
    discover(box, out);
    menu(out);
  } else if (option == "negotiate") {
    if (!declared_) {
      out.lines.push_back("Error: no node info declared yet; use 'setup' first.");
      menu(out);
    } else {
      state_ = state::negotiate_grant;
      out.lines.push_back("Your node info: " + info_line(*pin_, *declared_));
      out.lines.push_back("Server requests permission to store your node info. Grant? (yes/no)");
    }
  } else if (option == "receive") {
    state_ = state::receive_target;
    out.lines.push_back("Enter a PIN, or 'all':");
  } else if (option == "vote") {
    vote_prompt(box, out);
  } else if (option == "stats") {
    stats(box, out);
    menu(out);
  } else if (option == "exit") {
    propose(leave{*pin_}, pending::leave, out);
  } else {
    out.lines.push_back("Error: unknown option '" + quoted(line, 64) +
                        "'. Choose setup, discover, negotiate, receive, vote, stats or exit.");
    out.lines.push_back("[Select an option]");
  }
}

void legacy_session::vote_prompt(const ballot_box& box, session_output& out) {
  auto open = box.open_poll_id();
  if (!open) {
    propose(open_poll{.question = cfg_.question, .choices = {"A", "B"}, .close_on_majority = true, .unless_open = true},
            pending::open, out);
    return;
  }
  voting_in_ = *open;
  auto t = box.count(*open);
  std::string choices;
  for (auto& c : t->choices) choices += (choices.empty() ? "" : " or ") + c;
  state_ = state::vote_choice;
  out.lines.push_back("Poll " + std::to_string(*open) + ": " + t->question);
  out.lines.push_back("Cast your vote (" + choices + "):");
}

void legacy_session::on_applied(const result<std::uint64_t, refused>& r, const ballot_box& box, session_output& out) {
  const pending was = waiting_;
  CONFAB_ASSERT(was != pending::none);
  waiting_ = pending::none;
  switch (was) {
    case pending::none:
      return;
    case pending::join:
      pin_ = static_cast<pin>(*r);  // a join is never refused for a short address
      state_ = state::menu;
      out.lines.push_back("Correct! You may now vote and request for node discovery and negotiation.");
      out.lines.push_back("Your PIN is: " + std::to_string(*pin_));
      menu(out);
      return;
    case pending::store:
      state_ = state::menu;
      out.lines.push_back(r ? "Permission granted: node info stored under PIN " + std::to_string(*pin_) + "."
                            : std::string("Error: ") + r.error().message() + ".");
      menu(out);
      return;
    case pending::open:
      // Another client may have opened one first; either way a poll is open
      // now, unless it was decided in between: then open again.
      if (!r && r.error() != refusal::poll_open) {
        state_ = state::menu;
        out.lines.push_back(std::string("Error: ") + r.error().message() + ".");
        menu(out);
        return;
      }
      vote_prompt(box, out);
      return;
    case pending::cast:
      state_ = state::menu;
      if (r) {
        out.lines.push_back("Vote recorded: " + choice_ + " (poll " + std::to_string(*voting_in_) + ").");
      } else {
        out.lines.push_back(std::string("Error: ") + r.error().message() + ".");
      }
      menu(out);
      return;
    case pending::leave:
      state_ = state::closed;
      pin_.reset();
      out.lines.push_back("Goodbye.");
      out.close = true;
      return;
  }
}

void legacy_session::on_event(const event& e, session_output& out) const {
  if (!pin_) return;  // not registered: the riddle first
  if (auto* j = std::get_if<joined>(&e); j && j->who != *pin_) {
    out.lines.push_back("NODE JOINED: PIN " + std::to_string(j->who) + " at " + j->address);
  } else if (auto* l = std::get_if<left>(&e); l && l->who != *pin_) {
    out.lines.push_back("NODE LEFT: PIN " + std::to_string(l->who));
  } else if (auto* m = std::get_if<members_changed>(&e)) {
    const auto n = notice_for(*m, *pin_);
    if (n.listed) {
      for (auto* j : n.joins) out.lines.push_back("NODE JOINED: PIN " + std::to_string(j->who) + " at " + j->address);
      for (auto p : n.leaves) out.lines.push_back("NODE LEFT: PIN " + std::to_string(p));
    } else {
      out.lines.push_back("NODES CHANGED: " + std::to_string(n.joins.size()) + " joined, " +
                          std::to_string(n.leaves.size()) + " left; " + std::to_string(m->registered) +
                          " connected ('discover' lists them)");
    }
  } else if (auto* c = std::get_if<poll_closed>(&e)) {
    const tally& t = c->result;
    if (t.winner) {
      out.lines.push_back("CONSENSUS REACHED on poll " + std::to_string(t.poll) + ": " + *t.winner + ". " + describe(t));
    } else {
      out.lines.push_back("Poll " + std::to_string(t.poll) + " closed without consensus. " + describe(t));
    }
  }
}

void legacy_session::on_line_too_long(session_output& out) const {
  out.lines.push_back("Error: line over the limit, ignored.");
}

std::optional<command> legacy_session::on_closed() {
  state_ = state::closed;
  if (!pin_ || waiting_ == pending::leave) return std::nullopt;
  const pin p = *pin_;
  pin_.reset();
  return leave{p};
}

void legacy_session::stats(const ballot_box& box, session_output& out) const {
  auto id = box.latest_poll();
  if (!id) {
    out.lines.push_back("No votes yet.");
    return;
  }
  auto t = box.count(*id);
  out.lines.push_back("Poll " + std::to_string(*id) + (t->closed ? " (closed)" : " (open)") + ": " + t->question);
  out.lines.push_back(describe(*t));
}

void legacy_session::discover(const ballot_box& box, session_output& out) const {
  out.lines.push_back("Connected nodes: " + std::to_string(box.clients().size()));
  for (auto& [p, c] : box.clients()) {
    const auto colon = c.address.rfind(':');
    const std::string ip = colon == std::string::npos ? c.address : c.address.substr(0, colon);
    const std::string port = colon == std::string::npos ? "" : c.address.substr(colon + 1);
    out.lines.push_back("IP: " + ip + " PORT: " + port + " PIN: " + std::to_string(p) + (p == *pin_ ? " (you)" : ""));
  }
}

void legacy_session::receive(std::string_view target, const ballot_box& box, session_output& out) const {
  if (lower(target) == "all") {
    std::size_t n = 0;
    for (auto& [p, c] : box.clients())
      if (c.info) {
        out.lines.push_back(info_line(p, *c.info));
        ++n;
      }
    if (n == 0) out.lines.push_back("No node info stored yet.");
    return;
  }
  const auto n = number(target, 9);
  if (!n) {
    out.lines.push_back("Error: '" + quoted(target, 64) + "' is neither a PIN nor 'all'.");
    return;
  }
  const pin p = static_cast<pin>(*n);
  const client* c = box.find(p);
  if (c == nullptr) out.lines.push_back("Error: no client has PIN " + std::to_string(p) + ".");
  else if (!c->info) out.lines.push_back("PIN " + std::to_string(p) + " has not stored node info.");
  else out.lines.push_back(info_line(p, *c->info));
}

}  // namespace confab::voting
