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
    if (mx > attack_plan::identify_tolerance * std::max(1.0, scale)) r.identified.push_back(S[static_cast<std::size_t>(s)]);
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

std::vector<std::vector<int>> candidate_subsets(int n, int f, int observer) {
  auto all = subsets(n - 1, f);
  for (auto& s : all)
    for (auto& v : s)
      if (v >= observer) ++v;
  return all;
}

namespace {

// An orthonormal basis of the column space of A (rows x cols, column-major):
// the left singular vectors whose singular values exceed
// max(rows, cols) * scale * 16 * DBL_EPSILON, with `scale` at least A's
// largest singular value. Rank decisions thus stand on singular values
// relative to the data, never on whether a factorisation succeeded.
struct column_basis {
  std::vector<double> U;  // rows x rank
  int rank = 0;
  double sigma_max = 0;
};
column_basis orthonormal_basis(std::vector<double> A, int rows, int cols, double scale = 0) {
  column_basis out;
  const int k = std::min(rows, cols);
  if (k == 0) return out;
  std::vector<double> sv(static_cast<std::size_t>(k));
  std::vector<double> U(static_cast<std::size_t>(rows) * static_cast<std::size_t>(k)), VT(static_cast<std::size_t>(k) * static_cast<std::size_t>(cols));
  if (LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', rows, cols, A.data(), rows, sv.data(), U.data(), rows, VT.data(), k) != 0) {
    // dgesdd did not converge (never seen); the slower dgesvd always does.
    std::vector<double> superb(static_cast<std::size_t>(k));
    LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'S', 'N', rows, cols, A.data(), rows, sv.data(), U.data(), rows, nullptr, 1, superb.data());
  }
  out.sigma_max = sv[0];
  const double tol = std::max(rows, cols) * std::max(sv[0], scale) * DBL_EPSILON * 16;
  while (out.rank < k && sv[static_cast<std::size_t>(out.rank)] > tol) ++out.rank;
  U.resize(static_cast<std::size_t>(rows) * static_cast<std::size_t>(out.rank));
  out.U = std::move(U);
  return out;
}

// The columns of Qall that hold the bases of the nodes of S, side by side.
std::vector<double> subset_columns(const attack_plan& p, const std::vector<int>& S) {
  const int c = p.Qall.rows;
  std::vector<double> A;
  for (int j : S) {
    const auto st = static_cast<std::ptrdiff_t>(p.block_start[static_cast<std::size_t>(j)]) * c;
    A.insert(A.end(), p.Qall.data.begin() + st,
             p.Qall.data.begin() + st + static_cast<std::ptrdiff_t>(p.block_rank[static_cast<std::size_t>(j)]) * c);
  }
  return A;
}

// An orthonormal basis of span(P_S), the projected fault columns of S.
// The per-node bases are orthonormal, so the block's singular values lie
// in [0, sqrt(f)]; two nodes whose spans overlap give (near-)zero ones,
// which the basis simply leaves out.
column_basis subset_basis(const attack_plan& p, const std::vector<int>& S) {
  auto A = subset_columns(p, S);
  const int c = p.Qall.rows;
  const int R = c == 0 ? 0 : static_cast<int>(A.size()) / c;
  return orthonormal_basis(std::move(A), c, R, 1.0);
}

// Sine of the largest principal angle between span(Q_j) and span(B): the
// largest singular value of (I - B B^T) Q_j. 0 when Q_j lies inside.
double escape_sine(const attack_plan& p, int j, const double* B, int rank_B) {
  const int c = p.Qall.rows, rj = p.block_rank[static_cast<std::size_t>(j)];
  if (rj == 0) return 0;
  const double* Qj = p.Qall.data.data() + static_cast<std::size_t>(p.block_start[static_cast<std::size_t>(j)]) * c;
  std::vector<double> X(Qj, Qj + static_cast<std::size_t>(rj) * c);
  if (rank_B > 0) {
    std::vector<double> T(static_cast<std::size_t>(rank_B) * rj);
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, rank_B, rj, c, 1.0, B, c, Qj, c, 0.0, T.data(), rank_B);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, c, rj, rank_B, -1.0, B, c, T.data(), rank_B, 1.0, X.data(), c);
  }
  const int k = std::min(c, rj);
  std::vector<double> sv(static_cast<std::size_t>(k));
  LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', c, rj, X.data(), c, sv.data(), nullptr, 1, nullptr, 1);
  return sv[0];
}

