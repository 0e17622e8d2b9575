// lens/math/normalize.hpp: puts a final answer into a canonical string so that
// equal answers written differently compare equal. Covers the rules of the
// Hendrycks MATH, Minerva and PRM800K normalisers:
//   outer `$...$`, `\(...\)`, `\boxed{}`; `\left`/`\right`/`\big`; spacing
//   (`\!`, `\,`, `\;`, `\ `, `~`) and all whitespace; `\dfrac`/`\tfrac`/`\cfrac`;
//   `\frac12` -> `\frac{1}{2}`, `\sqrt3` -> `\sqrt{3}`; degrees (`^\circ`,
//   `^{\circ}`, `°`, the word); `\$`, `$`, `\%`, `%`; `\text{...}` units and
//   trailing unit words; `\text`/`\mbox`/`\mathrm`/`\textbf` unwrapped;
//   thousands separators (`10,\!080`, `58,500`, `{,}`); `.5` -> `0.5`;
//   `x = 5` -> `5` and `x \in S` -> `S` for a short left side, also for
//   solutions of one variable (`x = 2, x = 3` -> `2,3`) and a tuple
//   (`(x,y) = (1,2)` -> `(1,2)`);
//   `\text{(C)}` / `(c)` -> `C`; `\mathbb{R}` -> `(-\infty,\infty)`;
//   " and " between items -> `,`; trailing `.`.
// Every pass is one scan of the input, so normalisation is linear time.
#pragma once

#include <lens/math/detail/text.hpp>

#include <array>
#include <string>
#include <string_view>

