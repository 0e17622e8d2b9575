// lens/math/detail/expression_tree.hpp: a normalised LaTeX answer (what
// normalize_answer leaves: no whitespace, `\frac{a}{b}` braced) parsed into a
// flat expression tree.
//
// Grammar (recursive descent, TeX conventions):
//   relation   := sum (relop sum)*          relop: = < > \le \leq \ge \geq <= >= \ne \neq \leqslant \geqslant
//   sum        := product (('+' | '-') product)*
//   product    := unary (('*' | '/' | \cdot | \times | \div | implicit) unary)*
//   unary      := ('-' | '+') unary | power
//   power      := atom ('^' exponent)?      exponent: {group}, one digit, one letter, a command, -digit
//   atom       := number | letter | \greek | \pi | (sum) | {sum} | |sum| | \frac{}{} | \sqrt[n]{}
//               | \function[^power] argument  (argument: a group, else implicit factors, `\sin 2x` = sin(2x))
// Numbers are exact decimals (digits, optional point); `52_8` (a number with a
// subscript) is an opaque atom, `x_1` one symbol; `e` is Euler's number, `i`
// the imaginary unit. A run of four or more letters outside a command is
// prose, not a product, and fails the parse (so `\text{even}` is never the
// product e*v*e*n). Anything unknown (`\infty`, `!`, a matrix) fails the parse.
//
// Limits, so any input costs bounded time and memory: at most max_expression_bytes
// of input, max_nodes nodes, max_parse_depth nested groups, max_symbols distinct
// symbols. Over a limit the parse fails (and the answers are judged different).
#pragma once

#include <lens/math/detail/text.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lens::math::detail {

inline constexpr std::size_t max_expression_bytes = 2048;
inline constexpr std::size_t max_nodes = 512;
inline constexpr int max_parse_depth = 192;  // recursion frames: about three per nested group
inline constexpr std::size_t max_symbols = 12;

enum class node_kind : std::uint8_t { number, symbol, pi, euler, imag, add, neg, mul, div, pow, func };

enum class function_kind : std::uint8_t {
  sqrt, root, sin, cos, tan, cot, sec, csc, asin, acos, atan, sinh, cosh, tanh, ln, log10, log_base, exp, abs
};

/// One node; children always have smaller indices (the arena is in post-order),
/// so evaluation is one forward loop.
struct expr_node {
  node_kind kind = node_kind::number;
  function_kind fn = function_kind::sqrt;
  std::int32_t a = -1;  // first child, or the literal / symbol index
  std::int32_t b = -1;  // second child (binary nodes; root degree; log base)
};

/// A decimal literal `digits[.digits]`: the text without the point, and the
/// number of digits after it.
struct literal {
  std::string digits;
  int fraction_digits = 0;
};

/// Symbols are shared by the two sides of a comparison, so one table.
struct symbol_table {
  std::vector<std::string> names;
  /// Index of `name`, adding it; -1 when the table is full.
  int intern(std::string_view name) {
    for (std::size_t k = 0; k < names.size(); ++k) {
      if (names[k] == name) return static_cast<int>(k);
    }
    if (names.size() >= max_symbols) return -1;
    names.emplace_back(name);
    return static_cast<int>(names.size() - 1);
  }
};

enum class relation_kind : std::uint8_t { none, eq, ne, lt, le, gt, ge };

/// A parsed answer: an expression, or a chain `e0 op1 e1 op2 e2 ...`.
struct parsed_answer {
  std::vector<expr_node> nodes;
  std::vector<literal> literals;
  std::vector<std::int32_t> operands;   // root node of each side
  std::vector<relation_kind> relations;  // operands.size() - 1 of them
  bool has_decimal = false;              // a literal with a decimal point
};

class expression_parser {
 public:
  expression_parser(std::string_view text, symbol_table& symbols, parsed_answer& out)
      : s_(text), symbols_(symbols), out_(out) {}

