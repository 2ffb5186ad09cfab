#include "linalg/modular.hpp"

#include <algorithm>
#include <random>

#include "linalg/malicious.hpp"

namespace confab::linalg {

namespace {

using u64 = std::uint64_t;
using u128 = unsigned __int128;
constexpr u64 prime = (u64{1} << 61) - 1;

u64 add(u64 a, u64 b) noexcept {
  const u64 s = a + b;
  return s >= prime ? s - prime : s;
}
u64 sub(u64 a, u64 b) noexcept { return a >= b ? a - b : a + prime - b; }
u64 mul(u64 a, u64 b) noexcept {
  const u128 p = static_cast<u128>(a) * b;
  const u64 lo = static_cast<u64>(p) & prime, hi = static_cast<u64>(p >> 61);
  return add(lo, hi);
}
u64 power(u64 a, u64 e) noexcept {
  u64 r = 1;
  for (; e; e >>= 1, a = mul(a, a))
    if (e & 1) r = mul(r, a);
  return r;
}
u64 inverse(u64 a) noexcept { return power(a, prime - 2); }

using vec = std::vector<u64>;

// A column space in echelon form: each basis vector has a pivot row, and is
// zero at the pivots of the vectors added before it, so reducing a vector
// against the basis in order clears every pivot.
struct span {
  std::vector<vec> basis;
  std::vector<int> pivot;

