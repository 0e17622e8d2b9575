// lens/math/equivalence.hpp: is a candidate answer the reference answer?
//
// Both answers are normalised (normalize.hpp), then compared, first match wins:
//   1. equal canonical strings;
//   2. matrices (`\begin{pmatrix}` / `bmatrix` / ...): same shape, cells equivalent;
//   3. unions `A \cup B`: the same pieces in any order;
//   4. sets `\{a, b\}` and bare lists `a, b` (solutions "separated by commas"):
//      the same elements in any order; `a \pm b` counts as `a+b, a-b`;
//   5. tuples and intervals `(a, b]`: the same brackets, elements in order;
//   6. numbers by value (see detail/numeric.hpp): exact rationals exactly,
//      a written decimal never equals an irrational value (`3.14159` is not `\pi`),
//      everything else at relative tolerance 1e-13;
//   7. text answers (letters only) ignoring case;
//   8. anything else (variables, functions, equations, inequalities) by the
//      expression layer (expression.hpp), when reward_settings::expression_layer
//      is on: by value at random points, exactly where the answers are rational.
//      When normalisation dropped a short left side (`y = 2x + 3` -> `2x+3`) and
//      the answers still differ, the two relations are compared whole as well,
//      so `y = 3 + 2x` matches `2x + 3 = y` and `5 = x` matches `x = 5`.
// Otherwise not equivalent: the checker is conservative and says "correct"
// only when the two answers really are the same. An empty answer (after
// normalisation) is never equivalent to anything. Rounded decimals
// (`4.666667` for `\frac{14}{3}`) count only with
// reward_settings::accept_rounded_decimals (off by default; see settings.hpp).
#pragma once

#include <lens/math/detail/numeric.hpp>
#include <lens/math/detail/text.hpp>
#include <lens/math/expression.hpp>
#include <lens/math/normalize.hpp>
#include <lens/math/settings.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lens::math {
namespace detail {

/// Structure deeper than this compares by canonical string only.
inline constexpr int max_structure_depth = 6;
/// Unordered matching is quadratic; longer lists compare as multisets of strings.
inline constexpr std::size_t max_unordered_elements = 32;

inline bool is_open_bracket(std::string_view s, std::size_t i) {
  return s[i] == '(' || s[i] == '[' || s[i] == '{';
}
inline bool is_close_bracket(std::string_view s, std::size_t i) {
  return s[i] == ')' || s[i] == ']' || s[i] == '}';
}

/// Splits `s` at top-level occurrences of `separator` (a single character, or
/// `\\`, or a control word such as `\cup`). Brackets of every kind count as
/// nesting, in any pairing, because intervals mix them: `(3,4]`.
inline std::vector<std::string_view> split_top_level(std::string_view s, std::string_view separator) {
  std::vector<std::string_view> parts;
  std::size_t depth = 0;
  std::size_t start = 0;
  const bool control_word = separator.size() > 1 && separator[0] == '\\' && is_letter(separator[1]);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      if (depth == 0 && s.compare(i, separator.size(), separator) == 0 &&
          (!control_word || command_at(s, i, separator.substr(1)))) {
        parts.push_back(s.substr(start, i - start));
        start = i + separator.size();
        i = start - 1;
        continue;
      }
      if (i + 1 < s.size()) {
        // `\{` and `\}` are set brackets; `\left(` never survives normalisation.
        if (s[i + 1] == '{') ++depth;
        if (s[i + 1] == '}' && depth > 0) --depth;
      }
      ++i;
      continue;
    }
    if (is_open_bracket(s, i)) {
      ++depth;
    } else if (is_close_bracket(s, i)) {
      if (depth > 0) --depth;
    } else if (depth == 0 && separator.size() == 1 && c == separator[0]) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

/// True when the bracket opening at s[0] closes exactly at the last byte.
inline bool wrapped_by_one_bracket_pair(std::string_view s) {
  if (s.size() < 2 || !is_open_bracket(s, 0)) return false;
  std::size_t depth = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      if (i + 1 < s.size() && s[i + 1] == '{') ++depth;
      if (i + 1 < s.size() && s[i + 1] == '}' && depth > 0) --depth;
      ++i;
      continue;
    }
    if (is_open_bracket(s, i)) ++depth;
    if (is_close_bracket(s, i) && depth > 0 && --depth == 0) return i == s.size() - 1;
  }
  return false;
}

