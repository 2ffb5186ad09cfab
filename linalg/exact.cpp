#include "linalg/exact.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <queue>
#include <random>

namespace confab::linalg {

std::vector<double> matrix::apply(const std::vector<double>& x) const {
  std::vector<double> y(static_cast<std::size_t>(rows), 0.0);
  cblas_dgemv(CblasColMajor, CblasNoTrans, rows, cols, 1.0, data.data(), rows, x.data(), 1, 0.0, y.data(), 1);
  return y;
}

matrix multiply(const matrix& a, const matrix& b) {
  matrix c(a.rows, b.cols);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, a.rows, b.cols, a.cols, 1.0, a.data.data(), a.rows,
              b.data.data(), b.rows, 0.0, c.data.data(), c.rows);
  return c;
}

matrix identity(int n) {
  matrix m(n, n);
  for (int i = 0; i < n; ++i) m(i, i) = 1.0;
  return m;
}

matrix metropolis_hastings(const graph& g) {
  const int n = g.n();
  matrix W(n, n);
  for (int i = 0; i < n; ++i) {
    double sum = 0;
    for (int j : g.adj[static_cast<std::size_t>(i)]) {
      W(i, j) = 1.0 / (1.0 + std::max(g.degree(i), g.degree(j)));
      sum += W(i, j);
    }
    W(i, i) = 1.0 - sum;
  }
  return W;
}

matrix random_weights(const graph& g, std::uint64_t seed) {
  const int n = g.n();
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.1, 1.0);
  matrix W(n, n);
  for (int i = 0; i < n; ++i) {
    double sum = W(i, i) = u(rng);
    for (int j : g.adj[static_cast<std::size_t>(i)]) sum += (W(i, j) = u(rng));
    W(i, i) /= sum;
    for (int j : g.adj[static_cast<std::size_t>(i)]) W(i, j) /= sum;
  }
  return W;
}

matrix selection(const graph& g, int i) {
  const auto& nb = g.adj[static_cast<std::size_t>(i)];
  matrix C(static_cast<int>(nb.size()) + 1, g.n());
  C(0, i) = 1.0;
  for (std::size_t r = 0; r < nb.size(); ++r) C(static_cast<int>(r) + 1, nb[r]) = 1.0;
  return C;
}

matrix observability(const graph& g, const matrix& W, int i, int v) {
  const matrix C = selection(g, i);
  const int b = C.rows, n = g.n();
  matrix O(b * v, n);
  matrix block = C;  // C W^k
  for (int k = 0; k < v; ++k) {
    for (int c = 0; c < n; ++c)
      for (int r = 0; r < b; ++r) O(k * b + r, c) = block(r, c);
    if (k + 1 < v) block = multiply(block, W);
  }
  return O;
}

rank_report numerical_rank(const matrix& a) {
  rank_report rep;
  const int m = a.rows, n = a.cols, k = std::min(m, n);
  if (k == 0) return rep;
  std::vector<double> copy = a.data, s(static_cast<std::size_t>(k));
  LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', m, n, copy.data(), m, s.data(), nullptr, 1, nullptr, 1);
  rep.sigma_max = s[0];
  rep.tolerance = std::max(m, n) * s[0] * DBL_EPSILON;
  for (int i = 0; i < k; ++i) {
    if (s[static_cast<std::size_t>(i)] > rep.tolerance) {
      rep.rank = i + 1;
      rep.sigma_last_kept = s[static_cast<std::size_t>(i)];
    } else {
      rep.sigma_first_dropped = s[static_cast<std::size_t>(i)];
      break;
    }
  }
  return rep;
}

observation_steps observations_min(const graph& g, const matrix& W, int i, int vmax) {
  observation_steps out;
  for (int v = 1; v <= vmax; ++v) {
    auto rep = numerical_rank(observability(g, W, i, v));
    if (rep.rank == g.n()) {
      out.steps = v;
      out.at_steps = rep;
      return out;
    }
  }
  return out;
}

