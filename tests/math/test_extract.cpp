// Answer extraction: \boxed / \fbox with balanced braces, and the fallbacks.
#include <lens/math/extract.hpp>
#include <lens/math/normalize.hpp>
#include <lens/math/reward.hpp>

#include <catch2/catch.hpp>

#include <string>

using lens::math::extract_answer;
using lens::math::normalize_answer;
using lens::math::reward;

namespace {
std::string extracted(const std::string& text) {
  auto answer = extract_answer(text);
  return answer ? *answer : std::string("<none>");
}
}  // namespace

TEST_CASE("extract_answer takes the argument of the last \\boxed with balanced braces", "[math][extract]") {
  CHECK(extracted("So $x=\\boxed{5}$.") == "5");
  CHECK(extracted("First \\boxed{1}, then \\boxed{\\frac{1}{2}}.") == "\\frac{1}{2}");
  CHECK(extracted("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}") == "\\left( 3, \\frac{\\pi}{2} \\right)");
  CHECK(extracted("\\boxed{\\{1\\pm\\sqrt{5},-2\\}}") == "\\{1\\pm\\sqrt{5},-2\\}");
  CHECK(extracted("\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}") == "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}");
  CHECK(extracted("\\boxed {  7 }") == "7");
  CHECK(extracted("$\\fbox{42}$") == "42");
  CHECK(extracted("\\boxed{1} and later \\fbox{2}") == "2");
  CHECK(extracted("\\fbox{1} and later \\boxed{2}") == "2");
}

TEST_CASE("extract_answer reads \\boxed without braces as TeX does", "[math][extract]") {
  CHECK(extracted("so $x^2 + y^2 = \\boxed 9$.") == "9");
  CHECK(extracted("\\boxed 12.") == "12");
  CHECK(extracted("\\boxed9") == "9");
  CHECK(extracted("\\boxed\\pi") == "\\pi");
}

TEST_CASE("extract_answer ignores commands that only start with boxed", "[math][extract]") {
  CHECK(extracted("\\boxed{3} \\boxedx{4}") == "3");
  CHECK(extracted("\\boxedanswer{4}") == "<none>");
}

TEST_CASE("extract_answer says no answer for unbalanced, empty or missing boxes", "[math][extract]") {
  CHECK_FALSE(extract_answer("The answer is \\boxed{\\frac{1}{2}").has_value());
  CHECK_FALSE(extract_answer("\\boxed{}").has_value());
  CHECK_FALSE(extract_answer("\\boxed{   }").has_value());
  CHECK_FALSE(extract_answer("").has_value());
  CHECK_FALSE(extract_answer("no answer here at all").has_value());
  CHECK_FALSE(extract_answer("\\boxed").has_value());
  // A truncated last box is not replaced by an earlier one.
  CHECK_FALSE(extract_answer("\\boxed{1} then \\boxed{2").has_value());
}

TEST_CASE("extract_answer falls back to 'final answer is', 'Answer:' and the last math span", "[math][extract]") {
  CHECK(extracted("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.") == "\\frac{3}{4}");
  CHECK(extracted("the final answer is 12. I hope it is correct.") == "12");
  CHECK(extracted("The final answer is 0.5") == "0.5");
  CHECK(extracted("work...\nAnswer: 17\n") == "17");
  CHECK(extracted("answer: $x = 3$.") == "x = 3");
  CHECK(extracted("We get $x=2$ and then $y = 7$.") == "y = 7");
  CHECK(extracted("Thus $$\\frac{1}{2}$$") == "\\frac{1}{2}");
  CHECK(extracted("Thus \\(4\\) and \\[5\\]") == "5");
  CHECK(extracted("It costs \\$5 and the total is $8$") == "8");
  // Boxes win over the fallbacks, even when a fallback comes later.
  CHECK(extracted("\\boxed{3}. The final answer is 4.") == "3");
}

TEST_CASE("reward is 1 only for an equivalent extracted answer", "[math][reward]") {
  CHECK(reward("so the answer is $\\boxed{\\dfrac{1}{2}}$.", "\\frac12") == 1.0f);
  CHECK(reward("so the answer is $\\boxed{0.5}$.", "\\frac{1}{2}") == 1.0f);
  CHECK(reward("so the answer is $\\boxed{0.05}$.", "\\frac{1}{2}") == 0.0f);
  CHECK(reward("I could not solve it.", "5") == 0.0f);
  CHECK(reward("The final answer is $90^\\circ$. I hope it is correct.", "90") == 1.0f);
  CHECK(reward("\\boxed{(3,4)}", "(3,4]") == 0.0f);
  CHECK(reward("\\boxed{5}", "") == 0.0f);
}

TEST_CASE("normalize_answer produces the documented canonical forms", "[math][normalize]") {
  CHECK(normalize_answer("\\left( 3, \\frac{\\pi}{2} \\right)") == "(3,\\frac{\\pi}{2})");
  CHECK(normalize_answer("\\frac12") == "\\frac{1}{2}");
  CHECK(normalize_answer("\\dfrac{17}{50}") == "\\frac{17}{50}");
  CHECK(normalize_answer("\\frac{270}7\\text{ degrees}") == "\\frac{270}{7}");
  CHECK(normalize_answer("\\frac9{19}") == "\\frac{9}{19}");
  CHECK(normalize_answer("\\frac{\\frac12}3") == "\\frac{\\frac{1}{2}}{3}");
  CHECK(normalize_answer("11\\sqrt2") == "11\\sqrt{2}");
  CHECK(normalize_answer("\\sqrt[3]{2}") == "\\sqrt[3]{2}");
  CHECK(normalize_answer("90^\\circ") == "90");
  CHECK(normalize_answer("90^{\\circ}") == "90");
  CHECK(normalize_answer("\\$32,\\!348") == "32348");
  CHECK(normalize_answer("11,\\! 111,\\! 111,\\! 100") == "11111111100");
  CHECK(normalize_answer("58,500") == "58500");
  CHECK(normalize_answer("3, 5, 7") == "3,5,7");
  CHECK(normalize_answer("1,-2") == "1,-2");
  CHECK(normalize_answer("50\\%") == "50");
  CHECK(normalize_answer(".0000672") == "0.0000672");
  CHECK(normalize_answer("864 \\mbox{ inches}^2") == "864");
  CHECK(normalize_answer("5.4 \\text{ cents}") == "5.4");
  CHECK(normalize_answer("10 feet") == "10");
  CHECK(normalize_answer("\\text{east}") == "east");
  CHECK(normalize_answer("\\text{(C)}") == "C");
  CHECK(normalize_answer("x = 5") == "5");
  CHECK(normalize_answer("\\theta = 30^\\circ") == "30");
  CHECK(normalize_answer("x \\in [-2,7]") == "[-2,7]");
  CHECK(normalize_answer("5x - 7y + 11z + 4 = 0") == "5x-7y+11z+4=0");
  CHECK(normalize_answer("x \\le 5") == "x\\le5");
  CHECK(normalize_answer("$\\boxed{7}$.") == "7");
  CHECK(normalize_answer("2 and 3") == "2,3");
  CHECK(normalize_answer("\\left\\{ 1, 2 \\right\\}") == "\\{1,2\\}");
}
