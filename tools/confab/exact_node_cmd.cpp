// `confab exact-node --listen IP:PORT --config FILE`: one exact-consensus
// node as its own process (docs/exact_consensus.md).
//
// The config is the paper's setting: the topology, the weights and their
// seed, f, this node's vertex and x(0), and the address of every vertex.
// The node plans the rounds (the most any vertex needs, so every process
// of the run agrees on them), runs them over TCP with its neighbours,
// decides from its own observations, prints the decision and writes it as
// JSON (`out`). Exit: 0 recovered x(0), 1 any other verdict, 2 bad usage.
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/host/tcp_host.hpp"
#include "engine/io/runtime.hpp"
#include "harness/toml_util.hpp"
#include "harness/topology.hpp"
#include "protocols/common/endpoints.hpp"
#include "protocols/exact/node.hpp"
#include "tools/confab/avg_cmd.hpp"
#include "tools/confab/exact_cmd.hpp"
#include "tools/confab/node_cmd.hpp"

namespace confab::tools {

using namespace std::chrono_literals;

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "confab exact-node: %s\n", msg.c_str());
  return 2;
}

struct node_file {
  std::string topology, weights = "random", malicious, out;
  std::uint64_t seed = 1;
  int vertex = -1, f = 0;
  double x0 = 0;
  std::vector<seam::node_id> nodes;
  seam::duration stall_timeout = 30s, resend_interval = 200ms, linger = 5s;
};

result<node_file, problem> load(const std::string& path) {
  auto root = harness::read_toml(path);
  if (!root) return root.error();
  node_file s;
  long long seed = 1;
  harness::table_reader r(*root, "", path);
  r.only({"topology", "weights", "seed", "vertex", "f", "x0", "nodes", "malicious", "stall_timeout_ms",
          "resend_interval_ms", "linger_ms", "out"})
      .require("topology")
      .require("vertex")
      .require("x0")
      .require("nodes", "the IP:PORT of every vertex, in vertex order")
      .text("topology", s.topology)
      .text("weights", s.weights)
      .integer("seed", 0, 1LL << 62, seed)
      .integer("vertex", 0, exact::vertices_max - 1, s.vertex)
      .integer("f", 0, exact::f_max, s.f)
      .number("x0", -1e300, 1e300, s.x0)
      .text("malicious", s.malicious)
      .milliseconds("stall_timeout_ms", 10, 86'400'000, s.stall_timeout)
      .milliseconds("resend_interval_ms", 0, 3'600'000, s.resend_interval)
      .milliseconds("linger_ms", 0, 3'600'000, s.linger)
      .text("out", s.out);
  if (auto done = r.done(); !done) return done.error();
  s.seed = static_cast<std::uint64_t>(seed);
  if (s.weights != "random" && s.weights != "metropolis")
    return problem{path + ": weights = '" + s.weights + "' is not random or metropolis"};
  auto ids = harness::endpoint_list(*root, "nodes", path);
  if (!ids) return ids.error();
  s.nodes = std::move(*ids);
  return s;
}

}  // namespace