  // v reduced against the basis (in place); true when something is left.
  bool reduce(vec& v) const {
    for (std::size_t k = 0; k < basis.size(); ++k) {
      const u64 c = v[static_cast<std::size_t>(pivot[k])];
      if (c == 0) continue;
      const vec& b = basis[k];
      for (std::size_t r = 0; r < v.size(); ++r)
        if (b[r]) v[r] = sub(v[r], mul(c, b[r]));
    }
    return std::any_of(v.begin(), v.end(), [](u64 x) { return x != 0; });
  }
  // Adds v to the span; false when it was already inside.
  bool insert(vec v) {
    if (!reduce(v)) return false;
    std::size_t r = 0;
    while (v[r] == 0) ++r;
    const u64 inv = inverse(v[r]);
    for (auto& x : v) x = mul(x, inv);
    pivot.push_back(static_cast<int>(r));
    basis.push_back(std::move(v));
    return true;
  }
  int rank() const noexcept { return static_cast<int>(basis.size()); }
};

// Random row-stochastic weights on the graph's pattern (edges and the
// diagonal), row-major.
std::vector<vec> field_weights(const graph& g, std::uint64_t seed) {
  const int n = g.n();
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  std::vector<vec> W(static_cast<std::size_t>(n), vec(static_cast<std::size_t>(n), 0));
  for (int i = 0; i < n; ++i) {
    auto& row = W[static_cast<std::size_t>(i)];
    row[static_cast<std::size_t>(i)] = 1 + rng() % (prime - 1);
    for (int j : g.adj[static_cast<std::size_t>(i)]) row[static_cast<std::size_t>(j)] = 1 + rng() % (prime - 1);
    u64 sum = 0;
    for (u64 x : row) sum = add(sum, x);
    if (sum == 0) sum = 1;  // probability 1/p; the rows stay generic either way
    const u64 inv = inverse(sum);
    for (auto& x : row) x = mul(x, inv);
  }
  return W;
}

// C_i W^d for d = 0..count-1, each as (deg_i + 1) rows of length n.
std::vector<std::vector<vec>> field_powers(const graph& g, const std::vector<vec>& W, int node, int count) {
  const int n = g.n();
  std::vector<std::vector<vec>> P;
  std::vector<vec> C;
  std::vector<int> rows{node};
  for (int j : g.adj[static_cast<std::size_t>(node)]) rows.push_back(j);
  for (int r : rows) {
    vec e(static_cast<std::size_t>(n), 0);
    e[static_cast<std::size_t>(r)] = 1;
    C.push_back(e);
  }
  P.push_back(C);
  for (int d = 1; d < count; ++d) {
    std::vector<vec> next;
    for (const auto& row : P.back()) {
      vec out(static_cast<std::size_t>(n), 0);
      for (int k = 0; k < n; ++k) {
        if (!row[static_cast<std::size_t>(k)]) continue;
        const auto& wk = W[static_cast<std::size_t>(k)];
        for (int c = 0; c < n; ++c)
          if (wk[static_cast<std::size_t>(c)]) out[static_cast<std::size_t>(c)] = add(out[static_cast<std::size_t>(c)], mul(row[static_cast<std::size_t>(k)], wk[static_cast<std::size_t>(c)]));
      }
      next.push_back(std::move(out));
    }
    P.push_back(std::move(next));
  }
  return P;
}

// Column c of O_{i,L}: entry (k, r) is (C_i W^k)(r, c).
vec observability_column(const std::vector<std::vector<vec>>& P, int L, int c) {
  vec v;
  for (int k = 0; k <= L; ++k)
    for (const auto& row : P[static_cast<std::size_t>(k)]) v.push_back(row[static_cast<std::size_t>(c)]);
  return v;
}

// Column l of M^{j}_{i,L} (the fault columns of node j): entry (k, r) is
// (C_i W^{k-1-l})(r, j) for l < k, else 0.
vec fault_column(const std::vector<std::vector<vec>>& P, int L, int j, int l) {
  const std::size_t b = P[0].size();
  vec v;
  v.reserve(b * static_cast<std::size_t>(L + 1));
  for (int k = 0; k <= L; ++k)
    for (std::size_t r = 0; r < b; ++r) v.push_back(l < k ? P[static_cast<std::size_t>(k - 1 - l)][r][static_cast<std::size_t>(j)] : 0);
  return v;
}

}  // namespace

int exact_min_observations(const graph& g, int node, std::uint64_t seed, int vmax) {
  const int n = g.n();
  if (vmax < 0) vmax = n;
  const auto W = field_weights(g, seed);
  const auto P = field_powers(g, W, node, vmax);
  for (int v = 1; v <= vmax; ++v) {
    span s;
    for (int c = 0; c < n; ++c) s.insert(observability_column(P, v - 1, c));
    if (s.rank() == n) return v;
  }
  return -1;
}

exact_attack exact_attack_steps(const graph& g, int node, int f, std::uint64_t seed, int L_max) {
  const int n = g.n();
  if (L_max < 0) L_max = 2 * n;
  exact_attack out;
  const auto W = field_weights(g, seed);
  const auto P = field_powers(g, W, node, L_max + 1);
  const auto cands = candidate_subsets(n, f, node);
  // The (subset, node) pair that failed last is tried first at the next L:
  // it usually fails again, and the L is rejected at once.
  std::size_t last_subset = 0;
  for (int L = 1; L <= L_max; ++L) {
    span O;
    for (int c = 0; c < n; ++c) O.insert(observability_column(P, L, c));
    if (O.rank() < n) continue;
    auto fault_span = [&](const std::vector<int>& S, span& with_O) {
      span M;
      for (int j : S)
        for (int l = 0; l < L; ++l) {
          auto col = fault_column(P, L, j, l);
          M.insert(col);
          with_O.insert(std::move(col));
        }
      return M.rank();
    };
    bool eq14 = true;
    std::vector<span> with_O(cands.size());
    for (std::size_t k = 0; k < cands.size() && eq14; ++k) {
      const std::size_t s = (k + last_subset) % cands.size();
      with_O[s] = O;
      const int rank_M = fault_span(cands[s], with_O[s]);
      if (with_O[s].rank() != n + rank_M) {
        eq14 = false;
        last_subset = s;
      }
    }
    if (!eq14) continue;
    if (out.detecting_steps < 0) out.detecting_steps = L + 1;
    bool separated = true;
    if (f == 0) {
      out.steps = L + 1;
      return out;
    }
    for (std::size_t k = 0; k < cands.size() && separated; ++k) {
      const std::size_t s = (k + last_subset) % cands.size();
      const auto& S = cands[s];
      for (int j = 0; j < n && separated; ++j) {
        if (j == node || std::find(S.begin(), S.end(), j) != S.end()) continue;
        bool adds = false;
        for (int l = 0; l < L && !adds; ++l) {
          auto col = fault_column(P, L, j, l);
          adds = with_O[s].reduce(col);
        }
        if (!adds) {
          separated = false;
          last_subset = s;
        }
      }
    }
    if (separated) {
      out.steps = L + 1;
      return out;
    }
  }
  return out;
}

}  // namespace confab::linalg