namespace lens::math {
namespace detail {

/// Strips outer math delimiters and `\boxed{...}` / `\fbox{...}`.
inline std::string_view strip_outer_wrappers(std::string_view s) {
  for (int round = 0; round < 8; ++round) {
    s = trim(s);
    while (!s.empty() && s.back() == '.') s = trim(s.substr(0, s.size() - 1));  // `$5$.`
    if (s.size() >= 4 && starts_with(s, "$$") && ends_with(s, "$$")) {
      s = s.substr(2, s.size() - 4);
    } else if (s.size() >= 2 && s.front() == '$' && s.back() == '$') {
      s = s.substr(1, s.size() - 2);
    } else if (s.size() >= 4 && (starts_with(s, "\\(") && ends_with(s, "\\)"))) {
      s = s.substr(2, s.size() - 4);
    } else if (s.size() >= 4 && (starts_with(s, "\\[") && ends_with(s, "\\]"))) {
      s = s.substr(2, s.size() - 4);
    } else if (command_at(s, 0, "boxed") || command_at(s, 0, "fbox")) {
      std::size_t open = s[1] == 'b' ? 6 : 5;
      while (open < s.size() && is_space(s[open])) ++open;
      if (open >= s.size() || s[open] != '{' || match_brace(s, open) != s.size() - 1) break;
      s = s.substr(open + 1, s.size() - open - 2);
    } else {
      break;
    }
  }
  return trim(s);
}

/// One scan that rewrites control sequences: drops sizing and spacing
/// commands, `\$`, `\%`, `$`, `%`, degree marks; maps `\dfrac`/`\tfrac` to
/// `\frac` and the text-like commands to `\text`; folds whitespace to one space.
inline std::string rewrite_commands(std::string_view s) {
  static constexpr std::array<std::string_view, 12> dropped_words = {
      "left", "right", "bigl", "bigr", "Bigl", "Bigr", "big", "Big", "displaystyle", "textstyle", "circ", "degree"};
  static constexpr std::array<std::string_view, 10> text_like = {
      "text", "mbox", "textbf", "textrm", "mathrm", "mathbf", "textit", "mathit", "textnormal", "textup"};
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\\') {
      if (i + 1 >= s.size()) {
        ++i;
        continue;
      }
      const char next = s[i + 1];
      if (!is_letter(next)) {
        // `\!` `\,` `\;` `\:` `\ ` `\>` are spacing; `\$` and `\%` are units.
        if (next == '!' || next == ',' || next == ';' || next == ':' || next == ' ' || next == '>' ||
            next == '$' || next == '%' || is_space(next)) {
          out += ' ';
        } else {
          out += c;
          out += next;
        }
        i += 2;
        continue;
      }
      std::size_t end = i + 1;
      while (end < s.size() && is_letter(s[end])) ++end;
      const std::string_view name = s.substr(i + 1, end - i - 1);
      bool handled = false;
      for (std::string_view word : dropped_words) {
        if (name == word) {
          handled = true;
          break;
        }
      }
      if (!handled) {
        if (name == "dfrac" || name == "tfrac" || name == "cfrac") {
          out += "\\frac";
        } else if (name == "infinity") {
          out += "\\infty";
        } else {
          bool text = false;
          for (std::string_view word : text_like) text = text || name == word;
          if (text) {
            out += "\\text";
          } else {
            out += '\\';
            out += name;
          }
        }
      }
      i = end;
      continue;
    }
    if (c == '^') {
      // `^\circ`, `^{\circ}`, `^\degree`: degrees.
      std::size_t j = i + 1;
      while (j < s.size() && is_space(s[j])) ++j;
      bool braced = j < s.size() && s[j] == '{';
      if (braced) {
        ++j;
        while (j < s.size() && is_space(s[j])) ++j;
      }
      if (command_at(s, j, "circ") || command_at(s, j, "degree")) {
        j += s[j + 1] == 'c' ? 5 : 7;
        if (braced) {
          while (j < s.size() && is_space(s[j])) ++j;
          if (j < s.size() && s[j] == '}') {
            i = j + 1;
            continue;
          }
        } else {
          i = j;
          continue;
        }
      }
      out += c;
      ++i;
      continue;
    }
    if (c == '$' || c == '%' || c == '~') {
      if (c == '~') out += ' ';
      ++i;
      continue;
    }
    if (static_cast<unsigned char>(c) == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xB0) {
      i += 2;  // UTF-8 degree sign
      continue;
    }
    if (c == '{' && i + 2 < s.size() && s[i + 1] == ',' && s[i + 2] == '}') {
      i += 3;  // `1{,}000`
      continue;
    }
    if (is_space(c)) {
      if (!out.empty() && out.back() != ' ') out += ' ';
      ++i;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

inline bool is_unit_word(std::string_view word) {
  static constexpr std::array<std::string_view, 72> units = {
      "degree", "degrees", "deg", "cm", "centimeter", "centimeters", "centimetre", "centimetres", "meter", "meters",
      "metre", "metres", "km", "kilometer", "kilometers", "mm", "mile", "miles", "mph", "ft", "foot", "feet", "inch",
      "inches", "yard", "yards", "second", "seconds", "sec", "minute", "minutes", "min", "hour", "hours", "hr", "hrs",
      "day", "days", "week", "weeks", "month", "months", "year", "years", "dollar", "dollars", "cent", "cents",
      "point", "points", "unit", "units", "square", "sq", "cubic", "gram", "grams", "kg", "pound", "pounds", "lb",
      "lbs", "ounce", "ounces", "liter", "liters", "litre", "litres", "ml", "percent", "students", "people"};
  for (std::string_view unit : units) {
    if (unit.size() != word.size()) continue;
    bool same = true;
    for (std::size_t k = 0; k < word.size() && same; ++k) same = to_lower(word[k]) == unit[k];
    if (same) return true;
  }
  return false;
}

inline bool contains_digit_or_group(std::string_view s) {
  for (char c : s) {
    if (is_digit(c) || c == '}' || c == ')') return true;
  }
  return false;
}

inline std::string_view strip_power_suffix(std::string_view s) {
  for (std::string_view suffix : {"^2", "^3", "^{2}", "^{3}"}) {
    if (ends_with(s, suffix)) return trim(s.substr(0, s.size() - suffix.size()));
  }
  return s;
}

/// Removes units at the end of a quantity: `5.4 \text{ cents}`,
/// `864 \text{ inches}^2`, `90 degrees`, `5 square feet`. Only when what is left
/// still holds a number or a group, so a text answer such as `\text{east}` stays.
inline std::string_view strip_trailing_units(std::string_view s) {
  for (int round = 0; round < 4; ++round) {
    s = trim(s);
    const std::string_view base = strip_power_suffix(s);
    std::string_view rest = base;
    if (!base.empty() && base.back() == '}') {
      // Find the `{` matching the final `}` by scanning backwards.
      std::size_t depth = 0;
      std::size_t open = npos;
      for (std::size_t k = base.size(); k-- > 0;) {
        if (base[k] == '}' && !(k > 0 && base[k - 1] == '\\')) ++depth;
        if (base[k] == '{' && !(k > 0 && base[k - 1] == '\\')) {
          if (--depth == 0) {
            open = k;
            break;
          }
        }
      }
      if (open == npos || open < 5 || base.compare(open - 5, 5, "\\text") != 0) break;
      const std::string_view content = base.substr(open + 1, base.size() - open - 2);
      bool wordy = !trim(content).empty();
      for (char c : content) wordy = wordy && (is_letter(c) || c == ' ' || c == '.');
      if (!wordy) break;
      rest = trim(base.substr(0, open - 5));
    } else {
      std::size_t start = base.size();
      while (start > 0 && is_letter(base[start - 1])) --start;
      if (start == base.size() || start == 0 || base[start - 1] != ' ') break;
      if (!is_unit_word(base.substr(start))) break;
      rest = trim(base.substr(0, start));
    }
    if (rest.empty() || !contains_digit_or_group(rest)) break;
    s = rest;
  }
  return s;
}

/// `\text{abc}` -> `abc` everywhere (the command and its braces go, the
/// content stays), using precomputed brace partners to stay linear.
inline std::string unwrap_text(std::string_view s) {
  if (s.find("\\text") == npos) return std::string(s);
  const std::vector<std::size_t> partner = brace_partners(s);
  std::vector<char> drop(s.size(), 0);
  for (std::size_t i = 0; i + 5 < s.size(); ++i) {
    if (!command_at(s, i, "text")) continue;
    std::size_t open = i + 5;
    while (open < s.size() && s[open] == ' ') ++open;
    if (open >= s.size() || s[open] != '{' || partner[open] == npos) continue;
    for (std::size_t k = i; k <= open; ++k) drop[k] = 1;
    drop[partner[open]] = 1;
  }
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!drop[i]) out += s[i];
  }
  return out;
}

/// " and " / ", and " / " or " between items -> "," (Minerva, PRM800K).
inline std::string words_to_commas(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ' && (s.compare(i, 5, " and ") == 0 || s.compare(i, 4, " or ") == 0)) {
      while (!out.empty() && (out.back() == ' ' || out.back() == ',')) out.pop_back();
      out += ',';
      i += s[i + 1] == 'a' ? 5 : 4;
      continue;
    }
    out += s[i];
    ++i;
  }
  return out;
}

