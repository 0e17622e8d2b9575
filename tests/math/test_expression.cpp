// The expression layer (expression.hpp) and the settings it came with
// (settings.hpp): one case per kind of issue 14, each with near misses that
// must not match, checked both ways through is_equivalent / reward.
#include <lens/math.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <random>
#include <string>
#include <utility>
#include <vector>

using lens::math::expressions_equivalent;
using lens::math::extract_answer;
using lens::math::is_equivalent;
using lens::math::reward;
using lens::math::reward_settings;

namespace {

using answer_pair = std::pair<std::string, std::string>;

void check_both_ways(const std::vector<answer_pair>& pairs, bool expected, const reward_settings& settings = {}) {
  for (const auto& [reference, candidate] : pairs) {
    INFO("reference: " << reference << "   candidate: " << candidate);
    CHECK(is_equivalent(reference, candidate, settings) == expected);
    CHECK(is_equivalent(candidate, reference, settings) == expected);
  }
}

reward_settings without_expressions() {
  reward_settings settings;
  settings.expression_layer = false;
  return settings;
}

}  // namespace

TEST_CASE("expressions equal by algebra match", "[math][expression]") {
  const std::vector<answer_pair> equal = {
      {"x^3+3x-6", "-6 + 3x + x^3"},
      {"(a+5)(b+2)", "ab+5b+2a+10"},
      {"(a+5)(b+2)", "(b+2)(a+5)"},
      {"2k+2", "2(k+1)"},
      {"\\frac{11+9a}{20}", "\\frac{9a+11}{20}"},
      {"\\frac{11+9a}{20}", "\\frac{9a}{20}+\\frac{11}{20}"},
      {"\\frac{11+9a}{20}", "0.45a+0.55"},
      {"\\cot x", "\\frac{\\cos x}{\\sin x}"},
      {"\\cot x", "\\frac{1}{\\tan x}"},
      {"\\sec^2 y", "\\tan^2 y + 1"},
      {"x^5 - x^4 + x^3 - x^2 + x - 1", "(x-1)(x^4+x^2+1)"},
      {"x^8 + x^7 + x^6 + x^5 + x^4 + x^3 + x^2 + x + 1", "(x^2+x+1)(x^6+x^3+1)"},
      {"p - q", "-q + p"},
      {"6r^2-4r-24", "2(3r^2-2r-12)"},
      {"\\frac{x^2-1}{x-1}", "x+1"},  // equal wherever both are defined
      {"\\sin^2 x + \\cos^2 x", "1"},
      {"\\sqrt{x^2}", "|x|"},
      {"\\log_2 8", "3"},
      {"\\sin^{-1} x", "\\arcsin x"},
      {"e^{i\\pi}", "-1"},
      {"2\\pi r", "\\pi \\cdot 2r"},
      {"\\frac{\\sqrt{2}x}{2}", "\\frac{x}{\\sqrt{2}}"},
  };
  check_both_ways(equal, true);
  // Identities with non-rational parts: the float check alone decides them.
  const std::vector<answer_pair> identities = {
      {"\\sin(2x)", "2\\sin x\\cos x"},
      {"\\tan(x+y)", "\\frac{\\tan x+\\tan y}{1-\\tan x\\tan y}"},
      {"e^{x+y}", "e^x e^y"},
      {"\\ln(x^2)", "2\\ln|x|"},
      {"(\\sqrt{x}+1)^2", "x+2\\sqrt{x}+1"},
      {"\\frac{1}{\\sqrt{x}+1}", "\\frac{\\sqrt{x}-1}{x-1}"},
      {"\\log_3 x", "\\frac{\\ln x}{\\ln 3}"},
      {"\\cosh^2 x-\\sinh^2 x", "1"},
      {"\\sqrt[3]{x^3}", "x"},
      {"\\sqrt{12}x", "2\\sqrt{3}x"},
      {"1000\\sqrt{x}+10^{9}", "10^9+1000\\sqrt{x}"},
  };
  check_both_ways(identities, true);
  CHECK_FALSE(is_equivalent("\\sqrt{x}+10^{9}", "\\sqrt{x}+10^{9}+0.001"));
  CHECK_FALSE(is_equivalent("\\sqrt{x}+10^{13}", "\\sqrt{x}+10^{13}+1"));
  // The layer is what decides these: without it they do not match.
  CHECK_FALSE(is_equivalent("x^3+3x-6", "-6 + 3x + x^3", without_expressions()));
  CHECK_FALSE(is_equivalent("(a+5)(b+2)", "ab+5b+2a+10", without_expressions()));
}

