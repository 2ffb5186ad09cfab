// confab harness: the report of a `confab sim` run, as JSON and as one
// self-contained HTML file with SVG charts (no script or style from the
// network; it opens from disk in any browser).
//
//   report r = ...;                      // filled by sim_cmd
//   write_report(r, "sim-report");           // report.json, report.html
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/result.hpp"

namespace confab::harness {

struct quantiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
  std::size_t n = 0;
};
quantiles quantiles_of(std::vector<double> v);

struct report {
  // what ran
  std::string scenario_text;  // one line per setting, as run
  std::string transport, backend;
  std::size_t seeds = 0, peers = 0, threads = 0;
  double wall_s = 0, planned_s = 0;
  bool interrupted = false;
  std::vector<std::pair<double, std::string>> faults;  // time (s), what
  // dissemination
  std::size_t messages = 0, messages_complete = 0;
  double delivery_ratio = 0;  // receipts by eligible live peers / eligible pairs
  quantiles t50, t90, t99, t100;  // ms, distribution over messages
  quantiles h50, h90, h99, h100;  // hops
  std::vector<std::pair<double, double>> curve_median, curve_slowest, curve_fastest;  // (ms, % of live peers)
  double redundancy = 0;  // gossip frames sent per delivery, minus one
  std::uint64_t gossip_frames = 0, deliveries = 0;
  // traffic
  double frames_per_peer_s = 0, bytes_per_peer_s = 0;
  std::uint64_t frames_sent = 0, bytes_sent = 0, dropped_loss = 0, dropped_partition = 0, dropped_dead = 0,
                dropped_queue = 0, bad_input = 0, connects = 0, connect_failures = 0, idle_closed = 0,
                peak_connections = 0,
                // tcp links' sequence numbers: frames that arrived out of order, and
                // frames past a gap that no late frame filled (lost on a live link).
                frames_out_of_order = 0, frames_lost_on_links = 0;
  // failure detection
  std::size_t killed = 0, removed = 0, false_removals = 0, removed_while_paused = 0;
  quantiles removal_first_s, removal_all_s;  // crash to removal by the first seed / every live seed
  std::vector<double> removal_latencies_s;
  std::uint64_t suspicions = 0, confirmations = 0;
  // membership
  std::size_t live_seeds = 0, distinct_pls = 0, pl_size = 0, pl_missing_live = 0, pl_holding_dead = 0;
  std::vector<std::pair<double, double>> members_over_time, live_over_time;
  // overlay
  std::vector<std::pair<std::size_t, std::size_t>> degree_histogram;
  double mean_degree = 0, powerlaw_alpha = 0;
  std::size_t degree_max = 0;
  bool overlay_connected = false;
  // after the first kill (all -1 / 0 without one)
  double first_kill_s = -1;
  std::size_t attach = 0;
  double powerlaw_alpha_before_kill = 0;
  double repair_s = -1;                // kill to every live peer at `attach` live neighbours; -1: not by the end
  std::size_t below_min_degree_at_end = 0;
  double delivery_after_kill = -1;     // receipts / due for messages sent by live peers in the 10 s after the kill
  std::size_t messages_after_kill = 0;
  // churn (0 without): peers crashed and joined, joiners never linked, and
  // the messages (and live peer pairs) a crash had cut off from their
  // origin when they were sent, which delivery does not hold them to
  std::size_t churn_left = 0, churn_joined = 0, joiners_unlinked = 0, messages_cut_off = 0;
  std::uint64_t pairs_cut_off = 0;
  // cost
  double cpu_s = 0, cpu_s_per_1000 = 0, rss_mb = 0, rss_mb_per_1000 = 0;
  // emulator
  std::uint64_t emulated_frames = 0;
  double lateness_p50_us = 0, lateness_p90_us = 0, lateness_p99_us = 0, lateness_p999_us = 0, lateness_max_us = 0;
  double lateness_budget_us = 0;  // p99 must stay within it for the run to be faithful
  bool faithful = true;
  std::vector<std::string> problems;  // outcomes a reader must see first
  // Messages that missed live peers, and which (node numbers), for the
  // trace; not part of report.json.
  struct incomplete_message {
    std::uint32_t origin, seq;
    std::int64_t t;  // ns since the epoch, when it was sent
    std::vector<std::uint32_t> missing;
  };
  std::vector<incomplete_message> incomplete;
};

std::string report_json(const report& r);
std::string report_html(const report& r);
// Writes DIR/report.json and DIR/report.html; false (with `error`) when it cannot.
result<void, problem> write_report(const report& r, const std::string& dir);

}  // namespace confab::harness
