// The voting service's replicated state (protocols/voting/core.hpp) and the
// document's dialect (protocols/voting/legacy.hpp), without any network.
#include "protocols/voting/legacy.hpp"
#include "protocols/voting/native.hpp"
#include "protocols/voting/node.hpp"

#include <gtest/gtest.h>

#include <random>

namespace confab::voting {
namespace {

pin join_one(ballot_box& box, std::string address) {
  std::vector<event> ev;
  auto r = box.apply(join{std::move(address)}, ev);
  EXPECT_TRUE(r.has_value());
  return static_cast<pin>(*r);
}

TEST(voting_box, pins_are_the_lowest_free_and_three_digits_while_under_900_clients) {
  ballot_box box;
  for (int i = 0; i < 900; ++i) EXPECT_EQ(join_one(box, "127.0.0.1:" + std::to_string(2000 + i)), pin(100 + i));
  EXPECT_EQ(join_one(box, "127.0.0.1:9999"), pin(1000));  // the 901st needs four digits
  std::vector<event> ev;
  ASSERT_TRUE(box.apply(leave{357}, ev).has_value());
  ASSERT_TRUE(box.apply(leave{123}, ev).has_value());
  EXPECT_EQ(join_one(box, "127.0.0.2:1"), pin(123));
  EXPECT_EQ(join_one(box, "127.0.0.2:2"), pin(357));
  EXPECT_EQ(join_one(box, "127.0.0.2:3"), pin(1001));
  EXPECT_EQ(box.apply(leave{5000}, ev).error(), refusal::unknown_voter);
}

TEST(voting_box, the_documents_rule_with_a_fixed_electorate) {
  ballot_box box;
  std::vector<pin> v;
  for (int i = 0; i < 5; ++i) v.push_back(join_one(box, "127.0.0.1:" + std::to_string(3000 + i)));
  std::vector<event> ev;
  auto poll = box.apply(open_poll{.question = "A or B?", .choices = {"A", "B"}}, ev);
  ASSERT_TRUE(poll.has_value());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(std::get<poll_opened>(ev[0]).electorate, 5u);
  const pin late = join_one(box, "127.0.0.1:4000");
  ev.clear();
  EXPECT_EQ(box.apply(cast{late, *poll, "A"}, ev).error(), refusal::not_in_electorate);
  EXPECT_EQ(box.apply(cast{v[0], *poll, "C"}, ev).error(), refusal::bad_choice);
  EXPECT_EQ(box.apply(cast{v[0], *poll + 1, "A"}, ev).error(), refusal::unknown_poll);
  ASSERT_TRUE(box.apply(cast{v[0], *poll, "A"}, ev).has_value());
  ASSERT_TRUE(box.apply(cast{v[1], *poll, "A"}, ev).has_value());  // 2 of 5: not more than half
  EXPECT_TRUE(ev.empty());
  ASSERT_TRUE(box.apply(cast{v[0], *poll, "B"}, ev).has_value());  // replaced, not added
  auto t = box.count(*poll);
  EXPECT_EQ(t->cast, 2u);
  EXPECT_EQ(t->counts, (std::vector<std::uint32_t>{1, 1}));
  ASSERT_TRUE(box.apply(cast{v[0], *poll, "A"}, ev).has_value());
  ASSERT_TRUE(box.apply(leave{v[1]}, ev).has_value());  // a voter who leaves keeps its vote
  ev.clear();
  ASSERT_TRUE(box.apply(cast{v[2], *poll, "A"}, ev).has_value());  // 3 of 5: decided, closed at once
  ASSERT_EQ(ev.size(), 1u);
  const tally& done = std::get<poll_closed>(ev[0]).result;
  EXPECT_EQ(done.winner, std::optional<std::string>("A"));
  EXPECT_EQ(done.counts, (std::vector<std::uint32_t>{3, 0}));
  EXPECT_EQ(done.electorate, 5u);
  EXPECT_EQ(box.apply(cast{v[3], *poll, "B"}, ev).error(), refusal::poll_closed);
  EXPECT_EQ(box.apply(close_poll{*poll}, ev).error(), refusal::poll_closed);
}

TEST(voting_box, a_reused_pin_inherits_neither_a_place_nor_a_vote) {
  ballot_box box;
  const pin a = join_one(box, "a:1"), b = join_one(box, "b:1"), c = join_one(box, "c:1");
  std::vector<event> ev;
  auto p = box.apply(open_poll{.question = "q", .choices = {"A", "B"}}, ev);
  ASSERT_TRUE(box.apply(cast{a, *p, "A"}, ev).has_value());
  ASSERT_TRUE(box.apply(leave{a}, ev).has_value());
  const pin again = join_one(box, "d:1");
  ASSERT_EQ(again, a);  // the PIN is handed out again ...
  EXPECT_EQ(box.apply(cast{again, *p, "B"}, ev).error(), refusal::not_in_electorate);  // ... the place is not
  EXPECT_EQ(box.count(*p)->counts, (std::vector<std::uint32_t>{1, 0}));  // and the old vote stands
  ASSERT_TRUE(box.apply(cast{b, *p, "A"}, ev).has_value());  // 2 of 3 with the departed voter's vote
  EXPECT_EQ(box.count(*p)->winner, std::optional<std::string>("A"));
  (void)c;
}

TEST(voting_box, ties_single_votes_and_explicit_close_decide_nothing) {
  ballot_box box;
  const pin a = join_one(box, "a:1"), b = join_one(box, "b:1");
  std::vector<event> ev;
  // One voter alone never decides (the document wants more than one vote);
  // once every elector has voted the poll closes, here without a winner.
  ballot_box solo;
  const pin s = join_one(solo, "s:1");
  auto p0 = solo.apply(open_poll{.question = "q", .choices = {"A", "B"}}, ev);
  ev.clear();
  ASSERT_TRUE(solo.apply(cast{s, *p0, "A"}, ev).has_value());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(solo.count(*p0)->closed);
  EXPECT_FALSE(std::get<poll_closed>(ev[0]).result.winner.has_value());
  // A tie: nothing decided; when the last elector votes the poll closes with no winner.
  ballot_box three;
  const pin x = join_one(three, "x:1"), y = join_one(three, "y:1"), z = join_one(three, "z:1");
  auto p3 = three.apply(open_poll{.question = "q", .choices = {"A", "B", "C"}}, ev);
  ASSERT_TRUE(three.apply(cast{x, *p3, "A"}, ev).has_value());
  ASSERT_TRUE(three.apply(cast{y, *p3, "B"}, ev).has_value());
  EXPECT_FALSE(three.count(*p3)->closed);
  ev.clear();
  ASSERT_TRUE(three.apply(leave{z}, ev).has_value());  // the last one awaited leaves: closed, a tie
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_TRUE(std::get<poll_closed>(ev[1]).result.closed);
  EXPECT_FALSE(std::get<poll_closed>(ev[1]).result.winner.has_value());
  // close_poll ends a poll early, with no winner here.
  auto p = box.apply(open_poll{.question = "q", .choices = {"A", "B"}}, ev);
  ASSERT_TRUE(box.apply(cast{a, *p, "A"}, ev).has_value());
  ev.clear();
  ASSERT_TRUE(box.apply(close_poll{*p}, ev).has_value());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_FALSE(std::get<poll_closed>(ev[0]).result.winner.has_value());
  EXPECT_EQ(box.apply(cast{b, *p, "B"}, ev).error(), refusal::poll_closed);
  // Polls that cannot be: too few, repeated, empty choices, no question, too long.
  EXPECT_EQ(box.apply(open_poll{.question = "q", .choices = {"A"}}, ev).error(), refusal::bad_poll);
  EXPECT_EQ(box.apply(open_poll{.question = "q", .choices = {"A", "A"}}, ev).error(), refusal::bad_poll);
  EXPECT_EQ(box.apply(open_poll{.question = "q", .choices = {"A", ""}}, ev).error(), refusal::bad_poll);
  EXPECT_EQ(box.apply(open_poll{.question = "", .choices = {"A", "B"}}, ev).error(), refusal::bad_poll);
  EXPECT_EQ(box.apply(open_poll{.question = std::string(300, 'q'), .choices = {"A", "B"}}, ev).error(),
            refusal::too_long);
  // A poll without close_on_majority stays open past a majority.
  auto q = box.apply(open_poll{.question = "q", .choices = {"A", "B"}, .close_on_majority = false}, ev);
  ASSERT_TRUE(box.apply(cast{a, *q, "A"}, ev).has_value());
  ASSERT_TRUE(box.apply(cast{b, *q, "A"}, ev).has_value());
  EXPECT_FALSE(box.count(*q)->closed);
  EXPECT_EQ(box.apply(open_poll{.question = "q", .choices = {"A", "B"}, .unless_open = true}, ev).error(),
            refusal::poll_open);
  ASSERT_TRUE(box.apply(close_poll{*q}, ev).has_value());
  EXPECT_EQ(box.count(*q)->winner, std::optional<std::string>("A"));
}

// Replicas applying the same commands are equal after every step, a refused
// command changes nothing, and every tally equals each voter's last choice.
TEST(voting_box, replicas_agree_and_every_vote_counts_once_over_many_seeds) {
  for (std::uint32_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng(seed);
    ballot_box a, b;
    std::map<poll_id, std::map<std::uint64_t, std::string>> last;  // the model: each voter's last accepted choice
    for (int step = 0; step < 300; ++step) {
      command c;
      const auto pick = rng() % 100;
      const pin who = static_cast<pin>(100 + rng() % 12);
      const poll_id poll = 1 + rng() % (a.polls() + 1);
      if (pick < 10) c = join{"127.0.0.1:" + std::to_string(rng() % 60000)};
      else if (pick < 14) c = leave{who};
      else if (pick < 18) c = open_poll{.question = "q", .choices = {"A", "B", "C"}, .close_on_majority = rng() % 2 == 0};
      else if (pick < 22) c = close_poll{poll};
      else if (pick < 25) c = store_info{who, {"s", "c", "k"}};
      else c = cast{who, poll, std::string(1, static_cast<char>('A' + rng() % 4))};
      const ballot_box before = a;
      const std::uint64_t serial = a.find(who) ? a.find(who)->serial : 0;
      std::vector<event> ea, eb;
      auto ra = a.apply(c, ea);
      auto rb = b.apply(c, eb);
      ASSERT_EQ(ra.has_value(), rb.has_value()) << "seed " << seed << " step " << step;
      ASSERT_TRUE(a == b) << "seed " << seed << " step " << step;
      if (!ra) {
        ASSERT_TRUE(a == before) << "a refusal changed the state: seed " << seed << " step " << step;
      } else if (auto* v = std::get_if<cast>(&c)) {
        last[v->poll][serial] = v->choice;
      }
    }
    for (auto& [poll, votes] : last) {
      auto t = a.count(poll);
      ASSERT_TRUE(t.has_value());
      std::vector<std::uint32_t> expect(t->choices.size(), 0);
      for (auto& [_, choice] : votes) ++expect[static_cast<std::size_t>(choice[0] - 'A')];
      EXPECT_EQ(t->counts, expect) << "seed " << seed << " poll " << poll;
      EXPECT_EQ(t->cast, votes.size());
    }
  }
}

// Several legacy sessions against one box, as a single server would run them.
struct server {
  ballot_box box;
  std::vector<std::unique_ptr<session>> sessions;
  std::vector<std::vector<std::string>> seen;  // every line each session was sent
  std::vector<bool> closed;

