// confab harness: reading TOML settings, with problems that name the file,
// the key and what was wrong.
//
//   auto root = read_toml("scenario.toml");               // result<toml::table, problem>
//   if (!root) return root.error();
//   table_reader r(*root->get("cluster")->as_table(), "cluster.", "scenario.toml");
//   r.only({"seeds", "peers"}).integer("seeds", 1, 7, s.seeds).integer("peers", 2, 1000000, s.peers);
//   if (auto done = r.done(); !done) return done.error();  // the first problem found
//
// A reader keeps the first problem and skips every later step, as the wire
// decoders (protocols/common/codec.hpp) do, so a chain of keys reads as a
// list and stops at the first wrong one.
#pragma once

#include <chrono>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <toml++/toml.h>
#include <vector>

#include "engine/core/result.hpp"
#include "protocols/common/endpoints.hpp"

namespace confab::harness {

inline result<std::string, problem> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return problem{path + ": cannot be read"};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Parses `text` (read from `path`); a syntax error names the line and
// column (Debian's toml++ is built with exceptions; they stop here).
inline result<toml::table, problem> parse_toml(const std::string& text, const std::string& path) {
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return problem{path + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) +
                   ": " + std::string(e.description())};
  }
}

inline result<toml::table, problem> read_toml(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  return parse_toml(*text, path);
}

// ## table_reader
// Reads the keys of one table into settings; an absent key leaves its
// setting as it is (the default). `prefix` is the table's name with a dot
// ("cluster.", "fault[2]."; "" for the root).
class table_reader {
 public:
  table_reader(const toml::table& t, std::string prefix, std::string file)
      : t_(t), prefix_(std::move(prefix)), file_(std::move(file)) {}

  // Refuses any key not in `known`.
  table_reader& only(std::initializer_list<const char*> known) {
    if (problem_) return *this;
    const std::set<std::string> k(known.begin(), known.end());
    for (auto&& [key, node] : t_)
      if (!k.count(std::string(key.str()))) return fail_plain("unknown key '" + prefix_ + std::string(key.str()) + "'");
    return *this;
  }
  table_reader& require(const char* key, const std::string& why = "") {
    if (!problem_ && !t_.get(key)) fail(key, "is required" + (why.empty() ? "" : " (" + why + ")"));
    return *this;
  }
  // An integer in [lo, hi].
  template <class T>
  table_reader& integer(const char* key, long long lo, long long hi, T& out) {
    const auto* node = find(key);
    if (!node) return *this;
    const auto v = node->value<long long>();
    if (!v || !node->is_integer()) return fail(key, "must be an integer");
    if (*v < lo || *v > hi)
      return fail(key, "= " + std::to_string(*v) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    out = static_cast<T>(*v);
    return *this;
  }
  // A duration given as an integer of milliseconds in [lo, hi] (keys end
  // in `_ms`); the default stays exact when the key is absent.
  template <class Rep, class Period>
  table_reader& milliseconds(const char* key, long long lo, long long hi, std::chrono::duration<Rep, Period>& out) {
    if (!find(key)) return *this;
    long long ms = 0;
    integer(key, lo, hi, ms);
    if (!problem_) out = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(std::chrono::milliseconds(ms));
    return *this;
  }
  // A number (integer or floating point) in [lo, hi].
  table_reader& number(const char* key, double lo, double hi, double& out) {
    const auto* node = find(key);
    if (!node) return *this;
    const auto v = node->value<double>();
    if (!v || !(node->is_floating_point() || node->is_integer())) return fail(key, "must be a number");
    if (!(*v >= lo && *v <= hi))
      return fail(key, "= " + std::to_string(*v) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    out = *v;
    return *this;
  }
  table_reader& boolean(const char* key, bool& out) {
    const auto* node = find(key);
    if (!node) return *this;
    if (!node->is_boolean()) return fail(key, "must be true or false");
    out = *node->value<bool>();
    return *this;
  }
  table_reader& text(const char* key, std::string& out) {
    const auto* node = find(key);
    if (!node) return *this;
    auto v = node->value<std::string>();
    if (!v) return fail(key, "must be a string");
    out = *v;
    return *this;
  }
  // One of named values: a braced list, or a table of (name, value) pairs.
  template <class E>
  table_reader& choice(const char* key, std::initializer_list<std::pair<const char*, E>> choices, E& out) {
    return choice_in(key, choices, out);
  }
  template <class E, std::size_t N>
  table_reader& choice(const char* key, const std::pair<const char*, E> (&choices)[N], E& out) {
    return choice_in(key, choices, out);
  }
  // Any check of the caller's: `why` is recorded when `ok` is false.
  table_reader& check(bool ok, const std::string& why) {
    if (!problem_ && !ok) fail_plain(why);
    return *this;
  }

  bool failed() const noexcept { return problem_.has_value(); }
  result<void, problem> done() const {
    if (problem_) return *problem_;
    return {};
  }

 private:
  template <class Choices, class E>
  table_reader& choice_in(const char* key, const Choices& choices, E& out) {
    const auto* node = find(key);
    if (!node) return *this;
    const auto v = node->value<std::string>();
    std::string names;
    for (auto& [name, value] : choices) {
      if (v && *v == name) {
        out = value;
        return *this;
      }
      names += names.empty() ? name : std::string(", ") + name;
    }
    return fail(key, "= '" + (v ? *v : std::string("?")) + "' is not one of: " + names);
  }
  const toml::node* find(const char* key) const { return problem_ ? nullptr : t_.get(key); }
  table_reader& fail(const char* key, const std::string& why) { return fail_plain(prefix_ + key + " " + why); }
  table_reader& fail_plain(const std::string& why) {
    if (!problem_) problem_ = problem{file_ + ": " + why};
    return *this;
  }

  const toml::table& t_;
  std::string prefix_, file_;
  std::optional<problem> problem_;
};

// A list of "IP:PORT" strings under `key` (a node's neighbours, every
// vertex of a run), each parsed; a problem names the entry.
inline result<std::vector<seam::node_id>, problem> endpoint_list(const toml::table& root, const char* key,
                                                                const std::string& path) {
  const auto* list = root.get(key) ? root.get(key)->as_array() : nullptr;
  if (!list) return problem{path + ": " + key + " must be a list of \"IP:PORT\" strings"};
  std::vector<seam::node_id> out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string at = path + ": " + key + "[" + std::to_string(i) + "]";
    auto text = (*list)[i].value<std::string>();
    if (!text) return problem{at + " is not a string"};
    auto id = endpoints::parse_endpoint(*text);
    if (!id) return problem{at + " '" + *text + "': " + id.error().detail};
    out.push_back(*id);
  }
  return out;
}

}  // namespace confab::harness