/// `x = 5` -> `5` and `x \in [1,2]` -> `[1,2]` when the left side is a short
/// variable name (at most two characters, or one control word such as `\theta`).
inline std::string_view strip_variable_assignment(std::string_view s) {
  int depth = 0;
  std::size_t eq = npos;
  int count = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      if (command_at(s, i, "in") && depth == 0 && count == 0) {
        eq = i;
        count = 1;
        i += 2;
        continue;
      }
      ++i;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == '=' && depth == 0) {
      if (i > 0 && (s[i - 1] == '<' || s[i - 1] == '>' || s[i - 1] == '!')) return s;
      if (i + 1 < s.size() && s[i + 1] == '=') return s;
      eq = i;
      ++count;
    }
  }
  if (count != 1) return s;
  std::string_view lhs = trim(s.substr(0, eq));
  const bool is_in = s[eq] == '\\';
  std::string_view rhs = trim(s.substr(eq + (is_in ? 3 : 1)));
  if (lhs.empty() || rhs.empty()) return s;
  bool short_name = lhs.size() <= 2 && is_letter(lhs[0]);
  for (char c : lhs) short_name = short_name && (is_letter(c) || is_digit(c));
  bool control_word = lhs.size() > 1 && lhs[0] == '\\';
  for (std::size_t k = 1; k < lhs.size() && control_word; ++k) control_word = is_letter(lhs[k]);
  // `(x, y) = (1, 2)`: a tuple of short names.
  bool name_tuple = lhs.size() >= 5 && lhs.front() == '(' && lhs.back() == ')' && !is_in;
  if (name_tuple) {
    std::size_t start = 1;
    for (std::size_t k = 1; k < lhs.size() && name_tuple; ++k) {
      if (lhs[k] != ',' && lhs[k] != ')') continue;
      const std::string_view name = trim(lhs.substr(start, k - start));
      bool ok = !name.empty() && name.size() <= 2 && is_letter(name[0]);
      for (char c : name) ok = ok && (is_letter(c) || is_digit(c));
      name_tuple = ok;
      start = k + 1;
    }
  }
  return (short_name || control_word || name_tuple) ? rhs : s;
}

