// lens/math/detail/numeric.hpp: the value of a normalised numeric answer.
//
// A recursive-descent evaluator over the LaTeX left by normalize_answer:
// integers, decimals (`1.5e3` too), + - * /, `\cdot`, `\times`, `\div`, `^`,
// `\frac{}{}`, `\sqrt{}`, `\sqrt[n]{}`, `\pi`, the imaginary unit `i`, parentheses,
// implicit products (`3\sqrt{2}`, `2\pi`) and mixed numbers (`1\frac{4}{5}`).
// Values are kept as exact 64-bit rationals while that is possible, so
// `0.333333333333333` is not `\frac{1}{3}`; anything irrational or complex is
// compared in double precision at a tight relative tolerance. Any symbol it
// does not know (a variable, `\infty`, `!`) makes the answer non-numeric.
#pragma once

#include <lens/math/detail/text.hpp>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>

namespace lens::math::detail {

struct numeric_value {
  std::complex<double> approx;  // always set
  bool exact = false;           // true when num/den hold the value exactly (real)
  std::int64_t num = 0;
  std::int64_t den = 1;
};

/// Relative tolerance for values that are not exact rationals: a few hundred
/// ulps, enough for rounding in sqrt/pi arithmetic, far below any decimal
/// approximation a solver would write.
inline constexpr double numeric_tolerance = 1e-13;

inline numeric_value inexact_value(std::complex<double> z) {
  numeric_value v;
  v.approx = z;
  return v;
}

inline numeric_value rational_value(std::int64_t num, std::int64_t den) {
  // Callers guarantee den != 0; INT64_MIN would overflow on negation.
  if (num == INT64_MIN || den == INT64_MIN) return inexact_value(static_cast<double>(num) / static_cast<double>(den));
  if (den < 0) {
    num = -num;
    den = -den;
  }
  const std::int64_t g = std::gcd(num < 0 ? -num : num, den);
  if (g > 1) {
    num /= g;
    den /= g;
  }
  numeric_value v;
  v.exact = true;
  v.num = num;
  v.den = den;
  v.approx = static_cast<double>(num) / static_cast<double>(den);
  return v;
}

inline numeric_value add_values(const numeric_value& a, const numeric_value& b, bool subtract) {
  if (a.exact && b.exact && b.num != INT64_MIN) {
    std::int64_t left = 0, right = 0, sum = 0, den = 0;
    const std::int64_t bnum = subtract ? -b.num : b.num;
    if (!__builtin_mul_overflow(a.num, b.den, &left) && !__builtin_mul_overflow(bnum, a.den, &right) &&
        !__builtin_add_overflow(left, right, &sum) && !__builtin_mul_overflow(a.den, b.den, &den)) {
      return rational_value(sum, den);
    }
  }
  return inexact_value(subtract ? a.approx - b.approx : a.approx + b.approx);
}

inline numeric_value multiply_values(const numeric_value& a, const numeric_value& b) {
  if (a.exact && b.exact) {
    std::int64_t num = 0, den = 0;
    if (!__builtin_mul_overflow(a.num, b.num, &num) && !__builtin_mul_overflow(a.den, b.den, &den)) {
      return rational_value(num, den);
    }
  }
  return inexact_value(a.approx * b.approx);
}

inline std::optional<numeric_value> divide_values(const numeric_value& a, const numeric_value& b) {
  if (b.exact ? b.num == 0 : std::abs(b.approx) == 0.0) return std::nullopt;
  if (a.exact && b.exact) {
    std::int64_t num = 0, den = 0;
    if (!__builtin_mul_overflow(a.num, b.den, &num) && !__builtin_mul_overflow(a.den, b.num, &den)) {
      return rational_value(num, den);
    }
  }
  return inexact_value(a.approx / b.approx);
}

inline std::optional<numeric_value> power_values(const numeric_value& base, const numeric_value& exponent) {
  const bool integer_exponent = exponent.exact && exponent.den == 1;
  if (integer_exponent && base.exact && exponent.num >= -64 && exponent.num <= 64) {
    numeric_value result = rational_value(1, 1);
    const std::int64_t count = exponent.num < 0 ? -exponent.num : exponent.num;
    for (std::int64_t k = 0; k < count; ++k) result = multiply_values(result, base);
    if (exponent.num < 0) return divide_values(rational_value(1, 1), result);
    return result;
  }
  if (exponent.approx.imag() != 0.0) return std::nullopt;
  const double e = exponent.approx.real();
  if (integer_exponent || e == std::floor(e)) {
    if (std::abs(base.approx) == 0.0 && e < 0) return std::nullopt;
    if (std::abs(e) > 4096) return std::nullopt;
    return inexact_value(std::pow(base.approx, e));
  }
  // A fractional power only of a positive real: no branch choices.
  if (base.approx.imag() != 0.0 || base.approx.real() <= 0.0) return std::nullopt;
  return inexact_value(std::pow(base.approx.real(), e));
}

class numeric_parser {
 public:
  explicit numeric_parser(std::string_view text) : s_(text) {}