  bool parse() {
    if (s_.empty() || s_.size() > max_expression_bytes) return false;
    std::int32_t first = sum();
    if (failed_ || first < 0) return false;
    out_.operands.push_back(first);
    while (!failed_ && !at_end()) {
      const relation_kind rel = relation_at();
      if (rel == relation_kind::none) return false;
      const std::int32_t next = sum();
      if (failed_ || next < 0) return false;
      out_.relations.push_back(rel);
      out_.operands.push_back(next);
      if (out_.operands.size() > 8) return false;
    }
    return !failed_ && at_end();
  }

 private:
  bool at_end() const { return pos_ >= s_.size(); }
  char peek(std::size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }

  std::int32_t fail() {
    failed_ = true;
    return -1;
  }

  std::int32_t add_node(node_kind kind, std::int32_t a = -1, std::int32_t b = -1,
                        function_kind fn = function_kind::sqrt) {
    if (failed_ || out_.nodes.size() >= max_nodes) return fail();
    expr_node node;
    node.kind = kind;
    node.fn = fn;
    node.a = a;
    node.b = b;
    out_.nodes.push_back(node);
    return static_cast<std::int32_t>(out_.nodes.size() - 1);
  }

  /// The command word at pos_ (after the backslash), letters only.
  std::string_view command_word() const {
    if (peek() != '\\') return {};
    std::size_t end = pos_ + 1;
    while (end < s_.size() && is_letter(s_[end])) ++end;
    return s_.substr(pos_ + 1, end - pos_ - 1);
  }

  /// Normalisation removed all spaces, so `\sin x` arrives as `\sinx`: a
  /// command is the longest known name that prefixes the letters after `\`;
  /// the letters after it are read again as ordinary letters. Returns the
  /// known name, or empty when none fits.
  std::string_view known_command() const {
    static constexpr std::string_view names[] = {
        // longest first where one name prefixes another
        "leqslant", "geqslant", "varepsilon", "vartheta", "varphi", "arcsin", "arccos", "arctan", "epsilon",
        "lambda", "Lambda", "theta", "Theta", "alpha", "gamma", "Gamma", "delta", "Delta", "sigma", "Sigma",
        "omega", "Omega", "kappa", "times", "cdot", "frac", "sqrt", "sinh", "cosh", "tanh", "beta", "zeta",
        "iota", "Phi", "phi", "Psi", "psi", "rho", "tau", "chi", "eta", "div", "sin", "cos", "tan", "cot", "sec",
        "csc", "log", "exp", "leq", "geq", "neq", "mu", "nu", "xi", "Xi", "Pi", "pi", "ln", "le", "ge", "ne"};
    const std::string_view word = command_word();
    if (word.empty()) return {};
    for (std::string_view name : names) {
      if (starts_with(word, name)) return name;
    }
    return {};
  }

  relation_kind relation_at() {
    const char c = peek();
    if (c == '=') {
      ++pos_;
      return relation_kind::eq;
    }
    if (c == '<' || c == '>') {
      const bool less = c == '<';
      ++pos_;
      if (peek() == '=') {
        ++pos_;
        return less ? relation_kind::le : relation_kind::ge;
      }
      return less ? relation_kind::lt : relation_kind::gt;
    }
    if (c == '\\') {
      const std::string_view name = known_command();
      relation_kind rel = relation_kind::none;
      if (name == "le" || name == "leq" || name == "leqslant") rel = relation_kind::le;
      if (name == "ge" || name == "geq" || name == "geqslant") rel = relation_kind::ge;
      if (name == "ne" || name == "neq") rel = relation_kind::ne;
      if (rel != relation_kind::none) pos_ += 1 + name.size();
      return rel;
    }
    return relation_kind::none;
  }

  struct depth_guard {
    explicit depth_guard(int& depth) : depth_(depth) { ++depth_; }
    ~depth_guard() { --depth_; }
    int& depth_;
  };

  std::int32_t sum() {
    depth_guard guard(depth_);
    if (depth_ > max_parse_depth) return fail();
    std::int32_t left = product();
    while (left >= 0 && !failed_ && (peek() == '+' || peek() == '-')) {
      const bool subtract = peek() == '-';
      ++pos_;
      std::int32_t right = product();
      if (right < 0) return fail();
      if (subtract) right = add_node(node_kind::neg, right);
      left = add_node(node_kind::add, left, right);
    }
    return left;
  }

