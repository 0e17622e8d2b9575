// lens/math/expression.hpp: the expression layer of the MATH checker. Decides
// whether two normalised answers that the structured and numeric rules could
// not decide (they hold variables, functions, equations or inequalities) are
// the same mathematical object.
//
// Both answers are parsed into trees (detail/expression_tree.hpp) over one
// symbol table, then evaluated at deterministic pseudo-random points:
//   * exactly, modulo the prime p = 2^61 - 1, when both trees are rational
//     functions with rational coefficients (+ - * /, integer powers; pi and e
//     count as extra symbols, so 3.14159 x is never pi x). Different rational
//     functions agree at a random point with probability <= degree / p
//     (Schwartz-Zippel), and three points are used;
//   * in long double complex arithmetic (principal branches, so sqrt(x^2) is
//     |x| and not x at negative points) at six points (three after an exact
//     check, which they back up against residues equal by a multiple of p)
//     whose coordinates have both signs, with a relative tolerance of 1e-16
//     (about 900 ulps) against a bound on the rounding error that each node carries (so cancellation is not mistaken for a
//     difference, and a difference is not hidden by a tolerance on the result).
// Both checks must pass, and a tree with a written decimal that is not rational
// (`1.414\sqrt{x}`) never matches: a decimal approximates, it does not equal.
// Relations: `L = R` and `L \ne R` compare L - R up to a non-zero constant
// factor (`y = -\frac12 x + \frac34` is `2x + 4y - 3 = 0`); `<`, `\le`, `>`,
// `\ge` are oriented so the larger side comes first and compare up to a
// positive factor with the same strictness (`-x > -1` is `x < 1`); chains
// `a < x \le b` compare side by side after orientation.
// Cost: linear in the input (parse) plus nodes * points (evaluation), with the
// input bounded by detail::max_expression_bytes.
#pragma once

#include <lens/math/detail/expression_tree.hpp>

#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace lens::math {
namespace detail {

// ---- exact evaluation modulo a prime ---------------------------------------

inline constexpr std::uint64_t modulus = (std::uint64_t{1} << 61) - 1;

__extension__ typedef unsigned __int128 uint128;  // GCC and Clang, as the rest of lens/math

inline std::uint64_t mod_mul(std::uint64_t a, std::uint64_t b) {
  const uint128 product = static_cast<uint128>(a) * b;
  std::uint64_t r = static_cast<std::uint64_t>(product & modulus) + static_cast<std::uint64_t>(product >> 61);
  if (r >= modulus) r -= modulus;
  return r;
}
inline std::uint64_t mod_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = a + b;
  if (r >= modulus) r -= modulus;
  return r;
}
inline std::uint64_t mod_neg(std::uint64_t a) { return a == 0 ? 0 : modulus - a; }
inline std::uint64_t mod_pow(std::uint64_t base, std::uint64_t exponent) {
  std::uint64_t result = 1;
  while (exponent > 0) {
    if (exponent & 1) result = mod_mul(result, base);
    base = mod_mul(base, base);
    exponent >>= 1;
  }
  return result;
}
/// A residue kept as a fraction num / den, so evaluation needs no inverse
/// (den == 0 means a division by zero happened at this point).
struct mod_fraction {
  std::uint64_t num = 0;
  std::uint64_t den = 1;
};
inline bool same_residue(const mod_fraction& a, const mod_fraction& b) {
  return mod_mul(a.num, b.den) == mod_mul(b.num, a.den);
}

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// A hash of a symbol's name, so the value given to a symbol depends on its
/// name only (not on the order the symbols were met).
inline std::uint64_t name_hash(std::string_view name) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  return h;
}

/// The deterministic seed of every sample point (documented in MATH_REWARD.md).
inline constexpr std::uint64_t sample_seed = 0x6C656E735F6D6174ull;  // "lens_mat"
inline constexpr int modular_points = 3;
inline constexpr int float_points = 6;
/// Points that must be usable (no division by zero, finite) for a verdict.
inline constexpr int min_modular_points = 2;
inline constexpr int min_float_points = 4;
inline constexpr int float_points_after_exact = 3;
inline constexpr int min_float_points_after_exact = 2;
/// Relative tolerance of the float check, against the rounding-error bound.
inline constexpr long double float_tolerance = 1e-16L;

