// confab harness: small helpers for reading TOML settings with errors that
// name the file, the key and what was wrong.
#pragma once

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <toml++/toml.h>

namespace confab::harness {

inline std::string read_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot be read";
    return {};
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Reads an integer key in [lo, hi] into `out` (left as is when absent).
template <class T>
bool integer(const toml::table& t, const std::string& table, const char* key, long long lo, long long hi, T& out,
             std::string& error, const std::string& file) {
  const auto* node = t.get(key);
  if (!node) return true;
  const auto v = node->value<long long>();
  if (!v || !node->is_integer()) {
    error = file + ": " + table + key + " must be an integer";
    return false;
  }
  if (*v < lo || *v > hi) {
    error = file + ": " + table + key + " = " + std::to_string(*v) + " is outside " + std::to_string(lo) + ".." +
            std::to_string(hi);
    return false;
  }
  out = static_cast<T>(*v);
  return true;
}

inline bool only_known(const toml::table& t, const std::string& table, std::initializer_list<const char*> known,
                std::string& error, const std::string& file) {
  std::set<std::string> k(known.begin(), known.end());
  for (auto&& [key, node] : t) {
    if (!k.count(std::string(key.str()))) {
      error = file + ": unknown key '" + table + std::string(key.str()) + "'";
      return false;
    }
  }
  return true;
}

// Parses `text` (read from `path`); a syntax error becomes `error` naming
// the line and column (Debian's toml++ is built with exceptions; they stop
// here).
inline bool parse_toml(const std::string& text, const std::string& path, toml::table& out, std::string& error) {
  try {
    out = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    error = path + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) + ": " +
            std::string(e.description());
    return false;
  }
  return true;
}

}  // namespace confab::harness
