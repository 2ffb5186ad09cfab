// confab voting: what both dialects do to text (trimming, case) and to a
// gathered membership notice (which joins and leaves a client is told).
//
//   auto n = voting::notice_for(changed, my_pin);
//   if (n.listed) for (auto* j : n.joins) say(*j); else summarize(n.joins.size(), n.leaves.size());
//
// Thread: values.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/voting/api.hpp"

namespace confab::voting {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

inline std::string lower(std::string_view s) {
  std::string o(s);
  std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return o;
}

inline std::string upper(std::string_view s) {
  std::string o(s);
  std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return o;
}

// ## number
// A whole decimal number of 1 to `digits_max` (at most 18) digits, else nullopt.
inline std::optional<std::uint64_t> number(std::string_view s, std::size_t digits_max = 18) {
  if (s.empty() || s.size() > std::min<std::size_t>(digits_max, 18)) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// ## quoted
// A client's text as an error line quotes it: at most `max` bytes, and
// every byte outside printable ASCII shown as '?', so garbage sent in is
// never written back raw (to a terminal, or into a log).
inline std::string quoted(std::string_view s, std::size_t max) {
  std::string o(s.substr(0, max));
  for (auto& c : o)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  return o;
}

// ## notice_for
// The joins of `m` other than `self`'s own and its leaves; `listed` when
// they are few enough (5) to be told one line each, else a summary line.
struct member_notice {
  std::vector<const joined*> joins;
  const std::vector<pin>& leaves;
  bool listed;
};
inline member_notice notice_for(const members_changed& m, pin self) {
  std::vector<const joined*> joins;
  for (auto& j : m.joins)
    if (j.who != self) joins.push_back(&j);
  const bool listed = joins.size() + m.leaves.size() <= 5;
  return member_notice{std::move(joins), m.leaves, listed};
}

}  // namespace confab::voting