  std::optional<numeric_value> parse() {
    auto v = expression();
    if (failed_ || !v || pos_ != s_.size()) return std::nullopt;
    if (!std::isfinite(v->approx.real()) || !std::isfinite(v->approx.imag())) return std::nullopt;
    return v;
  }

 private:
  static constexpr int max_depth = 64;

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  bool at_command(std::string_view name) const { return command_at(s_, pos_, name); }

  std::optional<numeric_value> fail() {
    failed_ = true;
    return std::nullopt;
  }

  struct depth_guard {
    explicit depth_guard(int& depth) : depth_(depth) { ++depth_; }
    ~depth_guard() { --depth_; }
    int& depth_;
  };

  std::optional<numeric_value> expression() {
    depth_guard guard(depth_);
    if (depth_ > max_depth) return fail();
    auto left = term();
    while (left && !failed_ && (peek() == '+' || peek() == '-')) {
      const bool subtract = peek() == '-';
      ++pos_;
      auto right = term();
      if (!right) return fail();
      left = add_values(*left, *right, subtract);
    }
    return left;
  }

  bool starts_factor() const {
    const char c = peek();
    if (is_digit(c) || c == '.' || c == '(' || c == '{') return true;
    if (c == 'i') return pos_ + 1 >= s_.size() || !is_letter(s_[pos_ + 1]);
    return at_command("frac") || at_command("sqrt") || at_command("pi");
  }

  std::optional<numeric_value> term() {
    auto left = signed_factor();
    while (left && !failed_) {
      if (peek() == '*' || at_command("cdot") || at_command("times")) {
        pos_ += peek() == '*' ? 1 : (at_command("cdot") ? 5 : 6);
        auto right = signed_factor();
        if (!right) return fail();
        left = multiply_values(*left, *right);
      } else if (peek() == '/' || at_command("div")) {
        pos_ += peek() == '/' ? 1 : 4;
        auto right = signed_factor();
        if (!right) return fail();
        left = divide_values(*left, *right);
        if (!left) return fail();
      } else if (starts_factor()) {
        auto right = power();
        if (!right) return fail();
        left = multiply_values(*left, *right);
      } else {
        break;
      }
    }
    return left;
  }

  std::optional<numeric_value> signed_factor() {
    depth_guard guard(depth_);
    if (depth_ > max_depth) return fail();
    if (peek() == '-' || peek() == '+') {
      const bool negative = peek() == '-';
      ++pos_;
      auto v = signed_factor();
      if (!v) return fail();
      return negative ? multiply_values(rational_value(-1, 1), *v) : *v;
    }
    return power();
  }