TEST_CASE("implicit and explicit products, braces, subscripts and \\cfrac", "[math][expression]") {
  const std::vector<answer_pair> equal = {
      {"2k", "2 \\cdot k"},  {"2k", "k \\times 2"}, {"5r^5", "5 \\cdot r^{5}"}, {"x^{3}", "x^3"},
      {"52_{8}", "52_8"},    {"\\cfrac{1}{2}", "0.5"}, {"\\cfrac{x}{2}", "\\frac{x}{2}"}, {"3R^2", "3 \\cdot R^{2}"},
      {"x_1 + x_2", "x_2 + x_1"}, {"2 \\cdot 52_8", "52_8 \\cdot 2"},
  };
  check_both_ways(equal, true);
  const std::vector<answer_pair> different = {
      {"52_8", "52"}, {"52_8", "52_9"}, {"52_8", "42"}, {"x_1 + x_2", "x_1 + x_3"}, {"x^{3}", "x^3 3"},
      {"2k", "k^2"},  {"x_{12}", "x_1 2"},
  };
  check_both_ways(different, false);
}

TEST_CASE("a leading plus sign on an element changes nothing", "[math][equivalence]") {
  check_both_ways({{"(2,\\infty)", "(2,+\\infty)"}, {"(-1, 3)", "(-1, +3)"}, {"\\{1, 2\\}", "\\{+1, 2\\}"}}, true);
  check_both_ways({{"(2,\\infty)", "(2,-\\infty)"}, {"(1, 3)", "(-1, +3)"}}, false);
}

TEST_CASE("all real numbers", "[math][equivalence]") {
  check_both_ways({{"(-\\infty,\\infty)", "\\mathbb{R}"}, {"(-\\infty, \\infty)", "\\mathbb R"}}, true);
  check_both_ways({{"(0,\\infty)", "\\mathbb{R}"}, {"\\mathbb{R}", "\\mathbb{Z}"}}, false);
}

TEST_CASE("solutions written as assignments", "[math][equivalence]") {
  check_both_ways({{"2, 3", "x = 2, x = 3"},
                   {"2, 3", "x = 2 \\text{ or } x = 3"},
                   {"-2,1", "x=-2 \\text{ and } x=1"},
                   {"(1,2)", "(x,y) = (1,2)"},
                   {"x = 2, y = 3", "y = 3, x = 2"}},
                  true);
  check_both_ways({{"2, 3", "x = 2, x = 4"},
                   {"x = 2, y = 3", "x = 3, y = 2"},  // names kept when they differ
                   {"(1,2)", "(x,y) = (2,1)"},
                   {"2, 3", "x = 2, y = 3"}},
                  false);
}

TEST_CASE("equations match up to a non-zero constant factor", "[math][expression]") {
  const std::vector<answer_pair> equal = {
      {"x = 5", "5 = x"},
      {"y = 3 + 2x", "2x + 3 = y"},
      {"y = 2x + 3", "2x - y + 3 = 0"},
      {"y = 2x + 3", "2y = 4x + 6"},
      {"y = -\\frac12 x + \\frac34", "2x + 4y - 3 = 0"},
      {"5x - 7y + 11z + 4 = 0", "10x - 14y + 22z + 8 = 0"},
      {"5x - 7y + 11z + 4 = 0", "-5x + 7y - 11z - 4 = 0"},
      {"x \\neq 3", "3 \\ne x"},
  };
  check_both_ways(equal, true);
  const std::vector<answer_pair> different = {
      {"y = 2x + 3", "y = 2x - 3"},
      {"y = 2x + 3", "y = 3x + 2"},
      {"5x - 7y + 11z + 4 = 0", "5x - 7y + 11z - 4 = 0"},
      {"x^2 = 4", "x = 2"},          // not proportional: different solution sets
      {"x = x", "y = y"},            // 0 = 0 is no equation
      {"2x + 4y = 3", "2x + 4y - 3"},  // an equation is not an expression
      {"2x + 4y - 3 = 0", "2x + 4y - 3 > 0"},
  };
  check_both_ways(different, false);
}

