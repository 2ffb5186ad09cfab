#include "harness/thresholds.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <utility>

namespace confab::harness {

namespace {

using getter = std::function<double(const report&)>;

const std::vector<std::pair<std::string, getter>>& table() {
  static const std::vector<std::pair<std::string, getter>> t = {
      {"delivery_ratio", [](const report& r) { return r.delivery_ratio; }},
      {"messages_incomplete", [](const report& r) { return r.messages > r.messages_complete ? static_cast<double>(r.messages - r.messages_complete) : 0.0; }},
      {"reach_all_ms_p50", [](const report& r) { return r.t100.p50; }},
      {"reach_all_ms_p99", [](const report& r) { return r.t100.p99; }},
      {"reach_all_ms_max", [](const report& r) { return r.t100.max; }},
      {"hops_max", [](const report& r) { return r.h100.max; }},
      {"redundancy", [](const report& r) { return r.redundancy; }},
      {"frames_per_peer_s", [](const report& r) { return r.frames_per_peer_s; }},
      {"bytes_per_peer_s", [](const report& r) { return r.bytes_per_peer_s; }},
      {"frames_lost_on_links", [](const report& r) { return static_cast<double>(r.frames_lost_on_links); }},
      {"frames_out_of_order", [](const report& r) { return static_cast<double>(r.frames_out_of_order); }},
      {"bad_input", [](const report& r) { return static_cast<double>(r.bad_input); }},
      {"removal_s_p50", [](const report& r) { return r.removal_all_s.p50; }},
      {"removal_s_p99", [](const report& r) { return r.removal_all_s.p99; }},
      {"removal_s_max", [](const report& r) { return r.removal_all_s.max; }},
      {"dead_not_removed", [](const report& r) { return r.killed > r.removed ? static_cast<double>(r.killed - r.removed) : 0.0; }},
      {"false_removals", [](const report& r) { return static_cast<double>(r.false_removals); }},
      {"pl_holding_dead", [](const report& r) { return static_cast<double>(r.pl_holding_dead); }},
      {"pl_missing_live", [](const report& r) { return static_cast<double>(r.pl_missing_live); }},
      {"distinct_pls", [](const report& r) { return static_cast<double>(r.distinct_pls); }},
      {"cpu_s_per_1000", [](const report& r) { return r.cpu_s_per_1000; }},
      {"rss_mb_per_1000", [](const report& r) { return r.rss_mb_per_1000; }},
      {"emulator_lateness_us_p99", [](const report& r) { return r.lateness_p99_us; }},
      // After the first kill; a run without one, or one that never
      // repaired, reads as infinitely slow / no delivery.
      {"repair_s", [](const report& r) { return r.repair_s < 0 ? std::numeric_limits<double>::infinity() : r.repair_s; }},
      {"delivery_after_kill", [](const report& r) { return r.delivery_after_kill < 0 ? 0.0 : r.delivery_after_kill; }},
      {"joiners_unlinked", [](const report& r) { return static_cast<double>(r.joiners_unlinked); }},
      {"pairs_cut_off", [](const report& r) { return static_cast<double>(r.pairs_cut_off); }},
      {"powerlaw_alpha", [](const report& r) { return r.powerlaw_alpha; }},
  };
  return t;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const char* op_text(threshold::op o) {
  switch (o) {
    case threshold::op::lt: return "<";
    case threshold::op::le: return "<=";
    case threshold::op::gt: return ">";
    case threshold::op::ge: return ">=";
    case threshold::op::eq: return "==";
  }
  return "?";
}

std::string number_text(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

}  // namespace

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, get] : table()) n.push_back(name);
    return n;
  }();
  return names;
}

std::optional<double> metric_value(const report& r, std::string_view metric) {
  for (const auto& [name, get] : table())
    if (name == metric) return get(r);
  return std::nullopt;
}

result<threshold, problem> parse_threshold(std::string_view text) {
  const std::string given(text);
  const auto at = text.find_first_of("<>=");
  if (at == std::string_view::npos)
    return problem{"--threshold '" + given + "': expected METRIC OP NUMBER with OP one of < <= > >= =="};
  threshold t;
  t.metric = std::string(trim(text.substr(0, at)));
  std::string_view rest = text.substr(at);
  const std::pair<std::string_view, threshold::op> ops[] = {
      {"<=", threshold::op::le}, {">=", threshold::op::ge}, {"==", threshold::op::eq}, {"<", threshold::op::lt}, {">", threshold::op::gt}};
  bool found = false;
  for (const auto& [sym, o] : ops) {
    if (rest.substr(0, sym.size()) == sym) {
      t.relation = o;
      rest.remove_prefix(sym.size());
      found = true;
      break;
    }
  }
  if (!found) return problem{"--threshold '" + given + "': expected METRIC OP NUMBER with OP one of < <= > >= =="};
  if (!metric_value(report{}, t.metric)) {
    std::string known;
    for (const auto& n : metric_names()) known += (known.empty() ? "" : ", ") + n;
    return problem{"--threshold '" + given + "': unknown metric '" + t.metric + "' (known: " + known + ")"};
  }
  const auto num = trim(rest);
  const auto parsed = std::from_chars(num.data(), num.data() + num.size(), t.value);
  if (num.empty() || parsed.ec != std::errc{} || parsed.ptr != num.data() + num.size() || !std::isfinite(t.value))
    return problem{"--threshold '" + given + "': '" + std::string(num) + "' is not a number"};
  t.text = t.metric + " " + op_text(t.relation) + " " + number_text(t.value);
  return t;
}

std::vector<std::string> broken(const report& r, const std::vector<threshold>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts) {
    const double v = metric_value(r, t.metric).value_or(std::nan(""));
    bool ok = false;
    switch (t.relation) {
      case threshold::op::lt: ok = v < t.value; break;
      case threshold::op::le: ok = v <= t.value; break;
      case threshold::op::gt: ok = v > t.value; break;
      case threshold::op::ge: ok = v >= t.value; break;
      case threshold::op::eq: ok = v == t.value; break;
    }
    if (!ok) out.push_back("threshold " + t.text + " broken: " + number_text(v));
  }
  return out;
}

}  // namespace confab::harness