struct tree_facts {
  std::vector<mod_fraction> literal_residues;  // per literal
  std::vector<long double> literal_values;     // per literal
  std::vector<char> modular;                // node evaluable modulo p
  std::vector<std::int64_t> int_exponent;   // for pow nodes with a constant integer exponent
  std::vector<char> integer_pow;            // int_exponent is set (exactly an integer)
  std::vector<char> has_symbol;             // subtree holds a symbol, pi or e
  /// A constant exponent that rounds to an integer in long double but is not
  /// one exactly (`x^{1 + 10^{-30}}`): neither evaluation can tell it from the
  /// integer, so such a tree is never judged equal to anything.
  bool inexact_integer_exponent = false;
};

inline long double literal_value(const literal& lit) {
  long double v = 0;
  for (char d : lit.digits) v = v * 10 + static_cast<long double>(d - '0');
  return v / std::pow(10.0L, static_cast<long double>(lit.fraction_digits));
}

inline mod_fraction literal_residue(const literal& lit) {
  mod_fraction r;
  for (char d : lit.digits) r.num = mod_add(mod_mul(r.num, 10), static_cast<std::uint64_t>(d - '0'));
  r.den = mod_pow(10, static_cast<std::uint64_t>(lit.fraction_digits));  // never 0 modulo the prime
  return r;
}

/// Which nodes are rational (see the file comment) and the integer exponents.
inline tree_facts analyse(const parsed_answer& tree) {
  const std::size_t n = tree.nodes.size();
  tree_facts facts;
  for (const literal& lit : tree.literals) {
    facts.literal_residues.push_back(literal_residue(lit));
    facts.literal_values.push_back(literal_value(lit));
  }
  facts.modular.assign(n, 0);
  facts.int_exponent.assign(n, 0);
  facts.integer_pow.assign(n, 0);
  facts.has_symbol.assign(n, 0);
  std::vector<long double> constant(n, 0.0L);  // value of symbol-free real subtrees
  std::vector<char> is_constant(n, 0);
  std::vector<mod_fraction> residue(n);         // exact value of those subtrees modulo p
  for (std::size_t k = 0; k < n; ++k) {
    const expr_node& node = tree.nodes[k];
    switch (node.kind) {
      case node_kind::number:
        facts.modular[k] = 1;
        is_constant[k] = 1;
        constant[k] = facts.literal_values[static_cast<std::size_t>(node.a)];
        residue[k] = facts.literal_residues[static_cast<std::size_t>(node.a)];
        break;
      case node_kind::symbol:
      case node_kind::pi:
      case node_kind::euler:
        facts.modular[k] = 1;
        facts.has_symbol[k] = 1;
        break;
      case node_kind::imag:
        break;
      case node_kind::neg:
        facts.modular[k] = facts.modular[node.a];
        facts.has_symbol[k] = facts.has_symbol[node.a];
        is_constant[k] = is_constant[node.a];
        constant[k] = -constant[node.a];
        residue[k] = {mod_neg(residue[node.a].num), residue[node.a].den};
        break;
      case node_kind::add:
      case node_kind::mul:
      case node_kind::div:
        facts.modular[k] = facts.modular[node.a] && facts.modular[node.b];
        facts.has_symbol[k] = facts.has_symbol[node.a] || facts.has_symbol[node.b];
        is_constant[k] = is_constant[node.a] && is_constant[node.b];
        {
          const mod_fraction& ra = residue[node.a];
          const mod_fraction& rb = residue[node.b];
          if (node.kind == node_kind::add) {
            constant[k] = constant[node.a] + constant[node.b];
            residue[k] = {mod_add(mod_mul(ra.num, rb.den), mod_mul(rb.num, ra.den)), mod_mul(ra.den, rb.den)};
          }
          if (node.kind == node_kind::mul) {
            constant[k] = constant[node.a] * constant[node.b];
            residue[k] = {mod_mul(ra.num, rb.num), mod_mul(ra.den, rb.den)};
          }
          if (node.kind == node_kind::div) {
            is_constant[k] = is_constant[k] && constant[node.b] != 0;
            if (is_constant[k]) constant[k] = constant[node.a] / constant[node.b];
            residue[k] = {mod_mul(ra.num, rb.den), mod_mul(ra.den, rb.num)};
          }
        }
        break;
      case node_kind::pow: {
        facts.has_symbol[k] = facts.has_symbol[node.a] || facts.has_symbol[node.b];
        const long double e = constant[node.b];
        if (is_constant[node.b] && facts.modular[node.b] && std::fabs(e) <= 4096 && e == std::floor(e)) {
          facts.int_exponent[k] = static_cast<std::int64_t>(e);
          facts.integer_pow[k] = 1;
          facts.modular[k] = facts.modular[node.a];
          const auto magnitude = static_cast<std::uint64_t>(e < 0 ? -e : e);
          const mod_fraction exact{e < 0 ? mod_neg(magnitude) : magnitude, 1};
          if (residue[node.b].den == 0 || !same_residue(residue[node.b], exact)) facts.inexact_integer_exponent = true;
          if (is_constant[node.a]) {
            // A constant to an integer power is a constant: `10^{-30}`.
            is_constant[k] = 1;
            constant[k] = std::pow(constant[node.a], e);
            mod_fraction r{mod_pow(residue[node.a].num, magnitude), mod_pow(residue[node.a].den, magnitude)};
            residue[k] = e < 0 ? mod_fraction{r.den, r.num} : r;
          }
        }
        break;
      }
      case node_kind::func:
        facts.has_symbol[k] = facts.has_symbol[node.a] || (node.b >= 0 && facts.has_symbol[node.b]);
        break;
    }
  }
  return facts;
}

