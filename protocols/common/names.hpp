// confab protocols: tables of names for enumerations.
//
// A protocol lists its enumerators' names once, as {name, value} pairs
// (the form harness::table_reader::choice also reads config keys with),
// and these three give the name of a value, the value of a name and the
// list for error messages and help.
//
//   inline constexpr std::pair<const char*, mode> mode_names[] = {{"laplacian", mode::laplacian}, ...};
//   name_in(mode_names, m);            // "laplacian" ("?" for a value not listed)
//   value_in(mode_names, "push-sum");  // std::optional<mode>
//   names_list(mode_names);            // "laplacian, average-preserving, push-sum"
//
// Thread: values.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace confab::names {

template <class E, std::size_t N>
constexpr const char* name_in(const std::pair<const char*, E> (&names)[N], E value) noexcept {
  for (const auto& [text, v] : names)
    if (v == value) return text;
  return "?";
}

template <class E, std::size_t N>
constexpr std::optional<E> value_in(const std::pair<const char*, E> (&names)[N], std::string_view name) noexcept {
  for (const auto& [text, v] : names)
    if (name == text) return v;
  return std::nullopt;
}

template <class E, std::size_t N>
std::string names_list(const std::pair<const char*, E> (&names)[N]) {
  std::string s;
  for (const auto& [text, v] : names) s += (s.empty() ? "" : ", ") + std::string(text);
  return s;
}

}  // namespace confab::names
