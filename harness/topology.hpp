// confab harness: topologies read from text, for exact consensus and the
// protocols that run on a graph.
//
//   auto g = harness::parse_topology("torus:5x5", seed);   // or ring:9, petersen, file:PATH
//   if (!g) die(g.error().text);
//   int d = linalg::diameter(*g);
//
// Specs: "ring:9", "torus:5x5", "petersen", "hypercube:4", "complete:6",
// "regular:20x3" (n x degree), "er:30x0.2", "ba:50x2", "file:PATH". An edge
// list: one "a b" pair of 0-based node numbers per line, '#' comments.
// A problem names the spec, or the file and line, and what was wrong.
//
// Its own small library (harness_topology): it needs linalg and the error
// idiom only, so linalg stays free of the project and the load-test
// harness free of linalg.
//
// Thread: values.
#pragma once

#include <cstdint>
#include <string>

#include "engine/core/result.hpp"
#include "linalg/graph.hpp"

namespace confab::harness {

result<linalg::graph, problem> parse_edge_list(const std::string& text, const std::string& name);
result<linalg::graph, problem> parse_topology(const std::string& spec, std::uint64_t seed);

}  // namespace confab::harness