/// Residues of every rational node at one point (den == 0 where a division by zero occurred).
inline void evaluate_modular(const parsed_answer& tree, const tree_facts& facts, const symbol_table& symbols,
                             int point, std::vector<mod_fraction>& value) {
  const std::size_t n = tree.nodes.size();
  value.assign(n, mod_fraction{});
  const auto salted = [&](std::uint64_t h) {
    return mod_fraction{
        splitmix64(h ^ sample_seed ^ (static_cast<std::uint64_t>(point) * 0xD1B54A32D192ED03ull)) % modulus, 1};
  };
  for (std::size_t k = 0; k < n; ++k) {
    if (!facts.modular[k]) continue;  // not needed: its parent is not modular either
    const expr_node& node = tree.nodes[k];
    const mod_fraction& a = node.a >= 0 ? value[static_cast<std::size_t>(node.a)] : value[k];
    const mod_fraction& b = node.b >= 0 ? value[static_cast<std::size_t>(node.b)] : value[k];
    mod_fraction r;
    switch (node.kind) {
      case node_kind::number: r = facts.literal_residues[static_cast<std::size_t>(node.a)]; break;
      case node_kind::symbol: r = salted(name_hash(symbols.names[static_cast<std::size_t>(node.a)])); break;
      case node_kind::pi: r = salted(name_hash("\\pi constant")); break;
      case node_kind::euler: r = salted(name_hash("e constant")); break;
      case node_kind::neg: r = {mod_neg(a.num), a.den}; break;
      case node_kind::add: r = {mod_add(mod_mul(a.num, b.den), mod_mul(b.num, a.den)), mod_mul(a.den, b.den)}; break;
      case node_kind::mul: r = {mod_mul(a.num, b.num), mod_mul(a.den, b.den)}; break;
      case node_kind::div: r = {mod_mul(a.num, b.den), mod_mul(a.den, b.num)}; break;
      case node_kind::pow: {
        const std::int64_t e = facts.int_exponent[k];
        const auto magnitude = static_cast<std::uint64_t>(e < 0 ? -e : e);
        r = {mod_pow(a.num, magnitude), mod_pow(a.den, magnitude)};
        if (e < 0) r = {r.den, r.num};
        break;
      }
      default: break;
    }
    value[k] = r;
  }
}

// ---- float evaluation with an error bound ----------------------------------

using complex_ld = std::complex<long double>;

/// A value and a bound S >= |value| such that the rounding error of the value
/// is at most (number of operations) * epsilon * S.
struct bounded_value {
  complex_ld v;
  long double scale = 0;
};

inline long double symbol_coordinate(std::string_view name, int point) {
  const std::uint64_t r = splitmix64(name_hash(name) ^ sample_seed ^ (0xA0761D6478BD642Full * (point + 1)));
  const long double unit = static_cast<long double>(r >> 11) / static_cast<long double>(std::uint64_t{1} << 53);
  const long double magnitude = 0.35L + 1.9L * unit;  // in [0.35, 2.25)
  return ((r >> 3) & 1) ? -magnitude : magnitude;       // both signs
}

