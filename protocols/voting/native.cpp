#include "protocols/voting/native.hpp"

#include "protocols/voting/text.hpp"

#include <algorithm>
#include <cctype>

namespace confab::voting {

namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  std::size_t from = 0;
  for (;;) {
    const auto at = s.find(sep, from);
    parts.emplace_back(trim(s.substr(from, at == std::string_view::npos ? std::string_view::npos : at - from)));
    if (at == std::string_view::npos) return parts;
    from = at + 1;
  }
}

// 550 and a refusal's code name: a program acts on the name, a person reads the text.
std::string refusal_line(const refused& r) {
  static constexpr const char* names[] = {"unknown-voter", "unknown-poll", "poll-closed", "not-in-electorate",
                                          "bad-choice",    "bad-poll",     "too-long",    "poll-open"};
  const auto i = static_cast<std::size_t>(r.why);
  return std::string("550 ") + (i < std::size(names) ? names[i] : "refused") + ": " + r.message();
}

std::string info_text(pin p, const node_info& i) {
  return std::to_string(p) + " " + i.services + "|" + i.capabilities + "|" + i.constraints;
}

}  // namespace

std::string counts_text(const tally& t) {
  std::string s;
  for (std::size_t i = 0; i < t.choices.size(); ++i)
    s += (i ? "," : "") + t.choices[i] + "=" + std::to_string(t.counts[i]);
  return s + " " + std::to_string(t.cast) + "/" + std::to_string(t.electorate);
}

native_session::native_session(native_config cfg, std::string address, std::string challenge_hex)
    : cfg_(std::move(cfg)), address_(std::move(address)), challenge_(std::move(challenge_hex)) {}

void native_session::start(session_output& out) {
  out.lines.push_back("220 confab-vote ready; challenge " + challenge_);
}

void native_session::propose(command c, pending p, session_output& out) {
  CONFAB_ASSERT(waiting_ == pending::none);
  waiting_ = p;
  out.propose = std::move(c);
}

void native_session::on_line(std::string_view raw, const ballot_box& box, session_output& out) {
  CONFAB_ASSERT(waiting_ == pending::none);
  const std::string_view line = trim(raw);
  if (quitting_) return;
  const auto space = line.find(' ');
  const std::string verb = upper(line.substr(0, space));
  const std::string_view arg = space == std::string_view::npos ? std::string_view{} : trim(line.substr(space + 1));
  if (verb == "QUIT") {
    quitting_ = true;
    if (pin_) {
      propose(leave{*pin_}, pending::leave, out);
    } else {
      out.lines.push_back("221 bye");
      out.close = true;
    }
    return;
  }
  if (verb == "NOOP") {
    out.lines.push_back("250 ok");
    return;
  }
  if (!pin_) {
    if (verb == "AUTH") {
      if (!cfg_.key) {
        out.lines.push_back("504 AUTH needs a server started with a cluster key; use RIDDLE");
      } else if (protocols::challenge_answer_matches(*cfg_.key, challenge_, arg)) {
        propose(join{address_}, pending::join, out);
      } else {
        ++auth_failures_;
        out.lines.push_back("535 authentication failed");
        if (auth_failures_ >= 3) {
          out.lines.push_back("421 too many failed attempts; closing");
          out.close = true;
        }
      }
    } else if (verb == "RIDDLE") {
      if (upper(arg) == upper(cfg_.riddle_answer)) {
        propose(join{address_}, pending::join, out);
      } else {
        out.lines.push_back("535 wrong answer");
      }
    } else if (verb.empty()) {
      out.lines.push_back("500 empty line");
    } else {
      out.lines.push_back("530 authenticate first: AUTH or RIDDLE");
    }
    return;
  }
  if (verb == "AUTH" || verb == "RIDDLE") {
    out.lines.push_back("503 already authenticated as PIN " + std::to_string(*pin_));
  } else if (verb == "SETUP") {
    auto f = split(arg, '|');
    if (f.size() != 3) {
      out.lines.push_back("501 SETUP services|capabilities|constraints");
      return;
    }
    declared_ = node_info{f[0], f[1], f[2]};
    out.lines.push_back("250 node info declared; STORE lets the server keep it");
  } else if (verb == "STORE") {
    if (!declared_) {
      out.lines.push_back("503 nothing declared; SETUP first");
      return;
    }
    propose(store_info{*pin_, *declared_}, pending::store, out);
  } else if (verb == "DISCOVER") {
    for (auto& [p, c] : box.clients()) out.lines.push_back("250-" + std::to_string(p) + " " + c.address);
    out.lines.push_back("250 " + std::to_string(box.clients().size()) + " clients");
  } else if (verb == "RECEIVE") {
    if (upper(arg) == "ALL") {
      std::size_t n = 0;
      for (auto& [p, c] : box.clients())
        if (c.info) {
          out.lines.push_back("250-" + info_text(p, *c.info));
          ++n;
        }
      out.lines.push_back("250 " + std::to_string(n) + " stored");
      return;
    }
    auto p = number(arg);
    const client* c = p && *p <= 0xffffffffu ? box.find(static_cast<pin>(*p)) : nullptr;
    if (!p) out.lines.push_back("501 RECEIVE pin|all");
    else if (c == nullptr) out.lines.push_back("550 unknown-voter: no client has PIN " + std::string(arg));
    else if (!c->info) out.lines.push_back("550 not-stored: PIN " + std::string(arg) + " has not stored node info");
    else out.lines.push_back("250 " + info_text(static_cast<pin>(*p), *c->info));
  } else if (verb == "OPEN") {
    auto f = split(arg, '|');
    if (f.size() < 3) {
      out.lines.push_back("501 OPEN question|choice|choice...");
      return;
    }
    open_poll o{.question = f[0], .choices = {f.begin() + 1, f.end()}, .close_on_majority = true, .unless_open = false};
    propose(std::move(o), pending::open, out);
  } else if (verb == "VOTE") {
    const auto sp = arg.find(' ');
    auto poll = number(arg.substr(0, sp));
    if (!poll || sp == std::string_view::npos) {
      out.lines.push_back("501 VOTE poll choice");
      return;
    }
    propose(cast{*pin_, *poll, std::string(trim(arg.substr(sp + 1)))}, pending::cast, out);
  } else if (verb == "CLOSE") {
    auto poll = number(arg);
    if (!poll) {
      out.lines.push_back("501 CLOSE poll");
      return;
    }
    propose(close_poll{*poll}, pending::close, out);
  } else if (verb == "STATS") {
    std::optional<poll_id> id = arg.empty() ? box.latest_poll() : number(arg);
    auto t = id ? box.count(*id) : std::nullopt;
    if (!t) {
      out.lines.push_back(arg.empty() ? "550 unknown-poll: no poll yet" : "550 unknown-poll: no such poll");
      return;
    }
    out.lines.push_back("250 poll " + std::to_string(t->poll) + (t->closed ? " closed " : " open ") +
                        (t->winner ? *t->winner : std::string("none")) + " " + counts_text(*t));
  } else {
    out.lines.push_back("500 unknown command '" + quoted(verb, 32) + "'");
  }
}