  /// True when the text at pos_ can start a factor of an implicit product.
  bool starts_factor() const {
    const char c = peek();
    if (is_digit(c) || c == '.' || c == '(' || c == '{' || is_letter(c)) return true;
    if (c == '|') return !in_abs_;  // inside |...| a bar closes
    if (c != '\\') return false;
    const std::string_view name = known_command();
    if (name.empty()) return false;
    return !(name == "le" || name == "leq" || name == "leqslant" || name == "ge" || name == "geq" ||
             name == "geqslant" || name == "ne" || name == "neq" || name == "cdot" || name == "times" ||
             name == "div");
  }

  std::int32_t product() {
    std::int32_t left = unary();
    while (left >= 0 && !failed_) {
      const std::string_view name = peek() == '\\' ? known_command() : std::string_view{};
      if (peek() == '*' || name == "cdot" || name == "times") {
        pos_ += peek() == '*' ? 1 : 1 + name.size();
        const std::int32_t right = unary();
        if (right < 0) return fail();
        left = add_node(node_kind::mul, left, right);
      } else if (peek() == '/' || name == "div") {
        pos_ += peek() == '/' ? 1 : 4;
        const std::int32_t right = unary();
        if (right < 0) return fail();
        left = add_node(node_kind::div, left, right);
      } else if (starts_factor()) {
        const std::int32_t right = power();
        if (right < 0) return fail();
        left = add_node(node_kind::mul, left, right);
      } else {
        break;
      }
    }
    return left;
  }

  std::int32_t unary() {
    depth_guard guard(depth_);
    if (depth_ > max_parse_depth) return fail();
    if (peek() == '-' || peek() == '+') {
      const bool negative = peek() == '-';
      ++pos_;
      const std::int32_t v = unary();
      if (v < 0) return fail();
      return negative ? add_node(node_kind::neg, v) : v;
    }
    return power();
  }

  std::int32_t power() {
    std::int32_t base = atom();
    if (base < 0) return fail();
    if (peek() != '^') return base;
    ++pos_;
    const std::int32_t exponent = exponent_argument();
    if (exponent < 0) return fail();
    return add_node(node_kind::pow, base, exponent);
  }

  /// After `^`: a group, one digit (TeX: `x^23` is x^2 * 3), `-digit`, a letter or a command atom.
  std::int32_t exponent_argument() {
    if (peek() == '{') return group();
    if (peek() == '-' || peek() == '+') {
      const bool negative = peek() == '-';
      ++pos_;
      if (!is_digit(peek())) return fail();
      const std::int32_t digit = single_digit();
      return negative ? add_node(node_kind::neg, digit) : digit;
    }
    if (is_digit(peek())) return single_digit();
    return atom();
  }

  std::int32_t single_digit() {
    literal lit;
    lit.digits.assign(1, s_[pos_]);
    ++pos_;
    return add_literal(std::move(lit));
  }

  std::int32_t add_literal(literal lit) {
    if (lit.fraction_digits > 0) out_.has_decimal = true;
    out_.literals.push_back(std::move(lit));
    return add_node(node_kind::number, static_cast<std::int32_t>(out_.literals.size() - 1));
  }

  std::int32_t group() {
    if (peek() != '{') return fail();
    ++pos_;
    const bool outer_abs = in_abs_;
    in_abs_ = false;
    const std::int32_t v = sum();
    in_abs_ = outer_abs;
    if (v < 0 || peek() != '}') return fail();
    ++pos_;
    return v;
  }

  /// A subscript after `_`: a braced group's text or one character. Braces
  /// inside are kept as written; `_{8}` and `_8` give the same text.
  bool subscript(std::string& name) {
    if (peek() != '_') return true;
    ++pos_;
    name += '_';
    if (peek() == '{') {
      const std::size_t close = match_brace(s_, pos_);
      if (close == npos || close == pos_ + 1) return false;
      name.append(s_.substr(pos_ + 1, close - pos_ - 1));
      pos_ = close + 1;
      return true;
    }
    if (at_end() || peek() == '\\' || peek() == '}') return false;
    name += s_[pos_++];
    return true;
  }