inline bool finite(const complex_ld& z) { return std::isfinite(z.real()) && std::isfinite(z.imag()); }

/// |re| + |im|: within a factor sqrt(2) of the modulus, without hypotl's cost.
/// Every bound below uses it, so they stay bounds.
inline long double magnitude(const complex_ld& z) { return std::fabs(z.real()) + std::fabs(z.imag()); }

inline complex_ld integer_power(complex_ld base, std::int64_t e) {
  complex_ld result(1.0L, 0.0L);
  std::uint64_t k = static_cast<std::uint64_t>(e < 0 ? -e : e);
  while (k > 0) {
    if (k & 1) result *= base;
    base *= base;
    k >>= 1;
  }
  return e < 0 ? complex_ld(1.0L, 0.0L) / result : result;
}

/// Values of every node at one point; false when one is not finite or undefined.
inline bool evaluate_float(const parsed_answer& tree, const tree_facts& facts, const symbol_table& symbols,
                           int point, std::vector<bounded_value>& out) {
  const std::size_t n = tree.nodes.size();
  out.assign(n, bounded_value{});
  const long double pi = 3.141592653589793238462643383279502884L;
  const long double euler = 2.718281828459045235360287471352662498L;
  for (std::size_t k = 0; k < n; ++k) {
    const expr_node& node = tree.nodes[k];
    bounded_value r;
    switch (node.kind) {
      case node_kind::number:
        r.v = facts.literal_values[static_cast<std::size_t>(node.a)];
        r.scale = magnitude(r.v);
        break;
      case node_kind::symbol:
        r.v = symbol_coordinate(symbols.names[static_cast<std::size_t>(node.a)], point);
        r.scale = magnitude(r.v);
        break;
      case node_kind::pi: r.v = pi, r.scale = pi; break;
      case node_kind::euler: r.v = euler, r.scale = euler; break;
      case node_kind::imag: r.v = complex_ld(0.0L, 1.0L), r.scale = 1.0L; break;
      case node_kind::neg: r = out[node.a], r.v = -r.v; break;
      case node_kind::add:
        r.v = out[node.a].v + out[node.b].v;
        r.scale = out[node.a].scale + out[node.b].scale;
        break;
      case node_kind::mul:
        r.v = out[node.a].v * out[node.b].v;
        r.scale = out[node.a].scale * out[node.b].scale;
        break;
      case node_kind::div: {
        const bounded_value& a = out[node.a];
        const bounded_value& b = out[node.b];
        const long double mb = magnitude(b.v);
        // A denominator within its own error of zero is undefined here.
        if (!(mb > 64 * std::numeric_limits<long double>::epsilon() * b.scale)) return false;
        r.v = a.v / b.v;
        r.scale = a.scale / mb + magnitude(a.v) * b.scale / (mb * mb);
        break;
      }
      case node_kind::pow: {
        const bounded_value& b = out[node.a];
        const bounded_value& e = out[node.b];
        const long double mb = magnitude(b.v);
        // An integer power only where the analysis proved the exponent an
        // exact integer; `x^{1 + 10^{-30}}` rounds to 1 but is not.
        if (facts.integer_pow[k]) {
          const std::int64_t exponent = facts.int_exponent[k];
          if (mb == 0) {
            if (exponent <= 0) return false;
            r.v = 0;
            r.scale = std::pow(b.scale, static_cast<long double>(exponent));
          } else {
            r.v = integer_power(b.v, exponent);
            r.scale = magnitude(r.v) * (1 + static_cast<long double>(exponent < 0 ? -exponent : exponent) * b.scale / mb);
          }
        } else {
          if (!(mb > 64 * std::numeric_limits<long double>::epsilon() * b.scale)) return false;
          const complex_ld log_b = std::log(b.v);
          r.v = std::exp(e.v * log_b);
          r.scale = magnitude(r.v) * (1 + magnitude(e.v) * b.scale / mb + magnitude(log_b) * e.scale);
        }
        break;
      }
      case node_kind::func: {
        const bounded_value& u = out[node.a];
        const long double mu = magnitude(u.v);
        long double slope = 0;  // |f'(u)|
        switch (node.fn) {
          case function_kind::sqrt:
            r.v = std::sqrt(u.v);
            if (mu == 0) return false;
            slope = 0.5L / magnitude(r.v);
            break;
          case function_kind::root: {
            const bounded_value& degree = out[node.b];
            const long double d = degree.v.real();
            if (degree.v.imag() != 0 || d != std::floor(d) || d < 2 || d > 64 || mu == 0) return false;
            const auto di = static_cast<std::int64_t>(d);
            if (u.v.imag() == 0 && u.v.real() < 0 && (di % 2) == 1) {
              r.v = -std::pow(-u.v.real(), 1.0L / d);  // the real odd root, as MATH means it
            } else {
              r.v = std::pow(u.v, complex_ld(1.0L / d, 0.0L));
            }
            slope = magnitude(r.v) / (d * mu);
            break;
          }
          case function_kind::sin: r.v = std::sin(u.v), slope = magnitude(std::cos(u.v)); break;
          case function_kind::cos: r.v = std::cos(u.v), slope = magnitude(std::sin(u.v)); break;
          case function_kind::tan: {
            const complex_ld c = std::cos(u.v);
            if (magnitude(c) < 1e-12L) return false;
            r.v = std::sin(u.v) / c;
            slope = magnitude(1.0L + r.v * r.v);
            break;
          }
          case function_kind::cot: {
            const complex_ld s = std::sin(u.v);
            if (magnitude(s) < 1e-12L) return false;
            r.v = std::cos(u.v) / s;
            slope = magnitude(1.0L + r.v * r.v);
            break;
          }
          case function_kind::sec: {
            const complex_ld c = std::cos(u.v);
            if (magnitude(c) < 1e-12L) return false;
            r.v = 1.0L / c;
            slope = magnitude(r.v * std::sin(u.v) / c);
            break;
          }
          case function_kind::csc: {
            const complex_ld s = std::sin(u.v);
            if (magnitude(s) < 1e-12L) return false;
            r.v = 1.0L / s;
            slope = magnitude(r.v * std::cos(u.v) / s);
            break;
          }
          case function_kind::asin:
          case function_kind::acos: {
            const complex_ld w = std::sqrt(1.0L - u.v * u.v);
            if (magnitude(w) < 1e-12L) return false;
            r.v = node.fn == function_kind::asin ? std::asin(u.v) : std::acos(u.v);
            slope = 1.0L / magnitude(w);
            break;
          }
          case function_kind::atan: {
            const complex_ld w = 1.0L + u.v * u.v;
            if (magnitude(w) < 1e-12L) return false;
            r.v = std::atan(u.v);
            slope = 1.0L / magnitude(w);
            break;
          }
          case function_kind::sinh: r.v = std::sinh(u.v), slope = magnitude(std::cosh(u.v)); break;
          case function_kind::cosh: r.v = std::cosh(u.v), slope = magnitude(std::sinh(u.v)); break;
          case function_kind::tanh: r.v = std::tanh(u.v), slope = magnitude(1.0L - r.v * r.v); break;
          case function_kind::exp: r.v = std::exp(u.v), slope = magnitude(r.v); break;
          case function_kind::abs: r.v = std::abs(u.v), slope = 1; break;
          case function_kind::ln:
          case function_kind::log10:
          case function_kind::log_base: {
            if (!(mu > 64 * std::numeric_limits<long double>::epsilon() * u.scale)) return false;
            r.v = std::log(u.v);
            slope = 1.0L / mu;
            long double divisor_scale = 0;
            complex_ld divisor(1.0L, 0.0L);
            if (node.fn == function_kind::log10) divisor = std::log(10.0L);
            if (node.fn == function_kind::log_base) {
              const bounded_value& base = out[node.b];
              const long double mbase = magnitude(base.v);
              if (!(mbase > 64 * std::numeric_limits<long double>::epsilon() * base.scale)) return false;
              divisor = std::log(base.v);
              divisor_scale = base.scale / mbase;
              if (magnitude(divisor) < 1e-12L) return false;
            }
            r.v /= divisor;
            const long double md = magnitude(divisor);
            r.scale = magnitude(r.v) + (slope * u.scale + magnitude(r.v) * divisor_scale) / md;
            slope = -1;  // scale already set
            break;
          }
        }
        if (slope >= 0) r.scale = magnitude(r.v) + slope * u.scale;
        break;
      }
    }
    if (!finite(r.v) || !std::isfinite(r.scale)) return false;
    if (r.scale < magnitude(r.v)) r.scale = magnitude(r.v);
    out[k] = r;
  }
  return true;
}

