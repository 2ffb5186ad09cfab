#include "tools/confab/seed_load.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "engine/core/histogram.hpp"
#include "engine/core/scope.hpp"
#include "engine/net/connection.hpp"
#include "engine/net/framing.hpp"
#include "engine/host/tcp_host.hpp"
#include "protocols/common/codec.hpp"
#include "protocols/common/endpoints.hpp"
#include "protocols/seeds/client.hpp"
#include "harness/toml_util.hpp"
#include "tools/confab/config.hpp"
#include "tools/confab/names.hpp"
#include "tools/confab/seed_link.hpp"

namespace confab::tools {

namespace {

using namespace std::chrono_literals;
using seam::node_id;

result<std::vector<node_id>, problem> read_seeds(const std::string& path) {
  const auto text = harness::read_file(path);
  if (!text) return text.error();
  auto seeds = endpoints::parse_seed_list(*text, resolve_endpoint);
  if (!seeds) return problem{path + ": " + seeds.error().text};
  return seeds;
}



struct seed_connection {
  node_id id;
  std::optional<net::address> via;  // dialled instead of the id's address
  std::shared_ptr<net::connection> conn;
  bool up = false;
};

struct peer_state {
  node_id id;
  io::clock::time_point first_sent{}, last_sent{};
  bool acked = false, left = false;
};

struct load {
  std::vector<seed_connection> seeds;
  std::vector<peer_state> peers;
  std::unordered_map<std::uint64_t, std::size_t> by_request;  // request id -> peer index
  std::size_t started = 0, acked = 0, busy = 0, resends = 0, left = 0;
  latency_histogram commit_ns;  // request sent to acknowledgement
  bool done = false;
  seam::random rng{0x5eed};
  // query mode
  std::vector<seeds::register_reply> replies;
  std::vector<bool> answered;
  std::optional<protocols::cluster_auth> auth;  // --key-file
  std::optional<protocols::frame_sealer> sealer;
  // members / force-leave mode: the answers, in arrival order
  std::vector<std::pair<std::size_t, seeds::members_reply>> members;
  std::vector<seeds::leave_reply> leaves;
};

std::vector<std::byte> frame(load& L, node_id sender, node_id seed, const seeds::client_message& m) {
  return seed_link::frame(L.sealer ? &*L.sealer : nullptr, sender, seed, m);
}

// One connection per seed, re-dialled while the run lasts; reads answers.
task<void> seed_reader(io::reactor& r, load& L, std::size_t si, std::stop_token st) {
  auto& s = L.seeds[si];
  while (!L.done && !st.stop_requested()) {
    net::connect_options co;
    co.deadline = io::clock::now() + 1s;
    co.stop = st;
    auto c = co_await net::connect(r, s.via ? *s.via : host::endpoint_address(s.id), std::move(co));
    if (!c) {
      (void)co_await io::sleep_for(200ms, st);
      continue;
    }
    s.conn = std::shared_ptr<net::connection>(std::move(*c));
    s.up = true;
    net::frame_reader in(*s.conn, {.frame_bytes_max = 1u << 20});
    for (;;) {
      auto f = co_await in.next(st);
      if (!f) break;
      auto m = seed_link::read(L.sealer ? &*L.sealer : nullptr, s.id, *f);
      if (!m) break;
      if (auto* lr = std::get_if<seeds::leave_reply>(&*m)) {
        if (L.peers.empty()) {  // force-leave mode
          L.leaves.push_back(*lr);
          continue;
        }
        auto it = L.by_request.find(lr->request_id);
        if (it == L.by_request.end()) continue;
        auto& p = L.peers[it->second];
        if (lr->status == seeds::leave_status::busy) {
          ++L.busy;
          continue;
        }
        if (p.acked && !p.left) {
          p.left = true;
          ++L.left;
        }
        continue;
      }
      if (auto* mr = std::get_if<seeds::members_reply>(&*m)) {
        L.members.emplace_back(si, std::move(*mr));
        continue;
      }
      auto* rep = std::get_if<seeds::register_reply>(&*m);
      if (!rep) continue;
      if (!L.answered.empty()) {  // query mode
        L.replies[si] = *rep;
        L.answered[si] = true;
        continue;
      }
      auto it = L.by_request.find(rep->request_id);
      if (it == L.by_request.end()) continue;
      auto& p = L.peers[it->second];
      if (rep->status == seeds::register_status::busy) {
        ++L.busy;
        continue;
      }
      if (!p.acked) {
        p.acked = true;
        ++L.acked;
        L.commit_ns.add(static_cast<std::uint64_t>((io::clock::now() - p.first_sent).count()));
      }
    }
    s.up = false;
    co_await s.conn->close();
  }
}

void send_to_majority(load& L, std::size_t pi, const seeds::client_message& m) {
  std::vector<std::size_t> up;
  for (std::size_t i = 0; i < L.seeds.size(); ++i)
    if (L.seeds[i].up && L.seeds[i].conn && L.seeds[i].conn->open()) up.push_back(i);
  for (std::size_t i = up.size(); i > 1; --i) std::swap(up[i - 1], up[L.rng.below(i)]);
  up.resize(std::min(up.size(), L.seeds.size() / 2 + 1));
  for (auto i : up) (void)L.seeds[i].conn->send(frame(L, L.peers[pi].id, L.seeds[i].id, m));
}

task<void> drive(io::reactor& r, load& L, const seed_load_options& o, int& exit_code) {
  std::stop_source stop;
  task_scope readers;
  for (std::size_t i = 0; i < L.seeds.size(); ++i) readers.spawn(seed_reader(r, L, i, stop.get_token()));
  const auto t0 = io::clock::now();
  const auto deadline = t0 + std::chrono::milliseconds(o.timeout_ms);
  auto next_progress = t0 + 1s;
  std::size_t outstanding_cursor = 0;
  while (L.acked < L.peers.size() && io::clock::now() < deadline) {
    const auto now = io::clock::now();
    // Start new registrations up to the window.
    while (L.started < L.peers.size() && L.started - L.acked < o.window) {
      bool any_up = false;
      for (auto& s : L.seeds) any_up |= s.up;
      if (!any_up) break;
      auto& p = L.peers[L.started];
      p.first_sent = p.last_sent = now;
      send_to_majority(L, L.started, seeds::register_request{.request_id = L.started + 1});
      ++L.started;
    }
    // Resend the unanswered ones that waited too long (bounded work per turn).
    for (std::size_t k = 0; k < std::min<std::size_t>(L.started, 4096); ++k) {
      outstanding_cursor = (outstanding_cursor + 1) % std::max<std::size_t>(L.started, 1);
      auto& p = L.peers[outstanding_cursor];
      if (p.acked || now - p.last_sent < std::chrono::milliseconds(o.retry_ms)) continue;
      p.last_sent = now;
      ++L.resends;
      send_to_majority(L, outstanding_cursor, seeds::register_request{.request_id = outstanding_cursor + 1});
    }
    if (now >= next_progress) {
      next_progress += 1s;
      std::size_t up = 0;
      for (auto& s : L.seeds) up += s.up;
      std::fprintf(stderr, "seed-load: %6.1f s  %zu/%zu acknowledged  %zu outstanding  %zu resent  seeds up %zu/%zu\n",
                   std::chrono::duration<double>(now - t0).count(), L.acked, L.peers.size(), L.started - L.acked,
                   L.resends, up, L.seeds.size());
    }
    (void)co_await io::sleep_for(2ms);
  }
  const double secs = std::chrono::duration<double>(io::clock::now() - t0).count();
  // Synthetic peers do not outlive the run unless asked to (--keep): each
  // acknowledged one leaves, so real peers started later draw their
  // neighbours from real members only.
  const auto t1 = io::clock::now();
  if (!o.keep) {
    const auto leave_deadline = t1 + std::chrono::milliseconds(o.timeout_ms);
    std::size_t to_leave = 0, cursor = 0, sent = 0;
    for (auto& p : L.peers) {
      to_leave += p.acked;
      p.last_sent = {};
    }
    next_progress = t1 + 1s;
    while (L.left < to_leave && io::clock::now() < leave_deadline) {
      const auto now = io::clock::now();
      std::size_t budget = 4096;
      for (std::size_t k = 0; k < L.peers.size() && budget > 0; ++k) {
        cursor = (cursor + 1) % L.peers.size();
        auto& p = L.peers[cursor];
        if (!p.acked || p.left) continue;
        const bool first = p.last_sent == io::clock::time_point{};
        if (first && sent - L.left >= o.window) continue;
        if (!first && now - p.last_sent < std::chrono::milliseconds(o.retry_ms)) continue;
        sent += first;
        L.resends += !first;
        p.last_sent = now;
        --budget;
        send_to_majority(L, cursor, seeds::leave_request{.request_id = cursor + 1, .peer = p.id});
      }
      if (now >= next_progress) {
        next_progress += 1s;
        std::fprintf(stderr, "seed-load: leaving %6.1f s  %zu/%zu left\n",
                     std::chrono::duration<double>(now - t1).count(), L.left, to_leave);
      }
      (void)co_await io::sleep_for(2ms);
    }
  }
  const double leave_secs = std::chrono::duration<double>(io::clock::now() - t1).count();
  L.done = true;
  stop.request_stop();
  co_await readers.join();
  nlohmann::ordered_json summary = {{"seeds", L.seeds.size()},
                                          {"peers", L.peers.size()},
                                          {"acknowledged", L.acked},
                                          {"seconds", secs},
                                          {"registrations_per_s", static_cast<double>(L.acked) / secs},
                                          {"commit_ms_p50", L.commit_ns.quantile(0.5) / 1e6},
                                          {"commit_ms_p99", L.commit_ns.quantile(0.99) / 1e6},
                                          {"commit_ms_max", static_cast<double>(L.commit_ns.max()) / 1e6},
                                          {"resent", L.resends},
                                          {"busy", L.busy}};
  if (!o.keep) {
    summary["left"] = L.left;
    summary["leave_seconds"] = leave_secs;
    summary["leaves_per_s"] = leave_secs > 0 ? static_cast<double>(L.left) / leave_secs : 0.0;
  }
  std::printf("%s\n", summary.dump().c_str());
  if (!o.acked_out.empty()) {
    std::ofstream out(o.acked_out);
    for (auto& p : L.peers)
      if (p.acked) out << endpoints::id_string(p.id) << "\n";
  }
  exit_code = L.acked == L.peers.size() && (o.keep || L.left == L.acked) ? 0 : 1;
}

// Pages through the members from the first seed that answers (another one
// when it falls silent), then prints them.
task<void> members(io::reactor& r, load& L, const members_options& o, int& exit_code) {
  std::stop_source stop;
  task_scope readers;
  for (std::size_t i = 0; i < L.seeds.size(); ++i) readers.spawn(seed_reader(r, L, i, stop.get_token()));
  const auto deadline = io::clock::now() + std::chrono::milliseconds(o.timeout_ms);
  const node_id me = seam::endpoint_id(0x7f01fffe, 1);
  std::vector<seeds::member_info> all;
  std::optional<seeds::members_reply> head;  // the first page's seed state
  std::size_t from = L.seeds.size();         // the seed being paged
  node_id after = seeds::no_node;
  std::uint64_t request = 0;
  io::clock::time_point asked{};
  bool complete = false;
  while (!complete && io::clock::now() < deadline) {
    const auto now = io::clock::now();
    for (auto& [si, page] : L.members) {
      if (page.request_id != request) continue;  // an old page, or another seed's
      if (!head) head = page, from = si;
      all.insert(all.end(), page.members.begin(), page.members.end());
      if (!page.more || page.members.empty()) {
        complete = true;
        break;
      }
      after = page.members.back().id;
      asked = {};
    }
    L.members.clear();
    if (complete) break;
    if (asked == io::clock::time_point{} || now - asked > 1s) {
      // Ask the seed being paged, or (none yet, or silent for 1 s) the next one up.
      if (asked != io::clock::time_point{} || from == L.seeds.size()) {
        for (std::size_t k = 1; k <= L.seeds.size(); ++k) {
          const auto i = (from + k) % L.seeds.size();
          if (L.seeds[i].up) {
            if (from != i && head) {  // a new seed: start over, its view may differ
              all.clear();
              head.reset();
              after = seeds::no_node;
            }
            from = i;
            break;
          }
        }
      }
      if (from < L.seeds.size() && L.seeds[from].up) {
        asked = now;
        (void)L.seeds[from].conn->send(
            frame(L, me, L.seeds[from].id, seeds::members_request{.request_id = ++request, .after = after, .limit = 4096}));
      }
    }
    (void)co_await io::sleep_for(2ms);
  }
  L.done = true;
  stop.request_stop();
  co_await readers.join();
  if (!complete || !head) {
    std::fprintf(stderr, "confab members: no seed answered in %u ms\n", o.timeout_ms);
    exit_code = 1;
    co_return;
  }
  static constexpr const char* states[] = {"alive", "suspected", "leaving"};
  static constexpr const char* roles[] = {"follower", "candidate", "leader"};
  const char* role = head->role < 3 ? roles[head->role] : "?";
  std::size_t counts[3] = {};
  for (auto& m : all) ++counts[static_cast<std::size_t>(m.state) % 3];
  if (o.json) {
    for (auto& m : all)
      std::printf("%s\n", nlohmann::ordered_json{{"member", endpoints::id_string(m.id)},
                                                  {"state", states[static_cast<std::size_t>(m.state) % 3]},
                                                  {"degree", m.degree},
                                                  {"reporters", m.reporters}}
                                  .dump()
                                  .c_str());
  } else {
    std::printf("%-24s %-10s %6s %9s\n", "MEMBER", "STATE", "DEGREE", "REPORTERS");
    for (auto& m : all)
      std::printf("%-24s %-10s %6u %9u\n", endpoints::id_string(m.id).c_str(),
                  states[static_cast<std::size_t>(m.state) % 3], m.degree, m.reporters);
  }
  char digest[17];
  std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(head->pl_digest));
  const nlohmann::ordered_json summary = {
      {"seed", endpoints::id_string(L.seeds[from].id)}, {"role", role}, {"learner", head->learner},
      {"term", head->term}, {"leader", head->leader == seeds::no_node ? "" : endpoints::id_string(head->leader)},
      {"commit_index", head->commit_index}, {"pl_size", head->pl_size}, {"pl_digest", digest},
      {"listed", all.size()}, {"alive", counts[0]}, {"suspected", counts[1]}, {"leaving", counts[2]}};
  if (o.json)
    std::printf("%s\n", summary.dump().c_str());
  else
    std::fprintf(stderr, "%s\n", summary.dump().c_str());
  exit_code = 0;
}

// Asks every seed to remove one peer and waits for one to confirm.
task<void> force_leave(io::reactor& r, load& L, const force_leave_options& o, node_id peer, int& exit_code) {
  std::stop_source stop;
  task_scope readers;
  for (std::size_t i = 0; i < L.seeds.size(); ++i) readers.spawn(seed_reader(r, L, i, stop.get_token()));
  const auto deadline = io::clock::now() + std::chrono::milliseconds(o.timeout_ms);
  const node_id me = seam::endpoint_id(0x7f01fffe, 1);
  std::vector<io::clock::time_point> asked(L.seeds.size());
  bool left = false;
  std::size_t busy = 0;
  while (!left && io::clock::now() < deadline) {
    const auto now = io::clock::now();
    for (auto& lr : L.leaves) {
      if (lr.peer != peer) continue;
      if (lr.status == seeds::leave_status::left) left = true;
      else ++busy;
    }
    L.leaves.clear();
    for (std::size_t i = 0; i < L.seeds.size(); ++i)
      if (L.seeds[i].up && (asked[i] == io::clock::time_point{} || now - asked[i] > 1s)) {
        asked[i] = now;
        (void)L.seeds[i].conn->send(frame(L, me, L.seeds[i].id, seeds::leave_request{.request_id = 1, .peer = peer}));
      }
    (void)co_await io::sleep_for(2ms);
  }
  L.done = true;
  stop.request_stop();
  co_await readers.join();
  std::printf("%s\n", nlohmann::ordered_json{{"peer", endpoints::id_string(peer)}, {"left", left}, {"busy_answers", busy}}
                          .dump()
                          .c_str());
  if (!left) std::fprintf(stderr, "confab force-leave: no seed confirmed the removal in %u ms\n", o.timeout_ms);
  exit_code = left ? 0 : 1;
}

task<void> query(io::reactor& r, load& L, const seed_query_options& o, int& exit_code) {
  std::stop_source stop;
  task_scope readers;
  for (std::size_t i = 0; i < L.seeds.size(); ++i) readers.spawn(seed_reader(r, L, i, stop.get_token()));
  const auto deadline = io::clock::now() + std::chrono::milliseconds(o.timeout_ms);
  std::vector<bool> asked(L.seeds.size());
  const node_id me = seam::endpoint_id(0x7f01fffe, 1);
  while (io::clock::now() < deadline) {
    bool all = true;
    for (std::size_t i = 0; i < L.seeds.size(); ++i) {
      if (!asked[i] && L.seeds[i].up) {
        asked[i] = true;
        (void)L.seeds[i].conn->send(frame(L, me, L.seeds[i].id, seeds::pl_request{.request_id = 1}));
      }
      all &= L.answered[i];
    }
    if (all) break;
    (void)co_await io::sleep_for(5ms);
  }
  L.done = true;
  stop.request_stop();
  co_await readers.join();
  std::optional<std::uint64_t> first_hash;
  std::uint64_t first_size = 0;
  bool agree = true, all_answered = true;
  for (std::size_t i = 0; i < L.seeds.size(); ++i) {
    const auto& rep = L.replies[i];
    const std::uint64_t h = rep.pl_digest;
    char digest[17];
    std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(h));
    nlohmann::ordered_json line = {{"seed", endpoints::id_string(L.seeds[i].id)},
                                   {"answered", static_cast<bool>(L.answered[i])},
                                   {"commit_index", rep.commit_index},
                                   {"behind", rep.status == seeds::register_status::behind},
                                   {"pl_size", rep.pl_size},
                                   {"sampled", rep.peers.size() < rep.pl_size},
                                   {"pl_digest", digest},
                                   {"leader", rep.leader == seeds::no_node ? "" : endpoints::id_string(rep.leader)}};
    if (o.full) {
      line["pl"] = nlohmann::json::array();
      for (auto id : rep.peers) line["pl"].push_back(endpoints::id_string(id));
    }
    std::printf("%s\n", line.dump().c_str());
    if (!L.answered[i]) {
      all_answered = false;
      continue;
    }
    if (!first_hash) first_hash = h, first_size = rep.pl_size;
    if (h != *first_hash || rep.pl_size != first_size) agree = false;
  }
  // Agreement needs someone to agree: with no answer at all it is false.
  agree = agree && first_hash.has_value();
  std::printf("%s\n", nlohmann::ordered_json{{"all_answered", all_answered}, {"agree", agree}}.dump().c_str());
  exit_code = all_answered && agree ? 0 : 1;
}

