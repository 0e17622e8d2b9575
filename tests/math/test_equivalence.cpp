// The equivalence suite: pairs written by hand, half of them must not match.
// Each pair is checked in both directions (the checker is meant to be symmetric).
#include <lens/math/equivalence.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using lens::math::is_equivalent;

namespace {

using answer_pair = std::pair<std::string, std::string>;

// {reference, candidate} that name the same answer.
const std::vector<answer_pair> matching = {
    // integers, decimals, fractions
    {"5", "5"}, {"5", "5.0"}, {"5", "05"}, {"5.", "5"}, {"0.50", "0.5"}, {"-0", "0"},
    {"0.5", "\\frac{1}{2}"}, {"\\frac12", "0.5"}, {"\\frac{1}{2}", "1/2"}, {"\\dfrac{3}{4}", "0.75"},
    {"\\tfrac{3}{4}", "\\frac34"}, {"\\frac 59", "\\frac{5}{9}"}, {"\\frac9{19}", "9/19"},
    {"\\frac{270}7", "\\frac{270}{7}"}, {"\\frac{2}{4}", "\\frac{1}{2}"}, {"-\\frac{1}{2}", "\\frac{-1}{2}"},
    {"-\\frac{3}{8}", "-0.375"}, {".0000672", "0.0000672"}, {".35625", "0.35625"}, {"\\frac{3}{2}", "1.5"},
    {"\\frac{3840}{289}", "3840/289"}, {"12345678901234567890", "12345678901234567890.0"},
    // mixed numbers
    {"1\\frac{4}{5}", "\\frac{9}{5}"}, {"137 \\frac{1}{2}", "137.5"}, {"-1\\frac{1}{2}", "-1.5"},
    {"2\\frac12", "\\frac{5}{2}"},
    // percentages, scientific notation, powers
    {"50\\%", "50"}, {"12.5\\%", "12.5"}, {"1.5\\times10^{3}", "1500"}, {"1.5 \\cdot 10^3", "1500"},
    {"2.5e-3", "0.0025"}, {"3\\times 10^{-2}", "0.03"}, {"1e3", "1000"}, {"2^{10}", "1024"},
    {"10^{-3}", "0.001"},
    // pi multiples and roots
    {"2\\pi", "\\pi\\cdot 2"}, {"\\frac{\\pi}{2}", "0.5\\pi"}, {"288 \\pi", "288\\pi"}, {"\\frac{4\\pi}{2}", "2\\pi"},
    {"7\\pi", "\\frac{14\\pi}{2}"}, {"\\frac{20000}{\\pi}", "20000/\\pi"}, {"\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"},
    {"\\sqrt{4}", "2"}, {"3\\sqrt{13}", "3 \\sqrt{13}"}, {"11\\sqrt2", "11\\sqrt{2}"}, {"\\sqrt3", "\\sqrt{3}"},
    {"2\\sqrt{2}", "\\sqrt{8}"}, {"\\frac{\\sqrt{21}}{5}", "\\frac{1}{5}\\sqrt{21}"}, {"-\\sqrt{3}", "-1\\cdot\\sqrt{3}"},
    {"\\sqrt[3]{8}", "2"},
    // thousands separators, money, degrees, units
    {"10,\\!080", "10080"}, {"10,080", "10080"}, {"58,500", "58500"}, {"11,\\! 111,\\! 111,\\! 100", "11111111100"},
    {"\\$32,\\!348", "32348"}, {"\\$18.90", "18.9"}, {"\\$36", "36 dollars"}, {"90^\\circ", "90"},
    {"90^{\\circ}", "90"}, {"30^\\circ", "30 degrees"}, {"145^\\circ", "145\xC2\xB0"}, {"5.4 \\text{ cents}", "5.4"},
    {"864 \\mbox{ inches}^2", "864"}, {"15\\mbox{ cm}^2", "15"}, {"\\frac{270}7\\text{ degrees}", "\\frac{270}{7}"},
    {"10", "10 \\text{ inches}"}, {"\\text{5 cm}", "5"}, {"1{,}000", "1000"},
    // assignments
    {"x=5", "5"}, {"5", "x = 5"}, {"\\theta = 30", "30"}, {"y = 2x + 3", "2x+3"}, {"x \\in [-2,7]", "[-2,7]"},
    // complex numbers
    {"6 - 5i", "6-5i"}, {"-2 + 7i", "7i - 2"}, {"1+2i", "2i+1"}, {"1 - 12i", "-12i+1"},
    // multiple choice and text
    {"\\text{(C)}", "C"}, {"\\text{(C)}", "(C)"}, {"\\text{(E)}", "\\textbf{(E)}"}, {"\\text{(B)}", "(b)"},
    {"\\text{Evelyn}", "Evelyn"}, {"\\text{east}", "East"}, {"\\text{even}", "\\mbox{even}"},
    // tuples and intervals
    {"\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"}, {"(6,31,-1)", "(6, 31, -1)"},
    {"(3,4]", "\\left(3,4\\right]"}, {"(2,\\infty)", "(2, \\infty)"}, {"(-\\infty, 0]", "(-\\infty,0]"},
    {"\\left(\\frac{3}{5},\\frac{8}{3}\\right]", "(0.6, \\frac{8}{3}]"}, {"(1,-16,-4,43)", "(1,-16,-4,43.0)"},
    {"\\left( \\frac{3}{2}, -13 \\right)", "(1.5,-13)"}, {"[\\frac{\\pi^2}{8}, \\frac{5\\pi^2}{4}]", "[\\frac{1}{8}\\pi^2, 1.25\\pi^2]"},
    // unions, sets and lists (unordered)
    {"(0,9) \\cup (9,36)", "(9,36) \\cup (0,9)"}, {"(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty,2)\\cup(3,\\infty)"},
    {"3, 5, 7", "7, 5, 3"}, {"1,-2", "-2, 1"}, {"-2,1", "1 and -2"}, {"\\{1,2,3\\}", "\\{3,2,1\\}"},
    {"\\{1\\pm\\sqrt{5},-2\\}", "-2, 1+\\sqrt{5}, 1-\\sqrt{5}"}, {"1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}"},
    {"3 \\pm 2 \\sqrt{2}", "3 - 2\\sqrt{2}, 3 + 2\\sqrt{2}"}, {"\\frac12, 3", "3, 0.5"},
    // matrices
    {"\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix}-1&0\\\\0&-1\\end{pmatrix}"},
    {"\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}",
     "\\begin{pmatrix} -\\frac{1}{3} \\\\ \\frac{2}{3} \\\\ \\frac{5}{3} \\end{pmatrix}"},
    {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{bmatrix} 1 \\\\ 2 \\end{bmatrix}"},
    // wrappers and plain strings
    {"\\boxed{5}", "5"}, {"$5$", "5"}, {"p - q", "p-q"}, {"x^5 - x^4 + x^3 - x^2 + x - 1", "x^5-x^4+x^3-x^2+x-1"},
    {"\\cot x", "\\cot x"}, {"52_8", "52_8"}, {"\\infty", "\\infty"}, {"\\frac{11+9a}{20}", "\\frac{11+9a}{20}"},
    {"2k+2", "2k + 2"}, {"(a+5)(b+2)", "(a+5)(b+2)"}, {"3R^2", "3R^2"}, {"(5)", "5"},
};

// {reference, candidate} that must not match.
const std::vector<answer_pair> not_matching = {
    // different numbers
    {"5", "6"}, {"0.5", "0.05"}, {"\\frac{1}{2}", "\\frac{1}{3}"}, {"\\frac{1}{2}", "\\frac{2}{1}"}, {"5", "-5"},
    {"12", "21"}, {"1.25", "1.2"}, {"-\\frac{3}{8}", "\\frac{3}{8}"}, {"0.001", "0.0001"}, {"10080", "1008"},
    {"10,080", "10,80"}, {"58,500", "58.5"}, {"12345678901234567890", "12345678901234567891"}, {"3.0000000001", "3"},
    {"1/2", "1/2/2"}, {"4", "\\sqrt{16}/2"}, {"\\$18.90", "18.99"}, {"90", "90^2"}, {"2^{10}", "1000"},
    {"10^{-3}", "0.01"}, {"1e3", "100"}, {"1500", "1.5\\times10^{2}"},
    // approximations are not exact values
    {"\\frac13", "0.333"}, {"\\frac13", "0.3333333333333333"}, {"\\pi", "3.14"}, {"\\pi", "3.14159265358979"},
    {"\\sqrt{2}", "1.41421356"}, {"2\\pi", "2"}, {"\\sqrt{3}", "3"}, {"3\\sqrt{13}", "3\\sqrt{31}"},
    // mixed numbers and percentages
    {"1\\frac{4}{5}", "\\frac{4}{5}"}, {"1\\frac{4}{5}", "0.8"}, {"50\\%", "0.5"},
    // degrees and units do not convert
    {"90^\\circ", "\\frac{\\pi}{2}"}, {"90^\\circ", "180"}, {"5.4 \\text{ cents}", "5.41"},
    // assignments and equations
    {"x=5", "x=6"}, {"y = 2x + 3", "y = 3x + 2"}, {"5x - 7y + 11z + 4 = 0", "5x - 7y + 11z - 4 = 0"},
    // complex numbers
    {"6 - 5i", "6+5i"}, {"6-5i", "6-5"}, {"1+2i", "2+i"}, {"\\sqrt{-4}", "2"},
    // multiple choice and text
    {"\\text{(C)}", "D"}, {"\\text{(C)}", "(D)"}, {"\\text{Evelyn}", "Navin"}, {"\\text{east}", "west"},
    {"\\text{even}", "odd"}, {"\\text{yes}", "\\text{no}"}, {"5", "five apples"}, {"5", "banana"}, {"0", "O"},
    // intervals: brackets must match
    {"(3,4]", "(3,4)"}, {"(3,4]", "[3,4]"}, {"[2,5]", "(2,5)"}, {"(2,\\infty)", "[2,\\infty)"},
    {"(-\\infty, 0]", "(-\\infty, 0)"}, {"(0,9) \\cup (9,36)", "(0,36)"}, {"(0,9) \\cup (9,36)", "(0,9) \\cup (9,36]"},
    // tuples: order matters
    {"(6,31,-1)", "(31,6,-1)"}, {"(1,2)", "(2,1)"}, {"(1,2)", "1,2"}, {"(1,2,3)", "(1,2)"},
    // sets and lists: same elements required
    {"3, 5, 7", "3, 5"}, {"3, 5, 7", "3, 5, 8"}, {"1,-2", "1,2"}, {"\\{1,2,3\\}", "\\{1,2,4\\}"}, {"\\{1,2\\}", "(1,2)"},
    {"1 \\pm \\sqrt{19}", "1+\\sqrt{19}"}, {"3 \\pm 2 \\sqrt{2}", "3 + 2\\sqrt{2}"}, {"12", "12, 13"},
    {"3, 3, 5", "3, 5, 5"},
    // matrices
    {"\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix}-1&0\\\\0&1\\end{pmatrix}"},
    {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 1 & 2 \\end{pmatrix}"},
    {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(1,2)"},
    {"\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}"},
    {"\\begin{pmatrix} 1 \\\\ 2 \\\\ 3 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"},
    // expressions and other text
    {"p - q", "q - p"}, {"x^5 - x^4", "x^4 - x^5"}, {"2k+2", "2k"}, {"\\cot x", "\\tan x"}, {"52_8", "52"},
    {"52_8", "52_9"}, {"4210_{5}", "4210"}, {"\\frac{11+9a}{20}", "\\frac{11+9b}{20}"}, {"(a+5)(b+2)", "(a+2)(b+5)"},
    {"3", "3 + x"}, {"100", "100!"}, {"5", "\\infty"}, {"\\infty", "-\\infty"},
    // more near misses
    {"2", "3"}, {"100", "1000"}, {"0.1", "0.01"}, {"\\frac{5}{9}", "\\frac{9}{5}"}, {"\\frac{3}{4}", "0.7"},
    {"7", "7.1"}, {"-1", "1"}, {"1.5", "15"}, {"2\\sqrt{2}", "\\sqrt{2}"}, {"\\sqrt{8}", "8"}, {"4\\pi", "4"},
    {"\\frac{\\pi}{2}", "\\frac{\\pi}{3}"}, {"\\frac{\\pi}{6}", "30"}, {"1,000", "1"}, {"36", "\\$3.60"},
    {"2\\frac12", "\\frac{1}{2}"}, {"2\\frac{1}{2}", "1"}, {"1+2i", "1-2i"}, {"i", "1"}, {"(1,2)", "(1,2,2)"},
    {"[0,1]", "[0,1)"}, {"(0,1)", "(0,2)"}, {"\\{1,2\\}", "\\{1\\}"}, {"\\{1\\}", "1, 1"}, {"x^2+1", "x^2-1"},
    {"\\text{Navin}", "\\text{Evelyn and Navin}"}, {"\\text{(A)}", "\\text{(B)}"}, {"A", "B"}, {"10\\%", "100"},
    {"1e-3", "1e3"}, {"3^\\circ", "33"},
    {"\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}"},
    // empty answers never match
    {"5", ""}, {"", "5"}, {"", ""}, {"5", "\\boxed{}"}, {"   ", "   "},
};

}  // namespace

TEST_CASE("the equivalence suite has at least 150 cases, half must-not-match", "[math][equivalence]") {
  CHECK(matching.size() + not_matching.size() >= 150);
  CHECK(not_matching.size() >= matching.size());
}

TEST_CASE("equivalent answers match in both directions", "[math][equivalence]") {
  for (const auto& [reference, candidate] : matching) {
    INFO("reference: " << reference << "   candidate: " << candidate);
    CHECK(is_equivalent(reference, candidate));
    CHECK(is_equivalent(candidate, reference));
  }
}

TEST_CASE("different answers do not match in either direction", "[math][equivalence]") {
  for (const auto& [reference, candidate] : not_matching) {
    INFO("reference: " << reference << "   candidate: " << candidate);
    CHECK_FALSE(is_equivalent(reference, candidate));
    CHECK_FALSE(is_equivalent(candidate, reference));
  }
}