  std::optional<numeric_value> power() {
    auto base = primary();
    if (!base) return fail();
    if (peek() != '^') return base;
    ++pos_;
    std::optional<numeric_value> exponent;
    if (peek() == '{') {
      exponent = group();
    } else if (peek() == '-' || peek() == '+') {
      const bool negative = peek() == '-';
      ++pos_;
      if (!is_digit(peek())) return fail();
      exponent = rational_value(negative ? -(s_[pos_] - '0') : s_[pos_] - '0', 1);
      ++pos_;
    } else if (is_digit(peek())) {
      exponent = rational_value(s_[pos_] - '0', 1);  // TeX: `10^23` is 10^2 * 3
      ++pos_;
    } else {
      exponent = primary();
    }
    if (!exponent) return fail();
    auto result = power_values(*base, *exponent);
    if (!result) return fail();
    return result;
  }

  std::optional<numeric_value> group() {
    if (peek() != '{') return fail();
    ++pos_;
    auto v = expression();
    if (!v || peek() != '}') return fail();
    ++pos_;
    return v;
  }

  /// A `{digits}` group as an integer, for mixed numbers.
  bool digit_group_at(std::size_t at, std::size_t& end) const {
    if (at >= s_.size() || s_[at] != '{') return false;
    std::size_t k = at + 1;
    while (k < s_.size() && is_digit(s_[k])) ++k;
    if (k == at + 1 || k >= s_.size() || s_[k] != '}') return false;
    end = k + 1;
    return true;
  }

  std::optional<numeric_value> primary() {
    depth_guard guard(depth_);
    if (depth_ > max_depth) return fail();
    const char c = peek();
    if (is_digit(c) || c == '.') {
      const bool integer_literal = scan_is_integer_literal();
      auto v = number();
      if (!v) return fail();
      // Mixed number: `1\frac{4}{5}` is 1 + 4/5, not 1 * 4/5.
      std::size_t first_end = 0, second_end = 0;
      if (integer_literal && at_command("frac") && digit_group_at(pos_ + 5, first_end) &&
          digit_group_at(first_end, second_end)) {
        pos_ += 5;
        auto fraction = frac_arguments();
        if (!fraction) return fail();
        return add_values(*v, *fraction, false);
      }
      return v;
    }
    if (c == '(') {
      ++pos_;
      auto v = expression();
      if (!v || peek() != ')') return fail();
      ++pos_;
      return v;
    }
    if (c == '{') return group();
    if (c == 'i' && (pos_ + 1 >= s_.size() || !is_letter(s_[pos_ + 1]))) {
      ++pos_;
      return inexact_value(std::complex<double>(0.0, 1.0));
    }
    if (at_command("pi")) {
      pos_ += 3;
      return inexact_value(3.14159265358979323846);
    }
    if (at_command("frac")) {
      pos_ += 5;
      return frac_arguments();
    }
    if (at_command("sqrt")) {
      pos_ += 5;
      std::optional<numeric_value> degree;
      if (peek() == '[') {
        ++pos_;
        degree = expression();
        if (!degree || peek() != ']') return fail();
        ++pos_;
      }
      auto radicand = group();
      if (!radicand) return fail();
      if (degree) {
        if (!degree->exact || degree->den != 1 || degree->num < 2) return fail();
        return power_values(*radicand, inexact_value(1.0 / static_cast<double>(degree->num)));
      }
      return square_root(*radicand);
    }
    return fail();
  }

  std::optional<numeric_value> frac_arguments() {
    auto numerator = group();
    if (!numerator) return fail();
    auto denominator = group();
    if (!denominator) return fail();
    auto v = divide_values(*numerator, *denominator);
    if (!v) return fail();
    return v;
  }

  static std::optional<std::int64_t> exact_root(std::int64_t n) {
    if (n < 0) return std::nullopt;
    auto r = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
    for (std::int64_t candidate = r > 0 ? r - 1 : 0; candidate <= r + 1; ++candidate) {
      std::int64_t square = 0;
      if (!__builtin_mul_overflow(candidate, candidate, &square) && square == n) return candidate;
    }
    return std::nullopt;
  }

  static numeric_value square_root(const numeric_value& v) {
    if (v.exact && v.num >= 0) {
      auto num = exact_root(v.num);
      auto den = exact_root(v.den);
      if (num && den) return rational_value(*num, *den);
    }
    if (v.approx.imag() == 0.0 && v.approx.real() >= 0.0) return inexact_value(std::sqrt(v.approx.real()));
    return inexact_value(std::sqrt(v.approx));
  }