inline bool is_set_literal(std::string_view s) {
  return s.size() >= 4 && starts_with(s, "\\{") && ends_with(s, "\\}");
}

struct matrix_cells {
  std::vector<std::vector<std::string_view>> rows;
};

/// Cells of `\begin{?matrix}...\end{?matrix}` (pmatrix, bmatrix, vmatrix,
/// Bmatrix, Vmatrix, matrix, array), or nullopt.
inline std::optional<matrix_cells> parse_matrix(std::string_view s) {
  if (!starts_with(s, "\\begin{")) return std::nullopt;
  const std::size_t name_end = s.find('}', 7);
  if (name_end == npos) return std::nullopt;
  const std::string_view name = s.substr(7, name_end - 7);
  if (!(ends_with(name, "matrix") || name == "array")) return std::nullopt;
  std::string end_marker = "\\end{";
  end_marker += name;
  end_marker += '}';
  if (!ends_with(s, end_marker)) return std::nullopt;
  std::string_view body = s.substr(name_end + 1, s.size() - name_end - 1 - end_marker.size());
  if (name == "array" && !body.empty() && body.front() == '{') {
    const std::size_t spec_end = match_brace(body, 0);  // column spec `{cc}`
    if (spec_end == npos) return std::nullopt;
    body.remove_prefix(spec_end + 1);
  }
  matrix_cells cells;
  for (std::string_view row : split_top_level(body, "\\\\")) {
    if (row.empty()) continue;  // a trailing `\\`
    cells.rows.push_back(split_top_level(row, "&"));
  }
  if (cells.rows.empty()) return std::nullopt;
  return cells;
}

/// Bounds the total work of one comparison: nested unordered lists could
/// otherwise compare k^depth pairs. Each call spends the length of its inputs;
/// when the budget runs out the answers are judged different (conservative).
struct comparison_budget {
  std::size_t remaining = 0;
  const reward_settings* settings = nullptr;  // never null inside equivalent_normalized
  bool spend(std::size_t amount) {
    if (amount > remaining) {
      remaining = 0;
      return false;
    }
    remaining -= amount;
    return true;
  }
};

inline bool equivalent_normalized(std::string_view a, std::string_view b, int depth, comparison_budget& budget);

/// A top-level `=`, `<`, `>`, `\le`, `\ge`, `\ne` (and their variants).
inline bool has_relation(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=' || s[i] == '<' || s[i] == '>') return true;
    // `\le`, `\leq`, `\ge`, `\ne`, ... (spaces are gone: `x\ley` is `x \le y`).
    if (s[i] == '\\' && (s.compare(i, 3, "\\le") == 0 || s.compare(i, 3, "\\ge") == 0 || s.compare(i, 3, "\\ne") == 0)) {
      return true;
    }
  }
  return false;
}

/// With reward_settings::accept_rounded_decimals: `decimal` (canonical, with a
/// point) has at least `places` digits after the point and is `value` rounded
/// to those digits: |decimal - value| <= half a unit in its last place.
inline bool rounded_decimal_matches(const std::string& decimal, const numeric_value& value, int places) {
  const std::size_t point = decimal.find('.');
  if (point == npos || value.approx.imag() != 0.0) return false;
  const int digits = static_cast<int>(decimal.size() - point - 1);
  if (digits < places || digits > 15) return false;
  const double written = std::strtod(decimal.c_str(), nullptr);
  const double half_unit = 0.5 * std::pow(10.0, -digits);
  // A hair of slack for the binary representation of both numbers.
  const double slack = 4 * 2.220446049250313e-16 * std::max(std::abs(written), 1.0);
  return std::abs(written - value.approx.real()) <= half_unit + slack;
}

