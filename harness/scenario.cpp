#include "harness/scenario.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "harness/toml_util.hpp"
#include "protocols/seeds/api.hpp"

namespace confab::harness {

const char* fault_name(fault::kind_t k) noexcept {
  switch (k) {
    case fault::kill: return "kill";
    case fault::pause: return "pause";
    case fault::crash_seed: return "crash_seed";
    case fault::restart_seed: return "restart_seed";
    case fault::partition: return "partition";
    case fault::heal: return "heal";
    case fault::clog: return "clog";
    case fault::unclog: return "unclog";
    case fault::churn: return "churn";
  }
  return "?";
}

std::size_t fault::steps() const {
  return std::max<std::size_t>(1, static_cast<std::size_t>(std::floor(for_s * rate + 1e-9)));
}

std::size_t scenario::joiners() const {
  std::size_t n = 0;
  for (const auto& f : faults)
    if (f.kind == fault::churn) n += f.steps();
  return n;
}

double scenario::join_end_s() const {
  const double w = join_window_s > 0 ? join_window_s : std::max(2.0, 0.005 * static_cast<double>(peers));
  return join_start_s() + w;
}

namespace {
double seconds_of(seam::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

double scenario::gossip_interval_s() const { return seconds_of(peers::peer_config{}.gossip_interval) * scale; }
double scenario::ping_interval_s() const { return seconds_of(peers::peer_config{}.ping_interval) * scale; }

double scenario::detection_bound_s() const {
  // Missed pings (each ping interval, `ping_misses` of them, and one more
  // for the phase), indirect probes (two probe timeouts), the report and
  // the commit.
  const peers::peer_config defaults;
  const double by_neighbours = ping_interval_s() * (defaults.ping_misses + 1) + 2 * seconds_of(defaults.probe_timeout) * scale + 2.0;
  // A peer nobody watches (its neighbours died with it): its declaration
  // lease lapses, then the watchers the leader picks probe it (a retry
  // included), then the report and the commit.
  const seeds::seed_config seed_defaults;
  const double by_lease = (seconds_of(seed_defaults.declare_lease) + seconds_of(defaults.declare_refresh) +
                           2 * seconds_of(seed_defaults.watch_retry) + 2 * seconds_of(defaults.probe_timeout)) * scale + 2.0;
  return std::max(by_neighbours, by_lease);
}

double scenario::end_s() const {
  if (duration_s > 0) return duration_s;
  double end = gossip_end_s() + 3.0;
  for (const auto& f : faults) {
    double t = f.at_s;
    if (f.kind == fault::churn) t += f.for_s;
    if (f.kind == fault::kill || f.kind == fault::crash_seed || f.kind == fault::churn) t += detection_bound_s();
    if (f.kind == fault::pause) t += f.pause_s + 3.0;
    end = std::max(end, t + 1.0);
  }
  return end;
}

std::vector<bool> originator_mask(const scenario& scen) {
  const std::size_t originators = scen.originators ? scen.originators : scen.peers;
  std::vector<bool> out(scen.peers, false);
  for (std::size_t k = 0; k < originators; ++k) out[k * scen.peers / originators] = true;
  return out;
}

scenario default_scenario() {
  scenario s;
  return s;
}

void apply(const overrides& o, scenario& scen) {
  if (o.peers) scen.peers = *o.peers;
  if (o.seeds) scen.seeds = *o.seeds;
  if (o.originators) scen.originators = *o.originators;
  if (o.transport) scen.transport = *o.transport;
  if (o.threads) scen.threads = *o.threads;
  if (o.seed) scen.seed = *o.seed;
  if (o.duration_s) scen.duration_s = *o.duration_s;
  if (o.scale) scen.scale = *o.scale;
  if (o.delay_ms) scen.delay_ms = *o.delay_ms;
  if (o.jitter_ms) scen.jitter_ms = *o.jitter_ms;
  if (o.base_port) scen.base_port = *o.base_port;
  if (scen.default_faults) scen.faults.clear();  // re-derived from the final numbers by validate()
}

std::string describe(const scenario& scen, unsigned threads) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "seeds = %zu\npeers = %zu\ntransport = %s\nthreads = %u\nseed = %llu\n"
                "delay_ms = %.3f\njitter_ms = %.3f (%s)\nloss = %.4f\nduplicate = %.4f\nlatency_matrix = %s\n"
                "scale = %.3f (gossip every %.2f s, ping every %.2f s)\njoin window = %.1f..%.1f s\n"
                "originators = %zu\nmessages = %u each\nmessage_bytes = %zu\nmode = %s\noverlay = %s (attach %zu)\n",
                scen.seeds, scen.peers, host::transport_name(scen.transport), threads,
                static_cast<unsigned long long>(scen.seed), scen.delay_ms, scen.jitter_ms, delay::jitter_name(scen.jitter),
                scen.loss, scen.duplicate, scen.latency_matrix.empty() ? "-" : scen.latency_matrix.c_str(), scen.scale,
                scen.gossip_interval_s(), scen.ping_interval_s(), scen.join_start_s(), scen.join_end_s(),
                scen.originators ? scen.originators : scen.peers, scen.messages, scen.message_bytes,
                peers::name_in(peers::dissemination_names, scen.mode),
                peers::name_in(peers::overlay_model_names, scen.overlay), scen.attach);
  return buf;
}

delay::link_model link_model_of(const scenario& scen, double base_ms) {
  auto m = delay::around(base_ms, scen.jitter_ms, scen.jitter, scen.jitter_shape);
  m.loss = delay::chance(scen.loss);
  m.dup = delay::chance(scen.duplicate);
  return m;
}

std::size_t descriptor_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 1024;
  return static_cast<std::size_t>(r.rlim_cur);
}

