#include "linalg/malicious.hpp"

#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <thread>

namespace confab::linalg {

const char* attack_status_name(attack_status s) noexcept {
  switch (s) {
    case attack_status::ok: return "ok";
    case attack_status::degenerate: return "rank test is degenerate";
    case attack_status::disconnecting: return "theoretically impossible: f nodes can disconnect the graph";
    case attack_status::no_L: return "no observation length satisfies eq. 14";
    case attack_status::not_found: return "no subset explains the observations";
    case attack_status::ambiguous: return "ambiguous: subsets that explain the observations give different x(0)";
  }
  return "?";
}

namespace {

// C_i W^d for d = 0..count-1.
std::vector<matrix> observed_powers(const graph& g, const matrix& W, int i, int count) {
  std::vector<matrix> p;
  p.push_back(selection(g, i));
  for (int d = 1; d < count; ++d) p.push_back(multiply(p.back(), W));
  return p;
}

matrix fault_from_powers(const std::vector<matrix>& P, int n_rows_block, const std::vector<int>& S, int L) {
  const int b = n_rows_block, f = static_cast<int>(S.size());
  matrix M(b * (L + 1), f * L);
  for (int k = 1; k <= L; ++k)
    for (int l = 0; l < k; ++l)
      for (int s = 0; s < f; ++s) {
        const matrix& Pd = P[static_cast<std::size_t>(k - 1 - l)];
        for (int r = 0; r < b; ++r) M(k * b + r, l * f + s) = Pd(r, S[static_cast<std::size_t>(s)]);
      }
  return M;
}

matrix hcat(const matrix& a, const matrix& b) {
  matrix c(a.rows, a.cols + b.cols);
  std::copy(a.data.begin(), a.data.end(), c.data.begin());
  std::copy(b.data.begin(), b.data.end(), c.data.begin() + static_cast<std::ptrdiff_t>(a.data.size()));
  return c;
}

matrix column(const std::vector<double>& y) {
  matrix c(static_cast<int>(y.size()), 1);
  c.data = y;
  return c;
}

// Least-squares solution of A z = y (minimum norm), by SVD.
std::vector<double> lstsq(const matrix& A, const std::vector<double>& y) {
  std::vector<double> a = A.data, b(static_cast<std::size_t>(std::max(A.rows, A.cols)), 0.0);
  std::copy(y.begin(), y.end(), b.begin());
  // QR with column pivoting (rank-revealing; several times cheaper than the
  // SVD-based dgelsd at these sizes, same answers on the tests' cases).
  std::vector<lapack_int> jpvt(static_cast<std::size_t>(A.cols), 0);
  lapack_int rank = 0;
  LAPACKE_dgelsy(LAPACK_COL_MAJOR, A.rows, A.cols, 1, a.data(), A.rows, b.data(), static_cast<lapack_int>(b.size()),
                 jpvt.data(), 1e-13, &rank);
  b.resize(static_cast<std::size_t>(A.cols));
  return b;
}

// A rank decision is clear when the smallest singular value counted stands
// at least 1e3 above the tolerance; nearer than that, float rounding decides
// the rank and the test is called degenerate.
bool clear_gap(const rank_report& r) { return r.rank == 0 || r.sigma_last_kept > 1e3 * r.tolerance; }

recovery finish(const attack_plan& p, const std::vector<int>& S, const std::vector<double>& y, int tested) {
  recovery r;
  r.subsets_tested = tested;
  r.found = S;
  const bool cached = static_cast<int>(p.powers.size()) >= p.L + 1;
  const auto P = cached ? std::vector<matrix>{} : observed_powers(*p.g, *p.W, p.node, p.L + 1);
  const matrix A = S.empty() ? p.O : hcat(p.O, fault_from_powers(cached ? p.powers : P, p.g->degree(p.node) + 1, S, p.L));
  auto z = lstsq(A, y);
  const int n = p.g->n();
  r.x0.assign(z.begin(), z.begin() + n);
  double scale = 0;
  for (double v : y) scale = std::max(scale, std::fabs(v));
  const int f = static_cast<int>(S.size());
  for (int s = 0; s < f; ++s) {
    double mx = 0;
    for (int l = 0; l < p.L; ++l) mx = std::max(mx, std::fabs(z[static_cast<std::size_t>(n + l * f + s)]));
    if (mx > 1e-7 * std::max(1.0, scale)) r.identified.push_back(S[static_cast<std::size_t>(s)]);
  }
  r.status = attack_status::ok;
  return r;
}

}  // namespace

matrix fault_matrix(const graph& g, const matrix& W, int i, const std::vector<int>& S, int L) {
  return fault_from_powers(observed_powers(g, W, i, std::max(L, 1)), g.degree(i) + 1, S, L);
}

std::vector<std::vector<int>> subsets(int n, int f) {
  std::vector<std::vector<int>> out;
  std::vector<int> cur(static_cast<std::size_t>(f));
  for (int k = 0; k < f; ++k) cur[static_cast<std::size_t>(k)] = k;
  if (f == 0 || f > n) return f == 0 ? std::vector<std::vector<int>>{{}} : out;
  for (;;) {
    out.push_back(cur);
    int k = f - 1;
    while (k >= 0 && cur[static_cast<std::size_t>(k)] == n - f + k) --k;
    if (k < 0) break;
    ++cur[static_cast<std::size_t>(k)];
    for (int j = k + 1; j < f; ++j) cur[static_cast<std::size_t>(j)] = cur[static_cast<std::size_t>(j - 1)] + 1;
  }
  return out;
}

namespace {
// Subsets of the nodes other than the observer.
std::vector<std::vector<int>> candidate_subsets(int n, int f, int observer) {
  auto all = subsets(n - 1, f);
  for (auto& s : all)
    for (auto& v : s)
      if (v >= observer) ++v;
  return all;
}
}  // namespace

namespace {
// Generic identifiability at this L: for every candidate subset S and every
// other node j, some direction of j's projected fault span lies outside the
// span of S's. Then errors at a node outside S cannot be explained by S
// (except on a measure-zero set of error values), so the first subset that
// passes Algorithm 1's test is the compromised one.
bool identifiable(const attack_plan& p, const std::vector<std::vector<int>>& cands) {
  const int n = p.g->n();
  std::vector<double> Gs, z;
  std::vector<int> idx;
  for (const auto& S : cands) {
    idx.clear();
    for (int j : S)
      for (int k = 0; k < p.block_rank[static_cast<std::size_t>(j)]; ++k) idx.push_back(p.block_start[static_cast<std::size_t>(j)] + k);
    const int R = static_cast<int>(idx.size());
    Gs.assign(static_cast<std::size_t>(R) * static_cast<std::size_t>(R), 0.0);
    for (int c = 0; c < R; ++c)
      for (int r = 0; r < R; ++r) Gs[static_cast<std::size_t>(c) * R + r] = p.G(idx[static_cast<std::size_t>(r)], idx[static_cast<std::size_t>(c)]);
    if (R > 0 && LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', R, Gs.data(), R) != 0) return false;
    for (int j = 0; j < n; ++j) {
      if (j == p.node || std::find(S.begin(), S.end(), j) != S.end()) continue;
      const int rj = p.block_rank[static_cast<std::size_t>(j)];
      if (rj == 0) return false;  // node j's errors never reach the observer's redundancy
      double best = 0;
      for (int k = 0; k < rj; ++k) {
        const int q = p.block_start[static_cast<std::size_t>(j)] + k;
        z.assign(static_cast<std::size_t>(R), 0.0);
        for (int r = 0; r < R; ++r) z[static_cast<std::size_t>(r)] = p.G(idx[static_cast<std::size_t>(r)], q);
        double proj = 0;
        if (R > 0) {
          std::vector<double> w = z;
          LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', R, 1, Gs.data(), R, w.data(), R);
          for (int r = 0; r < R; ++r) proj += z[static_cast<std::size_t>(r)] * w[static_cast<std::size_t>(r)];
        }
        best = std::max(best, 1.0 - proj);  // squared residual of a unit vector
      }
      if (best < 1e-8) return false;
    }
  }
  return true;
}
}  // namespace

attack_plan plan_attack_recovery(const graph& g, const matrix& W, int node, int f, bool require_identifiable, int L_max) {
  attack_plan p;
  p.g = &g;
  p.W = &W;
  p.node = node;
  p.f = f;
  const int n = g.n();
  if (f > 0 && vertex_connectivity(g) <= f) {
    p.status = attack_status::disconnecting;
    p.detail = "vertex connectivity " + std::to_string(vertex_connectivity(g)) + " <= f = " + std::to_string(f);
    return p;
  }
  if (L_max < 0) L_max = 2 * n;
  const auto cands = candidate_subsets(n, f, node);
  const auto P = observed_powers(g, W, node, L_max + 1);
  const int b = g.degree(node) + 1;
  bool saw_unclear = false;
  attack_plan first_detecting;  // the paper's rule, kept as the fallback
  auto observability_at = [&](int L) {
    matrix O(b * (L + 1), n);
    for (int k = 0; k <= L; ++k)
      for (int c = 0; c < n; ++c)
        for (int r = 0; r < b; ++r) O(k * b + r, c) = P[static_cast<std::size_t>(k)](r, c);
    return O;
  };
  // Eq. 14 for one subset: 0 passes, 1 fails clearly, 2 fails on unclear
  // singular values; `clear` is cleared when a pass is unclear.
  auto eq14 = [&](const matrix& O, const std::vector<int>& S, int L, bool& clear) {
    matrix M = fault_from_powers(P, b, S, L);
    auto rm = numerical_rank(M);
    auto rom = numerical_rank(hcat(O, M));
    if (rom.rank != n + rm.rank) return (!clear_gap(rom) || !clear_gap(rm)) ? 2 : 1;
    clear = clear && clear_gap(rm) && clear_gap(rom);
    return 0;
  };
  // A subset that fails at one L usually fails at the next: it is tried
  // first, and when it fails the L is rejected without the in-order scan.
  // That scan only tells whether the first failing subset in order failed
  // on unclear singular values, which matters for the report alone
  // (`degenerate` rather than `no_L`); it is replayed below, only when it
  // could change that label, so the outcome is the in-order loop's.
  std::size_t last_fail = cands.size();
  std::vector<int> skipped;
  for (int L = 1; L <= L_max; ++L) {
    matrix O = observability_at(L);
    auto ro = numerical_rank(O);
    if (ro.rank < n) continue;
    bool all = true, clear = clear_gap(ro);
    if (last_fail < cands.size()) {
      bool unused = true;
      if (eq14(O, cands[last_fail], L, unused) != 0) {
        skipped.push_back(L);  // rejected; the label's scan is replayed if needed
        continue;
      }
    }
    for (std::size_t k = 0; k < cands.size(); ++k) {
      const int v = eq14(O, cands[k], L, clear);
      if (v != 0) {
        if (v == 2) saw_unclear = true;
        last_fail = k;
        all = false;
        break;
      }
    }
    if (!all) continue;
    if (!clear) {
      saw_unclear = true;
      continue;  // a later L may give a clear decision
    }
    p.L = L;
    p.O = std::move(O);
    prepare_batched(p);
    p.identifiable = f == 0 || identifiable(p, cands);
    p.status = attack_status::ok;
    if (p.identifiable || !require_identifiable) return p;
    if (first_detecting.L < 0) first_detecting = p;
  }
  if (first_detecting.L >= 0) {
    first_detecting.detail = "no L up to " + std::to_string(L_max) +
                             " separates every pair of subsets; recoveries may be ambiguous";
    return first_detecting;
  }
  // Replay the in-order scans that were skipped, for the report's label.
  for (std::size_t q = 0; q < skipped.size() && !saw_unclear; ++q) {
    const int L = skipped[q];
    matrix O = observability_at(L);
    bool unused = true;
    for (const auto& S : cands) {
      const int v = eq14(O, S, L, unused);
      if (v != 0) {
        saw_unclear = v == 2;
        break;
      }
    }
  }
  p.L = -1;
  p.status = saw_unclear ? attack_status::degenerate : attack_status::no_L;
  p.detail = saw_unclear ? "eq. 14 is decided by singular values within 1e3 of the rank tolerance" : "";
  return p;
}

void prepare_batched(attack_plan& p) {
  const graph& g = *p.g;
  const int n = g.n(), m = p.O.rows, L = p.L, b = g.degree(p.node) + 1;
  p.m = m;
  p.n = n;
  // Orthogonal complement of col(O) from the full SVD.
  std::vector<double> a = p.O.data, s(static_cast<std::size_t>(n));
  matrix U(m, m), VT(n, n);
  LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'A', m, n, a.data(), m, s.data(), U.data.data(), m, VT.data.data(), n);
  const int c = m - n;
  p.U_perp = matrix(m, c);
  std::copy(U.data.begin() + static_cast<std::ptrdiff_t>(n) * m, U.data.end(), p.U_perp.data.begin());
  // Every node's fault columns, side by side, projected in one GEMM.
  const auto P = observed_powers(g, *p.W, p.node, L + 1);
  p.powers = P;
  matrix Mall(m, n * L);
  for (int j = 0; j < n; ++j) {
    matrix Mj = fault_from_powers(P, b, {j}, L);
    std::copy(Mj.data.begin(), Mj.data.end(), Mall.data.begin() + static_cast<std::ptrdiff_t>(j) * L * m);
  }
  matrix Proj(c, n * L);
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, c, n * L, m, 1.0, p.U_perp.data.data(), m, Mall.data.data(), m,
              0.0, Proj.data.data(), c);
  // Orthonormal basis of each node's projected block.
  p.block_start.assign(static_cast<std::size_t>(n), 0);
  p.block_rank.assign(static_cast<std::size_t>(n), 0);
  std::vector<double> bases;
  int total = 0;
  double global = 0;
  for (double v : Proj.data) global = std::max(global, std::fabs(v));
  for (int j = 0; j < n; ++j) {
    std::vector<double> blk(Proj.data.begin() + static_cast<std::ptrdiff_t>(j) * L * c,
                            Proj.data.begin() + static_cast<std::ptrdiff_t>(j + 1) * L * c);
    const int k = std::min(c, L);
    std::vector<double> sv(static_cast<std::size_t>(k));
    matrix Uj(c, k), VTj(k, L);
    int r = 0;
    if (k > 0) {
      LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', c, L, blk.data(), c, sv.data(), Uj.data.data(), c, VTj.data.data(), k);
      const double tol = std::max(c, L) * std::max(sv[0], global) * DBL_EPSILON * 16;
      while (r < k && sv[static_cast<std::size_t>(r)] > tol) ++r;
    }
    p.block_start[static_cast<std::size_t>(j)] = total;
    p.block_rank[static_cast<std::size_t>(j)] = r;
    bases.insert(bases.end(), Uj.data.begin(), Uj.data.begin() + static_cast<std::ptrdiff_t>(r) * c);
    total += r;
  }
  p.Qall = matrix(c, total);
  p.Qall.data = std::move(bases);
  p.G = matrix(total, total);
  cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, total, total, c, 1.0, p.Qall.data.data(), c, p.Qall.data.data(), c,
              0.0, p.G.data.data(), total);
  // Factor each candidate subset's Gram block once, here, so that a test
  // at recovery time is one triangular solve (see recover_batched).
  p.chol.clear();
  const auto cands = candidate_subsets(n, p.f, p.node);
  std::size_t bytes = 0;
  for (const auto& S : cands) {
    std::size_t R = 0;
    for (int j : S) R += static_cast<std::size_t>(p.block_rank[static_cast<std::size_t>(j)]);
    bytes += R * (R + 1) / 2 * sizeof(double);
  }
  if (bytes > attack_plan::factor_budget_bytes) return;
  p.chol.resize(cands.size());
  p.basis.resize(cands.size());
  p.basis_rank.assign(cands.size(), 0);
  // An orthonormal basis of the subset's span, for blocks not factored.
  auto keep_basis = [&](std::size_t k, const std::vector<int>& cols) {
    const int R = static_cast<int>(cols.size());
    std::vector<double> A(static_cast<std::size_t>(c) * R);
    for (int q = 0; q < R; ++q)
      std::copy_n(p.Qall.data.begin() + static_cast<std::ptrdiff_t>(cols[static_cast<std::size_t>(q)]) * c, c,
                  A.begin() + static_cast<std::ptrdiff_t>(q) * c);
    const int kk = std::min(c, R);
    std::vector<double> sv(static_cast<std::size_t>(kk));
    matrix Us(c, kk), VTs(kk, R);
    if (kk == 0 || LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', c, R, A.data(), c, sv.data(), Us.data.data(), c, VTs.data.data(), kk) != 0)
      return;
    const double tol = std::max(c, R) * sv[0] * DBL_EPSILON * 16;
    int r = 0;
    while (r < kk && sv[static_cast<std::size_t>(r)] > tol) ++r;
    p.basis_rank[k] = r;
    p.basis[k].assign(Us.data.begin(), Us.data.begin() + static_cast<std::ptrdiff_t>(r) * c);
  };
  std::vector<double> Gs;
  std::vector<int> idx;
  for (std::size_t k = 0; k < cands.size(); ++k) {
    idx.clear();
    for (int j : cands[k]) {
      const int st = p.block_start[static_cast<std::size_t>(j)], r = p.block_rank[static_cast<std::size_t>(j)];
      for (int q = 0; q < r; ++q) idx.push_back(st + q);
    }
    const int R = static_cast<int>(idx.size());
    if (R == 0) continue;
    Gs.assign(static_cast<std::size_t>(R) * static_cast<std::size_t>(R), 0.0);
    for (int col = 0; col < R; ++col)
      for (int row = col; row < R; ++row)
        Gs[static_cast<std::size_t>(col) * R + row] = p.G(idx[static_cast<std::size_t>(row)], idx[static_cast<std::size_t>(col)]);
    double anorm = 0;  // 1-norm of the (symmetric) block, for the condition estimate
    for (int col = 0; col < R; ++col) {
      double sum = 0;
      for (int row = 0; row < R; ++row)
        sum += std::fabs(row >= col ? Gs[static_cast<std::size_t>(col) * R + row] : Gs[static_cast<std::size_t>(row) * R + col]);
      anorm = std::max(anorm, sum);
    }
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', R, Gs.data(), R) != 0) {  // overlapping spans
      keep_basis(k, idx);
      continue;
    }
    // Keep the factor only when the block is well conditioned (cond < 1e8,
    // so cond(L) < 1e4): the shortcut below is then accurate to ~1e-12,
    // far inside the 1e-6 it decides on.
    double rcond = 0;
    if (LAPACKE_dpocon(LAPACK_COL_MAJOR, 'L', R, Gs.data(), R, anorm, &rcond) != 0 || !(rcond > 1e-8)) {
      keep_basis(k, idx);
      continue;
    }
    auto& ap = p.chol[k];
    ap.resize(static_cast<std::size_t>(R) * (R + 1) / 2);
    LAPACKE_dtrttp(LAPACK_COL_MAJOR, 'L', R, Gs.data(), R, ap.data());
  }
}