// ---- comparisons ------------------------------------------------------------

/// The difference `operands[first] - operands[second]` of one side, for
/// relations, or the operand itself (second < 0).
struct side_ref {
  const parsed_answer* tree;
  const tree_facts* facts;
  std::int32_t first;
  std::int32_t second;  // -1: no subtraction
};

inline bool side_modular(const side_ref& s) {
  return s.facts->modular[s.first] && (s.second < 0 || s.facts->modular[s.second]);
}

inline mod_fraction side_residue(const side_ref& s, const std::vector<mod_fraction>& value) {
  if (s.second < 0) return value[s.first];
  const mod_fraction& a = value[s.first];
  const mod_fraction& b = value[s.second];
  return {mod_add(mod_mul(a.num, b.den), mod_neg(mod_mul(b.num, a.den))), mod_mul(a.den, b.den)};
}

inline bounded_value side_value(const side_ref& s, const std::vector<bounded_value>& value) {
  if (s.second < 0) return value[s.first];
  bounded_value r;
  r.v = value[s.first].v - value[s.second].v;
  r.scale = value[s.first].scale + value[s.second].scale;
  return r;
}

enum class factor_rule : std::uint8_t { equal, any_nonzero, positive };

/// True when side b = c * side a at every sample point, where c is 1
/// (factor_rule::equal), any non-zero constant, or a positive real constant.
inline bool sides_match(const side_ref& a, const side_ref& b, const symbol_table& symbols, factor_rule rule,
                        std::vector<mod_fraction>& mod_a, std::vector<mod_fraction>& mod_b,
                        std::vector<bounded_value>& float_a, std::vector<bounded_value>& float_b) {
  if (a.facts->inexact_integer_exponent || b.facts->inexact_integer_exponent) return false;
  const bool modular = side_modular(a) && side_modular(b);
  if ((a.tree->has_decimal || b.tree->has_decimal) && !modular) return false;
  if (modular) {
    int usable = 0;
    bool have_factor = false;
    mod_fraction factor;
    for (int point = 0; point < modular_points; ++point) {
      evaluate_modular(*a.tree, *a.facts, symbols, point, mod_a);
      evaluate_modular(*b.tree, *b.facts, symbols, point, mod_b);
      const mod_fraction ra = side_residue(a, mod_a);
      const mod_fraction rb = side_residue(b, mod_b);
      if (ra.den == 0 || rb.den == 0) continue;  // a division by zero at this point
      if (rule == factor_rule::equal) {
        if (!same_residue(ra, rb)) return false;
      } else {
        if (ra.num == 0 || rb.num == 0) {
          if ((ra.num == 0) != (rb.num == 0)) return false;
          continue;  // both zero here: no information on the factor
        }
        const mod_fraction c{mod_mul(rb.num, ra.den), mod_mul(rb.den, ra.num)};
        if (have_factor && !same_residue(c, factor)) return false;
        factor = c;
        have_factor = true;
      }
      ++usable;
    }
    if (usable < min_modular_points) return false;
    if (rule != factor_rule::equal && !have_factor) return false;  // 0 = 0 is no equation
  }
  // After an exact check the float one only guards against residues that agree
  // by a multiple of p (`x + 1` vs `x + 1 + p`): fewer points do.
  const int points = modular ? float_points_after_exact : float_points;
  const int needed = modular ? min_float_points_after_exact : min_float_points;
  int usable = 0;
  bool have_factor = false;
  complex_ld factor(1.0L, 0.0L);
  for (int point = 0; point < points; ++point) {
    if (!evaluate_float(*a.tree, *a.facts, symbols, point, float_a)) continue;
    if (!evaluate_float(*b.tree, *b.facts, symbols, point, float_b)) continue;
    const bounded_value va = side_value(a, float_a);
    const bounded_value vb = side_value(b, float_b);
    const bool zero_a = magnitude(va.v) <= float_tolerance * va.scale;
    const bool zero_b = magnitude(vb.v) <= float_tolerance * vb.scale;
    if (rule == factor_rule::equal) {
      const long double bound = float_tolerance * (va.scale > vb.scale ? va.scale : vb.scale);
      if (!(magnitude(va.v - vb.v) <= bound)) return false;
    } else {
      if (zero_a || zero_b) {
        if (zero_a != zero_b) return false;
        continue;
      }
      if (!have_factor) {
        factor = vb.v / va.v;
        have_factor = true;
        if (!finite(factor)) return false;
        if (rule == factor_rule::positive &&
            !(std::fabs(factor.imag()) <= float_tolerance * magnitude(factor) && factor.real() > 0)) {
          return false;
        }
      }
      const long double bound = 4 * float_tolerance * (vb.scale + magnitude(factor) * va.scale);
      if (!(magnitude(vb.v - factor * va.v) <= bound)) return false;
    }
    ++usable;
  }
  if (usable < needed) return false;
  return rule == factor_rule::equal || have_factor;
}