std::size_t tcp_descriptors_needed(const scenario& s) {
  // Two descriptors per connection (both ends are in this process): one
  // connection per overlay link (each peer makes `attach` at join, some
  // more replace refused and lost ones: measured 4.4 ends per peer at
  // attach 2), and, while peers join, connections to every seed that close
  // after a second or two of quiet (measured ~12 ends per joining peer per
  // second of join rate); listeners, rings, event and signal descriptors.
  const double peers = static_cast<double>(s.peers);
  const double links = peers * static_cast<double>(s.attach) * 1.1;
  const double join_s = std::max(1.0, s.join_end_s() - s.join_start_s());
  double rate = peers / join_s;  // join rate, peers/s
  for (const auto& f : s.faults)
    if (f.kind == fault::churn) rate = std::max(rate, f.rate);
  const double joining = 12.0 * static_cast<double>(s.seeds) / 3.0 * rate;
  return static_cast<std::size_t>(2 * links + joining) + 256;
}

namespace {

// A latency matrix: R lines of R one-way delays in milliseconds, separated
// by spaces or commas; '#' starts a comment.
result<std::vector<std::vector<double>>, problem> load_matrix(const std::string& path) {
  const auto body = read_file(path);
  if (!body) return problem{"latency matrix " + body.error().text};
  std::vector<std::vector<double>> m;
  std::istringstream in(*body);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (auto h = line.find('#'); h != std::string::npos) line.resize(h);
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream ls(line);
    std::vector<double> row;
    std::string tok;
    while (ls >> tok) {
      char* end = nullptr;
      const double v = std::strtod(tok.c_str(), &end);
      if (end == tok.c_str() || *end != '\0' || !(v >= 0 && v <= 600000))
        return problem{path + ":" + std::to_string(lineno) + ": '" + tok + "' is not a delay in milliseconds (0..600000)"};
      row.push_back(v);
    }
    if (!row.empty()) m.push_back(std::move(row));
  }
  if (m.empty()) return problem{path + ": the latency matrix is empty"};
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i].size() != m.size())
      return problem{path + ": row " + std::to_string(i + 1) + " has " + std::to_string(m[i].size()) +
                     " entries, the matrix has " + std::to_string(m.size()) + " rows (it must be square)"};
  return m;
}

}  // namespace

