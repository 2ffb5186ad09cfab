// `confab exact run`: exact consensus over the network, N nodes in one
// process through the RTT emulator (in-process or real loopback TCP).
//
// Every node runs protocols/exact: linear rounds with its neighbours, its
// own observations, its own recovery (and with f > 0 its own verdict on
// who lied). The command then computes linalg's single-process answer for
// each honest node from the same graph, weights and injections, and checks
// the network's answer against it (1e-9 relative).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <numbers>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/delay/link_model.hpp"
#include "harness/average.hpp"
#include "harness/chart.hpp"
#include "harness/topology.hpp"
#include "linalg/exact.hpp"
#include "linalg/malicious.hpp"
#include "protocols/exact/node.hpp"
#include "tools/confab/exact_cmd.hpp"

namespace confab::tools {

namespace {

using json = nlohmann::ordered_json;
constexpr double agree_tolerance = 1e-9;

int usage(const std::string& msg) {
  std::fprintf(stderr, "confab exact run: %s\n", msg.c_str());
  return 2;
}

struct liar {
  int node = 0;
  exact::behaviour b;
};

// "3:offset:0.5,7:silent:4,9:two-faced" (strategy, then its size or, for
// silent, the round it falls silent from).
result<std::vector<liar>, problem> parse_malicious(const std::string& spec, int n) {
  std::vector<liar> out;
  if (spec.empty()) return out;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    std::vector<std::string> parts;
    std::stringstream is(item);
    std::string p;
    while (std::getline(is, p, ':')) parts.push_back(p);
    if (parts.size() < 2 || parts.size() > 3)
      return problem{"--malicious '" + item + "' is not NODE:STRATEGY[:VALUE] (strategies: " + exact::strategy_list() + ")"};
    liar l;
    char* end = nullptr;
    const long v = std::strtol(parts[0].c_str(), &end, 10);
    if (parts[0].empty() || *end || v < 0 || v >= n)
      return problem{"--malicious '" + item + "': node '" + parts[0] + "' is not a vertex 0.." + std::to_string(n - 1)};
    l.node = static_cast<int>(v);
    auto b = exact::parse_behaviour(parts.size() == 3 ? parts[1] + ":" + parts[2] : parts[1]);
    if (!b || b->how == exact::strategy::honest)
      return problem{"--malicious '" + item + "': " +
                     (b ? "'honest' is not one of " + exact::strategy_list() : b.error().text)};
    l.b = *b;
    l.b.seed = 1000 + static_cast<std::uint64_t>(v);
    for (const auto& o : out)
      if (o.node == l.node) return problem{"--malicious names node " + parts[0] + " twice"};
    out.push_back(l);
  }
  return out;
}

bool injects(exact::strategy s) {
  return s == exact::strategy::offset || s == exact::strategy::noise || s == exact::strategy::small ||
         s == exact::strategy::crafted;
}

double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double d = 0, s = 1;
  for (std::size_t k = 0; k < a.size(); ++k) {
    d = std::max(d, std::fabs(a[k] - b[k]));
    s = std::max(s, std::fabs(b[k]));
  }
  return d / s;
}

