// libFuzzer entry for the MATH reward. The input is "<reference>\0<model output>"
// (no NUL: the whole input is both). Besides the sanitizers, it checks the
// invariants every caller relies on:
//   reward is 0 or 1, and equals "extract, then is_equivalent";
//   an extracted answer is never empty;
//   an answer is equivalent to itself exactly when it normalises to something;
//   each reward_settings variant (no bare fallback, no expression layer,
//   rounded decimals) gives 0 or 1 and matches its own "extract, then compare";
//   the expression layer is deterministic on the two halves taken as answers.
// The expression layer's limits (detail::max_expression_bytes, max_nodes,
// max_parse_depth) keep every input within libFuzzer's -timeout.
#include <lens/math.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find('\0');
  const std::string_view reference = split == std::string_view::npos ? input : input.substr(0, split);
  const std::string_view output = split == std::string_view::npos ? input : input.substr(split + 1);

  const auto answer = lens::math::extract_answer(output);
  if (answer && answer->empty()) std::abort();
  const float r = lens::math::reward(output, reference);
  if (r != 0.0f && r != 1.0f) std::abort();
  const bool expected = answer && lens::math::is_equivalent(reference, *answer);
  if ((r == 1.0f) != expected) std::abort();
  if (lens::math::is_equivalent(reference, reference) == lens::math::normalize_answer(reference).empty()) std::abort();

  for (int variant = 0; variant < 3; ++variant) {
    lens::math::reward_settings settings;
    settings.bare_answer_fallback = variant != 0;
    settings.expression_layer = variant != 1;
    settings.accept_rounded_decimals = variant == 2;
    const auto extracted = lens::math::extract_answer(output, settings);
    if (extracted && extracted->empty()) std::abort();
    const float rv = lens::math::reward(output, reference, settings);
    if (rv != 0.0f && rv != 1.0f) std::abort();
    if ((rv == 1.0f) != (extracted && lens::math::is_equivalent(reference, *extracted, settings))) std::abort();
  }
  const std::string a = lens::math::normalize_answer(reference);
  const std::string b = lens::math::normalize_answer(output);
  if (lens::math::expressions_equivalent(a, b) != lens::math::expressions_equivalent(a, b)) std::abort();
  return 0;
}
