#include "harness/chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace confab::harness {

std::string num(double v, int digits) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::string html_esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

namespace {

struct axis {
  double lo, hi;
  bool log;
  double map(double v, double a, double b) const {
    if (log) {
      v = std::log10(std::max(v, lo));
      return a + (v - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) * (b - a);
    }
    return a + (v - lo) / (hi - lo) * (b - a);
  }
  std::vector<double> ticks() const {
    std::vector<double> t;
    if (log) {
      // 1-2-5 within three decades; beyond, powers of ten, thinned to at
      // most about eight labels.
      const double decades = std::log10(hi / lo);
      const int every = decades > 8 ? static_cast<int>(std::ceil(decades / 8)) : 1;
      int k = 0;
      for (double p = std::pow(10, std::floor(std::log10(lo))); p <= hi * 1.0001; p *= 10, ++k) {
        if (k % every) continue;
        for (double m : {1.0, 2.0, 5.0})
          if ((m == 1.0 || decades <= 3) && p * m >= lo * 0.9999 && p * m <= hi * 1.0001) t.push_back(p * m);
      }
      return t;
    }
    const double span = hi - lo;
    const double raw = span / 6;
    const double mag = std::pow(10, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0})
      if (raw <= m * mag) {
        step = m * mag;
        break;
      }
    for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(v);
    return t;
  }
};

std::string tick_label(double v) {
  char b[32];
  if (v != 0 && std::fabs(v) < 1e-3) std::snprintf(b, sizeof b, "%.0e", v);
  else if (std::fabs(v) >= 10000) std::snprintf(b, sizeof b, "%.0fk", v / 1000);
  else if (std::fabs(v - std::round(v)) < 1e-9) std::snprintf(b, sizeof b, "%.0f", v);
  else std::snprintf(b, sizeof b, "%g", v);
  return b;
}

// A chart with its data marks in <g class="data">, so a browser test can
// count what was drawn.
}  // namespace

// ---------------------------------------------------------------- SVG charts