inline bool is_upward(relation_kind r) { return r == relation_kind::lt || r == relation_kind::le; }
inline bool is_downward(relation_kind r) { return r == relation_kind::gt || r == relation_kind::ge; }
inline relation_kind flipped(relation_kind r) {
  switch (r) {
    case relation_kind::lt: return relation_kind::gt;
    case relation_kind::le: return relation_kind::ge;
    case relation_kind::gt: return relation_kind::lt;
    case relation_kind::ge: return relation_kind::le;
    default: return r;
  }
}

/// Both answers parsed and compared (see the file comment).
inline bool expressions_equivalent(std::string_view a, std::string_view b) {
  if (a.size() > max_expression_bytes || b.size() > max_expression_bytes) return false;
  symbol_table symbols;
  parsed_answer ta;
  parsed_answer tb;
  if (!parse_expression(a, symbols, ta) || !parse_expression(b, symbols, tb)) return false;
  if (ta.operands.size() != tb.operands.size()) return false;
  const tree_facts fa = analyse(ta);
  const tree_facts fb = analyse(tb);
  std::vector<mod_fraction> mod_a, mod_b;
  std::vector<bounded_value> float_a, float_b;

  if (ta.operands.size() == 1) {
    return sides_match({&ta, &fa, ta.operands[0], -1}, {&tb, &fb, tb.operands[0], -1}, symbols, factor_rule::equal,
                       mod_a, mod_b, float_a, float_b);
  }
  if (ta.operands.size() == 2) {
    relation_kind ra = ta.relations[0];
    relation_kind rb = tb.relations[0];
    // Orient: larger side first, so `L > R` and `R < L` both read as L - R > 0.
    side_ref sa{&ta, &fa, ta.operands[0], ta.operands[1]};
    side_ref sb{&tb, &fb, tb.operands[0], tb.operands[1]};
    if (is_upward(ra)) sa = {&ta, &fa, ta.operands[1], ta.operands[0]}, ra = flipped(ra);
    if (is_upward(rb)) sb = {&tb, &fb, tb.operands[1], tb.operands[0]}, rb = flipped(rb);
    if (ra != rb) return false;
    const factor_rule rule = is_downward(ra) ? factor_rule::positive : factor_rule::any_nonzero;
    return sides_match(sa, sb, symbols, rule, mod_a, mod_b, float_a, float_b);
  }
  // Chains: orient both upward, then the same relations and equal sides in order.
  auto oriented = [](const parsed_answer& t, std::vector<std::int32_t>& operands, std::vector<relation_kind>& rels) {
    operands = t.operands;
    rels = t.relations;
    bool down = false;
    for (relation_kind r : rels) down = down || is_downward(r);
    if (down) {
      std::vector<std::int32_t> reversed(operands.rbegin(), operands.rend());
      operands = reversed;
      std::vector<relation_kind> reversed_rels;
      for (auto it = rels.rbegin(); it != rels.rend(); ++it) reversed_rels.push_back(flipped(*it));
      rels = reversed_rels;
    }
  };
  std::vector<std::int32_t> oa, ob;
  std::vector<relation_kind> la, lb;
  oriented(ta, oa, la);
  oriented(tb, ob, lb);
  if (la != lb) return false;
  for (std::size_t k = 0; k < oa.size(); ++k) {
    if (!sides_match({&ta, &fa, oa[k], -1}, {&tb, &fb, ob[k], -1}, symbols, factor_rule::equal, mod_a, mod_b,
                     float_a, float_b)) {
      return false;
    }
  }
  return true;
}

}  // namespace detail

/// True when the normalised answers `a` and `b` (normalize_answer output) are
/// the same expression, equation or inequality by the rules in the file
/// comment. False when either does not parse. Deterministic; bounded time.
inline bool expressions_equivalent(std::string_view a, std::string_view b) {
  return detail::expressions_equivalent(a, b);
}

}  // namespace lens::math