// The graph on a circle: malicious nodes red, nodes that named at least
// one of them ringed, edges grey.
std::string graph_svg(const linalg::graph& g, const std::vector<bool>& bad, const std::vector<exact::decision>& d) {
  const int n = g.n();
  const double W = 640, H = 640, cx = W / 2, cy = H / 2 + 10, R = 260;
  auto px = [&](int i) { return cx + R * std::cos(2 * std::numbers::pi * i / n - std::numbers::pi / 2); };
  auto py = [&](int i) { return cy + R * std::sin(2 * std::numbers::pi * i / n - std::numbers::pi / 2); };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H + 40 << "\" font-family=\"sans-serif\">\n"
    << "<title>exact consensus: " << harness::html_esc(g.name) << "</title>\n"
    << "<text x=\"12\" y=\"22\" font-size=\"15\">" << harness::html_esc(g.name)
    << ": compromised nodes red; green ring = recovered x(0), orange = ambiguous/not found, grey = stalled</text>\n<g stroke=\"#bbb\">\n";
  for (int i = 0; i < n; ++i)
    for (int j : g.adj[static_cast<std::size_t>(i)])
      if (j > i) s << "<line x1=\"" << px(i) << "\" y1=\"" << py(i) << "\" x2=\"" << px(j) << "\" y2=\"" << py(j) << "\"/>\n";
  s << "</g>\n<g class=\"data\">\n";
  const double r = n > 100 ? 3 : 9;
  for (int i = 0; i < n; ++i) {
    const auto& di = d[static_cast<std::size_t>(i)];
    const char* ring = di.what == exact::verdict::recovered                                          ? "#2ca02c"
                       : di.what == exact::verdict::stalled || di.what == exact::verdict::halted ? "#999"
                                                                                                 : "#ff7f0e";
    s << "<circle cx=\"" << px(i) << "\" cy=\"" << py(i) << "\" r=\"" << r << "\" fill=\""
      << (bad[static_cast<std::size_t>(i)] ? "#d62728" : "#fff") << "\" stroke=\"" << ring << "\" stroke-width=\"3\">"
      << "<title>node " << i << ": " << exact::name_of(di.what) << "</title></circle>\n";
    if (n <= 60)
      s << "<text x=\"" << px(i) + 11 << "\" y=\"" << py(i) - 8 << "\" font-size=\"11\">" << i << "</text>\n";
  }
  s << "</g>\n</svg>\n";
  return s.str();
}

}  // namespace