/// `a\pm b` -> `a+b`, `a-b` (one top-level \pm or \mp per element).
inline void expand_plus_minus(std::string_view element, std::vector<std::string>& out) {
  if (element.find("\\pm") == npos && element.find("\\mp") == npos) {
    out.emplace_back(element);
    return;
  }
  const auto pieces = split_top_level(element, "\\pm");
  const auto mp_pieces = split_top_level(element, "\\mp");
  if (pieces.size() == 2 && mp_pieces.size() == 1) {
    out.push_back(std::string(pieces[0]) + "+" + std::string(pieces[1]));
    out.push_back(std::string(pieces[0]) + "-" + std::string(pieces[1]));
  } else if (mp_pieces.size() == 2 && pieces.size() == 1) {
    out.push_back(std::string(mp_pieces[0]) + "-" + std::string(mp_pieces[1]));
    out.push_back(std::string(mp_pieces[0]) + "+" + std::string(mp_pieces[1]));
  } else {
    out.emplace_back(element);
  }
}

inline std::vector<std::string> list_elements(std::string_view s) {
  std::vector<std::string> out;
  for (std::string_view element : split_top_level(s, ",")) expand_plus_minus(element, out);
  return out;
}

inline bool unordered_match(std::vector<std::string> a, std::vector<std::string> b, int depth,
                            comparison_budget& budget) {
  if (a.size() != b.size()) return false;
  for (const auto& element : a) {
    if (element.empty()) return false;
  }
  if (a.size() > max_unordered_elements) {
    // Multiset equality of the canonical strings, in linear time.
    std::unordered_map<std::string_view, std::ptrdiff_t> count;
    count.reserve(a.size());
    for (const auto& element : a) ++count[element];
    for (const auto& element : b) {
      const auto it = count.find(element);
      if (it == count.end() || it->second == 0) return false;
      --it->second;
    }
    return true;
  }
  std::vector<char> used(b.size(), 0);
  for (const auto& element : a) {
    bool found = false;
    for (std::size_t k = 0; k < b.size() && !found; ++k) {
      if (!used[k] && equivalent_normalized(element, b[k], depth + 1, budget)) {
        used[k] = 1;
        found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

inline bool ordered_match(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b, int depth,
                          comparison_budget& budget) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (!equivalent_normalized(a[k], b[k], depth + 1, budget)) return false;
  }
  return true;
}

inline bool is_plain_word(std::string_view s) {
  if (s.size() < 2) return false;
  for (char c : s) {
    if (!is_letter(c)) return false;
  }
  return true;
}

inline bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (to_lower(a[k]) != to_lower(b[k])) return false;
  }
  return true;
}

