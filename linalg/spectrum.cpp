#include "linalg/spectrum.hpp"

#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace confab::linalg {

namespace {
spectrum finish(std::vector<double> ev) {
  std::sort(ev.begin(), ev.end());
  spectrum s;
  s.eigenvalues = std::move(ev);
  if (s.eigenvalues.size() >= 2) s.l2 = std::max(0.0, s.eigenvalues[1]);
  if (!s.eigenvalues.empty()) s.lmax = s.eigenvalues.back();
  // Round-off leaves |l2| ~ 1e-15 on a disconnected graph: call it 0.
  if (s.l2 < 1e-12 * std::max(1.0, s.lmax)) s.l2 = 0;
  return s;
}
}  // namespace

spectrum laplacian_spectrum(const graph& g) {
  const int n = g.n();
  if (n == 0) return {};
  std::vector<double> a(static_cast<std::size_t>(n) * static_cast<std::size_t>(n), 0.0);
  for (int i = 0; i < n; ++i) {
    a[static_cast<std::size_t>(i) * n + i] = g.degree(i);
    for (int j : g.adj[static_cast<std::size_t>(i)]) a[static_cast<std::size_t>(i) * n + j] = -1.0;
  }
  std::vector<double> w(static_cast<std::size_t>(n));
  const int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', n, a.data(), n, w.data());
  if (info != 0) return {};  // dsyev fails only on invalid arguments, which these are not
  return finish(std::move(w));
}

spectrum torus_spectrum(int rows, int cols) {
  std::vector<double> ev;
  ev.reserve(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols));
  for (int a = 0; a < rows; ++a)
    for (int b = 0; b < cols; ++b)
      ev.push_back(4 - 2 * std::cos(2 * std::numbers::pi * a / rows) - 2 * std::cos(2 * std::numbers::pi * b / cols));
  return finish(std::move(ev));
}

spectrum hypercube_spectrum(int d) {
  std::vector<double> ev;
  for (int k = 0; k <= d; ++k) {
    double choose = 1;
    for (int i = 1; i <= k; ++i) choose = choose * (d - k + i) / i;
    ev.insert(ev.end(), static_cast<std::size_t>(std::llround(choose)), 2.0 * k);
  }
  return finish(std::move(ev));
}

double contraction(const spectrum& s, double dt) { return std::max(std::fabs(1 - dt * s.l2), std::fabs(1 - dt * s.lmax)); }

double stable_step_max(const spectrum& s, int staleness) {
  const double d = staleness;
  return 2 * std::cos(d * std::numbers::pi / (2 * d + 1)) / s.lmax;
}

int rounds_to(double factor, double rho) {
  if (!(rho > 0 && rho < 1) || !(factor > 0 && factor < 1)) return -1;
  return static_cast<int>(std::ceil(std::log(factor) / std::log(rho)));
}

}  // namespace confab::linalg
