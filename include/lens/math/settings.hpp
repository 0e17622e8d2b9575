// lens/math/settings.hpp: the few choices of the MATH reward, in one plain struct.
// Every function that takes it has an overload without it that uses the defaults.
#pragma once

namespace lens::math {

struct reward_settings {
  /// When an output has no `\boxed{}`, no "final answer is", no "Answer:" and no
  /// `$...$` span, use its last line if that line looks like an answer (a number,
  /// an expression, one word), not prose. Math-Verify does the same. Default true.
  bool bare_answer_fallback = true;
  /// The expression layer (expression.hpp): answers with variables, functions,
  /// equations and inequalities compared by value. Off = the structured and
  /// numeric rules only (the checker before the layer existed). Default true.
  bool expression_layer = true;
  /// Rounded decimals: a written decimal such as `4.666667` for `\frac{14}{3}`.
  /// Default false: a decimal equals only its exact value (a MATH reference is
  /// exact, and a reward for 4.666667 teaches the policy to round). True: a
  /// decimal with at least `rounded_decimal_places` digits after the point is
  /// accepted when it is the value correctly rounded to the digits written
  /// (|decimal - value| <= half a unit in the last place), as Math-Verify
  /// (float_rounding=6) does.
  bool accept_rounded_decimals = false;
  /// Fewest digits after the point for a rounded decimal to count. Default 6
  /// (Math-Verify's float_rounding).
  int rounded_decimal_places = 6;
};

}  // namespace lens::math
