// Robustness: arbitrary bytes, unbalanced and deeply nested braces, 1 MB
// inputs. Nothing may crash (the sanitizer build runs this too), hang, or
// report an answer for garbage.
#include <lens/math.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using lens::math::extract_answer;
using lens::math::is_equivalent;
using lens::math::normalize_answer;
using lens::math::reward;

namespace {

// Pieces that reach the interesting branches of the scanners.
const std::vector<std::string> fragments = {
    "\\boxed{", "\\boxed ", "\\fbox{", "{", "}", "\\{", "\\}", "$", "$$", "\\(", "\\)", "\\[", "\\]", "\\frac",
    "\\dfrac", "\\sqrt", "\\sqrt[", "]", "[", "(", ")", "\\left(", "\\right]", "\\pi", "\\pm", "\\cup", "\\in", "=",
    ",", ",\\!", "\\text{", "\\mbox{ cm}", "^\\circ", "^{\\circ}", "^", "_", "\\%", "\\$", "%", ".", "-", "+", "i",
    "e", "E", "1", "0", "9", "12", "3.5", "1e308", "99999999999999999999", "/", "\\cdot", "\\times", "\\\\", "&",
    "\\begin{pmatrix}", "\\end{pmatrix}", "The final answer is ", "Answer:", " ", "\n", "x", "and", " or ", "\\",
    "\xC2\xB0", "\xC2", "\xFF", std::string(1, '\0')};

std::string random_text(std::mt19937_64& rng, std::size_t pieces) {
  std::string text;
  std::uniform_int_distribution<std::size_t> pick(0, fragments.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::bernoulli_distribution raw_byte(0.15);
  for (std::size_t k = 0; k < pieces; ++k) {
    if (raw_byte(rng)) {
      text += static_cast<char>(byte(rng));
    } else {
      text += fragments[pick(rng)];
    }
  }
  return text;
}

template <typename Function>
double seconds(Function&& function) {
  const auto start = std::chrono::steady_clock::now();
  function();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Generous for a Debug + ASan build; a quadratic pass on 1 MB takes minutes.
constexpr double max_seconds_per_megabyte_call = 5.0;

}  // namespace

TEST_CASE("random LaTeX-like and raw-byte inputs never crash and keep the invariants", "[math][robustness]") {
  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<std::size_t> length(0, 60);
  int answers_found = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    const std::string output = random_text(rng, length(rng));
    const std::string reference = random_text(rng, length(rng) / 4);
    const auto answer = extract_answer(output);
    if (answer) {
      ++answers_found;
      CHECK_FALSE(answer->empty());
    }
    const float r = reward(output, reference);
    REQUIRE((r == 0.0f || r == 1.0f));
    // reward is exactly "extract, then compare".
    REQUIRE(r == ((answer && is_equivalent(reference, *answer)) ? 1.0f : 0.0f));
    // An answer is itself iff it normalises to something.
    REQUIRE(is_equivalent(reference, reference) == !normalize_answer(reference).empty());
  }
  // The generator does reach the extraction paths.
  CHECK(answers_found > 1000);
}

TEST_CASE("uniformly random bytes give no crash", "[math][robustness]") {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int trial = 0; trial < 5000; ++trial) {
    std::string text(static_cast<std::size_t>(trial % 200), '\0');
    for (char& c : text) c = static_cast<char>(byte(rng));
    const float r = reward(text, text);
    REQUIRE((r == 0.0f || r == 1.0f));
    (void)normalize_answer(text);
  }
}

TEST_CASE("1 MB adversarial inputs finish in linear time and give no answer or 0", "[math][robustness]") {
  const std::size_t megabyte = 1 << 20;
  auto repeat = [&](const std::string& unit) {
    std::string text;
    text.reserve(megabyte + unit.size());
    while (text.size() < megabyte) text += unit;
    return text;
  };
  std::mt19937_64 rng(99);
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {"open braces", repeat("{")},
      {"close braces", repeat("}")},
      {"unclosed box", "\\boxed{" + repeat("{")},
      {"nested fractions", "\\boxed{" + repeat("\\frac{")},
      {"nested parentheses", "\\boxed{" + repeat("(")},
      {"dollars", repeat("$")},
      {"boxes", repeat("\\boxed")},
      {"answer markers", repeat("The final answer is ")},
      {"random fragments", random_text(rng, megabyte / 4)},
  };
  for (const auto& input : inputs) {
    const std::string& text = input.second;  // not a structured binding: clang 14 cannot capture those
    INFO(input.first);
    float r = 1.0f;
    const double elapsed = seconds([&] { r = reward(text, "5"); });
    CHECK(r == 0.0f);
    CHECK(elapsed < max_seconds_per_megabyte_call);
  }
}

TEST_CASE("1 MB answers compare in linear time", "[math][robustness]") {
  const std::size_t megabyte = 1 << 20;
  auto repeat = [&](const std::string& unit) {
    std::string text;
    while (text.size() < megabyte) text += unit;
    return text;
  };
  const std::vector<std::pair<std::string, std::string>> answers = {
      {"long list", repeat("1,")},
      {"nested sets", repeat("\\{1,")},
      {"nested tuples", repeat("(1,")},
      {"nested fractions", repeat("\\frac{1}{")},
      {"unbraced fractions", repeat("\\frac1")},
      {"deep powers", repeat("2^{")},
      {"text units", repeat("5 \\text{ cm}")},
      {"thousands", "1" + repeat(",000")},
      {"digits", repeat("9")},
      {"unions", repeat("(1,2)\\cup")},
      {"pm", repeat("1\\pm")},
      {"matrix", "\\begin{pmatrix}" + repeat("1&\\\\") + "\\end{pmatrix}"},
  };
  for (const auto& entry : answers) {
    const std::string& answer = entry.second;
    INFO(entry.first);
    std::string perturbed = answer;
    perturbed[perturbed.size() / 2] = perturbed[perturbed.size() / 2] == '7' ? '8' : '7';
    bool same = false;
    bool different = true;
    const double elapsed = seconds([&] {
      same = is_equivalent(answer, answer);
      different = is_equivalent(answer, perturbed);
    });
    CHECK(same);
    CHECK_FALSE(different);
    CHECK(elapsed < 2 * max_seconds_per_megabyte_call);
  }
}

TEST_CASE("a box inside 1 MB of text is still found", "[math][robustness]") {
  const std::string filler(1 << 20, 'a');
  CHECK(reward(filler + "\\boxed{\\frac{1}{2}}" + filler, "0.5") == 1.0f);
  CHECK(reward("\\boxed{" + std::string(100000, '{') + "5" + std::string(100000, '}') + "}", "5") == 1.0f);
}
