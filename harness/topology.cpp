#include "harness/topology.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>

#include "harness/toml_util.hpp"

namespace confab::harness {

using namespace confab::linalg;

result<graph, problem> parse_edge_list(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  std::set<std::pair<int, int>> edges;
  int highest = -1, lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (auto h = line.find('#'); h != std::string::npos) line.resize(h);
    const std::string at = name + ": line " + std::to_string(lineno) + ": ";
    std::istringstream ls(line);
    long a = 0, b = 0;
    std::string extra;
    if (!(ls >> a)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      return problem{at + "expected two node numbers"};
    }
    if (!(ls >> b) || (ls >> extra)) return problem{at + "expected exactly two node numbers"};
    if (a < 0 || b < 0 || a > 100000 || b > 100000) return problem{at + "node numbers must be 0 to 100000"};
    if (a == b) return problem{at + "self-loop " + std::to_string(a)};
    edges.insert({static_cast<int>(std::min(a, b)), static_cast<int>(std::max(a, b))});
    highest = std::max(highest, static_cast<int>(std::max(a, b)));
  }
  if (highest < 1) return problem{name + ": no edges"};
  return from_edges(name, highest + 1, edges);
}

result<graph, problem> parse_topology(const std::string& spec, std::uint64_t seed) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  auto number = [](const std::string& text, long lo, long hi, long& out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc{} && end == text.data() + text.size() && out >= lo && out <= hi;
  };
  auto pair = [&](long lo1, long hi1, long lo2, long hi2, long& a, long& b) {
    const auto x = arg.find('x');
    return x != std::string::npos && number(arg.substr(0, x), lo1, hi1, a) && number(arg.substr(x + 1), lo2, hi2, b);
  };
  long a = 0, b = 0;
  if (kind == "ring" && number(arg, 3, 1000000, a)) return ring(static_cast<int>(a));
  if (kind == "torus" && pair(3, 1000, 3, 1000, a, b)) return torus(static_cast<int>(a), static_cast<int>(b));
  if (kind == "petersen" && arg.empty()) return petersen();
  if (kind == "hypercube" && number(arg, 1, 16, a)) return hypercube(static_cast<int>(a));
  if (kind == "complete" && number(arg, 2, 2000, a)) return complete(static_cast<int>(a));
  if (kind == "regular" && pair(3, 1000000, 2, 100, a, b) && (a * b) % 2 == 0 && b < a)
    return random_regular(static_cast<int>(a), static_cast<int>(b), seed);
  if (kind == "ba" && pair(3, 1000000, 1, 50, a, b) && b < a) return barabasi_albert(static_cast<int>(a), static_cast<int>(b), seed);
  if (kind == "er") {
    const auto x = arg.find('x');
    if (x != std::string::npos && number(arg.substr(0, x), 2, 5000, a)) {
      const std::string p_text = arg.substr(x + 1);
      char* end = nullptr;
      const double p = std::strtod(p_text.c_str(), &end);
      if (!p_text.empty() && end == p_text.c_str() + p_text.size() && p > 0 && p <= 1)
        return erdos_renyi(static_cast<int>(a), p, seed);
    }
  }
  if (kind == "file" && !arg.empty()) {
    const auto text = read_file(arg);
    if (!text) return problem{"cannot read edge list " + arg};
    return parse_edge_list(*text, arg);
  }
  return problem{"unknown or malformed topology '" + spec +
                 "' (ring:N with N 3..1000000, torus:RxC with R, C 3..1000, petersen, hypercube:D with D 1..16, "
                 "complete:N with N 2..2000, regular:NxD with N up to 1000000 and D 2..100, er:NxP with N up to 5000, "
                 "ba:NxM with N up to 1000000 and M 1..50, file:PATH)"};
}

}  // namespace confab::harness