matrix recovery_matrix(const matrix& O, const matrix& Q) {
  // O = U S V^T  =>  O^+ = V S^+ U^T ; Gamma = Q O^+.
  const int m = O.rows, n = O.cols, k = std::min(m, n);
  std::vector<double> a = O.data, s(static_cast<std::size_t>(k));
  matrix U(m, k), VT(k, n);
  LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', m, n, a.data(), m, s.data(), U.data.data(), m, VT.data.data(), k);
  const double tol = std::max(m, n) * s[0] * DBL_EPSILON;
  // pinv = V * diag(1/s) * U^T  (n x m)
  matrix VS(n, k);
  for (int j = 0; j < k; ++j) {
    const double inv = s[static_cast<std::size_t>(j)] > tol ? 1.0 / s[static_cast<std::size_t>(j)] : 0.0;
    for (int r = 0; r < n; ++r) VS(r, j) = VT(j, r) * inv;
  }
  matrix pinv(n, m);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, m, k, 1.0, VS.data.data(), n, U.data.data(), m, 0.0,
              pinv.data.data(), n);
  if (Q.rows == 0) return pinv;
  return multiply(Q, pinv);
}

all_nodes_plan all_nodes_recovery(const graph& g, const matrix& W, int steps) {
  const int n = g.n();
  all_nodes_plan p;
  p.n = n;
  if (steps < 0) {
    steps = 0;
    for (int i = 0; i < n; ++i) {
      const int v = observations_min(g, W, i, n).steps;
      if (v < 0) return p;
      steps = std::max(steps, v);
    }
  }
  p.steps = steps;
  p.R = matrix(n * n, n * steps);
  for (int i = 0; i < n; ++i) {
    const matrix gamma = recovery_matrix(observability(g, W, i, steps));  // n x (deg+1)*steps
    const auto& nb = g.adj[static_cast<std::size_t>(i)];
    const int b = static_cast<int>(nb.size()) + 1;
    for (int k = 0; k < steps; ++k)
      for (int r = 0; r < b; ++r) {
        const int node = r == 0 ? i : nb[static_cast<std::size_t>(r - 1)];
        for (int a = 0; a < n; ++a) p.R(i * n + a, k * n + node) += gamma(a, k * b + r);
      }
  }
  return p;
}

matrix recover_all_nodes(const all_nodes_plan& p, const matrix& trajectories) {
  matrix out(p.R.rows, trajectories.cols);
  cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, p.R.rows, trajectories.cols, p.R.cols, 1.0, p.R.data.data(),
              p.R.rows, trajectories.data.data(), trajectories.rows, 0.0, out.data.data(), out.rows);
  return out;
}

std::vector<double> trajectory(const matrix& W, const std::vector<double>& x0, int steps) {
  std::vector<double> out;
  out.reserve(x0.size() * static_cast<std::size_t>(steps));
  std::vector<double> x = x0;
  for (int k = 0; k < steps; ++k) {
    out.insert(out.end(), x.begin(), x.end());
    if (k + 1 < steps) x = W.apply(x);
  }
  return out;
}

std::vector<double> network_step(const graph& g, const matrix& W, const std::vector<double>& x) {
  std::vector<double> next(x.size());
  for (int i = 0; i < g.n(); ++i) {
    double acc = W(i, i) * x[static_cast<std::size_t>(i)];
    for (int j : g.adj[static_cast<std::size_t>(i)]) acc += W(i, j) * x[static_cast<std::size_t>(j)];
    next[static_cast<std::size_t>(i)] = acc;
  }
  return next;
}

std::vector<double> observe(const graph& g, const matrix& W, int i, const std::vector<double>& x0, int v) {
  const auto& nb = g.adj[static_cast<std::size_t>(i)];
  std::vector<double> x = x0, y;
  y.reserve((nb.size() + 1) * static_cast<std::size_t>(v));
  for (int k = 0; k < v; ++k) {
    y.push_back(x[static_cast<std::size_t>(i)]);
    for (int j : nb) y.push_back(x[static_cast<std::size_t>(j)]);
    if (k + 1 < v) x = network_step(g, W, x);
  }
  return y;
}