std::vector<double> observe_attacked(const graph& g, const matrix& W, int i, const std::vector<double>& x0, int L,
                                     const std::vector<int>& attackers, const std::vector<std::vector<double>>& errors) {
  const auto& nb = g.adj[static_cast<std::size_t>(i)];
  std::vector<double> x = x0, y;
  for (int k = 0; k <= L; ++k) {
    y.push_back(x[static_cast<std::size_t>(i)]);
    for (int j : nb) y.push_back(x[static_cast<std::size_t>(j)]);
    if (k == L) break;
    x = W.apply(x);
    for (std::size_t a = 0; a < attackers.size(); ++a)
      x[static_cast<std::size_t>(attackers[a])] += errors[static_cast<std::size_t>(k)][a];
  }
  return y;
}

bool attack_detected(const attack_plan& p, const std::vector<double>& y) {
  return numerical_rank(hcat(p.O, column(y))).rank != numerical_rank(p.O).rank;
}

namespace {
// Algorithm 1 decides on the first passing subset. Because two subsets can
// explain the same observations with different x(0) (see identifiable()),
// confab tests them all and answers only when every passing subset agrees.
recovery decide(const attack_plan& p, const std::vector<std::vector<int>>& passing, const std::vector<double>& y,
                int tested) {
  recovery r;
  r.subsets_tested = tested;
  r.passing = static_cast<int>(passing.size());
  if (passing.empty()) return r;
  r = finish(p, passing.front(), y, tested);
  r.passing = static_cast<int>(passing.size());
  double scale = 1;
  for (double v : r.x0) scale = std::max(scale, std::fabs(v));
  for (std::size_t k = 1; k < passing.size(); ++k) {
    auto other = finish(p, passing[k], y, tested);
    double diff = 0;
    for (std::size_t i = 0; i < r.x0.size(); ++i) diff = std::max(diff, std::fabs(other.x0[i] - r.x0[i]));
    if (diff > 1e-6 * scale) {
      r.status = attack_status::ambiguous;
      r.x0.clear();
      r.identified.clear();
      return r;
    }
    // Nodes with errors in every explanation.
    std::vector<int> both;
    for (int v : r.identified)
      if (std::find(other.identified.begin(), other.identified.end(), v) != other.identified.end()) both.push_back(v);
    r.identified = both;
  }
  return r;
}
}  // namespace

