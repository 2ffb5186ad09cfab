#include "harness/report.hpp"

#include "harness/chart.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

namespace confab::harness {

quantiles quantiles_of(std::vector<double> v) {
  quantiles q;
  q.n = v.size();
  if (v.empty()) return q;
  std::sort(v.begin(), v.end());
  auto at = [&](double p) { return v[static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1]; };
  q.p50 = at(0.5);
  q.p90 = at(0.9);
  q.p99 = at(0.99);
  q.max = v.back();
  return q;
}


using json = nlohmann::ordered_json;

// A figure rounded to `digits` decimals (report.json stays readable);
// null when not finite (a quantile of a message that never got there).
json fig(double v, int digits = 3) {
  if (!std::isfinite(v)) return nullptr;
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}
json q_of(const quantiles& q, int digits = 3) {
  return {{"p50", fig(q.p50, digits)}, {"p90", fig(q.p90, digits)}, {"p99", fig(q.p99, digits)}, {"max", fig(q.max, digits)}, {"n", q.n}};
}
json points_of(const std::vector<std::pair<double, double>>& p) {
  json a = json::array();
  for (auto& [x, y] : p) a.push_back({fig(x), fig(y)});
  return a;
}

std::string report_json(const report& r) {
  json o;
  o["transport"] = r.transport;
  o["backend"] = r.backend;
  o["seeds"] = r.seeds;
  o["peers"] = r.peers;
  o["threads"] = r.threads;
  o["wall_s"] = fig(r.wall_s);
  o["planned_s"] = fig(r.planned_s);
  o["interrupted"] = r.interrupted;
  o["scenario"] = r.scenario_text;
  o["faults"] = json::array();
  for (auto& [at, what] : r.faults) o["faults"].push_back({{"at_s", fig(at)}, {"what", what}});
  o["dissemination"] = {
      {"messages", r.messages},
      {"messages_complete", r.messages_complete},
      {"delivery_ratio", fig(r.delivery_ratio, 6)},
      {"time_ms", {{"to50", q_of(r.t50)}, {"to90", q_of(r.t90)}, {"to99", q_of(r.t99)}, {"to100", q_of(r.t100)}}},
      {"hops", {{"to50", q_of(r.h50, 0)}, {"to90", q_of(r.h90, 0)}, {"to99", q_of(r.h99, 0)}, {"to100", q_of(r.h100, 0)}}},
      {"sent_per_delivery_minus_one", fig(r.redundancy)},
      {"gossip_frames", r.gossip_frames},
      {"deliveries", r.deliveries},
      {"curve_median", points_of(r.curve_median)},
      {"curve_slowest", points_of(r.curve_slowest)},
      {"curve_fastest", points_of(r.curve_fastest)}};
  o["traffic"] = {{"frames_per_peer_s", fig(r.frames_per_peer_s)},
                  {"bytes_per_peer_s", fig(r.bytes_per_peer_s)},
                  {"frames_sent", r.frames_sent},
                  {"bytes_sent", r.bytes_sent},
                  {"dropped_loss", r.dropped_loss},
                  {"dropped_partition", r.dropped_partition},
                  {"dropped_dead", r.dropped_dead},
                  {"dropped_queue", r.dropped_queue},
                  {"bad_input", r.bad_input},
                  {"connects", r.connects},
                  {"connect_failures", r.connect_failures},
                  {"idle_closed", r.idle_closed},
                  {"peak_connections", r.peak_connections},
                  {"frames_out_of_order", r.frames_out_of_order},
                  {"frames_lost_on_links", r.frames_lost_on_links}};
  o["failure_detection"] = {{"killed", r.killed},
                            {"removed", r.removed},
                            {"false_removals", r.false_removals},
                            {"removed_while_paused", r.removed_while_paused},
                            {"crash_to_removal_first_seed_s", q_of(r.removal_first_s)},
                            {"crash_to_removal_every_seed_s", q_of(r.removal_all_s)},
                            {"suspicions", r.suspicions},
                            {"confirmations", r.confirmations}};
  o["membership"] = {{"live_seeds", r.live_seeds},
                     {"distinct_pls", r.distinct_pls},
                     {"pl_size", r.pl_size},
                     {"pl_missing_live", r.pl_missing_live},
                     {"pl_holding_dead", r.pl_holding_dead},
                     {"members_over_time", points_of(r.members_over_time)},
                     {"live_over_time", points_of(r.live_over_time)}};
  json degrees = json::array();
  for (auto& [k, count] : r.degree_histogram) degrees.push_back({k, count});
  o["overlay"] = {{"mean_degree", fig(r.mean_degree)},
                  {"degree_max", r.degree_max},
                  {"powerlaw_alpha", fig(r.powerlaw_alpha)},
                  {"connected", r.overlay_connected},
                  {"degree_histogram", std::move(degrees)}};
  if (r.first_kill_s >= 0)
    o["after_kill"] = {{"first_kill_s", fig(r.first_kill_s)},
                       {"powerlaw_alpha_before", fig(r.powerlaw_alpha_before_kill)},
                       {"repair_s", r.repair_s < 0 ? json(nullptr) : json(fig(r.repair_s))},
                       {"below_min_degree_at_end", r.below_min_degree_at_end},
                       {"messages_in_next_10s", r.messages_after_kill},
                       {"delivery_in_next_10s", r.delivery_after_kill < 0 ? json(nullptr) : json(fig(r.delivery_after_kill, 6))}};
  if (r.churn_left + r.churn_joined > 0)
    o["churn"] = {{"crashed", r.churn_left},
                  {"joined", r.churn_joined},
                  {"joiners_never_linked", r.joiners_unlinked},
                  {"messages_cut_off_at_send", r.messages_cut_off},
                  {"peer_pairs_cut_off_at_send", r.pairs_cut_off}};
  o["cost"] = {{"cpu_s", fig(r.cpu_s)},
               {"cpu_s_per_1000_nodes", fig(r.cpu_s_per_1000)},
               {"peak_rss_mb", fig(r.rss_mb)},
               {"peak_rss_mb_per_1000_nodes", fig(r.rss_mb_per_1000)}};
  o["emulator"] = {{"frames", r.emulated_frames},
                   {"lateness_us",
                    {{"p50", fig(r.lateness_p50_us, 1)},
                     {"p90", fig(r.lateness_p90_us, 1)},
                     {"p99", fig(r.lateness_p99_us, 1)},
                     {"p999", fig(r.lateness_p999_us, 1)},
                     {"max", fig(r.lateness_max_us, 1)}}},
                   {"lateness_budget_us", fig(r.lateness_budget_us, 1)},
                   {"faithful", r.faithful}};
  o["problems"] = r.problems;
  return o.dump() + "\n";
}

std::string report_html(const report& r) {
  std::vector<std::pair<double, std::string>> marks;
  for (auto& [t, what] : r.faults) marks.push_back({t, what});
  // Degree distribution on log-log axes.
  series deg{"peers with degree k", "#1f77b4", {}, true};
  for (auto [k, c] : r.degree_histogram)
    if (k > 0) deg.pts.push_back({static_cast<double>(k), static_cast<double>(c)});
  // Dissemination curves.
  std::vector<series> dis{{"fastest message", "#2ca02c", r.curve_fastest, false},
                          {"median message", "#1f77b4", r.curve_median, false},
                          {"slowest message", "#d62728", r.curve_slowest, false}};
  // Detection latency histogram.
  series det{"killed peers", "#9467bd", {}, false};
  double bw = 0.25;
  if (!r.removal_latencies_s.empty()) {
    const double mx = *std::max_element(r.removal_latencies_s.begin(), r.removal_latencies_s.end());
    // About 20 bins of a round width (1, 2 or 5 × 10^k seconds).
    const double raw = std::max(mx, 1e-3) / 20, mag = std::pow(10, std::floor(std::log10(raw)));
    bw = 10 * mag;
    for (double m : {1.0, 2.0, 5.0})
      if (raw <= m * mag) {
        bw = m * mag;
        break;
      }
    std::vector<double> bins(static_cast<std::size_t>(mx / bw) + 1, 0);
    for (double v : r.removal_latencies_s) bins[static_cast<std::size_t>(std::max(0.0, v) / bw)] += 1;
    for (std::size_t i = 0; i < bins.size(); ++i) det.pts.push_back({static_cast<double>(i) * bw, bins[i]});
  }
  // Members over time.
  std::vector<series> mem{{"PL size at the leader", "#1f77b4", r.members_over_time, false},
                          {"live peers (plan)", "#ff7f0e", r.live_over_time, false}};
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>confab sim report</title><style>"
                  "body{font-family:sans-serif;max-width:1360px;margin:24px auto;color:#222}"
                  "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
                  "th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:16px}"
                  ".problem{color:#b00;font-weight:bold}pre{background:#f8f8f8;padding:8px}</style></head><body>\n";
  char head[512];
  std::snprintf(head, sizeof head,
                "<h1>confab sim: %zu seeds, %zu peers over %s</h1><p>%u reactor threads on the %s backend; ran %.1f s of %.1f s planned%s.</p>\n",
                r.seeds, r.peers, r.transport.c_str(), static_cast<unsigned>(r.threads), r.backend.c_str(), r.wall_s,
                r.planned_s, r.interrupted ? " (interrupted)" : "");
  h += head;
  if (r.problems.empty()) h += "<p>Every message reached every live peer, every killed peer was removed, no live peer was removed, the seeds agree.</p>\n";
  for (const auto& p : r.problems) h += "<p class=\"problem\">" + html_esc(p) + "</p>\n";
  h += "<div class=\"charts\">" +
       chart("degrees", "Overlay degree distribution (log-log)", "degree k", "peers", {deg}, true, true) +
       chart("dissemination", "Dissemination: share of live peers holding a message", "time since sent (ms)",
             "% of live peers", dis, false, false) +
       chart("detection", "Crash to removal (first seed)", "seconds", "killed peers", {det}, false, false, {}, true, bw) +
       chart("members", "Members over time", "seconds since start", "peers", mem, false, false, marks) + "</div>\n";
  auto row = [](const std::string& name, const quantiles& q, const char* unit, int digits) {
    return "<tr><td>" + name + "</td><td>" + num(q.p50, digits) + "</td><td>" + num(q.p90, digits) + "</td><td>" +
           num(q.p99, digits) + "</td><td>" + num(q.max, digits) + "</td><td>" + unit + "</td></tr>";
  };
  h += "<h2>Dissemination</h2><p>" + std::to_string(r.messages_complete) + " of " + std::to_string(r.messages) +
       " messages reached every live peer; " + num(r.delivery_ratio * 100, 3) + "% of (message, live peer) pairs delivered; " +
       num(r.redundancy, 2) + " frames sent per delivery minus one.</p>";
  h += "<table><tr><th>until this share of live peers has a message</th><th>median message</th><th>p90</th><th>p99</th><th>worst</th><th></th></tr>" +
       row("50% (time)", r.t50, "ms", 1) + row("90% (time)", r.t90, "ms", 1) + row("99% (time)", r.t99, "ms", 1) +
       row("100% (time)", r.t100, "ms", 1) + row("50% (hops)", r.h50, "hops", 0) + row("90% (hops)", r.h90, "hops", 0) +
       row("99% (hops)", r.h99, "hops", 0) + row("100% (hops)", r.h100, "hops", 0) + "</table>";
  h += "<h2>Failure detection</h2><p>" + std::to_string(r.killed) + " killed, " + std::to_string(r.removed) + " removed, " +
       std::to_string(r.false_removals) + " false removals, " + std::to_string(r.removed_while_paused) +
       " removed while paused; " + std::to_string(r.suspicions) + " suspicions, " + std::to_string(r.confirmations) +
       " confirmations.</p><table><tr><th>crash to removal</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th></th></tr>" +
       row("first seed", r.removal_first_s, "s", 2) + row("every live seed", r.removal_all_s, "s", 2) + "</table>";
  h += "<h2>Membership</h2><p>" + std::to_string(r.live_seeds) + " live seeds hold " + std::to_string(r.distinct_pls) +
       " distinct PL(s) of " + std::to_string(r.pl_size) + " peers; " + std::to_string(r.pl_missing_live) +
       " live peers missing, " + std::to_string(r.pl_holding_dead) + " killed peers still listed.</p>";
  h += "<h2>Overlay</h2><p>mean degree " + num(r.mean_degree, 2) + ", max " + std::to_string(r.degree_max) +
       ", power-law exponent (MLE) " + num(r.powerlaw_alpha, 2) + ", " + (r.overlay_connected ? "connected" : "NOT connected") + ".</p>";
  if (r.first_kill_s >= 0)
    h += "<p>After the first kill (" + num(r.first_kill_s, 1) + " s): every live peer back at " + std::to_string(r.attach) +
         " live neighbours " + (r.repair_s < 0 ? "not by the end (" + std::to_string(r.below_min_degree_at_end) + " below)" : "in " + num(r.repair_s, 3) + " s") +
         "; " + std::to_string(r.messages_after_kill) + " messages sent in the next 10 s, delivery " + num(r.delivery_after_kill, 4) +
         "; exponent " + num(r.powerlaw_alpha_before_kill, 2) + " before the kill.</p>";
  if (r.churn_left + r.churn_joined > 0)
    h += "<p>Churn: " + std::to_string(r.churn_left) + " peers crashed, " + std::to_string(r.churn_joined) + " joined (" +
         std::to_string(r.joiners_unlinked) + " never linked); " + std::to_string(r.messages_cut_off) +
         " messages were sent while a crash had cut " + std::to_string(r.pairs_cut_off) +
         " (peer, message) pairs off from their origin, and those pairs are not counted in delivery.</p>";
  h += "<h2>Traffic and cost</h2><table><tr><th>measure</th><th>value</th></tr>"
       "<tr><td>frames per peer per second</td><td>" + num(r.frames_per_peer_s, 2) + "</td></tr>"
       "<tr><td>bytes per peer per second</td><td>" + num(r.bytes_per_peer_s, 0) + "</td></tr>"
       "<tr><td>frames sent</td><td>" + std::to_string(r.frames_sent) + "</td></tr>"
       "<tr><td>dropped: loss / partition / dead peer / full queue</td><td>" + std::to_string(r.dropped_loss) + " / " +
       std::to_string(r.dropped_partition) + " / " + std::to_string(r.dropped_dead) + " / " + std::to_string(r.dropped_queue) +
       "</td></tr><tr><td>connections opened / failed / closed idle / peak open</td><td>" + std::to_string(r.connects) + " / " +
       std::to_string(r.connect_failures) + " / " + std::to_string(r.idle_closed) + " / " + std::to_string(r.peak_connections) +
       "</td></tr><tr><td>bad input</td><td>" + std::to_string(r.bad_input) + "</td></tr>"
       "<tr><td>tcp links: frames out of order / lost on a live link</td><td>" + std::to_string(r.frames_out_of_order) + " / " +
       std::to_string(r.frames_lost_on_links) + "</td></tr>"
       "<tr><td>CPU seconds (per 1,000 nodes)</td><td>" + num(r.cpu_s, 1) + " (" + num(r.cpu_s_per_1000, 2) + ")</td></tr>"
       "<tr><td>peak RSS MiB (per 1,000 nodes)</td><td>" + num(r.rss_mb, 0) + " (" + num(r.rss_mb_per_1000, 1) + ")</td></tr>"
       "<tr><td>emulator: frames; lateness p50 / p90 / p99 / p99.9 / max (µs)</td><td>" + std::to_string(r.emulated_frames) +
       "; " + num(r.lateness_p50_us, 0) + " / " + num(r.lateness_p90_us, 0) + " / " + num(r.lateness_p99_us, 0) + " / " +
       num(r.lateness_p999_us, 0) + " / " + num(r.lateness_max_us, 0) + "</td></tr></table>";
  h += "<h2>Scenario</h2><pre>" + html_esc(r.scenario_text) + "</pre><h2>Faults</h2><ul>";
  for (auto& [t, what] : r.faults) h += "<li>" + num(t, 1) + " s: " + html_esc(what) + "</li>";
  h += "</ul>\n";
  // Marks the page once its charts have laid out, for a headless check.
  h += "<script>window.addEventListener('load',function(){var n=0;document.querySelectorAll('svg.chart').forEach("
       "function(s){var d=s.querySelector('g.data');if(d&&d.childElementCount>0&&d.getBBox().width>0)n++;});"
       "document.body.setAttribute('data-charts-drawn',String(n));});</script>\n</body></html>\n";
  return h;
}

result<void, problem> write_report(const report& r, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return problem{dir + ": cannot create the report folder: " + ec.message()};
  for (auto [name, body] : {std::pair{"report.json", report_json(r)}, std::pair{"report.html", report_html(r)}}) {
    const auto path = (std::filesystem::path(dir) / name).string();
    std::ofstream out(path, std::ios::binary);
    out << body;
    if (!out) return problem{path + ": cannot be written"};
  }
  return {};
}

}  // namespace confab::harness
