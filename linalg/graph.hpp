// confab linalg: graphs for exact consensus.
//
// Undirected simple graphs on nodes 0..n-1, the topologies the paper uses and
// a few more, with diameter and vertex connectivity.
//
//   auto g = linalg::parse_topology("torus:5x5", seed);   // or ring:9, petersen, file:PATH
//   if (!g) die(g.error().text);
//   int d = diameter(*g), k = vertex_connectivity(*g);
//
// Errors are values, `result<graph, problem>`, with a one-line message
// naming what was wrong. linalg depends on nothing of the engine but this
// header-only error idiom (engine/core/result.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/result.hpp"

namespace confab::linalg {

struct graph {
  std::string name;
  std::vector<std::vector<int>> adj;  // sorted neighbour lists
  int n() const noexcept { return static_cast<int>(adj.size()); }
  int degree(int i) const noexcept { return static_cast<int>(adj[static_cast<std::size_t>(i)].size()); }
  int degree_min() const noexcept;
  bool has_edge(int a, int b) const noexcept;
  std::size_t edges() const noexcept;
};


graph ring(int n);
graph torus(int rows, int cols);
graph petersen();
graph hypercube(int d);
graph complete(int n);
graph random_regular(int n, int d, std::uint64_t seed);   // configuration model, retried until simple
graph erdos_renyi(int n, double p, std::uint64_t seed);
graph barabasi_albert(int n, int m, std::uint64_t seed);   // power law by preferential attachment

// Edge list: one "a b" pair of 0-based node numbers per line; '#' comments.
result<graph, problem> parse_edge_list(const std::string& text, const std::string& name);
// "ring:9", "torus:5x5", "petersen", "hypercube:4", "complete:6",
// "regular:20x3" (n x degree), "er:30x0.2", "ba:50x2", "file:PATH".
result<graph, problem> parse_topology(const std::string& spec, std::uint64_t seed);

bool connected(const graph& g);
// Distances from `src` (BFS); -1 for unreachable.
std::vector<int> distances(const graph& g, int src);
int diameter(const graph& g);  // -1 when disconnected
// Vertex connectivity kappa: the least number of nodes whose removal
// disconnects the graph (n-1 for complete graphs), by max-flow over split
// nodes between non-adjacent pairs.
int vertex_connectivity(const graph& g);
// Connected after removing `removed` nodes?
bool connected_without(const graph& g, const std::vector<int>& removed);

}  // namespace confab::linalg
