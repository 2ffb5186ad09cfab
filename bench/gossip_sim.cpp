// Dissemination and overlay figures from the deterministic simulator:
// 3 seeds and N peers (default 1,000) running the real seed and peer
// cores, a seeded network (one-way delay uniform in [delay-min, delay-max]).
// Every peer originates one message once the overlay has formed.
//
//   gossip_sim --peers 1000 --mode flood|plumtree --overlay preferential|exponential [--seed S]
//              [--delay-min MS] [--delay-max MS] [--ihave-timeout-ms MS] [--json FILE]
//
// Prints one JSON object: per message, virtual time (ms) and hops until
// 50/90/99/100% of peers have it (median over messages, and the worst);
// gossip frames sent per delivery minus one; the degree distribution
// (histogram, maximum-likelihood power-law exponent for k >= k_min), and
// whether the overlay is connected.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/sim/simulator.hpp"
#include "protocols/peers/node.hpp"
#include "protocols/seeds/node.hpp"

using namespace confab;
using namespace std::chrono_literals;

namespace {

struct delivery {
  double ms;
  std::uint32_t hops;
};

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 1000;
  std::uint64_t seed = 1;
  std::string mode = "flood", overlay = "preferential", json_out;
  long delay_min_ms = 1, delay_max_ms = 10, ihave_ms = 400;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--peers") n = std::stoul(v);
    else if (a == "--seed") seed = std::stoull(v);
    else if (a == "--mode") mode = v;
    else if (a == "--overlay") overlay = v;
    else if (a == "--json") json_out = v;
    else if (a == "--delay-min") delay_min_ms = std::stol(v);
    else if (a == "--delay-max") delay_max_ms = std::stol(v);
    else if (a == "--ihave-timeout-ms") ihave_ms = std::stol(v);
    else {
      std::fprintf(stderr, "gossip_sim: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if ((mode != "flood" && mode != "plumtree") || (overlay != "preferential" && overlay != "exponential") || n < 2) {
    std::fprintf(stderr, "gossip_sim: --mode flood|plumtree, --overlay preferential|exponential, --peers >= 2\n");
    return 2;
  }
  sim::simulator s(seed, {.delay_min = std::chrono::milliseconds(delay_min_ms), .delay_max = std::chrono::milliseconds(delay_max_ms)});
  seeds::seed_config seed_cfg;
  seed_cfg.seeds = {0, 1, 2};
  seed_cfg.pl_sample_max = 256;
  peers::peer_config peer_cfg;
  peer_cfg.seeds = seed_cfg.seeds;
  peer_cfg.mode = mode == "plumtree" ? peers::dissemination::plumtree : peers::dissemination::flood;
  peer_cfg.overlay = overlay == "exponential" ? peers::overlay_model::exponential : peers::overlay_model::preferential;
  peer_cfg.gossip_count = 1;
  peer_cfg.ihave_timeout = std::chrono::milliseconds(ihave_ms);
  // Peers join over the first 2/3 of a window; every one gossips once after
  // all have joined, messages spread over 20 s so they do not overlap much.
  const auto join_window = std::chrono::milliseconds(static_cast<long>(n) * 20);
  peer_cfg.gossip_interval = join_window + 5s;
  peers::dedup_table seen({.capacity = n * n + 1024, .generations = 4, .bucket = 300s});
  std::vector<std::unique_ptr<seeds::memory_store>> disks;
  for (int i = 0; i < 3; ++i) {
    disks.push_back(std::make_unique<seeds::memory_store>());
    auto* d = disks.back().get();
    s.add_node([&seed_cfg, d](seam::node_id) { return std::make_unique<seeds::seed_node>(seed_cfg, *d); });
  }
  s.run_for(1s);
  std::map<std::pair<seam::node_id, std::uint64_t>, seam::time_point> sent;
  std::map<std::pair<seam::node_id, std::uint64_t>, std::vector<delivery>> got;
  std::vector<seam::node_id> ids;
  seam::random stagger(seed);
  for (std::size_t i = 0; i < n; ++i) {
    // Stagger joins: each peer starts a little after the previous one.
    s.run_for(std::chrono::milliseconds(static_cast<long>(stagger.below(20)) + 10));
    const auto offset = std::chrono::milliseconds(static_cast<long>(stagger.below(20000)));
    auto cfg = peer_cfg;
    cfg.gossip_interval = peer_cfg.gossip_interval + offset - std::chrono::milliseconds(static_cast<long>(i) * 20);
    ids.push_back(s.add_node([&, cfg](seam::node_id id) {
      return std::make_unique<peers::peer_node>(cfg, seen, [&, id](const peers::peer_event& e) {
        if (e.kind == peers::peer_event::gossip_sent) sent[{id, e.seq}] = e.at;
        if (e.kind == peers::peer_event::gossip_received) {
          auto it = sent.find({e.peer, e.seq});
          const double ms = it == sent.end() ? 0 : std::chrono::duration<double, std::milli>(e.at - it->second).count();
          got[{e.peer, e.seq}].push_back({ms, e.hops});
        }
      });
    }));
    if (i % 100 == 99) std::fprintf(stderr, "gossip_sim: %zu/%zu peers started\n", i + 1, n);
  }
  s.run_for(join_window + 5s + 25s);
  // Overlay: degrees and connectivity.
  std::vector<std::size_t> degree;
  std::map<seam::node_id, std::vector<seam::node_id>> adj;
  std::uint64_t frames = 0, deliveries = 0, control = 0;
  for (auto id : ids) {
    auto* p = static_cast<peers::peer_node*>(s.get(id));
    auto nb = p->core().neighbours();
    degree.push_back(nb.size());
    adj[id] = nb;
    frames += p->core().stats().gossip_frames;
    control += p->core().stats().control_frames;
    deliveries += p->core().stats().delivered;
  }
  std::set<seam::node_id> reach{ids[0]};
  std::vector<seam::node_id> todo{ids[0]};
  while (!todo.empty()) {
    auto x = todo.back();
    todo.pop_back();
    for (auto y : adj[x])
      if (reach.insert(y).second) todo.push_back(y);
  }
  std::map<std::size_t, std::size_t> hist;
  for (auto d : degree) ++hist[d];
  // Discrete power-law MLE (Clauset, Shalizi and Newman 2009, eq. 3.7):
  // alpha = 1 + m / sum ln(k / (k_min - 1/2)), over degrees k >= k_min.
  const std::size_t k_min = peer_cfg.overlay == peers::overlay_model::preferential ? peer_cfg.attach : 1;
  double sum = 0;
  std::size_t m = 0;
  for (auto d : degree)
    if (d >= k_min) {
      sum += std::log(static_cast<double>(d) / (static_cast<double>(k_min) - 0.5));
      ++m;
    }
  const double alpha = m ? 1.0 + static_cast<double>(m) / sum : 0;
  // Per message: time and hops until 50/90/99/100% of the other peers have it.
  std::vector<double> t50, t90, t99, t100, h50, h90, h99, h100;
  std::size_t complete = 0;
  for (auto& [key, v] : got) {
    std::vector<double> ms, hops;
    for (auto& d : v) ms.push_back(d.ms), hops.push_back(d.hops);
    if (v.size() == n - 1) ++complete;
    // Peers that never got it count as never (percentiles over n - 1).
    while (ms.size() < n - 1) ms.push_back(1e12), hops.push_back(1e9);
    t50.push_back(pct(ms, 0.5)), t90.push_back(pct(ms, 0.9)), t99.push_back(pct(ms, 0.99)), t100.push_back(pct(ms, 1.0));
    h50.push_back(pct(hops, 0.5)), h90.push_back(pct(hops, 0.9)), h99.push_back(pct(hops, 0.99)), h100.push_back(pct(hops, 1.0));
  }
  double mean_degree = 0;
  for (auto d : degree) mean_degree += static_cast<double>(d);
  mean_degree /= static_cast<double>(degree.size());
  std::string hist_json;
  for (auto& [k, c] : hist) hist_json += (hist_json.empty() ? "" : ",") + ("[" + std::to_string(k) + "," + std::to_string(c) + "]");
  char buf[4096];
  std::snprintf(buf, sizeof buf,
                "{\"peers\":%zu,\"ihave_timeout_ms\":%ld,\"mode\":\"%s\",\"overlay\":\"%s\",\"seed\":%llu,\"delay_ms\":[%ld,%ld],\"messages\":%zu,"
                "\"messages_complete\":%zu,\"time_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p100\":%.2f,\"p100_worst\":%.2f},"
                "\"hops\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p100\":%.1f,\"p100_worst\":%.1f},"
                "\"gossip_frames\":%llu,\"control_frames\":%llu,\"deliveries\":%llu,\"sent_per_delivery_minus_one\":%.3f,"
                "\"mean_degree\":%.3f,\"degree_max\":%zu,\"powerlaw_alpha\":%.3f,\"k_min\":%zu,\"connected\":%s,"
                "\"degree_histogram\":[%s]}",
                n, ihave_ms, mode.c_str(), overlay.c_str(), static_cast<unsigned long long>(seed), delay_min_ms, delay_max_ms,
                got.size(), complete, pct(t50, 0.5), pct(t90, 0.5), pct(t99, 0.5), pct(t100, 0.5), pct(t100, 1.0),
                pct(h50, 0.5), pct(h90, 0.5), pct(h99, 0.5), pct(h100, 0.5), pct(h100, 1.0),
                static_cast<unsigned long long>(frames), static_cast<unsigned long long>(control),
                static_cast<unsigned long long>(deliveries),
                deliveries ? static_cast<double>(frames) / static_cast<double>(deliveries) - 1.0 : 0.0, mean_degree,
                *std::max_element(degree.begin(), degree.end()), alpha, k_min, reach.size() == ids.size() ? "true" : "false",
                hist_json.c_str());
  std::printf("%s\n", buf);
  if (!json_out.empty()) {
    FILE* f = std::fopen(json_out.c_str(), "w");
    if (f) {
      std::fprintf(f, "%s\n", buf);
      std::fclose(f);
    }
  }
  return 0;
}