int run_exact_node_command(const exact_node_options& o) {
  auto self = endpoints::parse_endpoint(o.listen);
  if (!self) return fail("--listen '" + o.listen + "': " + self.error().detail);
  auto loaded = load(o.config);
  if (!loaded) return fail(loaded.error().text);
  auto& s = *loaded;
  auto parsed = harness::parse_topology(s.topology, s.seed);
  if (!parsed) return fail(o.config + ": topology: " + parsed.error().text);
  if (!linalg::connected(*parsed)) return fail(o.config + ": topology '" + s.topology + "' is disconnected");
  auto g = std::make_shared<const linalg::graph>(std::move(*parsed));
  if (static_cast<int>(s.nodes.size()) != g->n())
    return fail(o.config + ": nodes lists " + std::to_string(s.nodes.size()) + " addresses for " + std::to_string(g->n()) +
                " vertices");
  if (s.vertex >= g->n()) return fail(o.config + ": vertex " + std::to_string(s.vertex) + " is not in the graph");
  if (s.nodes[static_cast<std::size_t>(s.vertex)] != *self)
    return fail("--listen " + o.listen + " is not nodes[" + std::to_string(s.vertex) + "] (" +
                endpoints::id_string(s.nodes[static_cast<std::size_t>(s.vertex)]) + ") in " + o.config);
  auto lie = s.malicious.empty() ? result<exact::behaviour, problem>(exact::behaviour{})
                                 : exact::parse_behaviour(s.malicious);
  if (!lie) return fail(o.config + ": malicious = '" + s.malicious + "': " + lie.error().text);
  if (lie->how == exact::strategy::crafted)
    return fail(o.config + ": malicious = 'crafted' needs every node's plan: use `confab exact run`");
  auto W = std::make_shared<const linalg::matrix>(s.weights == "random" ? linalg::random_weights(*g, s.seed)
                                                                        : linalg::metropolis_hastings(*g));
  std::string why;
  const int rounds = exact::plan_rounds(g, W, s.f, &why);
  auto plan = std::make_shared<const exact::recoverer>(g, W, s.vertex, s.f);
  if (rounds < 0 && plan->steps() < 0) return fail(o.config + ": this node cannot recover x(0): " + plan->unusable());
  exact::exact_config c{.g = g, .W = W, .self = s.vertex, .ids = s.nodes, .f = s.f,
                        .rounds = static_cast<std::uint32_t>(rounds > 0 ? rounds : plan->steps()), .x0 = s.x0,
                        .lie = *lie, .stall_timeout = s.stall_timeout, .resend_interval = s.resend_interval};
  if (rounds < 0) std::fprintf(stderr, "confab exact-node: note: %s; rounds from this node's own plan\n", why.c_str());
  if (auto ok = exact::validate(c); !ok) return fail(o.config + ": " + ok.error().text);
  const std::string name = endpoints::id_string(*self);
  std::printf("exact-node %s: vertex %d of %s, f = %d, %u rounds, %zu neighbours%s\n", name.c_str(), s.vertex,
              g->name.c_str(), s.f, c.rounds, g->adj[static_cast<std::size_t>(s.vertex)].size(),
              lie->how == exact::strategy::honest ? "" : (std::string(", compromised: ") + exact::name_of(lie->how)).c_str());
  std::fflush(stdout);

  std::optional<exact::decision> got;
  host::tcp_host_options ho;
  ho.on_bad_input = [](const net::address& from, const error& e) {
    std::fprintf(stderr, "confab exact-node: closed a connection from %s: %s\n", from.to_string().c_str(),
                 e.message().c_str());
  };
  io::runtime rt(node_runtime(o.backend));
  int exit_code = 0;
  std::uint64_t refused = 0;
  auto ran = rt.run([&](io::runtime&, io::reactor& r, unsigned) -> task<void> {
    auto node = std::make_unique<exact::exact_node>(c, plan, [&got](const exact::decision& d) { got = d; });
    auto* ptr = node.get();
    host::tcp_host host(r, *self, {}, std::move(node), *self, ho);
    co_await serve_rounds_node(host, ptr->rounds(), r, s.linger, exit_code, "exact-node");
    refused = ptr->rejected();
  });
  if (!ran) return fail(ran.error().message());
  if (exit_code) return exit_code;
  if (!got) {
    std::printf("exact-node %s: no decision\n", name.c_str());
    return 1;
  }
  const auto& d = *got;
  std::printf("exact-node %s: %s after %d steps", name.c_str(), exact::name_of(d.what), d.steps);
  if (!d.x0.empty()) std::printf(", average %.15g", d.average);
  if (!d.identified.empty()) {
    std::printf(", compromised:");
    for (int v : d.identified) std::printf(" %d", v);
  }
  if (!d.detail.empty()) std::printf(" (%s)", d.detail.c_str());
  std::printf("\n");
  if (!s.out.empty()) {
    nlohmann::ordered_json j{{"vertex", s.vertex},     {"verdict", exact::name_of(d.what)}, {"steps", d.steps},
                             {"x0", d.x0},             {"average", d.average},              {"attack_detected", d.attack_detected},
                             {"identified", d.identified}, {"silent", d.silent},          {"detail", d.detail},
                             {"refused", refused}};
    std::ofstream f(s.out);
    f << j.dump(2) << "\n";
    if (!f) return fail("cannot write " + s.out);
  }
  return d.what == exact::verdict::recovered ? 0 : 1;
}

}  // namespace confab::tools
