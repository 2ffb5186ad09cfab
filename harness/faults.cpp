#include "harness/faults.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

namespace confab::harness {

namespace {
std::chrono::nanoseconds seconds(double s) { return std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9)); }
}  // namespace

std::vector<planned_fault> plan_faults(const scenario& scen, seam::random& rng) {
  std::vector<planned_fault> out;
  std::set<std::uint32_t> taken;  // killed peers are never chosen again
  const auto first_peer = static_cast<std::uint32_t>(scen.seeds);
  const auto originates = originator_mask(scen);
  auto next_joiner = static_cast<std::uint32_t>(scen.seeds + scen.peers);
  auto faults = scen.faults;
  std::stable_sort(faults.begin(), faults.end(), [](const fault& x, const fault& y) { return x.at_s < y.at_s; });
  for (const auto& f : faults) {
    planned_fault p{f, {}, {}, {}};
    switch (f.kind) {
      case fault::kill:
      case fault::pause: {
        std::set<std::uint32_t> chosen;
        while (chosen.size() < f.count) {
          const auto g = first_peer + static_cast<std::uint32_t>(rng.below(scen.peers));
          if (!taken.count(g)) chosen.insert(g);
        }
        if (f.kind == fault::kill) taken.insert(chosen.begin(), chosen.end());
        p.nodes.assign(chosen.begin(), chosen.end());
        break;
      }
      case fault::crash_seed:
      case fault::restart_seed: p.nodes.push_back(static_cast<std::uint32_t>(f.seed_index)); break;
      case fault::partition:
      case fault::clog: {
        const std::uint32_t lo = f.include_seeds ? 0 : first_peer, hi = static_cast<std::uint32_t>(scen.seeds + scen.peers);
        const auto cut = lo + static_cast<std::uint32_t>(std::round(f.fraction * (hi - lo)));
        for (auto g = lo; g < hi; ++g) (g < cut ? p.side_a : p.side_b).push_back(g);
        break;
      }
      case fault::heal:
      case fault::unclog: break;
      case fault::churn: {
        // The candidates: live relays, then each step's joiner from the
        // next step on (a joiner that has just started is not crashed).
        std::vector<std::uint32_t> pool;
        for (std::uint32_t i = 0; i < scen.peers; ++i)
          if (!originates[i] && !taken.count(first_peer + i)) pool.push_back(first_peer + i);
        for (std::size_t k = 0; k < f.steps(); ++k) {
          if (pool.empty()) break;  // validate() keeps one candidate at least
          const auto at = rng.below(pool.size());
          const auto victim = pool[at];
          pool[at] = pool.back();
          pool.pop_back();
          taken.insert(victim);
          p.nodes.push_back(victim);
          p.side_a.push_back(next_joiner);
          pool.push_back(next_joiner++);
        }
        break;
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string describe(const planned_fault& p) {
  char buf[160];
  const char* direction = p.what.symmetric ? "symmetric" : "one-way";
  switch (p.what.kind) {
    case fault::kill: std::snprintf(buf, sizeof buf, "kill %zu peers", p.nodes.size()); break;
    case fault::pause: std::snprintf(buf, sizeof buf, "pause %zu peers for %.1f s", p.nodes.size(), p.what.pause_s); break;
    case fault::crash_seed: std::snprintf(buf, sizeof buf, "crash seed %u", p.nodes[0]); break;
    case fault::restart_seed: std::snprintf(buf, sizeof buf, "restart seed %u", p.nodes[0]); break;
    case fault::partition:
    case fault::clog:
      std::snprintf(buf, sizeof buf, "%s %zu | %zu nodes (%s)", fault_name(p.what.kind), p.side_a.size(), p.side_b.size(),
                    direction);
      break;
    case fault::heal:
    case fault::unclog: std::snprintf(buf, sizeof buf, "%s", fault_name(p.what.kind)); break;
    case fault::churn:
      std::snprintf(buf, sizeof buf, "churn: %zu peers crash and %zu join over %.1f s (%.2f per s)", p.nodes.size(),
                    p.side_a.size(), p.what.for_s, p.what.rate);
      break;
  }
  return buf;
}

double churn_step_at(const fault& f, std::size_t k) { return f.at_s + static_cast<double>(k) / f.rate; }

std::map<std::uint32_t, double> kill_times(const std::vector<planned_fault>& plan) {
  std::map<std::uint32_t, double> out;
  for (const auto& p : plan) {
    if (p.what.kind == fault::kill)
      for (auto g : p.nodes) out[g] = p.what.at_s;
    if (p.what.kind == fault::churn)
      for (std::size_t k = 0; k < p.nodes.size(); ++k) out[p.nodes[k]] = churn_step_at(p.what, k);
  }
  return out;
}

std::map<std::uint32_t, double> join_times(const std::vector<planned_fault>& plan) {
  std::map<std::uint32_t, double> out;
  for (const auto& p : plan)
    if (p.what.kind == fault::churn)
      for (std::size_t k = 0; k < p.side_a.size(); ++k) out[p.side_a[k]] = churn_step_at(p.what, k);
  return out;
}

confab::fault::action<std::uint32_t> action_of(const planned_fault& p) {
  confab::fault::action<std::uint32_t> a;
  a.symmetric = p.what.symmetric;
  switch (p.what.kind) {
    case harness::fault::kill:
    case harness::fault::churn:
    case harness::fault::crash_seed: a.what = confab::fault::kind::crash; break;
    case harness::fault::restart_seed: a.what = confab::fault::kind::restart; break;
    case harness::fault::pause: a.what = confab::fault::kind::pause; break;
    case harness::fault::partition: a.what = confab::fault::kind::partition; break;
    case harness::fault::heal: a.what = confab::fault::kind::heal; break;
    case harness::fault::clog: a.what = confab::fault::kind::clog; break;
    case harness::fault::unclog: a.what = confab::fault::kind::unclog; break;
  }
  a.nodes = p.nodes;
  if (p.what.kind != harness::fault::churn) a.side_a = p.side_a, a.side_b = p.side_b;
  a.pause_for = std::chrono::duration_cast<seam::duration>(seconds(p.what.pause_s));
  return a;
}


task<void> play_faults(std::vector<planned_fault> plan, host::fabric& fab, io::clock::time_point epoch,
                       std::stop_token st, std::function<std::unique_ptr<seam::node>(std::uint32_t)> restart_seed,
                       std::vector<double>* applied_at_s) {
  // Every action at its time; churn is one crash per step (its joiners
  // start by themselves: the fabric holds them with their start times), so
  // other faults play during it.
  struct timed {
    double at_s;
    std::size_t fault;  // index into plan
    confab::fault::action<std::uint32_t> what;
  };
  std::vector<timed> actions;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& p = plan[i];
    auto a = action_of(p);
    if (p.what.kind != fault::churn) {
      actions.push_back({p.what.at_s, i, std::move(a)});
      continue;
    }
    for (std::size_t k = 0; k < p.nodes.size(); ++k) {
      a.nodes = {p.nodes[k]};
      actions.push_back({churn_step_at(p.what, k), i, a});
    }
  }
  std::stable_sort(actions.begin(), actions.end(), [](const timed& x, const timed& y) { return x.at_s < y.at_s; });
  if (applied_at_s) applied_at_s->assign(plan.size(), -1);
  for (const auto& x : actions) {
    auto slept = co_await io::sleep_until(epoch + seconds(x.at_s), st);
    if (!slept) co_return;
    if (applied_at_s && (*applied_at_s)[x.fault] < 0)
      (*applied_at_s)[x.fault] = std::chrono::duration<double>(io::clock::now() - epoch).count();
    fab.apply(x.what, restart_seed);
  }
}

}  // namespace confab::harness