result<scenario, problem> load_scenario(const std::string& path) {
  auto root = read_toml(path);
  if (!root) return root.error();
  scenario s;
  table_reader top(*root, "", path);
  top.only({"cluster", "network", "time", "workload", "fault"});
  for (const char* name : {"cluster", "network", "time", "workload"})
    top.check(!root->get(name) || root->get(name)->is_table(),
              std::string(name) + " must be a table ([" + name + "])");
  if (auto done = top.done(); !done) return done.error();
  auto table = [&](const char* name) { return (*root)[name].as_table(); };
  if (const auto* t = table("cluster")) {
    table_reader r(*t, "cluster.", path);
    r.only({"seeds", "peers", "transport", "threads", "base_port", "seed", "pl_sample_max"})
        .integer("seeds", 1, 7, s.seeds)
        .integer("peers", 2, 1000000, s.peers);
    if (const auto* node = t->get("transport"); node && !r.failed()) {
      const auto v = node->value<std::string>();
      const auto kind = v ? host::transport_from_name(*v) : std::nullopt;
      r.check(kind.has_value(), "cluster.transport must be one of tcp, inproc");
      if (kind) s.transport = *kind;
    }
    r.integer("threads", 0, 64, s.threads)
        .integer("base_port", 1024, 65000, s.base_port)
        .integer("seed", 0, LLONG_MAX, s.seed)
        .integer("pl_sample_max", 8, 4096, s.pl_sample_max);
    if (auto done = r.done(); !done) return done.error();
  }
  if (const auto* t = table("network")) {
    table_reader r(*t, "network.", path);
    r.only({"delay_ms", "jitter_ms", "jitter", "jitter_shape", "loss", "duplicate", "latency_matrix", "wake_quantum_us"})
        .number("delay_ms", 0, 600000, s.delay_ms)
        .number("jitter_ms", 0, 600000, s.jitter_ms)
        .choice<delay::jitter_kind>("jitter",
                                    {{"constant", delay::jitter_kind::constant},
                                     {"uniform", delay::jitter_kind::uniform},
                                     {"normal", delay::jitter_kind::normal},
                                     {"pareto", delay::jitter_kind::pareto},
                                     {"lognormal", delay::jitter_kind::lognormal}},
                                    s.jitter)
        .number("jitter_shape", 0, 100, s.jitter_shape)
        .number("loss", 0, 0.5, s.loss)
        .number("duplicate", 0, 0.5, s.duplicate)
        .text("latency_matrix", s.latency_matrix)
        .integer("wake_quantum_us", 0, 100000, s.wake_quantum_us);
    if (auto done = r.done(); !done) return done.error();
    if (!s.latency_matrix.empty()) {
      auto p = std::filesystem::path(s.latency_matrix);
      if (p.is_relative()) p = std::filesystem::path(path).parent_path() / p;
      s.latency_matrix = p.string();
    }
  }
  if (const auto* t = table("time")) {
    table_reader r(*t, "time.", path);
    r.only({"scale", "join_window_s", "duration_s"})
        .number("scale", 0.01, 100, s.scale)
        .number("join_window_s", 0, 86400, s.join_window_s)
        .number("duration_s", 0, 86400, s.duration_s);
    if (auto done = r.done(); !done) return done.error();
  }
  if (const auto* t = table("workload")) {
    table_reader r(*t, "workload.", path);
    r.only({"originators", "messages", "message_bytes", "mode", "overlay", "attach"})
        .integer("originators", 0, 1000000, s.originators)
        .integer("messages", 0, 1000000, s.messages)
        .integer("message_bytes", 0, 65536, s.message_bytes)
        .choice("mode", peers::dissemination_names, s.mode)
        .choice("overlay", peers::overlay_model_names, s.overlay)
        .integer("attach", 1, 64, s.attach);
    if (auto done = r.done(); !done) return done.error();
  }
  if (const auto* n = root->get("fault")) {
    const auto* arr = n->as_array();
    if (!arr) return problem{path + ": fault must be an array of tables ([[fault]])"};
    s.default_faults = false;
    std::size_t i = 0;
    for (const auto& el : *arr) {
      ++i;
      const std::string tn = "fault[" + std::to_string(i) + "].";
      const auto* t = el.as_table();
      if (!t) return problem{path + ": " + tn.substr(0, tn.size() - 1) + " must be a table"};
      fault f{};
      f.kind = fault::kill;
      table_reader r(*t, tn, path);
      r.only({"at_s", "kind", "count", "pause_s", "seed_index", "fraction", "symmetric", "include_seeds", "for_s", "rate"})
          .require("kind", "kill, pause, crash_seed, restart_seed, partition, heal, clog, unclog, churn")
          .require("at_s")
          .choice<fault::kind_t>("kind",
                                 {{"kill", fault::kill},
                                  {"pause", fault::pause},
                                  {"crash_seed", fault::crash_seed},
                                  {"restart_seed", fault::restart_seed},
                                  {"partition", fault::partition},
                                  {"heal", fault::heal},
                                  {"clog", fault::clog},
                                  {"unclog", fault::unclog},
                                  {"churn", fault::churn}},
                                 f.kind)
          .number("at_s", 0, 86400, f.at_s)
          .integer("count", 0, 1000000, f.count)
          .number("pause_s", 0, 86400, f.pause_s)
          .integer("seed_index", 0, 6, f.seed_index)
          .number("fraction", 0.01, 0.99, f.fraction)
          .boolean("symmetric", f.symmetric)
          .boolean("include_seeds", f.include_seeds)
          .number("for_s", 0, 86400, f.for_s)
          .number("rate", 0, 1000, f.rate);
      if (auto done = r.done(); !done) return done.error();
      s.faults.push_back(f);
    }
  }
  if (auto valid = validate(s); !valid) return problem{path + ": " + valid.error().text};
  return s;
}