int largest_branch(const graph& g, int i, int tries) {
  const int n = g.n();
  const auto dist = distances(g, i);
  const auto& nb = g.adj[static_cast<std::size_t>(i)];
  if (nb.empty()) return 0;
  // Nodes grouped by distance.
  int maxd = 0;
  for (int d : dist) maxd = std::max(maxd, d);
  std::vector<std::vector<int>> layers(static_cast<std::size_t>(maxd + 1));
  for (int v = 0; v < n; ++v)
    if (dist[static_cast<std::size_t>(v)] >= 2) layers[static_cast<std::size_t>(dist[static_cast<std::size_t>(v)])].push_back(v);
  std::mt19937_64 rng(static_cast<std::uint64_t>(i) * 7919u + 17u);
  int best = n;
  std::vector<int> branch(static_cast<std::size_t>(n)), size(nb.size());
  for (int t = 0; t < tries; ++t) {
    std::fill(branch.begin(), branch.end(), -1);
    std::fill(size.begin(), size.end(), 1);
    for (std::size_t b = 0; b < nb.size(); ++b) branch[static_cast<std::size_t>(nb[b])] = static_cast<int>(b);
    for (auto layer : layers) {
      if (t > 0) std::shuffle(layer.begin(), layer.end(), rng);
      for (int v : layer) {
        int pick = -1;
        int ties = 0;
        for (int p : g.adj[static_cast<std::size_t>(v)]) {
          if (dist[static_cast<std::size_t>(p)] != dist[static_cast<std::size_t>(v)] - 1) continue;
          const int b = branch[static_cast<std::size_t>(p)];
          if (pick < 0 || size[static_cast<std::size_t>(b)] < size[static_cast<std::size_t>(pick)]) {
            pick = b;
            ties = 1;
          } else if (b != pick && size[static_cast<std::size_t>(b)] == size[static_cast<std::size_t>(pick)] && t > 0 &&
                     rng() % static_cast<unsigned>(++ties) == 0) {
            pick = b;
          }
        }
        branch[static_cast<std::size_t>(v)] = pick;
        ++size[static_cast<std::size_t>(pick)];
      }
    }
    best = std::min(best, *std::max_element(size.begin(), size.end()));
  }
  return best;
}

std::vector<node_bounds> bounds(const graph& g, const matrix& W_random) {
  const int n = g.n();
  const int diam = diameter(g);
  const int intake = (n - 1 + g.degree_min() - 1) / g.degree_min();
  std::vector<node_bounds> out;
  for (int i = 0; i < n; ++i) {
    node_bounds b;
    b.node = i;
    b.diameter = diam;
    b.intake = intake;
    b.node_intake = (n + g.degree(i)) / (g.degree(i) + 1);
    b.upper = n - g.degree(i);
    b.largest_branch = largest_branch(g, i);
    b.exact = observations_min(g, W_random, i, n).steps;
    out.push_back(b);
  }
  return out;
}

int asymptotic_iterations(const matrix& W, const std::vector<double>& x0, double tol, int iter_max) {
  double avg = 0;
  for (double v : x0) avg += v;
  avg /= static_cast<double>(x0.size());
  auto spread = [&](const std::vector<double>& x) {
    double m = 0;
    for (double v : x) m = std::max(m, std::fabs(v - avg));
    return m;
  };
  const double s0 = spread(x0);
  if (s0 == 0) return 0;
  std::vector<double> x = x0;
  for (int k = 1; k <= iter_max; ++k) {
    x = W.apply(x);
    if (spread(x) <= tol * s0) return k;
  }
  return -1;
}

}  // namespace confab::linalg