  bool scan_is_integer_literal() const {
    std::size_t k = pos_;
    while (k < s_.size() && is_digit(s_[k])) ++k;
    return k > pos_ && !(k < s_.size() && (s_[k] == '.' || s_[k] == 'e' || s_[k] == 'E'));
  }

  /// digits [. digits] [e|E [+-] digits]
  std::optional<numeric_value> number() {
    const std::size_t start = pos_;
    std::int64_t mantissa = 0;
    int fraction_digits = 0;
    bool fits = true;
    bool any_digit = false;
    auto take_digit = [&](char d) {
      any_digit = true;
      if (!fits) return;
      if (__builtin_mul_overflow(mantissa, std::int64_t{10}, &mantissa) ||
          __builtin_add_overflow(mantissa, static_cast<std::int64_t>(d - '0'), &mantissa)) {
        fits = false;
      }
    };
    while (is_digit(peek())) take_digit(s_[pos_++]);
    if (peek() == '.') {
      ++pos_;
      while (is_digit(peek())) {
        take_digit(s_[pos_++]);
        ++fraction_digits;
      }
    }
    if (!any_digit) return fail();
    std::int64_t exponent = 0;
    if ((peek() == 'e' || peek() == 'E')) {
      std::size_t k = pos_ + 1;
      bool negative = false;
      if (k < s_.size() && (s_[k] == '+' || s_[k] == '-')) negative = s_[k++] == '-';
      if (k < s_.size() && is_digit(s_[k])) {
        while (k < s_.size() && is_digit(s_[k])) {
          if (exponent < 100000) exponent = exponent * 10 + (s_[k] - '0');
          ++k;
        }
        if (negative) exponent = -exponent;
        pos_ = k;
      }
    }
    const std::int64_t decimal_shift = exponent - fraction_digits;
    if (fits && decimal_shift >= -18 && decimal_shift <= 18) {
      std::int64_t scale = 1;
      for (std::int64_t k = 0; k < (decimal_shift < 0 ? -decimal_shift : decimal_shift); ++k) scale *= 10;
      if (decimal_shift < 0) return rational_value(mantissa, scale);
      std::int64_t scaled = 0;
      if (!__builtin_mul_overflow(mantissa, scale, &scaled)) return rational_value(scaled, 1);
    }
    const std::string literal(s_.substr(start, pos_ - start));
    return inexact_value(std::strtod(literal.c_str(), nullptr));
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  bool failed_ = false;
};

inline std::optional<numeric_value> evaluate_numeric(std::string_view normalized) {
  if (normalized.empty()) return std::nullopt;
  return numeric_parser(normalized).parse();
}

inline bool numeric_values_equal(const numeric_value& a, const numeric_value& b) {
  if (a.exact && b.exact) return a.num == b.num && a.den == b.den;
  const double scale = std::max(std::abs(a.approx), std::abs(b.approx));
  return std::abs(a.approx - b.approx) <= numeric_tolerance * scale;
}

/// A plain decimal literal (`-0012.500`) in canonical form (`-12.5`), or
/// nullopt. Lets literals of any length compare exactly.
inline std::optional<std::string> canonical_decimal(std::string_view s) {
  std::size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  const std::size_t int_begin = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  std::string_view integer = s.substr(int_begin, i - int_begin);
  std::string_view fraction;
  if (i < s.size() && s[i] == '.') {
    const std::size_t frac_begin = ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    fraction = s.substr(frac_begin, i - frac_begin);
  }
  if (i != s.size() || (integer.empty() && fraction.empty())) return std::nullopt;
  while (!integer.empty() && integer.front() == '0') integer.remove_prefix(1);
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  std::string out;
  if (negative && !(integer.empty() && fraction.empty())) out += '-';
  out += integer.empty() ? std::string_view("0") : integer;
  if (!fraction.empty()) {
    out += '.';
    out += fraction;
  }
  return out;
}

}  // namespace lens::math::detail