int run_exact_network(const exact_options& o) {
  if (o.f < 0 || o.f > exact::f_max) return usage("--f must be between 0 and " + std::to_string(exact::f_max));
  if (o.transport != "tcp" && o.transport != "inproc") return usage("--transport must be tcp or inproc, not " + o.transport);
  if (o.weights != "random" && o.weights != "metropolis") return usage("--weights must be random or metropolis");
  auto parsed = harness::parse_topology(o.topology.empty() ? std::string("ring:9") : o.topology, o.seed);
  if (!parsed) return usage("--topology: " + parsed.error().text);
  if (!linalg::connected(*parsed)) return usage("--topology is disconnected: no node can observe every other");
  if (parsed->n() > exact::vertices_max)
    return usage("--topology has " + std::to_string(parsed->n()) + " vertices, above the " +
                 std::to_string(exact::vertices_max) + " a run holds");
  auto g = std::make_shared<const linalg::graph>(std::move(*parsed));
  const int n = g->n();
  auto liars = parse_malicious(o.malicious, n);
  if (!liars) return usage(liars.error().text);
  if (static_cast<int>(liars->size()) > std::max(o.f, 0) && o.f > 0)
    std::fprintf(stderr, "confab exact run: note: %zu malicious nodes, more than f = %d: honest nodes may not find them\n",
                 liars->size(), o.f);
  auto W = std::make_shared<const linalg::matrix>(o.weights == "random" ? linalg::random_weights(*g, o.seed)
                                                                        : linalg::metropolis_hastings(*g));
  std::vector<double> x0(static_cast<std::size_t>(n));
  {
    seam::random rng(o.seed + 1);
    for (auto& v : x0) v = 2 * rng.unit() - 1;
  }
  std::vector<exact::behaviour> lie(static_cast<std::size_t>(n));
  std::vector<bool> bad(static_cast<std::size_t>(n), false);
  for (const auto& l : *liars) {
    lie[static_cast<std::size_t>(l.node)] = l.b;
    bad[static_cast<std::size_t>(l.node)] = true;
  }

  // Every node's recovery, planned once (the same plans serve the nodes
  // and the single-process reference).
  if (!o.quiet) std::fprintf(stderr, "confab exact run: planning %d nodes' recovery (f = %d)\n", n, o.f);
  std::vector<std::shared_ptr<const exact::recoverer>> plans(static_cast<std::size_t>(n));
  int rounds = 0, usable = 0;
  auto last_note = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    if (!o.quiet && std::chrono::steady_clock::now() - last_note >= std::chrono::seconds(2)) {
      last_note = std::chrono::steady_clock::now();
      std::fprintf(stderr, "confab exact run: planned %d of %d nodes\n", i, n);
    }
    plans[static_cast<std::size_t>(i)] = std::make_shared<const exact::recoverer>(g, W, i, o.f);
    if (plans[static_cast<std::size_t>(i)]->steps() > 0) ++usable;
    rounds = std::max(rounds, plans[static_cast<std::size_t>(i)]->steps());
  }
  if (usable == 0)
    return usage("no node can recover x(0) on " + g->name + " with f = " + std::to_string(o.f) + ": " +
                 plans[0]->unusable());

  // A crafted attack is made against one observer, on the plan that node
  // itself uses (the run's f): the first honest node that can recover,
  // with a subset disjoint from the attackers.
  std::vector<int> crafters;
  for (const auto& l : *liars)
    if (l.b.how == exact::strategy::crafted) crafters.push_back(l.node);
  std::sort(crafters.begin(), crafters.end());
  std::string crafted_note;
  if (!crafters.empty()) {
    if (o.f < static_cast<int>(crafters.size())) return usage("a crafted attack needs f at least the number of crafted attackers");
    bool made = false;
    for (int obs = 0; obs < n && !made; ++obs) {
      if (bad[static_cast<std::size_t>(obs)] || plans[static_cast<std::size_t>(obs)]->steps() < 0) continue;
      auto plan = linalg::plan_attack_recovery(*g, *W, obs, o.f);
      if (plan.status != linalg::attack_status::ok) continue;
      for (const auto& S : linalg::candidate_subsets(n, static_cast<int>(crafters.size()), obs)) {
        if (std::any_of(S.begin(), S.end(), [&](int v) { return bad[static_cast<std::size_t>(v)]; })) continue;
        auto a = linalg::craft_ambiguous_attack(plan, crafters, S);
        if (!a.found) continue;
        for (std::size_t c = 0; c < crafters.size(); ++c) {
          auto& e = lie[static_cast<std::size_t>(crafters[c])].errors;
          e.assign(static_cast<std::size_t>(rounds), 0.0);
          for (std::size_t k = 0; k < a.errors.size() && k < e.size(); ++k) e[k] = a.errors[k][c];
        }
        std::string s;
        for (int v : S) s += (s.empty() ? "" : ",") + std::to_string(v);
        crafted_note = "crafted against node " + std::to_string(obs) + ": subset {" + s + "} explains its observations too";
        made = true;
        break;
      }
    }
    if (!made) return usage("no crafted attack by these nodes is explained by another subset at any honest node");
  }

  std::vector<exact::decision> decisions(static_cast<std::size_t>(n));
  std::vector<char> decided(static_cast<std::size_t>(n), 0);
  std::vector<std::vector<double>> injected(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    injected[static_cast<std::size_t>(i)] = exact::injections(lie[static_cast<std::size_t>(i)], static_cast<std::uint32_t>(rounds));

  harness::average_run_options ro;
  ro.adjacency.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    for (int j : g->adj[static_cast<std::size_t>(i)]) ro.adjacency[static_cast<std::size_t>(i)].push_back(static_cast<std::uint32_t>(j));
  ro.x0 = x0;
  ro.dt.assign(static_cast<std::size_t>(n), 1.0);
  ro.base.how = average::mode::linear;
  ro.base.rounds = static_cast<std::uint32_t>(rounds);
  ro.transport = o.transport == "tcp" ? host::transport_kind::tcp : host::transport_kind::inproc;
  ro.threads = o.threads;
  ro.backend = o.backend;
  ro.base_port = o.base_port;
  ro.seed = o.seed;
  ro.time_max = std::chrono::milliseconds(static_cast<std::int64_t>(o.time_max_s * 1000));
  ro.progress = !o.quiet;
  ro.label = "confab exact run";
  ro.link = delay::around(o.delay_ms, o.jitter_ms, delay::jitter_kind::uniform);
  const auto stall = std::chrono::milliseconds(static_cast<std::int64_t>(o.stall_timeout_ms));
  // Node ids are the fabric group's, the same for every node of the run.
  std::vector<seam::node_id> ids;
  std::mutex ids_mu;
  std::string invalid;
  ro.make_node = [&](std::uint32_t v, const host::fabric_group& group,
                    average::average_node::event_sink sink) -> harness::custom_node {
    exact::exact_config c;
    c.g = g;
    c.W = W;
    c.self = static_cast<int>(v);
    {
      std::lock_guard lock(ids_mu);
      if (ids.empty())
        for (int j = 0; j < n; ++j) ids.push_back(group.id_of(static_cast<std::uint32_t>(j)));
      c.ids = ids;
    }
    c.f = o.f;
    c.rounds = static_cast<std::uint32_t>(rounds);
    c.x0 = x0[v];
    c.lie = lie[v];
    c.stall_timeout = stall;
    auto node = std::make_unique<exact::exact_node>(
        c, plans[v], [&decisions, &decided, v](const exact::decision& d) {
          decisions[v] = d;
          decided[v] = 1;
        },
        std::move(sink));
    harness::custom_node out;
    out.rounds = &node->rounds();
    out.node = std::move(node);
    return out;
  };
  if (!o.quiet)
    std::fprintf(stderr, "confab exact run: %d nodes (%s), f = %d, %d rounds over %s\n", n, g->name.c_str(), o.f, rounds,
                 o.transport.c_str());
  auto rec = harness::run_average(ro);
  if (!rec) return usage(rec.error().text);

  // linalg's single-process answer for every honest node whose
  // attackers stay inside the linear model (they inject errors).
  bool modelled = true;
  std::vector<int> attackers;
  for (int i = 0; i < n; ++i)
    if (bad[static_cast<std::size_t>(i)]) {
      attackers.push_back(i);
      if (!injects(lie[static_cast<std::size_t>(i)].how)) modelled = false;
    }
  json nodes = json::array();
  int problems = 0, recovered = 0, honest = 0, agreeing = 0, compared = 0, named_all = 0;
  double worst_ref = 0, worst_true = 0;
  for (int i = 0; i < n; ++i) {
    const auto& d = decisions[static_cast<std::size_t>(i)];
    json j{{"node", i}, {"compromised", static_cast<bool>(bad[static_cast<std::size_t>(i)])}};
    if (bad[static_cast<std::size_t>(i)]) j["strategy"] = exact::name_of(lie[static_cast<std::size_t>(i)].how);
    j["decided"] = decided[static_cast<std::size_t>(i)] != 0;
    j["verdict"] = exact::name_of(d.what);
    j["steps"] = d.steps;
    j["attack_detected"] = d.attack_detected;
    j["identified"] = d.identified;
    if (!d.detail.empty()) j["detail"] = d.detail;
    if (!d.x0.empty()) {
      j["average"] = d.average;
      const double e = rel_diff(d.x0, x0);
      j["error_vs_true_x0"] = e;
      if (!bad[static_cast<std::size_t>(i)]) worst_true = std::max(worst_true, e);
    }
    if (!bad[static_cast<std::size_t>(i)]) {
      ++honest;
      if (!decided[static_cast<std::size_t>(i)]) ++problems;
      if (d.what == exact::verdict::recovered) ++recovered;
      if (d.what == exact::verdict::recovered && !attackers.empty() && d.identified == attackers) ++named_all;
      const auto& plan = *plans[static_cast<std::size_t>(i)];
      if (modelled && plan.steps() > 0) {
        std::vector<std::vector<double>> errs(static_cast<std::size_t>(plan.steps()), std::vector<double>(attackers.size(), 0.0));
        for (std::size_t a = 0; a < attackers.size(); ++a) {
          const auto& u = injected[static_cast<std::size_t>(attackers[a])];
          for (std::size_t k = 0; k < errs.size() && k < u.size(); ++k) errs[k][a] = u[k];
        }
        const auto y = linalg::observe_attacked(*g, *W, i, x0, plan.steps() - 1, attackers, errs);
        const auto ref = plan.decide(y);
        ++compared;
        bool same = ref.what == d.what && ref.identified == d.identified;
        double diff = 0;
        if (same && !ref.x0.empty()) diff = rel_diff(d.x0, ref.x0), same = diff <= agree_tolerance;
        worst_ref = std::max(worst_ref, diff);
        j["reference"] = {{"verdict", exact::name_of(ref.what)}, {"identified", ref.identified}, {"x0_relative_difference", diff},
                          {"agrees", same}};
        if (same) ++agreeing;
        else ++problems;
      }
    }
    nodes.push_back(j);
  }
  if (attackers.empty() && recovered != honest) ++problems;
  // Who fell silent, by the stall reports: the vertices named by a
  // neighbour that did not report a stall themselves (one that did was
  // waiting too, on someone further away).
  std::vector<int> silent_roots;
  for (int i = 0; i < n; ++i) {
    const int s = decisions[static_cast<std::size_t>(i)].silent;
    if (decisions[static_cast<std::size_t>(i)].what != exact::verdict::stalled || s < 0) continue;
    if (decisions[static_cast<std::size_t>(s)].what == exact::verdict::stalled) continue;
    if (std::find(silent_roots.begin(), silent_roots.end(), s) == silent_roots.end()) silent_roots.push_back(s);
  }
  std::sort(silent_roots.begin(), silent_roots.end());
  if (rec->timed_out) ++problems;

  std::printf("exact consensus over %s: %d nodes (%s), f = %d, %d rounds, %s weights, %.2f s\n", rec->transport.c_str(), n,
              g->name.c_str(), o.f, rounds, o.weights.c_str(), rec->wall_s);
  if (!crafted_note.empty()) std::printf("  %s\n", crafted_note.c_str());
  std::printf("  honest nodes: %d; recovered x(0): %d; named every compromised node: %d\n", honest, recovered, named_all);
  if (compared)
    std::printf("  agree with linalg's single-process answer (1e-9 relative): %d of %d (largest difference %.2e)\n", agreeing,
                compared, worst_ref);
  else if (!attackers.empty())
    std::printf("  no single-process reference: a two-faced or silent node is outside the paper's linear model\n");
  std::printf("  largest error against the true x(0) at an honest node: %.2e\n", worst_true);
  std::map<std::string, int> verdicts;
  for (int i = 0; i < n; ++i)
    if (!bad[static_cast<std::size_t>(i)]) ++verdicts[exact::name_of(decisions[static_cast<std::size_t>(i)].what)];
  std::printf("  honest verdicts:");
  for (const auto& [k, v] : verdicts) std::printf(" %s %d", k.c_str(), v);
  if (!silent_roots.empty()) {
    std::printf("\n  fell silent, by their neighbours' stall reports:");
    for (int v : silent_roots) std::printf(" %d", v);
  }
  std::printf("\n  frames %llu, refused %llu, stale %llu; %s\n", static_cast<unsigned long long>(rec->frames_sent),
              static_cast<unsigned long long>(rec->rejected + rec->bad_input),
              static_cast<unsigned long long>(rec->stale_frames), rec->timed_out ? "TIMED OUT" : "every node ended");

  if (!o.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.out, ec);
    if (ec) return usage("--out " + o.out + ": " + ec.message());
    json report{{"topology", g->name},
                {"n", n},
                {"f", o.f},
                {"weights", o.weights},
                {"rounds", rounds},
                {"transport", rec->transport},
                {"delay_ms", o.delay_ms},
                {"jitter_ms", o.jitter_ms},
                {"seed", o.seed},
                {"x0", x0},
                {"compromised", attackers},
                {"crafted", crafted_note},
                {"honest", honest},
                {"silent", silent_roots},
                {"recovered", recovered},
                {"compared_with_linalg", compared},
                {"agree_with_linalg", agreeing},
                {"largest_difference_vs_linalg", worst_ref},
                {"largest_error_vs_true_x0", worst_true},
                {"frames_sent", rec->frames_sent},
                {"refused", rec->rejected + rec->bad_input},
                {"stale_frames", rec->stale_frames},
                {"wall_s", rec->wall_s},
                {"cpu_s", rec->cpu_s},
                {"rss_mb", rec->rss_mb},
                {"timed_out", rec->timed_out},
                {"problems", problems},
                {"nodes", nodes}};
    std::ofstream(o.out + "/report.json") << report.dump(2) << "\n";
    std::ofstream(o.out + "/graph.svg") << graph_svg(*g, bad, decisions);
    std::printf("  report: %s/report.json, graph.svg\n", o.out.c_str());
  }
  return problems ? 1 : 0;
}

}  // namespace confab::tools
