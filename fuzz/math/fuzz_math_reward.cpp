// libFuzzer entry for the MATH reward. The input is "<reference>\0<model output>"
// (no NUL: the whole input is both). Besides the sanitizers, it checks the
// invariants every caller relies on:
//   reward is 0 or 1, and equals "extract, then is_equivalent";
//   an extracted answer is never empty;
//   an answer is equivalent to itself exactly when it normalises to something.
#include <lens/math.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
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
  return 0;
}