  std::int32_t symbol(std::string_view base) {
    std::string name(base);
    if (!subscript(name)) return fail();
    const int index = symbols_.intern(name);
    if (index < 0) return fail();
    return add_node(node_kind::symbol, index);
  }

  std::int32_t number() {
    literal lit;
    const std::size_t start = pos_;
    while (is_digit(peek())) lit.digits += s_[pos_++];
    if (peek() == '.' && is_digit(peek(1))) {
      ++pos_;
      while (is_digit(peek())) {
        lit.digits += s_[pos_++];
        ++lit.fraction_digits;
      }
    }
    if (lit.digits.empty()) return fail();
    if (peek() == '_') {
      // `52_8`, `1011_{2}`: a numeral in another base, kept as an opaque atom.
      return symbol(s_.substr(start, pos_ - start));
    }
    const bool integer = lit.fraction_digits == 0;
    std::int32_t v = add_literal(std::move(lit));
    // Mixed number: `1\frac{4}{5}` is 1 + 4/5.
    if (integer && command_at(s_, pos_, "frac") && digit_group_at(pos_ + 5) != npos &&
        digit_group_at(digit_group_at(pos_ + 5)) != npos) {
      pos_ += 5;
      const std::int32_t fraction = frac_arguments();
      if (fraction < 0) return fail();
      v = add_node(node_kind::add, v, fraction);
    }
    return v;
  }

  /// The index after a `{digits}` group at `at`, or npos.
  std::size_t digit_group_at(std::size_t at) const {
    if (at == npos || at >= s_.size() || s_[at] != '{') return npos;
    std::size_t k = at + 1;
    while (k < s_.size() && is_digit(s_[k])) ++k;
    if (k == at + 1 || k >= s_.size() || s_[k] != '}') return npos;
    return k + 1;
  }

  std::int32_t frac_arguments() {
    const std::int32_t numerator = group();
    if (numerator < 0) return fail();
    const std::int32_t denominator = group();
    if (denominator < 0) return fail();
    return add_node(node_kind::div, numerator, denominator);
  }

  std::int32_t atom() {
    depth_guard guard(depth_);
    if (depth_ > max_parse_depth) return fail();
    const char c = peek();
    if (is_digit(c) || c == '.') return number();
    if (c == '(') {
      ++pos_;
      const bool outer_abs = in_abs_;
      in_abs_ = false;
      const std::int32_t v = sum();
      in_abs_ = outer_abs;
      if (v < 0 || peek() != ')') return fail();
      ++pos_;
      return v;
    }
    if (c == '{') return group();
    if (c == '|' && !in_abs_) {
      ++pos_;
      in_abs_ = true;
      const std::int32_t v = sum();
      in_abs_ = false;
      if (v < 0 || peek() != '|') return fail();
      ++pos_;
      return add_node(node_kind::func, v, -1, function_kind::abs);
    }
    if (is_letter(c)) {
      // A run of four or more letters is a word, not a product of symbols.
      std::size_t run = pos_;
      while (run < s_.size() && is_letter(s_[run])) ++run;
      if (run - pos_ >= 4) return fail();
      ++pos_;
      if (c == 'e' && peek() != '_') return add_node(node_kind::euler);
      if (c == 'i' && peek() != '_') return add_node(node_kind::imag);
      return symbol(std::string_view(&c, 1));
    }
    if (c != '\\') return fail();
    const std::string_view name = known_command();
    if (name.empty()) return fail();
    pos_ += 1 + name.size();
    if (name == "pi") return add_node(node_kind::pi);
    if (name == "frac") return frac_arguments();
    if (name == "sqrt") {
      std::int32_t degree = -1;
      if (peek() == '[') {
        ++pos_;
        degree = sum();
        if (degree < 0 || peek() != ']') return fail();
        ++pos_;
      }
      std::int32_t radicand = -1;
      if (peek() == '{') {
        radicand = group();
      } else {
        radicand = atom();  // `\sqrt x` after normalisation of `\sqrtx`
      }
      if (radicand < 0) return fail();
      return degree < 0 ? add_node(node_kind::func, radicand, -1, function_kind::sqrt)
                        : add_node(node_kind::func, radicand, degree, function_kind::root);
    }
    function_kind fn = function_kind::sqrt;
    if (function_named(name, fn)) return function_application(fn);
    // Operators and relations cannot start a factor; what is left names a symbol (Greek letters).
    if (name == "times" || name == "cdot" || name == "div" || name == "le" || name == "leq" || name == "leqslant" ||
        name == "ge" || name == "geq" || name == "geqslant" || name == "ne" || name == "neq") {
      return fail();
    }
    std::string symbol_name = "\\";
    symbol_name += name;
    return symbol(symbol_name);
  }

