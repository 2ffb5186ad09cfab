// confab harness: pass/fail thresholds on a `confab sim` report, as load
// testers set them (k6's thresholds): `--threshold 'removal_s_p99<=3'`.
//
// A threshold is METRIC OP NUMBER with OP one of < <= > >= ==, blanks
// allowed around each part. The metrics are the report's figures by name
// (`metric_names()`; docs/sim.md lists them). A run whose report breaks a
// threshold has a problem naming it, so `confab sim` exits 1.
//
//   auto t = parse_threshold("delivery_ratio >= 0.999");   // result<threshold, problem>
//   for (auto& why : broken(report, {*t})) ...             // "threshold delivery_ratio >= 0.999 broken: 0.98"
//
// Thread: values.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.hpp"
#include "harness/report.hpp"

namespace confab::harness {

struct threshold {
  enum class op { lt, le, gt, ge, eq };
  std::string metric;
  op relation = op::le;
  double value = 0;
  std::string text;  // as given, normalised: "metric op value"
};

// `malformed` naming what is wrong: no operator, an unknown metric (the
// known ones listed), or a value that is not a number.
result<threshold, problem> parse_threshold(std::string_view text);

// The report's value of `metric`, or nullopt for an unknown name.
std::optional<double> metric_value(const report& r, std::string_view metric);
const std::vector<std::string>& metric_names();

// One line per threshold the report breaks.
std::vector<std::string> broken(const report& r, const std::vector<threshold>& ts);

}  // namespace confab::harness