recovery recover_naive(const attack_plan& p, const std::vector<double>& y) {
  if (!attack_detected(p, y)) return finish(p, {}, y, 0);
  const auto cands = candidate_subsets(p.g->n(), p.f, p.node);
  const auto P = observed_powers(*p.g, *p.W, p.node, p.L + 1);
  const int b = p.g->degree(p.node) + 1;
  const matrix yc = column(y);
  std::vector<std::vector<int>> passing;
  for (const auto& S : cands) {
    matrix OM = hcat(p.O, fault_from_powers(P, b, S, p.L));
    if (numerical_rank(hcat(OM, yc)).rank == numerical_rank(OM).rank) passing.push_back(S);
  }
  return decide(p, passing, y, static_cast<int>(cands.size()));
}

namespace {
// Relative residual of ytil in the span of the subset's bases.
double subset_residual(const attack_plan& p, const std::vector<int>& S, const std::vector<double>& bvec,
                       const std::vector<double>& ytil, double ynorm2,
                       std::vector<double>& Gs, std::vector<double>& bs, std::vector<int>& idx) {
  idx.clear();
  for (int j : S) {
    const int st = p.block_start[static_cast<std::size_t>(j)], r = p.block_rank[static_cast<std::size_t>(j)];
    for (int k = 0; k < r; ++k) idx.push_back(st + k);
  }
  const int R = static_cast<int>(idx.size());
  if (R == 0) return 1.0;
  Gs.resize(static_cast<std::size_t>(R) * static_cast<std::size_t>(R));
  bs.resize(static_cast<std::size_t>(R));
  for (int c = 0; c < R; ++c) {
    bs[static_cast<std::size_t>(c)] = bvec[static_cast<std::size_t>(idx[static_cast<std::size_t>(c)])];
    for (int r = 0; r < R; ++r) Gs[static_cast<std::size_t>(c) * R + r] = p.G(idx[static_cast<std::size_t>(r)], idx[static_cast<std::size_t>(c)]);
  }
  std::vector<double> z = bs;
  if (LAPACKE_dposv(LAPACK_COL_MAJOR, 'L', R, 1, Gs.data(), R, z.data(), R) != 0) return 1.0;  // overlapping spans
  // r = ytil - Q_S z, formed explicitly: the shortcut |y|^2 - b'z cancels
  // catastrophically when the subset's bases are nearly dependent.
  std::vector<double> r = ytil;
  const int c = p.Qall.rows;
  for (int k = 0; k < R; ++k)
    cblas_daxpy(c, -z[static_cast<std::size_t>(k)], p.Qall.data.data() + static_cast<std::size_t>(idx[static_cast<std::size_t>(k)]) * c, 1,
                r.data(), 1);
  return cblas_dnrm2(c, r.data(), 1) / std::sqrt(ynorm2);
}
}  // namespace