result<void, problem> validate(scenario& s) {
  auto fail = [](std::string why) -> result<void, problem> { return problem{std::move(why)}; };
  if (s.seeds < 1 || s.seeds > 7) return fail("seeds must be 1..7 (got " + std::to_string(s.seeds) + ")");
  if (s.peers < 2) return fail("peers must be at least 2");
  if (s.originators > s.peers) return fail("originators (" + std::to_string(s.originators) + ") exceeds peers (" +
                                           std::to_string(s.peers) + ")");
  if (s.jitter == delay::jitter_kind::uniform && s.jitter_ms > s.delay_ms)
    return fail("jitter_ms (" + std::to_string(s.jitter_ms) + ") exceeds delay_ms (" + std::to_string(s.delay_ms) +
                "): a uniform delay of delay_ms ± jitter_ms would go below zero");
  if ((s.jitter == delay::jitter_kind::pareto || s.jitter == delay::jitter_kind::lognormal) && s.jitter_shape <= 0)
    return fail("jitter = pareto or lognormal needs jitter_shape > 0");
  if (!s.latency_matrix.empty() && s.matrix.empty()) {
    auto m = load_matrix(s.latency_matrix);
    if (!m) return m.error();
    s.matrix = std::move(m).value();
  }
  if (s.attach >= s.peers) return fail("attach (" + std::to_string(s.attach) + ") must be below peers");
  if (s.default_faults && s.faults.empty()) {
    // 2% of the peers killed once gossip is under way.
    fault k{};
    k.kind = fault::kill;
    k.at_s = s.gossip_start_s() + 3 * s.gossip_interval_s();
    k.count = std::max<std::size_t>(1, s.peers / 50);
    s.faults.push_back(k);
  }
  std::size_t killed = 0;
  for (const auto& f : s.faults) {
    if (f.kind == fault::kill) killed += f.count;
    if ((f.kind == fault::crash_seed || f.kind == fault::restart_seed) && f.seed_index >= s.seeds)
      return fail(std::string(fault_name(f.kind)) + ": seed_index " + std::to_string(f.seed_index) + " but there are " +
                  std::to_string(s.seeds) + " seeds");
    if (f.kind == fault::pause && f.pause_s <= 0) return fail("pause: pause_s must be above 0");
    if (f.kind == fault::churn) {
      if (f.for_s <= 0 || f.rate <= 0) return fail("churn: for_s and rate must be above 0");
      if (f.at_s < s.join_end_s()) {
        char why[160];
        std::snprintf(why, sizeof why, "churn: at_s (%.2f) is before the join window ends (%.2f s)", f.at_s, s.join_end_s());
        return fail(why);
      }
    }
  }
  if (killed >= s.peers) return fail("the faults kill " + std::to_string(killed) + " of " + std::to_string(s.peers) + " peers");
  // Churn crashes relays, never originators, so the messages keep coming.
  const std::size_t originators = s.originators ? s.originators : s.peers;
  if (s.joiners() > 0 && killed + originators >= s.peers)
    return fail("churn needs a peer that is neither an originator nor killed by another fault (originators " +
                std::to_string(originators) + ", killed " + std::to_string(killed) + ", peers " + std::to_string(s.peers) + ")");
  if (s.duration_s > 0 && s.duration_s < s.gossip_start_s())
    return fail("duration_s (" + std::to_string(s.duration_s) + ") ends before gossip starts (" +
                std::to_string(s.gossip_start_s()) + " s)");
  if (s.transport == host::transport_kind::tcp) {
    const auto threads = s.threads ? s.threads : 1;
    if (s.base_port + threads > 65535) return fail("base_port + threads is beyond 65535");
    // With direct descriptors each reactor's ring holds up to the limit
    // (kept 10% below it: ends are not spread exactly evenly); without,
    // the whole process shares the limit.
    const auto need = tcp_descriptors_needed(s), limit = descriptor_limit();
    const auto have = s.direct_capacity > 0 ? s.direct_capacity / 10 * 9 : limit;
    if (need > have)
      return fail("transport = tcp with " + std::to_string(s.peers) + " peers needs about " + std::to_string(need) +
                  " connection ends, and this process can hold " + std::to_string(have) + " (" +
                  (s.direct_capacity > 0 ? "io_uring direct descriptors: " + std::to_string(s.direct_capacity) +
                                               " in the reactors' tables"
                                         : "open-files limit " + std::to_string(limit) + ", no io_uring direct descriptors") +
                  "); use transport = inproc or fewer peers");
    if (s.seeds + s.peer_nodes() > (1u << 24) - 2) return fail("too many nodes for 127.0.0.0/8");
  }
  return {};
}

}  // namespace confab::harness