/// Compares two normalised answers (the numbered rules in the file comment).
inline bool equivalent_normalized(std::string_view a, std::string_view b, int depth, comparison_budget& budget) {
  // A leading unary plus never changes a value: `(2, +\infty)` is `(2, \infty)`.
  if (a.size() > 1 && a.front() == '+') a.remove_prefix(1);
  if (b.size() > 1 && b.front() == '+') b.remove_prefix(1);
  if (a.empty() || b.empty()) return false;
  if (a == b) return true;
  if (depth > max_structure_depth || !budget.spend(a.size() + b.size() + 1)) return false;

  const auto matrix_a = parse_matrix(a);
  const auto matrix_b = parse_matrix(b);
  if (matrix_a || matrix_b) {
    if (!matrix_a || !matrix_b || matrix_a->rows.size() != matrix_b->rows.size()) return false;
    for (std::size_t r = 0; r < matrix_a->rows.size(); ++r) {
      if (!ordered_match(matrix_a->rows[r], matrix_b->rows[r], depth, budget)) return false;
    }
    return true;
  }

  const auto union_a = split_top_level(a, "\\cup");
  const auto union_b = split_top_level(b, "\\cup");
  if (union_a.size() > 1 || union_b.size() > 1) {
    return unordered_match(std::vector<std::string>(union_a.begin(), union_a.end()),
                           std::vector<std::string>(union_b.begin(), union_b.end()), depth, budget);
  }

  // Sets and bare lists: unordered. A set may match a bare list (both are
  // "all the solutions"), never a tuple.
  const bool set_a = is_set_literal(a);
  const bool set_b = is_set_literal(b);
  const bool bracket_a = !set_a && wrapped_by_one_bracket_pair(a);
  const bool bracket_b = !set_b && wrapped_by_one_bracket_pair(b);
  const std::string_view inner_a = set_a ? a.substr(2, a.size() - 4) : a;
  const std::string_view inner_b = set_b ? b.substr(2, b.size() - 4) : b;
  if (set_a || set_b) {
    if (bracket_a || bracket_b) return false;
    return unordered_match(list_elements(inner_a), list_elements(inner_b), depth, budget);
  }

  // Tuples and intervals: brackets must agree, elements in order.
  const auto tuple_a = bracket_a ? split_top_level(a.substr(1, a.size() - 2), ",") : std::vector<std::string_view>{};
  const auto tuple_b = bracket_b ? split_top_level(b.substr(1, b.size() - 2), ",") : std::vector<std::string_view>{};
  const bool is_tuple_a = bracket_a && tuple_a.size() > 1;
  const bool is_tuple_b = bracket_b && tuple_b.size() > 1;
  if (is_tuple_a || is_tuple_b) {
    if (!is_tuple_a || !is_tuple_b) return false;
    if (a.front() != b.front() || a.back() != b.back()) return false;
    return ordered_match(tuple_a, tuple_b, depth, budget);
  }

  auto list_a = list_elements(a);
  auto list_b = list_elements(b);
  if (list_a.size() > 1 || list_b.size() > 1) return unordered_match(std::move(list_a), std::move(list_b), depth, budget);

  // `(5)` is just 5 in parentheses.
  if (bracket_a && a.front() == '(' && a.back() == ')') return equivalent_normalized(a.substr(1, a.size() - 2), b, depth + 1, budget);
  if (bracket_b && b.front() == '(' && b.back() == ')') return equivalent_normalized(a, b.substr(1, b.size() - 2), depth + 1, budget);

  const auto literal_a = canonical_decimal(a);
  const auto literal_b = canonical_decimal(b);
  if (literal_a && literal_b) return *literal_a == *literal_b;
  const auto value_a = evaluate_numeric(a);
  if (value_a) {
    const auto value_b = evaluate_numeric(b);
    if (value_b) {
      // A written decimal such as 3.14159265358979 is a rational; it is never
      // the irrational value \pi or \sqrt{2}, however many digits agree.
      const bool decimal_a = literal_a && literal_a->find('.') != npos;
      const bool decimal_b = literal_b && literal_b->find('.') != npos;
      if (numeric_values_equal(*value_a, *value_b) && !((decimal_a && !value_b->exact) || (decimal_b && !value_a->exact))) {
        return true;
      }
      if (budget.settings->accept_rounded_decimals && decimal_a != decimal_b) {
        // The digits as written (`0.001990` has six places), not the canonical literal.
        return rounded_decimal_matches(std::string(decimal_a ? a : b), decimal_a ? *value_b : *value_a,
                                       budget.settings->rounded_decimal_places);
      }
      return false;
    }
  }

  if (is_plain_word(a) && is_plain_word(b)) return equal_ignoring_case(a, b);
  return budget.settings->expression_layer && expressions_equivalent(a, b);
}

}  // namespace detail

/// True when `candidate` is the same answer as `reference` (see the file
/// comment). Symmetric in intent; linear in the input size up to the bounded
/// structure depth. Never throws except std::bad_alloc.
inline bool is_equivalent(std::string_view reference, std::string_view candidate, const reward_settings& settings) {
  const std::string a = normalize_answer(reference);
  const std::string b = normalize_answer(candidate);
  detail::comparison_budget budget{64 * (a.size() + b.size()) + 4096, &settings};
  if (detail::equivalent_normalized(a, b, 0, budget)) return true;
  if (!settings.expression_layer) return false;
  // A dropped left side (`y = ...`) may be what makes them differ: compare the
  // relations as written. Only when both sides hold one (cheap test first).
  if (!detail::has_relation(reference) || !detail::has_relation(candidate)) return false;
  const std::string whole_a = detail::normalize(reference, false);
  const std::string whole_b = detail::normalize(candidate, false);
  if (whole_a == a && whole_b == b) return false;
  return detail::has_relation(whole_a) && detail::has_relation(whole_b) && expressions_equivalent(whole_a, whole_b);
}

/// is_equivalent with the default reward_settings.
inline bool is_equivalent(std::string_view reference, std::string_view candidate) {
  return is_equivalent(reference, candidate, reward_settings{});
}

}  // namespace lens::math