  std::size_t connect(std::string address, bool native = false, std::optional<protocols::cluster_key> key = {}) {
    if (native)
      sessions.push_back(std::make_unique<native_session>(native_config{.key = key, .riddle_answer = "keyboard"},
                                                          std::move(address), protocols::challenge()));
    else
      sessions.push_back(std::make_unique<legacy_session>(legacy_config{}, std::move(address)));
    seen.emplace_back();
    closed.push_back(false);
    session_output out;
    sessions.back()->start(out);
    take(sessions.size() - 1, out);
    return sessions.size() - 1;
  }
  void take(std::size_t i, session_output& out) {
    while (true) {
      for (auto& l : out.lines) seen[i].push_back(l);
      out.lines.clear();
      closed[i] = closed[i] || out.close;
      if (!out.propose) return;
      command c = std::move(*out.propose);
      out.propose.reset();
      std::vector<event> ev;
      auto r = box.apply(c, ev);
      sessions[i]->on_applied(r, box, out);
      // as the server does: the proposer's answer first, then the pushes
      for (auto& l : out.lines) seen[i].push_back(l);
      out.lines.clear();
      broadcast(ev);
    }
  }
  void broadcast(const std::vector<event>& ev) {
    for (auto& e : ev)
      for (std::size_t j = 0; j < sessions.size(); ++j) {
        session_output o;
        sessions[j]->on_event(e, o);
        for (auto& l : o.lines) seen[j].push_back(l);
      }
  }
  // Sends one line; returns the lines it was answered with.
  std::vector<std::string> say(std::size_t i, std::string line) {
    const std::size_t from = seen[i].size();
    session_output out;
    sessions[i]->on_line(line, box, out);
    take(i, out);
    return {seen[i].begin() + static_cast<std::ptrdiff_t>(from), seen[i].end()};
  }
};

bool has(const std::vector<std::string>& lines, const std::string& needle) {
  for (auto& l : lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

TEST(voting_legacy, the_documents_session_line_by_line) {
  server s;
  const auto c = s.connect("127.0.0.1:5123");
  EXPECT_EQ(s.seen[c].back(), "What has keys but can't open locks?");
  auto r = s.say(c, "a piano");
  EXPECT_TRUE(has(r, "Incorrect answer")) << r[0];
  EXPECT_EQ(r.back(), "What has keys but can't open locks?");
  r = s.say(c, "  Keyboard ");
  EXPECT_EQ(r[0], "Correct! You may now vote and request for node discovery and negotiation.");
  EXPECT_EQ(r[1], "Your PIN is: 100");
  EXPECT_EQ(r.back(), "[Select an option]");
  EXPECT_TRUE(has(s.say(c, "negotiate"), "use 'setup' first"));
  EXPECT_EQ(s.say(c, "setup").back(), "Enter your services:");
  EXPECT_EQ(s.say(c, "storage").back(), "Enter your capabilities:");
  EXPECT_EQ(s.say(c, "10 GB").back(), "Enter your constraints:");
  EXPECT_TRUE(has(s.say(c, "weekdays only"), "Node info set: services: storage; capabilities: 10 GB"));
  r = s.say(c, "negotiate");
  EXPECT_TRUE(has(r, "Grant? (yes/no)"));
  EXPECT_TRUE(has(s.say(c, "maybe"), "Please answer 'yes' or 'no'"));
  EXPECT_TRUE(has(s.say(c, "yes"), "node info stored under PIN 100"));
  ASSERT_TRUE(s.box.find(100)->info.has_value());
  EXPECT_EQ(s.box.find(100)->info->constraints, "weekdays only");
  r = s.say(c, "discover");
  EXPECT_TRUE(has(r, "IP: 127.0.0.1 PORT: 5123 PIN: 100 (you)"));
  s.say(c, "receive");
  EXPECT_TRUE(has(s.say(c, "all"), "PIN 100: services: storage; capabilities: 10 GB; constraints: weekdays only"));
  s.say(c, "receive");
  EXPECT_TRUE(has(s.say(c, "999"), "no client has PIN 999"));
  s.say(c, "receive");
  EXPECT_TRUE(has(s.say(c, "x1"), "neither a PIN nor 'all'"));
  EXPECT_TRUE(has(s.say(c, "frobnicate"), "unknown option 'frobnicate'"));
  EXPECT_TRUE(has(s.say(c, "stats"), "No votes yet"));
  r = s.say(c, "vote");
  EXPECT_TRUE(has(r, "Poll 1: Would you rather"));
  EXPECT_TRUE(has(r, "Cast your vote (A or B):"));
  EXPECT_TRUE(has(s.say(c, "C"), "not one of the poll's choices"));
  s.say(c, "vote");
  EXPECT_TRUE(has(s.say(c, "a"), "Vote recorded: A (poll 1)"));
  EXPECT_TRUE(has(s.say(c, "stats"), "Votes: A 1 (100.0%), B 0 (0.0%); 1 of 1 voters"));
  r = s.say(c, "exit");
  EXPECT_EQ(r.back(), "Goodbye.");
  EXPECT_TRUE(s.closed[c]);
  EXPECT_TRUE(s.box.clients().empty());
}

TEST(voting_legacy, consensus_and_joins_are_pushed_to_every_client) {
  server s;
  std::vector<std::size_t> c;
  for (int i = 0; i < 5; ++i) {
    c.push_back(s.connect("127.0.0.1:" + std::to_string(6000 + i)));
    s.say(c.back(), "keyboard");
  }
  EXPECT_TRUE(has(s.seen[c[0]], "NODE JOINED: PIN 104 at 127.0.0.1:6004"));
  const auto late = s.connect("127.0.0.1:7000");  // not registered: told nothing
  for (int i = 0; i < 2; ++i) {
    s.say(c[static_cast<std::size_t>(i)], "vote");
    s.say(c[static_cast<std::size_t>(i)], "B");
  }
  EXPECT_FALSE(has(s.seen[c[4]], "CONSENSUS"));
  s.say(c[2], "vote");
  s.say(c[2], "B");  // 3 of 5
  for (auto i : c) EXPECT_TRUE(has(s.seen[i], "CONSENSUS REACHED on poll 1: B. Votes: A 0 (0.0%), B 3 (100.0%); 3 of 5 voters"));
  EXPECT_FALSE(has(s.seen[late], "CONSENSUS"));
  // A client registered after the poll opened waits for the next poll.
  s.say(late, "keyboard");
  s.say(late, "vote");  // poll 1 is closed: this opens poll 2, with the new client in it
  EXPECT_TRUE(has(s.say(late, "A"), "Vote recorded: A (poll 2)"));
  // A connection that drops unregisters its client; the others are told.
  auto gone = s.sessions[c[3]]->on_closed();
  ASSERT_TRUE(gone.has_value());
  std::vector<event> ev;
  ASSERT_TRUE(s.box.apply(*gone, ev).has_value());
  s.broadcast(ev);
  EXPECT_TRUE(has(s.seen[c[0]], "NODE LEFT: PIN 103"));
  EXPECT_EQ(s.box.clients().size(), 5u);
}

// Garbage, binary and out-of-order lines from many clients: every line is
// answered, nothing stops, and the box stays what the commands made it.
TEST(voting_legacy, random_and_binary_lines_are_answered_and_never_break_a_session) {
  const std::vector<std::string> words = {"keyboard", "setup", "discover", "negotiate", "receive", "vote", "stats",
                                          "exit", "yes", "no", "all", "A", "B", "100", "101", "", "  VOTE  ",
                                          "RIDDLE keyboard", "AUTH 00", "SETUP a|b|c", "SETUP a", "STORE", "DISCOVER",
                                          "RECEIVE all", "RECEIVE 100", "OPEN q|A|B", "OPEN q|A|A", "OPEN q",
                                          "VOTE 1 A", "VOTE 2 B", "VOTE x", "CLOSE 1", "CLOSE 99", "STATS", "STATS 1",
                                          "NOOP", "QUIT", "FROB"};
  for (std::uint32_t seed = 1; seed <= 50; ++seed) {
    std::mt19937_64 rng(seed);
    server s;
    for (int i = 0; i < 6; ++i) s.connect("127.0.0.1:" + std::to_string(8000 + i), i % 2 == 1);
    for (int step = 0; step < 2000; ++step) {
      const auto i = static_cast<std::size_t>(rng() % s.sessions.size());
      if (s.closed[i]) continue;
      std::string line;
      if (rng() % 4 == 0) {
        line.resize(rng() % 600);
        for (auto& ch : line) ch = static_cast<char>(rng() % 256);
      } else {
        line = words[rng() % words.size()];
      }
      auto answer = s.say(i, line);
      ASSERT_FALSE(answer.empty()) << "seed " << seed << " step " << step << ": no answer to a line";
    }
    std::size_t registered = 0;
    for (std::size_t i = 0; i < s.sessions.size(); ++i)
      if (s.sessions[i]->who()) ++registered;
    EXPECT_EQ(registered, s.box.clients().size()) << "seed " << seed;
  }
}

TEST(voting_native, auth_by_hmac_challenge_pipelined_answers_and_notices) {
  protocols::cluster_key key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  server s;
  const auto a = s.connect("127.0.0.1:9000", true, key);
  const std::string hello = s.seen[a].back();
  ASSERT_EQ(hello.rfind("220 confab-vote ready; challenge ", 0), 0u) << hello;
  const std::string challenge = hello.substr(hello.rfind(' ') + 1);
  EXPECT_EQ(challenge.size(), 64u);
  EXPECT_EQ(s.say(a, "STATS")[0].substr(0, 4), "530 ");
  EXPECT_EQ(s.say(a, "AUTH " + std::string(64, 'a'))[0].substr(0, 4), "535 ");
  protocols::cluster_key other = key;
  other[0] ^= 1;
  EXPECT_EQ(s.say(a, "AUTH " + protocols::challenge_answer(other, challenge))[0].substr(0, 4), "535 ");
  EXPECT_EQ(s.say(a, "AUTH " + protocols::challenge_answer(key, challenge))[0], "235 PIN 100");
  const auto b = s.connect("127.0.0.1:9001", true);  // a server without a key: RIDDLE only
  EXPECT_EQ(s.say(b, "AUTH 00")[0].substr(0, 4), "504 ");
  EXPECT_EQ(s.say(b, "RIDDLE KEYBOARD")[0], "235 PIN 101");
  EXPECT_EQ(s.say(a, "OPEN Tea or coffee?|tea|coffee")[0], "250 poll 1 open");
  EXPECT_TRUE(has(s.seen[b], "602 OPENED 1 2 Tea or coffee?|tea|coffee"));
  EXPECT_EQ(s.say(a, "VOTE 1 milk")[0], "550 bad-choice: not one of the poll's choices");
  EXPECT_EQ(s.say(a, "VOTE 1 tea")[0], "250 vote recorded");
  EXPECT_EQ(s.say(b, "STATS")[0], "250 poll 1 open none tea=1,coffee=0 1/2");
  EXPECT_EQ(s.say(b, "VOTE 1 tea")[0], "250 vote recorded");
  EXPECT_TRUE(has(s.seen[a], "603 CLOSED 1 tea tea=2,coffee=0 2/2"));
  EXPECT_EQ(s.say(b, "VOTE 1 coffee")[0], "550 poll-closed: the poll is closed");
  auto r = s.say(b, "DISCOVER");
  EXPECT_EQ(r.back(), "250 2 clients");
  EXPECT_EQ(r[0], "250-100 127.0.0.1:9000");
  EXPECT_EQ(s.say(a, "QUIT")[0], "221 bye");
  EXPECT_TRUE(s.closed[a]);
  EXPECT_TRUE(has(s.seen[b], "601 LEFT 100"));
}

// The driver on a fake host: what each client is written, and the timer.
struct fake_lines final : seam::line_env {
  seam::time_point t{};
  std::optional<seam::time_point> timer;
  std::map<seam::client_id, std::vector<std::string>> written;
  std::set<seam::client_id> closed;
  seam::time_point now() const noexcept override { return t; }
  result<void> write(seam::client_id c, std::string_view line) override {
    written[c].emplace_back(line);
    return {};
  }
  void close(seam::client_id c) override { closed.insert(c); }
  void set_timer(seam::time_point at) override { timer = at; }
};

TEST(voting_server, joins_reach_clients_gathered_once_per_interval) {
  vote_server srv({});
  fake_lines e;
  srv.on_start(e);
  for (seam::client_id c = 1; c <= 10; ++c) {
    srv.on_open(e, c, "127.0.0.1:" + std::to_string(7000 + c), legacy_listener);
    srv.on_line(e, c, "keyboard");
  }
  for (seam::client_id c = 1; c <= 10; ++c) EXPECT_FALSE(has(e.written[c], "NODE")) << c;
  ASSERT_TRUE(e.timer.has_value());
  EXPECT_EQ(*e.timer, std::chrono::duration_cast<seam::duration>(std::chrono::seconds(1)));
  e.t = *e.timer;
  srv.on_timer(e);
  for (seam::client_id c = 1; c <= 10; ++c) {
    std::size_t n = 0;
    for (auto& l : e.written[c]) n += l.rfind("NODES CHANGED: 9 joined, 0 left; 10 connected", 0) == 0;
    EXPECT_EQ(n, 1u) << "client " << c;
  }
  // Two leaves within the next interval: a line each, at the next tick.
  srv.on_closed(e, 3, seam::client_end::gone);
  srv.on_line(e, 4, "exit");
  EXPECT_TRUE(e.closed.contains(4));
  srv.on_closed(e, 4, seam::client_end::closed);
  EXPECT_FALSE(has(e.written[1], "NODE LEFT"));
  e.t = *e.timer;
  srv.on_timer(e);
  EXPECT_TRUE(has(e.written[1], "NODE LEFT: PIN 102"));
  EXPECT_TRUE(has(e.written[1], "NODE LEFT: PIN 103"));
  EXPECT_EQ(srv.box().clients().size(), 8u);
}

TEST(voting_server, lines_are_answered_in_order_and_a_long_line_keeps_the_connection) {
  vote_server srv({.held_lines_max = 4});
  fake_lines e;
  srv.on_open(e, 1, "127.0.0.1:7001", native_listener);
  for (const char* l : {"RIDDLE keyboard", "NOOP", "STATS", "NOOP"}) srv.on_line(e, 1, l);
  auto& w = e.written[1];
  ASSERT_EQ(w.size(), 5u);
  EXPECT_EQ(w[1].substr(0, 4), "235 ");
  EXPECT_EQ(w[2], "250 ok");
  EXPECT_EQ(w[3].substr(0, 4), "550 ");
  EXPECT_EQ(w[4], "250 ok");
  srv.on_line_too_long(e, 1);
  EXPECT_EQ(w.back().substr(0, 4), "552 ");
  EXPECT_FALSE(e.closed.contains(1));
}

}  // namespace
}  // namespace confab::voting