recovery recover_batched(const attack_plan& p, const std::vector<double>& y, int threads) {
  const int c = p.U_perp.cols;
  std::vector<double> ytil(static_cast<std::size_t>(c), 0.0);
  cblas_dgemv(CblasColMajor, CblasTrans, p.m, c, 1.0, p.U_perp.data.data(), p.m, y.data(), 1, 0.0, ytil.data(), 1);
  double ynorm2 = 0, yy = 0;
  for (double v : ytil) ynorm2 += v * v;
  for (double v : y) yy += v * v;
  if (ynorm2 <= 1e-24 * std::max(1.0, yy)) return finish(p, {}, y, 0);  // eq. 15 passes: no attack
  const int total = p.Qall.cols;
  std::vector<double> bvec(static_cast<std::size_t>(total), 0.0);
  cblas_dgemv(CblasColMajor, CblasTrans, c, total, 1.0, p.Qall.data.data(), c, ytil.data(), 1, 0.0, bvec.data(), 1);
  const auto cands = candidate_subsets(p.g->n(), p.f, p.node);
  constexpr double pass = 1e-7;
  std::vector<char> ok(cands.size(), 0);
  const bool factored = p.chol.size() == cands.size();
  auto work = [&](std::size_t begin, std::size_t step) {
    std::vector<double> Gs, bs, w, resid;
    std::vector<int> idx;
    for (std::size_t k = begin; k < cands.size(); k += step) {
      if (factored && !p.chol[k].empty()) {
        // With G_S = L L^T and b_S = Q_S^T ytil, the part of ytil in the
        // subset's span has squared norm |L^-1 b_S|^2: one triangular solve.
        // That difference of squares cancels near a pass, so it only
        // rejects subsets far from passing (relative residual > 1e-3); the
        // few near it get the explicit residual ytil - Q_S z.
        w.clear();
        for (int j : cands[k]) {
          const int st = p.block_start[static_cast<std::size_t>(j)], r = p.block_rank[static_cast<std::size_t>(j)];
          for (int q = 0; q < r; ++q) w.push_back(bvec[static_cast<std::size_t>(st + q)]);
        }
        const int R = static_cast<int>(w.size());
        cblas_dtpsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit, R, p.chol[k].data(), w.data(), 1);
        const double inside = cblas_ddot(R, w.data(), 1, w.data(), 1);
        if ((ynorm2 - inside) > 1e-6 * ynorm2) {
          ok[k] = 0;
          continue;
        }
        cblas_dtpsv(CblasColMajor, CblasLower, CblasTrans, CblasNonUnit, R, p.chol[k].data(), w.data(), 1);  // z
        resid = ytil;
        int off = 0;
        for (int j : cands[k]) {
          const int st = p.block_start[static_cast<std::size_t>(j)], r = p.block_rank[static_cast<std::size_t>(j)];
          if (r > 0)
            cblas_dgemv(CblasColMajor, CblasNoTrans, c, r, -1.0, p.Qall.data.data() + static_cast<std::size_t>(st) * c, c,
                        w.data() + off, 1, 1.0, resid.data(), 1);
          off += r;
        }
        ok[k] = cblas_dnrm2(c, resid.data(), 1) / std::sqrt(ynorm2) < pass;
        continue;
      }
      if (factored && p.basis_rank[k] > 0) {
        // An ill-conditioned block: project on its orthonormal basis.
        const int r = p.basis_rank[k];
        w.assign(static_cast<std::size_t>(r), 0.0);
        cblas_dgemv(CblasColMajor, CblasTrans, c, r, 1.0, p.basis[k].data(), c, ytil.data(), 1, 0.0, w.data(), 1);
        resid = ytil;
        cblas_dgemv(CblasColMajor, CblasNoTrans, c, r, -1.0, p.basis[k].data(), c, w.data(), 1, 1.0, resid.data(), 1);
        ok[k] = cblas_dnrm2(c, resid.data(), 1) / std::sqrt(ynorm2) < pass;
        continue;
      }
      ok[k] = subset_residual(p, cands[k], bvec, ytil, ynorm2, Gs, bs, idx) < pass;
    }
  };
  if (threads <= 1) {
    work(0, 1);
  } else {
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) ts.emplace_back(work, static_cast<std::size_t>(t), static_cast<std::size_t>(threads));
    for (auto& t : ts) t.join();
  }
  std::vector<std::vector<int>> passing;
  for (std::size_t k = 0; k < cands.size(); ++k)
    if (ok[k]) passing.push_back(cands[k]);
  return decide(p, passing, y, static_cast<int>(cands.size()));
}

}  // namespace confab::linalg
