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
  bool acked = false;
};

struct load {
  std::vector<seed_connection> seeds;
  std::vector<peer_state> peers;
  std::unordered_map<std::uint64_t, std::size_t> by_request;  // request id -> peer index
  std::size_t started = 0, acked = 0, busy = 0, resends = 0;
  latency_histogram commit_ns;  // request sent to acknowledgement
  bool done = false;
  seam::random rng{0x5eed};
  // query mode
  std::vector<seeds::register_reply> replies;
  std::vector<bool> answered;
  std::optional<protocols::cluster_auth> auth;  // --key-file
  std::optional<protocols::frame_sealer> sealer;
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
  L.done = true;
  stop.request_stop();
  co_await readers.join();
  const nlohmann::ordered_json summary = {{"seeds", L.seeds.size()},
                                          {"peers", L.peers.size()},
                                          {"acknowledged", L.acked},
                                          {"seconds", secs},
                                          {"registrations_per_s", static_cast<double>(L.acked) / secs},
                                          {"commit_ms_p50", L.commit_ns.quantile(0.5) / 1e6},
                                          {"commit_ms_p99", L.commit_ns.quantile(0.99) / 1e6},
                                          {"commit_ms_max", static_cast<double>(L.commit_ns.max()) / 1e6},
                                          {"resent", L.resends},
                                          {"busy", L.busy}};
  std::printf("%s\n", summary.dump().c_str());
  if (!o.acked_out.empty()) {
    std::ofstream out(o.acked_out);
    for (auto& p : L.peers)
      if (p.acked) out << endpoints::id_string(p.id) << "\n";
  }
  exit_code = L.acked == L.peers.size() ? 0 : 1;
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

}  // namespace confab::tools
