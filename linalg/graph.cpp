#include "linalg/graph.hpp"

#include <algorithm>
#include <numeric>
#include <queue>
#include <random>
#include <set>

namespace confab::linalg {
graph from_edges(std::string name, int n, const std::set<std::pair<int, int>>& edges) {
  graph g;
  g.name = std::move(name);
  g.adj.assign(static_cast<std::size_t>(n), {});
  for (auto [a, b] : edges) {
    g.adj[static_cast<std::size_t>(a)].push_back(b);
    g.adj[static_cast<std::size_t>(b)].push_back(a);
  }
  for (auto& l : g.adj) std::sort(l.begin(), l.end());
  return g;
}

namespace {

void add(std::set<std::pair<int, int>>& e, int a, int b) {
  if (a != b) e.insert({std::min(a, b), std::max(a, b)});
}

}  // namespace

int graph::degree_min() const noexcept {
  int m = n() > 0 ? degree(0) : 0;
  for (int i = 1; i < n(); ++i) m = std::min(m, degree(i));
  return m;
}

bool graph::has_edge(int a, int b) const noexcept {
  const auto& l = adj[static_cast<std::size_t>(a)];
  return std::binary_search(l.begin(), l.end(), b);
}

std::size_t graph::edges() const noexcept {
  std::size_t s = 0;
  for (auto& l : adj) s += l.size();
  return s / 2;
}

graph ring(int n) {
  std::set<std::pair<int, int>> e;
  for (int i = 0; i < n; ++i) add(e, i, (i + 1) % n);
  return from_edges("Ring " + std::to_string(n), n, e);
}

graph torus(int rows, int cols) {
  std::set<std::pair<int, int>> e;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const int v = r * cols + c;
      add(e, v, r * cols + (c + 1) % cols);
      add(e, v, ((r + 1) % rows) * cols + c);
    }
  }
  return from_edges("Torus " + std::to_string(rows * cols), rows * cols, e);
}

graph petersen() {
  std::set<std::pair<int, int>> e;
  for (int i = 0; i < 5; ++i) {
    add(e, i, (i + 1) % 5);          // outer cycle
    add(e, i, i + 5);                // spokes
    add(e, 5 + i, 5 + (i + 2) % 5);  // inner pentagram
  }
  return from_edges("Petersen", 10, e);
}

graph hypercube(int d) {
  const int n = 1 << d;
  std::set<std::pair<int, int>> e;
  for (int v = 0; v < n; ++v)
    for (int b = 0; b < d; ++b) add(e, v, v ^ (1 << b));
  return from_edges("Hypercube " + std::to_string(d), n, e);
}

graph complete(int n) {
  std::set<std::pair<int, int>> e;
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b) add(e, a, b);
  return from_edges("Complete " + std::to_string(n), n, e);
}

graph random_regular(int n, int d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int attempt = 0; attempt < 10000; ++attempt) {
    std::vector<int> stubs;
    for (int v = 0; v < n; ++v)
      for (int k = 0; k < d; ++k) stubs.push_back(v);
    std::shuffle(stubs.begin(), stubs.end(), rng);
    std::set<std::pair<int, int>> e;
    bool simple = true;
    for (std::size_t i = 0; i + 1 < stubs.size() && simple; i += 2) {
      const int a = stubs[i], b = stubs[i + 1];
      if (a == b || e.count({std::min(a, b), std::max(a, b)})) simple = false;
      add(e, a, b);
    }
    if (simple) {
      graph g = from_edges("Regular " + std::to_string(n) + "x" + std::to_string(d), n, e);
      if (connected(g)) return g;
    }
  }
  return from_edges("Regular (failed)", n, {});
}

graph erdos_renyi(int n, double p, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution coin(p);
  std::set<std::pair<int, int>> e;
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b)
      if (coin(rng)) add(e, a, b);
  return from_edges("ER " + std::to_string(n), n, e);
}

graph barabasi_albert(int n, int m, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::set<std::pair<int, int>> e;
  std::vector<int> ends;  // every edge endpoint once: degree-proportional sampling
  for (int a = 0; a <= m && a < n; ++a)
    for (int b = a + 1; b <= m && b < n; ++b) {
      add(e, a, b);
      ends.push_back(a);
      ends.push_back(b);
    }
  for (int v = m + 1; v < n; ++v) {
    std::set<int> targets;
    while (static_cast<int>(targets.size()) < m) {
      std::uniform_int_distribution<std::size_t> pick(0, ends.size() - 1);
      targets.insert(ends[pick(rng)]);
    }
    for (int t : targets) {
      add(e, v, t);
      ends.push_back(v);
      ends.push_back(t);
    }
  }
  return from_edges("BA " + std::to_string(n), n, e);
}