TEST_CASE("inequalities match by direction, sign and strictness", "[math][expression]") {
  const std::vector<answer_pair> equal = {
      {"x \\geq 5", "x >= 5"},   {"x \\ge 5", "x\\geqslant 5"}, {"5 \\geq x", "x \\leq 5"}, {"-x > -1", "x < 1"},
      {"2x > 2", "x > 1"},       {"x > 2", "2 < x"},             {"1 < x < 3", "3 > x > 1"},
  };
  check_both_ways(equal, true);
  const std::vector<answer_pair> different = {
      {"x \\geq 5", "x > 5"},  {"x < 1", "x > 1"}, {"-x > -1", "x > 1"}, {"x \\le 5", "x \\ge 5"},
      {"-2x > 2", "x > -1"},   {"x^2 > 1", "x > 1"}, {"1 < x < 3", "1 < x \\le 3"}, {"x > 1", "x = 1"},
  };
  check_both_ways(different, false);
}

TEST_CASE("adversarial pairs the evaluation could be fooled by are rejected", "[math][expression]") {
  const std::vector<answer_pair> different = {
      {"x^2", "2x"},                           // agree at x = 2 (and 0)
      {"\\sqrt{x^2}", "x"},                    // agree for x >= 0
      {"x", "|x|"},
      {"\\sqrt{x}\\sqrt{y}", "\\sqrt{xy}"},    // differ when both are negative
      {"x + 3", "x + 3.0000000000001"},        // below any float tolerance: caught exactly
      {"x + 10^{15}", "x + 10^{15} + 1"},
      {"\\pi x", "3.14159265358979x"},         // pi is not a decimal
      {"\\sqrt{2} x", "1.41421356237 x"},
      {"\\log x", "\\ln x"},                   // \log is base 10
      {"\\sin x", "\\sin(-x)"},
      {"\\frac{x}{2}", "\\frac{2}{x}"},
      {"(x-2)(x+2)", "x^2+4"},
      {"\\tan^2 y + 1", "\\sec y"},
      {"a+b", "ab"},
      {"x+y", "x+z"},
      {"\\text{even}", "neve"},                // words are not products of letters
      {"\\text{east}", "\\text{seat}"},
      {"e", "2.718281828459045"},
      {"x", "x + 0.000000000000000001"},
      {"i x", "x"},
      {"x^{1+10^{-30}}", "x"},                 // rounds to x^1 in long double: caught exactly
  };
  check_both_ways(different, false);
  CHECK_FALSE(expressions_equivalent("x^{2}", "2x"));
  CHECK(expressions_equivalent("x^{2}", "xx"));
  CHECK(expressions_equivalent("x^{\\frac{4}{2}}", "x^2"));  // an exact integer exponent is fine
}

TEST_CASE("the expression layer rejects what it cannot parse and stays within its limits", "[math][expression]") {
  CHECK_FALSE(expressions_equivalent("x!", "x!"));
  CHECK_FALSE(expressions_equivalent("\\infty", "\\infty"));
  CHECK_FALSE(expressions_equivalent("", ""));
  CHECK_FALSE(expressions_equivalent("x+", "x+"));
  // More symbols than the table holds: not compared.
  CHECK_FALSE(expressions_equivalent("a+b+c+d+f+g+h+j+k+m+n+p+q+r", "r+q+p+n+m+k+j+h+g+f+d+c+b+a"));
  // Too long, too many nodes, too deep: rejected, quickly, without a crash.
  std::string long_sum = "x";
  while (long_sum.size() < 5000) long_sum += "+x";
  CHECK_FALSE(expressions_equivalent(long_sum, long_sum));
  std::string nodes = "x";
  while (nodes.size() < 1500) nodes += "+x";
  CHECK_FALSE(expressions_equivalent(nodes, nodes));
  const std::string deep = std::string(200, '(') + "x" + std::string(200, ')');
  CHECK_FALSE(expressions_equivalent(deep, deep));
  const std::string shallow = std::string(40, '(') + "x" + std::string(40, ')');
  CHECK(expressions_equivalent(shallow, "x"));
  // Huge powers overflow to no verdict, not to a match.
  CHECK_FALSE(expressions_equivalent("x^{4000}", "x^{4001}"));
  CHECK_FALSE(expressions_equivalent("(10x)^{4000}", "(10x)^{4000}+1"));
}

