// confab linalg: graphs for exact consensus.
//
// Undirected simple graphs on nodes 0..n-1, the topologies the paper uses and
// a few more, with diameter and vertex connectivity.
//
//   graph g = linalg::torus(5, 5);
//   int d = diameter(g), k = vertex_connectivity(g);
//
// Nothing here can fail: reading a topology from text (a spec or an edge
// list file, with errors that name what was wrong) is harness/topology.hpp,
// so linalg depends on nothing of the project.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

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

// A graph on nodes 0..n-1 from its edges (each pair once, a < b); the
// topology specs ("ring:9", "file:PATH") are read in harness/topology.hpp.
graph from_edges(std::string name, int n, const std::set<std::pair<int, int>>& edges);

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