template <class Fn>
int with_reactor(const char* what, Fn fn) {
  auto r = io::reactor::create({});
  if (!r) {
    std::fprintf(stderr, "confab %s: cannot start the reactor: %s\n", what, r.error().message().c_str());
    return 1;
  }
  int exit_code = 1;
  (*r)->run(fn(**r, exit_code));
  return exit_code;
}

}  // namespace

// The seeds (from the seed list) and the cluster key of a run; false,
// after saying why on stderr, when either cannot be read.
static bool prepare(load& L, const std::string& seeds_file, const std::string& key_file,
                    const std::vector<std::string>& via, const char* who) {
  auto ids = read_seeds(seeds_file);
  if (!ids) {
    std::fprintf(stderr, "confab %s: %s\n", who, ids.error().text.c_str());
    return false;
  }
  for (auto id : *ids) L.seeds.push_back({.id = id});
  for (const auto& v : via) {
    const auto eq = v.find('=');
    auto seed = resolve_endpoint(std::string_view(v).substr(0, eq == std::string::npos ? 0 : eq));
    auto dial = resolve_endpoint(eq == std::string::npos ? std::string_view() : std::string_view(v).substr(eq + 1));
    auto it = std::find_if(L.seeds.begin(), L.seeds.end(), [&](const auto& s) { return seed && s.id == *seed; });
    if (!seed || !dial || it == L.seeds.end()) {
      std::fprintf(stderr, "confab %s: --via %s: expected SEED=IP:PORT with SEED one of the seed list\n", who, v.c_str());
      return false;
    }
    it->via = host::endpoint_address(*dial);
  }
  if (key_file.empty()) return true;
  auto k = load_cluster_key(key_file);
  if (!k) {
    std::fprintf(stderr, "confab %s: %s\n", who, k.error().text.c_str());
    return false;
  }
  L.auth.emplace(*k);
  L.sealer.emplace(*L.auth);
  return true;
}