std::string chart(const std::string& id, const std::string& title, const std::string& xlabel, const std::string& ylabel,
                  const std::vector<series>& ss, bool logx, bool logy, const std::vector<std::pair<double, std::string>>& marks,
                  bool bars, double bar_width) {
  const double W = 640, H = 360, L = 64, R = 16, T = 36, B = 48;
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const auto& s : ss)
    for (auto [x, y] : s.pts) {
      if ((logx && x <= 0) || (logy && y <= 0)) continue;
      xlo = std::min(xlo, x), xhi = std::max(xhi, x + (bars ? bar_width : 0)), ylo = std::min(ylo, y), yhi = std::max(yhi, y);
    }
  std::string o = "<svg class=\"chart\" id=\"" + id + "\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 640 360\" width=\"640\" height=\"360\">";
  o += "<text x=\"" + num(W / 2, 0) + "\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" + html_esc(title) + "</text>";
  if (!std::isfinite(xlo)) {
    o += "<text x=\"320\" y=\"180\" text-anchor=\"middle\" font-size=\"13\">no data</text></svg>";
    return o;
  }
  if (bars || !logy) ylo = std::min(ylo, 0.0);
  if (xhi <= xlo) xhi = xlo + 1;
  if (yhi <= ylo) yhi = ylo + 1;
  if (!logy) yhi += (yhi - ylo) * 0.05;
  if (logx) xlo = std::pow(10, std::floor(std::log10(xlo))), xhi = std::pow(10, std::ceil(std::log10(xhi)));
  if (logy) ylo = std::pow(10, std::floor(std::log10(ylo))), yhi = std::pow(10, std::ceil(std::log10(yhi)));
  axis ax{xlo, xhi, logx}, ay{ylo, yhi, logy};
  auto X = [&](double v) { return ax.map(v, L, W - R); };
  auto Y = [&](double v) { return ay.map(v, H - B, T); };
  o += "<g class=\"axes\" font-size=\"11\" fill=\"#333\">";
  for (double t : ax.ticks()) {
    o += "<line x1=\"" + num(X(t), 1) + "\" x2=\"" + num(X(t), 1) + "\" y1=\"" + num(T, 0) + "\" y2=\"" + num(H - B, 0) +
         "\" stroke=\"#eee\"/>";
    o += "<text x=\"" + num(X(t), 1) + "\" y=\"" + num(H - B + 16, 0) + "\" text-anchor=\"middle\">" + tick_label(t) + "</text>";
  }
  for (double t : ay.ticks()) {
    o += "<line x1=\"" + num(L, 0) + "\" x2=\"" + num(W - R, 0) + "\" y1=\"" + num(Y(t), 1) + "\" y2=\"" + num(Y(t), 1) +
         "\" stroke=\"#eee\"/>";
    o += "<text x=\"" + num(L - 6, 0) + "\" y=\"" + num(Y(t) + 4, 1) + "\" text-anchor=\"end\">" + tick_label(t) + "</text>";
  }
  o += "<line x1=\"" + num(L, 0) + "\" x2=\"" + num(W - R, 0) + "\" y1=\"" + num(H - B, 0) + "\" y2=\"" + num(H - B, 0) +
       "\" stroke=\"#333\"/><line x1=\"" + num(L, 0) + "\" x2=\"" + num(L, 0) + "\" y1=\"" + num(T, 0) + "\" y2=\"" +
       num(H - B, 0) + "\" stroke=\"#333\"/>";
  o += "<text x=\"" + num((L + W - R) / 2, 0) + "\" y=\"" + num(H - 10, 0) + "\" text-anchor=\"middle\" font-size=\"12\">" +
       html_esc(xlabel) + "</text>";
  o += "<text transform=\"translate(14," + num((T + H - B) / 2, 0) + ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" +
       html_esc(ylabel) + "</text></g>";
  for (auto& [x, label] : marks) {
    if (x < xlo || x > xhi) continue;
    o += "<g class=\"mark\"><line x1=\"" + num(X(x), 1) + "\" x2=\"" + num(X(x), 1) + "\" y1=\"" + num(T, 0) + "\" y2=\"" +
         num(H - B, 0) + "\" stroke=\"#c33\" stroke-dasharray=\"4 3\"/><text x=\"" + num(X(x) + 3, 1) + "\" y=\"" +
         num(T + 10, 0) + "\" font-size=\"10\" fill=\"#c33\">" + html_esc(label) + "</text></g>";
  }
  o += "<g class=\"data\">";
  for (const auto& s : ss) {
    if (bars) {
      for (auto [x, y] : s.pts)
        o += "<rect x=\"" + num(X(x) + 0.5, 1) + "\" y=\"" + num(Y(y), 1) + "\" width=\"" +
             num(std::max(1.0, X(x + bar_width) - X(x) - 1), 1) + "\" height=\"" + num(Y(ylo) - Y(y), 1) + "\" fill=\"" +
             s.color + "\"/>";
    } else if (s.dots) {
      for (auto [x, y] : s.pts)
        if ((!logx || x > 0) && (!logy || y > 0))
          o += "<circle cx=\"" + num(X(x), 1) + "\" cy=\"" + num(Y(y), 1) + "\" r=\"3\" fill=\"" + s.color + "\"/>";
    } else if (!s.pts.empty()) {
      std::string d;
      for (auto [x, y] : s.pts)
        if ((!logx || x > 0) && (!logy || y > 0)) d += (d.empty() ? "M" : " L") + num(X(x), 1) + " " + num(Y(y), 1);
      o += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"" + (s.thin ? "1" : "2") + "\"" +
           (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>";
    }
  }
  o += "</g>";
  // Legend.
  double ly = T + 4;
  for (const auto& s : ss) {
    if (s.name.empty()) continue;
    o += "<rect x=\"" + num(W - R - 150, 0) + "\" y=\"" + num(ly, 0) + "\" width=\"10\" height=\"10\" fill=\"" + s.color +
         "\"/><text x=\"" + num(W - R - 136, 0) + "\" y=\"" + num(ly + 9, 0) + "\" font-size=\"11\">" + html_esc(s.name) + "</text>";
    ly += 15;
  }
  return o + "</svg>";
}


}  // namespace confab::harness
