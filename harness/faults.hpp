// confab harness: a scenario's faults, planned and played.
//
// A scenario names faults by kind, time and size ("kill 20 peers at 31 s");
// `plan_faults` chooses their victims once, from the scenario's seed, so a
// run replays; `play_faults` is the schedule as one named coroutine that
// each reactor thread runs against its own fabric: it sleeps until each
// fault's time and applies it to the nodes and links that fabric holds.
// The fault kinds are the fabric's own operations (kill, pause, restart,
// partition, heal, clog, unclog), so the harness adds no vocabulary of its
// own.
//
//   auto plan = harness::plan_faults(scen, rng);
//   scope.spawn(harness::play_faults(plan, fabric, epoch, stop, restart, nullptr));
//
// Thread: plan_faults and describe are pure; play_faults runs on the
// fabric's reactor.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "engine/core/task.hpp"
#include "engine/host/fabric.hpp"
#include "harness/scenario.hpp"

namespace confab::harness {

// ## planned_fault
// A fault with its victims chosen: node numbers of the fabric group
// (seeds first, then peers). A partition or clog splits the group into
// `side_a` and `side_b`. Churn is `steps()` steps, `1 / rate` apart from
// `at_s`: at step k peer `nodes[k]` crashes and peer `side_a[k]` (a new
// node number, beyond the initial peers) starts.
struct planned_fault {
  fault what;
  std::vector<std::uint32_t> nodes, side_a, side_b;
};

// ## plan_faults
// The scenario's faults in time order with their victims drawn from `rng`.
// A killed peer is never chosen again. Churn crashes peers that are not
// originators (an earlier step's joiner included), so the workload goes on.
std::vector<planned_fault> plan_faults(const scenario& scen, seam::random& rng);

// ## describe
// "kill 20 peers", "partition 600 | 403 nodes (one-way)", ...
std::string describe(const planned_fault& p);

// ## kill_times, join_times
// Each killed peer (by a kill or by churn) and the planned time (s) of its
// kill; each churn joiner and the planned time of its start.
std::map<std::uint32_t, double> kill_times(const std::vector<planned_fault>& plan);
std::map<std::uint32_t, double> join_times(const std::vector<planned_fault>& plan);

// The planned time (s) of churn step k.
double churn_step_at(const fault& f, std::size_t k);

// ## action_of
// A planned fault in the engine's vocabulary (engine/fault/fault.hpp): a
// kill, a churn step's leave or a seed crash is a crash, a seed restart a
// restart, the rest by their own names. For churn it is every crash at
// once; play_faults applies them one step at a time.
confab::fault::action<std::uint32_t> action_of(const planned_fault& p);

// ## play_faults
// Applies `plan` to the nodes and links of `fab` at `epoch` + each fault's
// time, until `st` is triggered. `restart_seed(g)` makes the node a
// restarted seed g runs. When `applied_at_s` is set, the seconds since
// `epoch` at which each fault was applied are appended to it.
task<void> play_faults(std::vector<planned_fault> plan, host::fabric& fab, io::clock::time_point epoch,
                       std::stop_token st, std::function<std::unique_ptr<seam::node>(std::uint32_t)> restart_seed,
                       std::vector<double>* applied_at_s);

}  // namespace confab::harness
