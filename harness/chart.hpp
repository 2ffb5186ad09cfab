// confab harness: SVG charts, for the reports of every load test.
//
// One chart is one self-contained <svg> element (no script, no style from
// the network): embed it in an HTML report or write it as a .svg file.
// Data marks sit in <g class="data">, so a browser test can count them.
//
//   std::vector<harness::series> ss{{.name = "node 0", .color = "#1f77b4", .pts = {{0, 10}, {1, 9}}}};
//   std::string svg = harness::chart("traj", "Trajectories", "round", "x", ss, false, false);
//
// Thread: values.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace confab::harness {

struct series {
  std::string name, color;
  std::vector<std::pair<double, double>> pts;
  bool dots = false;
  bool dashed = false;  // a reference line (a theory beside the measurement)
  bool thin = false;    // many lines in one chart
};

// A number with `digits` decimals; "null" when it is not finite (JSON's word).
std::string num(double v, int digits = 3);
std::string html_esc(const std::string& s);

// Axes scale to the data (log axes skip values <= 0); `marks` are labelled
// vertical lines; `bars` draws each point as a bar `bar_width` wide.
std::string chart(const std::string& id, const std::string& title, const std::string& xlabel, const std::string& ylabel,
                  const std::vector<series>& ss, bool logx, bool logy,
                  const std::vector<std::pair<double, std::string>>& marks = {}, bool bars = false,
                  double bar_width = 0);

}  // namespace confab::harness