TEST_CASE("bare answers are found when nothing marks the answer", "[math][extract]") {
  const std::vector<answer_pair> outputs = {
      {"10", "10"}, {"\\frac{10}{9}", "\\frac{10}{9}"}, {"(x-2)(x+2)", "x^2-4"}, {".1", "0.1"},
      {"28 percent", "28"}, {"7,425,000", "7425000"}, {"Some work.\n\n12", "12"},
      {"\\text{Evelyn}", "\\text{Evelyn}"}, {"Evelyn", "\\text{Evelyn}"},
      {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"},
      {"We compute.\nSo the answer is 17.", "17"},
  };
  for (const auto& [output, reference] : outputs) {
    INFO("output: " << output);
    CHECK(reward(output, reference) == 1.0f);
    reward_settings off;
    off.bare_answer_fallback = false;
    CHECK(reward(output, reference, off) == 0.0f);
  }
  // Prose, a malformed box and long lines are not answers.
  CHECK_FALSE(extract_answer("no answer here at all").has_value());
  CHECK_FALSE(extract_answer("I could not solve it.").has_value());
  CHECK_FALSE(extract_answer("\\boxedanswer{4}").has_value());
  CHECK_FALSE(extract_answer(std::string(2000, '1')).has_value());
  // A marked answer wins over the last line.
  CHECK(extract_answer("\\boxed{3}\n4") == std::optional<std::string>("3"));
  CHECK(reward("The value is 5 apples", "5") == 0.0f);
}

TEST_CASE("rounded decimals follow reward_settings::accept_rounded_decimals", "[math][settings]") {
  reward_settings rounded;
  rounded.accept_rounded_decimals = true;
  // Default: a decimal equals only its exact value.
  CHECK_FALSE(is_equivalent("\\frac{14}{3}", "4.666667"));
  CHECK_FALSE(is_equivalent("\\frac13", "0.333333"));
  CHECK_FALSE(is_equivalent("\\pi", "3.141593"));
  // With the setting: correctly rounded to at least 6 places.
  CHECK(is_equivalent("\\frac{14}{3}", "4.666667", rounded));
  CHECK(is_equivalent("4.666667", "\\frac{14}{3}", rounded));
  CHECK(is_equivalent("\\frac{14}{3}", "4.6666667", rounded));
  CHECK(is_equivalent("\\frac13", "0.333333", rounded));
  CHECK(is_equivalent("\\pi", "3.141593", rounded));
  CHECK(is_equivalent("\\sqrt{2}", "1.414214", rounded));
  CHECK_FALSE(is_equivalent("\\frac{14}{3}", "4.666666", rounded));  // truncated, not rounded
  CHECK_FALSE(is_equivalent("\\frac{14}{3}", "4.67", rounded));      // too few places
  CHECK_FALSE(is_equivalent("\\frac{14}{3}", "4.666668", rounded));
  CHECK_FALSE(is_equivalent("0.333333", "0.333334", rounded));       // two decimals: exact only
  CHECK(is_equivalent("\\frac{2}{1005}", "0.001990", rounded));      // places as written, zeros count
  CHECK_FALSE(is_equivalent("\\frac{2}{1005}", "0.00199", rounded));
  rounded.rounded_decimal_places = 2;
  CHECK(is_equivalent("\\frac{14}{3}", "4.67", rounded));
  CHECK_FALSE(is_equivalent("\\frac{14}{3}", "4.66", rounded));
}

TEST_CASE("the verdicts are deterministic", "[math][expression]") {
  for (int round = 0; round < 3; ++round) {
    CHECK(is_equivalent("\\sec^2 y", "\\tan^2 y + 1"));
    CHECK_FALSE(is_equivalent("x^2", "2x"));
  }
}

TEST_CASE("random expression-like inputs never crash and finish fast", "[math][expression][robustness]") {
  const std::vector<std::string> pieces = {
      "x", "y", "e", "i", "\\pi", "1", "2", "0", "9", ".5", "+", "-", "*", "/", "^", "_", "{", "}", "(", ")", "|",
      "=", "<", ">", "\\le", "\\geq", "\\ne", "\\frac", "\\sqrt", "\\sqrt[3]", "[", "]", "\\sin", "\\cos", "\\tan",
      "\\log", "\\ln", "\\exp", "\\cdot", "\\times", "\\theta", "^{-1}", "^{4000}", "10^{300}", "\\arcsin", "abcd"};
  std::mt19937_64 rng(14);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> length(1, 40);
  int parsed_pairs = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int trial = 0; trial < 20000; ++trial) {
    std::string a, b;
    for (int k = length(rng); k > 0; --k) a += pieces[pick(rng)];
    for (int k = length(rng); k > 0; --k) b += pieces[pick(rng)];
    const bool ab = expressions_equivalent(a, b);
    REQUIRE(ab == expressions_equivalent(a, b));  // deterministic
    if (expressions_equivalent(a, a)) ++parsed_pairs;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(parsed_pairs > 100);  // the generator reaches the evaluator
  CHECK(seconds < 30.0);      // generous for a sanitizer build: about 60,000 calls
}
