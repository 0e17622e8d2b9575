// lens/math/detail/text.hpp: small byte-level helpers shared by the MATH
// extractor, normaliser and equivalence checker. Everything here is linear in
// the input and never allocates more than one output string.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lens::math::detail {

inline constexpr std::size_t npos = std::string_view::npos;

inline bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
inline char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
inline char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

inline std::string_view trim(std::string_view s) {
  std::size_t begin = 0;
  std::size_t end = s.size();
  while (begin < end && is_space(s[begin])) ++begin;
  while (end > begin && is_space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}
inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// True when `s` holds the control word `name` (letters only, without the
/// backslash) at `pos` (which holds the backslash), not followed by another
/// letter: `\left(` matches "left", `\leftarrow` does not.
inline bool command_at(std::string_view s, std::size_t pos, std::string_view name) {
  if (pos >= s.size() || s[pos] != '\\') return false;
  if (s.size() - pos - 1 < name.size()) return false;
  if (s.compare(pos + 1, name.size(), name) != 0) return false;
  const std::size_t after = pos + 1 + name.size();
  return after >= s.size() || !is_letter(s[after]);
}

/// Index of the `}` closing the group opened by s[open] == '{', or npos when the
/// text ends first. Escaped braces (`\{`, `\}`) are literal characters in TeX
/// and do not count; `\\` is skipped as a pair so `\\}` still closes.
inline std::size_t match_brace(std::string_view s, std::size_t open) {
  std::size_t depth = 0;
  for (std::size_t i = open; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (depth == 0) return npos;
      if (--depth == 0) return i;
    }
  }
  return npos;
}

/// Last position of `needle` (lower-case ASCII) in `s`, ignoring ASCII case.
/// Scans backwards, so a marker near the end of a long text is found fast;
/// O(|s| * |needle|) at worst with a short constant needle.
inline std::size_t rfind_ignore_case(std::string_view s, std::string_view needle) {
  if (needle.empty() || s.size() < needle.size()) return npos;
  const char first = needle[0];
  for (std::size_t start = s.size() - needle.size() + 1; start-- > 0;) {
    if (to_lower(s[start]) != first) continue;
    std::size_t k = 1;
    while (k < needle.size() && to_lower(s[start + k]) == needle[k]) ++k;
    if (k == needle.size()) return start;
  }
  return npos;
}

/// For every `{` / `}` (not escaped) in `s`, the index of its partner; npos for
/// unmatched braces and for every other byte. One pass with a stack, so
/// passes that need "the end of this group" stay linear however deep the nesting.
inline std::vector<std::size_t> brace_partners(std::string_view s) {
  std::vector<std::size_t> partner(s.size(), npos);
  std::vector<std::size_t> open;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (c == '{') {
      open.push_back(i);
    } else if (c == '}' && !open.empty()) {
      partner[i] = open.back();
      partner[open.back()] = i;
      open.pop_back();
    }
  }
  return partner;
}

}  // namespace lens::math::detail