/// `x = 2, x = 3` -> `2,3` (after " or " / " and " became commas): the
/// solutions of one variable, when every top-level element assigns the same
/// short name. `x = 2, y = 3` stays: dropping different names would let the
/// unordered list rules match it with `x = 3, y = 2`.
inline std::string strip_element_assignments(std::string_view s) {
  if (s.find('=') == npos || s.find(',') == npos) return std::string(s);
  std::vector<std::string_view> elements;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    const char c = i < s.size() ? s[i] : ',';
    if (i < s.size() && c == '\\') {
      ++i;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      elements.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (elements.size() < 2) return std::string(s);
  std::string_view name;
  std::string out;
  out.reserve(s.size());
  for (std::string_view element : elements) {
    const std::string_view value = strip_variable_assignment(element);
    if (value.size() == element.size()) return std::string(s);  // not an assignment
    const std::size_t eq = element.find('=');
    if (eq == npos) return std::string(s);  // `x \in S`: not a solution value
    const std::string_view lhs = trim(element.substr(0, eq));
    if (!name.empty() && lhs != name) return std::string(s);
    name = lhs;
    if (!out.empty()) out += ',';
    out.append(value);
  }
  return out;
}

/// `\frac12` -> `\frac{1}{2}`, `\frac{270}7` -> `\frac{270}{7}`, `\sqrt3` -> `\sqrt{3}`.
/// Needs whitespace already removed.
inline std::string brace_single_token_arguments(std::string_view s) {
  if (s.find("\\frac") == npos && s.find("\\sqrt") == npos) return std::string(s);
  const std::vector<std::size_t> partner = brace_partners(s);
  std::vector<char> wrap_after(s.size(), 0);  // after this `}`, brace one token
  std::string out;
  out.reserve(s.size() + 16);
  // Copies one argument starting at s[j]; returns the index after it.
  auto copy_token = [&](std::size_t j) -> std::size_t {
    out += '{';
    std::size_t end = j + 1;
    if (s[j] == '\\') {
      while (end < s.size() && is_letter(s[end])) ++end;
      if (end == j + 1 && end < s.size()) ++end;
    }
    out.append(s.substr(j, end - j));
    out += '}';
    return end;
  };
  std::size_t i = 0;
  // `pending` is an argument still to brace right at position i.
  int pending = 0;
  while (i < s.size()) {
    if (pending > 0) {
      if (s[i] == '{') {
        --pending;
        if (pending > 0 && partner[i] != npos) {
          wrap_after[partner[i]] = 1;
          pending = 0;
        }
        out += s[i++];
        continue;
      }
      if (s[i] == '}' || s[i] == '^' || s[i] == '_' || s[i] == '&') {
        pending = 0;
        continue;
      }
      i = copy_token(i);
      --pending;
      continue;
    }
    const char c = s[i];
    if (c == '}' && wrap_after[i]) {
      out += c;
      ++i;
      pending = 1;
      continue;
    }
    if (command_at(s, i, "frac") || command_at(s, i, "sqrt")) {
      const bool frac = s[i + 1] == 'f';
      out.append(s.substr(i, 5));
      i += 5;
      if (!frac && i < s.size() && s[i] == '[') continue;  // `\sqrt[3]{x}`
      if (i < s.size()) pending = frac ? 2 : 1;
      continue;
    }
    if (c == '\\' && i + 1 < s.size()) {
      std::size_t end = i + 1;
      while (end < s.size() && is_letter(s[end])) ++end;
      if (end == i + 1) ++end;
      out.append(s.substr(i, end - i));
      i = end;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

/// `.5` -> `0.5` (a decimal point with no digit before it).
inline std::string add_leading_zeros(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 4);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.' && i + 1 < s.size() && is_digit(s[i + 1]) && (i == 0 || !is_digit(s[i - 1]))) out += '0';
    out += s[i];
  }
  return out;
}

/// `-?d{1,3}(,ddd)+(.d*)?` -> the digits without separators.
inline bool is_grouped_number(std::string_view s) {
  std::size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  std::size_t lead = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++lead;
  if (lead == 0 || lead > 3) return false;
  int groups = 0;
  while (i < s.size() && s[i] == ',') {
    if (s.size() - i < 4) return false;  // ',' and three digits
    for (std::size_t k = 1; k <= 3; ++k) {
      if (!is_digit(s[i + k])) return false;
    }
    i += 4;
    ++groups;
    if (i < s.size() && is_digit(s[i])) return false;
  }
  if (groups == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  return i == s.size();
}

/// normalize_answer, optionally keeping a short left side (`y = 2x + 3`
/// stays whole), which the expression layer uses to compare relations.
inline std::string normalize(std::string_view answer, bool strip_assignment) {
  std::string s = rewrite_commands(strip_outer_wrappers(answer));
  s = std::string(strip_trailing_units(s));
  s = unwrap_text(s);
  s = std::string(strip_trailing_units(s));  // `\text{5 cm}` -> `5 cm` -> `5`
  s = words_to_commas(s);
  if (strip_assignment) {
    s = std::string(strip_variable_assignment(trim(s)));
    s = strip_element_assignments(s);
  } else {
    s = std::string(trim(s));
  }

  std::string compact;
  compact.reserve(s.size());
  for (char c : s) {
    if (!is_space(c)) compact += c;
  }
  compact = add_leading_zeros(brace_single_token_arguments(compact));

  std::string_view v = compact;
  for (int round = 0; round < 8; ++round) {
    const std::size_t before = v.size();
    while (!v.empty() && (v.back() == '.' || v.back() == ',')) v.remove_suffix(1);
    if (!v.empty() && v.front() == '+') v.remove_prefix(1);
    if (v.size() >= 2 && v.front() == '{') {
      // Peel every redundant outer pair `{{{5}}}` with one partner table.
      const std::vector<std::size_t> partner = brace_partners(v);
      std::size_t k = 0;
      while (k < v.size() / 2 && v[k] == '{' && partner[k] == v.size() - 1 - k) ++k;
      v = v.substr(k, v.size() - 2 * k);
    }
    if (v.size() == before) break;
  }
  // All real numbers: `\mathbb{R}` is the interval `(-\infty,\infty)`.
  if (v == "\\mathbb{R}" || v == "\\mathbbR" || v == "\\mathbb{R}^1") return "(-\\infty,\\infty)";
  // Multiple choice: `(C)`, `(c)`, `\text{(C)}` -> `C`.
  if (v.size() == 3 && v[0] == '(' && v[2] == ')' && to_upper(v[1]) >= 'A' && to_upper(v[1]) <= 'E') {
    return std::string(1, to_upper(v[1]));
  }
  if (is_grouped_number(v)) {
    std::string digits;
    for (char c : v) {
      if (c != ',') digits += c;
    }
    return digits;
  }
  return std::string(v);
}

}  // namespace detail

/// The canonical form of a final answer (see the file comment). Linear time.
inline std::string normalize_answer(std::string_view answer) { return detail::normalize(answer, true); }

}  // namespace lens::math
