// lens/math/extract.hpp: the final answer of a model's output (or of a MATH
// reference solution), as the raw LaTeX the author wrote.
//
// Order of preference:
//   1. the argument of the last `\boxed{...}` or `\fbox{...}` (balanced braces;
//      also `\boxed 9` and `\boxed9`, as TeX reads them);
//   2. only when the text has no \boxed/\fbox at all:
//      "... final answer is X" (Minerva's format), then "Answer: X",
//      then the last `$...$` / `$$...$$` / `\(...\)` / `\[...\]` span;
//   3. the bare-answer fallback (reward_settings::bare_answer_fallback, on by
//      default), only when none of the above exists: the last non-empty line
//      (or what follows "answer is" in it), when it looks like an answer and
//      not like prose: at most max_bare_answer_bytes, and no run of four or
//      more letters outside a command other than a unit word ("28 percent"),
//      unless the line is one word. So `10`, `\frac{10}{9}`, `(x-2)(x+2)`, `.1`
//      and `7,425,000` are answers, and "I could not solve it." is not.
// Returns std::nullopt ("no answer") when nothing is found, when the answer is
// empty, or when the last \boxed is unbalanced (a truncated output: its answer
// is unknown, so an earlier box or a fallback is not used in its place).
// Linear time in the length of the text; never throws except std::bad_alloc.
#pragma once

#include <lens/math/detail/text.hpp>
#include <lens/math/normalize.hpp>
#include <lens/math/settings.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace lens::math {
namespace detail {

/// Position of the last `\boxed` or `\fbox` control word, or npos. One
/// backward scan that stops at the first hit: boxes sit near the end.
inline std::size_t rfind_box_command(std::string_view text) {
  for (std::size_t i = text.size(); i-- > 0;) {
    if (text[i] == '\\' && (command_at(text, i, "boxed") || command_at(text, i, "fbox"))) return i;
  }
  return npos;
}

/// Strips trailing sentence punctuation and whitespace from a fallback answer.
inline std::string_view strip_trailing_punctuation(std::string_view s) {
  s = trim(s);
  while (!s.empty() && (s.back() == '.' || s.back() == ',' || s.back() == ';')) s = trim(s.substr(0, s.size() - 1));
  return s;
}

/// Content of a math span opening at text[pos] (`$`, `$$`, `\(`, `\[`); sets
/// `end` to the index after its closing delimiter. nullopt when unclosed.
inline std::optional<std::string_view> math_span_at(std::string_view text, std::size_t pos, std::size_t& end) {
  std::string_view close;
  std::size_t content = 0;
  if (text[pos] == '$') {
    const bool display = pos + 1 < text.size() && text[pos + 1] == '$';
    close = display ? "$$" : "$";
    content = pos + close.size();
  } else if (text[pos] == '\\' && pos + 1 < text.size() && (text[pos + 1] == '(' || text[pos + 1] == '[')) {
    close = text[pos + 1] == '(' ? "\\)" : "\\]";
    content = pos + 2;
  } else {
    return std::nullopt;
  }
  for (std::size_t i = content; i < text.size(); ++i) {
    if (text.compare(i, close.size(), close) == 0) {
      end = i + close.size();
      return text.substr(content, i - content);
    }
    if (text[i] == '\\') ++i;  // `\$` is a dollar sign, not a delimiter
  }
  return std::nullopt;
}

/// The answer written after a marker such as "final answer is": a math span if
/// one opens there, else the rest of the line up to the end of the sentence.
inline std::string_view answer_after(std::string_view text, std::size_t pos) {
  while (pos < text.size() && (is_space(text[pos]) || text[pos] == ':')) ++pos;
  if (pos >= text.size()) return {};
  std::size_t end = 0;
  if (auto span = math_span_at(text, pos, end)) return strip_trailing_punctuation(*span);
  std::size_t stop = pos;
  while (stop < text.size() && text[stop] != '\n') {
    // ". " ends the sentence ("is 5. I hope it is correct."); "0.5" does not.
    if (text[stop] == '.' && (stop + 1 == text.size() || is_space(text[stop + 1]))) break;
    if (text[stop] == '\\') ++stop;
    ++stop;
  }
  if (stop > text.size()) stop = text.size();
  std::string_view line = text.substr(pos, stop - pos);
  // "Answer: $5$ apples": keep the math span only.
  std::string_view trimmed = trim(line);
  if (!trimmed.empty() && trimmed.front() == '$') {
    std::size_t span_end = 0;
    if (auto span = math_span_at(trimmed, 0, span_end)) return strip_trailing_punctuation(*span);
  }
  return strip_trailing_punctuation(line);
}

inline std::optional<std::string_view> last_math_span(std::string_view text) {
  std::optional<std::string_view> last;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '$' || (c == '\\' && i + 1 < text.size() && (text[i + 1] == '(' || text[i + 1] == '['))) {
      std::size_t end = 0;
      auto span = math_span_at(text, i, end);
      if (!span) break;  // an unclosed delimiter: nothing after it is a span
      if (!trim(*span).empty()) last = span;
      i = end;
      continue;
    }
    i += (c == '\\') ? 2 : 1;  // skip escaped characters such as `\$`
  }
  return last;
}

inline std::optional<std::string> nonempty(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  return std::string(s);
}

/// The longest a bare answer line may be.
inline constexpr std::size_t max_bare_answer_bytes = 160;