void native_session::on_applied(const result<std::uint64_t, refused>& r, const ballot_box&, session_output& out) {
  const pending was = std::exchange(waiting_, pending::none);
  CONFAB_ASSERT(was != pending::none);
  if (!r && was != pending::leave) {
    out.lines.push_back(refusal_line(r.error()));
    return;
  }
  switch (was) {
    case pending::none:
      return;
    case pending::join:
      pin_ = static_cast<pin>(*r);
      out.lines.push_back("235 PIN " + std::to_string(*pin_));
      return;
    case pending::store:
      out.lines.push_back("250 node info stored");
      return;
    case pending::open:
      out.lines.push_back("250 poll " + std::to_string(*r) + " open");
      return;
    case pending::cast:
      out.lines.push_back("250 vote recorded");
      return;
    case pending::close:
      out.lines.push_back("250 poll closed");
      return;
    case pending::leave:
      pin_.reset();
      out.lines.push_back("221 bye");
      out.close = true;
      return;
  }
}

void native_session::on_event(const event& e, session_output& out) const {
  if (!pin_) return;
  if (auto* j = std::get_if<joined>(&e)) {
    if (j->who == *pin_) return;  // its own registration was its 235
    out.lines.push_back("600 JOINED " + std::to_string(j->who) + " " + j->address);
  } else if (auto* l = std::get_if<left>(&e)) {
    out.lines.push_back("601 LEFT " + std::to_string(l->who));
  } else if (auto* m = std::get_if<members_changed>(&e)) {
    const auto n = notice_for(*m, *pin_);
    if (n.listed) {
      for (auto* j : n.joins) out.lines.push_back("600 JOINED " + std::to_string(j->who) + " " + j->address);
      for (auto p : n.leaves) out.lines.push_back("601 LEFT " + std::to_string(p));
    } else {
      out.lines.push_back("604 MEMBERS +" + std::to_string(n.joins.size()) + " -" + std::to_string(n.leaves.size()) +
                          " " + std::to_string(m->registered));
    }
  } else if (auto* o = std::get_if<poll_opened>(&e)) {
    std::string q = o->question;
    for (auto& c : o->choices) q += "|" + c;
    out.lines.push_back("602 OPENED " + std::to_string(o->poll) + " " + std::to_string(o->electorate) + " " + q);
  } else if (auto* c = std::get_if<poll_closed>(&e)) {
    const tally& t = c->result;
    out.lines.push_back("603 CLOSED " + std::to_string(t.poll) + " " + (t.winner ? *t.winner : std::string("none")) +
                        " " + counts_text(t));
  }
}

void native_session::on_line_too_long(session_output& out) const {
  out.lines.push_back("552 line over the limit, ignored");
}

std::optional<command> native_session::on_closed() {
  if (!pin_ || waiting_ == pending::leave) return std::nullopt;
  const pin p = *pin_;
  pin_.reset();
  return leave{p};
}

}  // namespace confab::voting