// Generic identifiability at this L: for every candidate subset S and every
// other node j, some direction of j's projected fault span lies outside
// span(P_S) (an overlap of the spans of two nodes inside S is allowed).
// Then errors at a node outside S cannot be explained by S, except on a
// measure-zero set of error values, so only subsets holding every
// compromised node explain y. Decided on orthonormal bases: j escapes when
// the sine of its largest principal angle to span(P_S) exceeds
// attack_plan::escape_min; a sine between the rounding floor and that
// margin makes the decision unclear (`unclear` is set).
bool identifiable(const attack_plan& p, const std::vector<std::vector<int>>& cands, bool& unclear) {
  const int n = p.g->n();
  const bool cached = p.span_basis.size() == cands.size();
  for (std::size_t k = 0; k < cands.size(); ++k) {
    const auto& S = cands[k];
    column_basis own;
    if (!cached) own = subset_basis(p, S);
    const double* B = cached ? p.span_basis[k].data() : own.U.data();
    const int rank_B = cached ? p.span_rank[k] : own.rank;
    for (int j = 0; j < n; ++j) {
      if (j == p.node || std::find(S.begin(), S.end(), j) != S.end()) continue;
      const double sine = escape_sine(p, j, B, rank_B);
      if (sine > attack_plan::escape_min) continue;
      if (sine > attack_plan::escape_floor) unclear = true;
      return false;
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
  bool saw_unclear = false, saw_unclear_separation = false;
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
    bool unclear = false;
    p.identifiable = f == 0 || identifiable(p, cands, unclear);
    if (unclear) saw_unclear_separation = true;
    p.status = attack_status::ok;
    if (p.identifiable || !require_identifiable) return p;
    if (first_detecting.L < 0) first_detecting = p;
  }
  if (first_detecting.L >= 0) {
    first_detecting.detail = "no L up to " + std::to_string(L_max) +
                             " separates every pair of subsets; recoveries may be ambiguous" +
                             (saw_unclear_separation ? " (some separations were within the rounding margin)" : "");
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
  // An orthonormal basis of every candidate subset's span, once, here, so
  // that a subset test at recovery time is two small GEMVs.
  p.span_basis.clear();
  p.span_rank.clear();
  const auto cands = candidate_subsets(n, p.f, p.node);
  std::size_t bytes = 0;
  for (const auto& S : cands) {
    std::size_t R = 0;
    for (int j : S) R += static_cast<std::size_t>(p.block_rank[static_cast<std::size_t>(j)]);
    bytes += std::min<std::size_t>(R, static_cast<std::size_t>(c)) * static_cast<std::size_t>(c) * sizeof(double);
  }
  if (bytes > attack_plan::basis_budget_bytes) return;  // bases are then made per test
  p.span_basis.resize(cands.size());
  p.span_rank.assign(cands.size(), 0);
  for (std::size_t k = 0; k < cands.size(); ++k) {
    auto b = subset_basis(p, cands[k]);
    p.span_rank[k] = b.rank;
    p.span_basis[k] = std::move(b.U);
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
    x = network_step(g, W, x);
    for (std::size_t a = 0; a < attackers.size(); ++a)
      x[static_cast<std::size_t>(attackers[a])] += errors[static_cast<std::size_t>(k)][a];
  }
  return y;
}

namespace {
double norm2(const std::vector<double>& v) { return cblas_dnrm2(static_cast<int>(v.size()), v.data(), 1); }

// ||y - U U^T y|| for an orthonormal U (rows x rank).
double residual_outside(const double* U, int rows, int rank, const double* y) {
  std::vector<double> r(y, y + rows);
  if (rank > 0) {
    std::vector<double> w(static_cast<std::size_t>(rank));
    cblas_dgemv(CblasColMajor, CblasTrans, rows, rank, 1.0, U, rows, y, 1, 0.0, w.data(), 1);
    cblas_dgemv(CblasColMajor, CblasNoTrans, rows, rank, -1.0, U, rows, w.data(), 1, 1.0, r.data(), 1);
  }
  return cblas_dnrm2(rows, r.data(), 1);
}

// The naive path's test of one explanation: y's residual outside col(A),
// A = [O M_S], by an SVD of A alone.
double naive_residual(const matrix& A, const std::vector<double>& y) {
  auto b = orthonormal_basis(A.data, A.rows, A.cols);
  return residual_outside(b.U.data(), A.rows, b.rank, y.data());
}
}  // namespace

bool attack_detected(const attack_plan& p, const std::vector<double>& y) {
  return naive_residual(p.O, y) > attack_plan::explain_tolerance * norm2(y);
}

crafted_attack craft_ambiguous_attack(const attack_plan& p, const std::vector<int>& F, const std::vector<int>& S,
                                      double scale) {
  crafted_attack out;
  const int n = p.g->n(), L = p.L, f = static_cast<int>(F.size());
  const int b = p.g->degree(p.node) + 1;
  const auto P = static_cast<int>(p.powers.size()) >= L + 1 ? p.powers : observed_powers(*p.g, *p.W, p.node, L + 1);
  matrix MS = fault_from_powers(P, b, S, L);
  for (double& v : MS.data) v = -v;
  const matrix A = hcat(hcat(p.O, fault_from_powers(P, b, F, L)), MS);
  const int m = A.rows, cols = A.cols;
  // The right singular vectors past A's numerical rank span its null space.
  std::vector<double> a = A.data, sv(static_cast<std::size_t>(std::min(m, cols)));
  matrix U(m, m), VT(cols, cols);
  LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'A', m, cols, a.data(), m, sv.data(), U.data.data(), m, VT.data.data(), cols);
  const double tol = std::max(m, cols) * sv[0] * DBL_EPSILON * 16;
  int rank = 0;
  while (rank < static_cast<int>(sv.size()) && sv[static_cast<std::size_t>(rank)] > tol) ++rank;
  const int k = cols - rank;
  if (k == 0) return out;
  // Null basis N (cols x k); the combination w maximising |N_d w| is the
  // top right singular vector of N_d, N's first n rows.
  matrix N(cols, k), Nd(n, k);
  for (int q = 0; q < k; ++q)
    for (int r = 0; r < cols; ++r) N(r, q) = VT(rank + q, r);
  for (int q = 0; q < k; ++q)
    for (int r = 0; r < n; ++r) Nd(r, q) = N(r, q);
  std::vector<double> s2(static_cast<std::size_t>(std::min(n, k)));
  matrix U2(n, n), VT2(k, k);
  LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'A', n, k, Nd.data.data(), n, s2.data(), U2.data.data(), n, VT2.data.data(), k);
  if (s2[0] < 1e-6) return out;
  std::vector<double> w(static_cast<std::size_t>(k));
  for (int q = 0; q < k; ++q) w[static_cast<std::size_t>(q)] = VT2(0, q);
  const auto v = N.apply(w);
  double umax = 0;
  for (int c = n; c < n + f * L; ++c) umax = std::max(umax, std::fabs(v[static_cast<std::size_t>(c)]));
  if (umax == 0) return out;
  const double g = scale / umax;
  out.found = true;
  out.shift.assign(v.begin(), v.begin() + n);
  for (double& x : out.shift) x *= g;
  out.errors.assign(static_cast<std::size_t>(L), std::vector<double>(static_cast<std::size_t>(f)));
  for (int l = 0; l < L; ++l)
    for (int a = 0; a < f; ++a) out.errors[static_cast<std::size_t>(l)][static_cast<std::size_t>(a)] = g * v[static_cast<std::size_t>(n + l * f + a)];
  return out;
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
    if (diff > attack_plan::agree_tolerance * scale) {
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
  const double bound = attack_plan::explain_tolerance * norm2(y);
  if (naive_residual(p.O, y) <= bound) return finish(p, {}, y, 0);
  const auto cands = candidate_subsets(p.g->n(), p.f, p.node);
  const auto P = observed_powers(*p.g, *p.W, p.node, p.L + 1);
  const int b = p.g->degree(p.node) + 1;
  std::vector<std::vector<int>> passing;
  for (const auto& S : cands)
    if (naive_residual(hcat(p.O, fault_from_powers(P, b, S, p.L)), y) <= bound) passing.push_back(S);
  return decide(p, passing, y, static_cast<int>(cands.size()));
}

recovery recover_batched(const attack_plan& p, const std::vector<double>& y, int threads) {
  const int c = p.U_perp.cols;
  // The residual of y outside col(O) is its projection onto the complement.
  std::vector<double> ytil(static_cast<std::size_t>(c), 0.0);
  cblas_dgemv(CblasColMajor, CblasTrans, p.m, c, 1.0, p.U_perp.data.data(), p.m, y.data(), 1, 0.0, ytil.data(), 1);
  // Every test is against the scale of the unprojected observations: the
  // projection of a small attack is small, but rounding in it is relative
  // to y, not to the projection.
  const double bound = attack_plan::explain_tolerance * norm2(y);
  if (norm2(ytil) <= bound) return finish(p, {}, y, 0);  // eq. 15 passes: no attack
  const auto cands = candidate_subsets(p.g->n(), p.f, p.node);
  std::vector<char> ok(cands.size(), 0);
  const bool cached = p.span_basis.size() == cands.size();
  auto work = [&](std::size_t begin, std::size_t step) {
    for (std::size_t k = begin; k < cands.size(); k += step) {
      if (cached) {
        ok[k] = residual_outside(p.span_basis[k].data(), c, p.span_rank[k], ytil.data()) <= bound;
      } else {
        auto B = subset_basis(p, cands[k]);
        ok[k] = residual_outside(B.U.data(), c, B.rank, ytil.data()) <= bound;
      }
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