/// `line` without `\begin{name}` / `\end{name}` and with `\text{...}`-like
/// wrappers dropped (their content kept), for looks_like_bare_answer.
inline std::string without_wrappers(std::string_view line) {
  std::string out;
  std::size_t i = 0;
  while (i < line.size()) {
    if (command_at(line, i, "begin") || command_at(line, i, "end")) {
      const std::size_t open = i + (line[i + 1] == 'b' ? 6 : 4);
      const std::size_t close = open < line.size() && line[open] == '{' ? match_brace(line, open) : npos;
      if (close != npos) {
        out += ' ';
        i = close + 1;
        continue;
      }
    }
    bool wrapper = false;
    for (std::string_view name : {"text", "mbox", "textbf", "mathrm", "textrm", "mathbf"}) {
      if (command_at(line, i, name) && i + 1 + name.size() < line.size() && line[i + 1 + name.size()] == '{') {
        i += 2 + name.size();
        wrapper = true;
        break;
      }
    }
    if (wrapper) continue;  // the closing brace stays: it is not a letter
    out += line[i++];
  }
  return out;
}

/// True when `line` reads as an answer, not as a sentence (see the file comment).
inline bool looks_like_bare_answer(std::string_view raw) {
  if (raw.empty() || raw.size() > max_bare_answer_bytes) return false;
  const std::string unwrapped = without_wrappers(raw);
  std::string_view line = unwrapped;
  {
    std::string_view word = trim(line);
    while (!word.empty() && word.back() == '}') word = trim(word.substr(0, word.size() - 1));
    bool one_word = !word.empty();
    for (char c : word) one_word = one_word && is_letter(c);
    if (one_word) return true;
  }
  bool any_content = false;
  std::size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (c == '\\') {
      std::size_t end = i + 1;
      while (end < line.size() && is_letter(line[end])) ++end;
      if (end == i + 1 && end < line.size()) ++end;
      // `\boxedanswer{4}`: a malformed box is not a bare answer.
      if (starts_with(line.substr(i + 1), "boxed") || starts_with(line.substr(i + 1), "fbox")) return false;
      i = end;
      any_content = true;
      continue;
    }
    if (is_letter(c)) {
      std::size_t end = i;
      while (end < line.size() && is_letter(line[end])) ++end;
      if (end - i >= 4 && !is_unit_word(line.substr(i, end - i))) return false;
      i = end;
      any_content = true;
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20 && !is_space(c)) return false;
    if (!is_space(c)) any_content = true;
    ++i;
  }
  return any_content;
}

/// The bare-answer fallback (rule 3 in the file comment). Looks at the last
/// non-empty line only, so it costs O(length of that line) after one backward scan.
inline std::optional<std::string> bare_answer(std::string_view text) {
  std::size_t end = text.size();
  while (end > 0 && is_space(text[end - 1])) --end;
  if (end == 0) return std::nullopt;
  std::size_t begin = end;
  while (begin > 0 && text[begin - 1] != '\n') {
    --begin;
    if (end - begin > 4 * max_bare_answer_bytes) return std::nullopt;  // a long line is prose
  }
  std::string_view line = trim(text.substr(begin, end - begin));
  const std::size_t marker = rfind_ignore_case(line, "answer is");
  if (marker != npos) line = answer_after(line, marker + 9);
  line = strip_trailing_punctuation(line);
  if (!looks_like_bare_answer(line)) return std::nullopt;
  return nonempty(line);
}

}  // namespace detail

/// The final answer in `text` (see the file comment for the rules), or
/// std::nullopt when there is none.
inline std::optional<std::string> extract_answer(std::string_view text, const reward_settings& settings) {
  using namespace detail;
  const std::size_t command = rfind_box_command(text);
  if (command != npos) {
    std::size_t pos = command + (text[command + 1] == 'b' ? 6 : 5);
    const std::size_t after_name = pos;
    while (pos < text.size() && is_space(text[pos])) ++pos;
    if (pos >= text.size()) return std::nullopt;
    if (text[pos] == '{') {
      const std::size_t close = match_brace(text, pos);
      if (close == npos) return std::nullopt;  // truncated: the answer is unknown
      return nonempty(text.substr(pos + 1, close - pos - 1));
    }
    if (pos > after_name) {
      // `\boxed 9$.`: Hendrycks's convention, the rest up to `$` or the line end.
      std::size_t stop = pos;
      while (stop < text.size() && text[stop] != '$' && text[stop] != '\n') ++stop;
      return nonempty(strip_trailing_punctuation(text.substr(pos, stop - pos)));
    }
    // `\boxed9`: TeX takes one token, a character or a control word.
    if (text[pos] == '\\') {
      std::size_t stop = pos + 1;
      while (stop < text.size() && is_letter(text[stop])) ++stop;
      if (stop == pos + 1 && stop < text.size()) ++stop;
      return nonempty(text.substr(pos, stop - pos));
    }
    return nonempty(text.substr(pos, 1));
  }
  std::size_t marker = rfind_ignore_case(text, "final answer is");
  if (marker != npos) {
    if (auto answer = nonempty(answer_after(text, marker + 15))) return answer;
  }
  marker = rfind_ignore_case(text, "answer:");
  if (marker != npos) {
    if (auto answer = nonempty(answer_after(text, marker + 7))) return answer;
  }
  if (auto span = last_math_span(text)) return nonempty(strip_trailing_punctuation(*span));
  if (settings.bare_answer_fallback) return bare_answer(text);
  return std::nullopt;
}

/// extract_answer with the default reward_settings (bare-answer fallback on).
inline std::optional<std::string> extract_answer(std::string_view text) {
  return extract_answer(text, reward_settings{});
}

}  // namespace lens::math