std::vector<int> distances(const graph& g, int src) {
  std::vector<int> d(static_cast<std::size_t>(g.n()), -1);
  std::queue<int> q;
  d[static_cast<std::size_t>(src)] = 0;
  q.push(src);
  while (!q.empty()) {
    int v = q.front();
    q.pop();
    for (int w : g.adj[static_cast<std::size_t>(v)])
      if (d[static_cast<std::size_t>(w)] < 0) {
        d[static_cast<std::size_t>(w)] = d[static_cast<std::size_t>(v)] + 1;
        q.push(w);
      }
  }
  return d;
}

bool connected(const graph& g) {
  if (g.n() == 0) return false;
  auto d = distances(g, 0);
  return std::all_of(d.begin(), d.end(), [](int x) { return x >= 0; });
}

int diameter(const graph& g) {
  int best = 0;
  for (int s = 0; s < g.n(); ++s) {
    auto d = distances(g, s);
    for (int x : d) {
      if (x < 0) return -1;
      best = std::max(best, x);
    }
  }
  return best;
}

bool connected_without(const graph& g, const std::vector<int>& removed) {
  std::vector<char> gone(static_cast<std::size_t>(g.n()), 0);
  for (int r : removed) gone[static_cast<std::size_t>(r)] = 1;
  int start = -1, alive = 0;
  for (int v = 0; v < g.n(); ++v)
    if (!gone[static_cast<std::size_t>(v)]) {
      ++alive;
      if (start < 0) start = v;
    }
  if (alive <= 1) return true;
  std::vector<char> seen(static_cast<std::size_t>(g.n()), 0);
  std::queue<int> q;
  q.push(start);
  seen[static_cast<std::size_t>(start)] = 1;
  int count = 1;
  while (!q.empty()) {
    int v = q.front();
    q.pop();
    for (int w : g.adj[static_cast<std::size_t>(v)])
      if (!gone[static_cast<std::size_t>(w)] && !seen[static_cast<std::size_t>(w)]) {
        seen[static_cast<std::size_t>(w)] = 1;
        ++count;
        q.push(w);
      }
  }
  return count == alive;
}

namespace {
// Max number of internally vertex-disjoint s-t paths (unit capacities on
// split nodes), by repeated BFS augmentation; stops at `cap`.
int disjoint_paths(const graph& g, int s, int t, int cap) {
  const int n = g.n();
  // node v -> in = 2v, out = 2v+1; edge in->out capacity 1 (inf for s, t).
  const int N = 2 * n;
  std::vector<std::vector<int>> adj(static_cast<std::size_t>(N));
  std::vector<int> to, capv;
  auto add_edge = [&](int a, int b, int c) {
    adj[static_cast<std::size_t>(a)].push_back(static_cast<int>(to.size()));
    to.push_back(b);
    capv.push_back(c);
    adj[static_cast<std::size_t>(b)].push_back(static_cast<int>(to.size()));
    to.push_back(a);
    capv.push_back(0);
  };
  const int big = n + 1;
  for (int v = 0; v < n; ++v) add_edge(2 * v, 2 * v + 1, (v == s || v == t) ? big : 1);
  for (int v = 0; v < n; ++v)
    for (int w : g.adj[static_cast<std::size_t>(v)]) add_edge(2 * v + 1, 2 * w, big);
  int flow = 0;
  const int src = 2 * s + 1, dst = 2 * t;
  while (flow < cap) {
    std::vector<int> prev_edge(static_cast<std::size_t>(N), -1);
    std::vector<char> seen(static_cast<std::size_t>(N), 0);
    std::queue<int> q;
    q.push(src);
    seen[static_cast<std::size_t>(src)] = 1;
    while (!q.empty() && !seen[static_cast<std::size_t>(dst)]) {
      int v = q.front();
      q.pop();
      for (int e : adj[static_cast<std::size_t>(v)]) {
        int w = to[static_cast<std::size_t>(e)];
        if (capv[static_cast<std::size_t>(e)] > 0 && !seen[static_cast<std::size_t>(w)]) {
          seen[static_cast<std::size_t>(w)] = 1;
          prev_edge[static_cast<std::size_t>(w)] = e;
          q.push(w);
        }
      }
    }
    if (!seen[static_cast<std::size_t>(dst)]) break;
    for (int v = dst; v != src;) {
      int e = prev_edge[static_cast<std::size_t>(v)];
      capv[static_cast<std::size_t>(e)] -= 1;
      capv[static_cast<std::size_t>(e ^ 1)] += 1;
      v = to[static_cast<std::size_t>(e ^ 1)];
    }
    ++flow;
  }
  return flow;
}
}  // namespace

int vertex_connectivity(const graph& g) {
  const int n = g.n();
  if (!connected(g)) return 0;
  int best = n - 1;
  for (int s = 0; s < n; ++s)
    for (int t = s + 1; t < n; ++t)
      if (!g.has_edge(s, t)) best = std::min(best, disjoint_paths(g, s, t, best));
  return best;
}

}  // namespace confab::linalg