  static bool function_named(std::string_view name, function_kind& fn) {
    struct entry {
      std::string_view name;
      function_kind fn;
    };
    static constexpr entry table[] = {
        {"sin", function_kind::sin},     {"cos", function_kind::cos},     {"tan", function_kind::tan},
        {"cot", function_kind::cot},     {"sec", function_kind::sec},     {"csc", function_kind::csc},
        {"arcsin", function_kind::asin}, {"arccos", function_kind::acos}, {"arctan", function_kind::atan},
        {"sinh", function_kind::sinh},   {"cosh", function_kind::cosh},   {"tanh", function_kind::tanh},
        {"ln", function_kind::ln},       {"log", function_kind::log10},   {"exp", function_kind::exp}};
    for (const entry& e : table) {
      if (e.name == name) {
        fn = e.fn;
        return true;
      }
    }
    return false;
  }

  /// `\sin^2 x` is (sin x)^2, `\sin^{-1} x` is arcsin x, `\log_2 8` is log base 2.
  std::int32_t function_application(function_kind fn) {
    std::int32_t log_base = -1;
    if (fn == function_kind::log10 && peek() == '_') {
      ++pos_;
      log_base = exponent_argument();
      if (log_base < 0) return fail();
      fn = function_kind::log_base;
    }
    std::int32_t exponent = -1;
    if (peek() == '^') {
      ++pos_;
      // `^{-1}` on a trigonometric function means the inverse function.
      if (s_.compare(pos_, 4, "{-1}") == 0 || s_.compare(pos_, 2, "-1") == 0) {
        const bool inverted = fn == function_kind::sin || fn == function_kind::cos || fn == function_kind::tan;
        if (!inverted) return fail();
        pos_ += s_[pos_] == '{' ? 4 : 2;
        fn = fn == function_kind::sin ? function_kind::asin
                                      : (fn == function_kind::cos ? function_kind::acos : function_kind::atan);
      } else {
        exponent = exponent_argument();
        if (exponent < 0) return fail();
      }
    }
    std::int32_t argument = -1;
    if (peek() == '(' || peek() == '{') {
      argument = power();
    } else {
      // `\sin 2x`, `\cos x\sin x`: implicit factors up to the next function or operator.
      argument = power();
      while (argument >= 0 && !failed_ && starts_factor() && !next_is_function()) {
        const std::int32_t right = power();
        if (right < 0) return fail();
        argument = add_node(node_kind::mul, argument, right);
      }
    }
    if (argument < 0) return fail();
    std::int32_t v = add_node(node_kind::func, argument, log_base, fn);
    if (exponent >= 0) v = add_node(node_kind::pow, v, exponent);
    return v;
  }

  bool next_is_function() const {
    if (peek() != '\\') return false;
    const std::string_view name = known_command();
    function_kind fn = function_kind::sqrt;
    return function_named(name, fn);
  }

  std::string_view s_;
  symbol_table& symbols_;
  parsed_answer& out_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  bool failed_ = false;
  bool in_abs_ = false;
};

/// Parses `text` into `out` (cleared first); false when it is not an expression or chain.
inline bool parse_expression(std::string_view text, symbol_table& symbols, parsed_answer& out) {
  out = parsed_answer{};
  return expression_parser(text, symbols, out).parse();
}

}  // namespace lens::math::detail