int run_seed_load_command(const seed_load_options& o) {
  load L;
  if (!prepare(L, o.seeds_file, o.key_file, o.via, "seed-load")) return 2;
  L.peers.resize(o.peers);
  for (unsigned i = 0; i < o.peers; ++i) {
    const unsigned k = o.first_peer + i;
    L.peers[i].id = seam::endpoint_id(0x7f020000u + k / 50000, static_cast<std::uint16_t>(10000 + k % 50000));
    L.by_request[i + 1] = i;
  }
  return with_reactor("seed-load", [&](io::reactor& r, int& code) { return drive(r, L, o, code); });
}

int run_seed_query_command(const seed_query_options& o) {
  load L;
  if (!prepare(L, o.seeds_file, o.key_file, o.via, "seed-query")) return 2;
  L.replies.resize(L.seeds.size());
  L.answered.assign(L.seeds.size(), false);
  return with_reactor("seed-query", [&](io::reactor& r, int& code) { return query(r, L, o, code); });
}

int run_members_command(const members_options& o) {
  load L;
  if (!prepare(L, o.seeds_file, o.key_file, o.via, "members")) return 2;
  return with_reactor("members", [&](io::reactor& r, int& code) { return members(r, L, o, code); });
}

int run_force_leave_command(const force_leave_options& o) {
  load L;
  if (!prepare(L, o.seeds_file, o.key_file, o.via, "force-leave")) return 2;
  auto peer = resolve_endpoint(o.peer);
  if (!peer) {
    std::fprintf(stderr, "confab force-leave: %s: %s\n", o.peer.c_str(), peer.error().text.c_str());
    return 2;
  }
  return with_reactor("force-leave", [&](io::reactor& r, int& code) { return force_leave(r, L, o, *peer, code); });
}

}  // namespace confab::tools
