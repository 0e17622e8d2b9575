// lens/math/reward.hpp: the verifiable MATH reward, 1 when the final answer of
// a sampled solution is the reference answer, else 0.
#pragma once

#include <lens/math/equivalence.hpp>
#include <lens/math/extract.hpp>
#include <lens/math/settings.hpp>

#include <string_view>

namespace lens::math {

/// 1.0f when extract_answer(model_output) is equivalent to `reference_answer`
/// (the bare answer, e.g. a MATH-500 `answer` field or problem_record::answer),
/// 0.0f otherwise, including when the output has no answer. Linear time; safe
/// on arbitrary bytes.
inline float reward(std::string_view model_output, std::string_view reference_answer,
                    const reward_settings& settings) {
  const auto answer = extract_answer(model_output, settings);
  if (!answer) return 0.0f;
  return is_equivalent(reference_answer, *answer, settings) ? 1.0f : 0.0f;
}

/// reward with the default reward_settings (settings.hpp).
inline float reward(std::string_view model_output, std::string_view reference_answer) {
  return reward(model_output, reference_answer, reward_settings{});
}

}  // namespace lens::math
