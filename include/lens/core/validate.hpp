// lens/core/validate.hpp: boundary checks shared by every backend. Each throws
// lens::invalid_argument naming the field and the first offending index; inner
// code trusts what passed.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "lens/core/errors.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/views.hpp"

namespace lens {
namespace core {

inline void check_setting(bool ok, const char* field, double value, const char* rule) {
  if (!ok) raise(error_code::bad_setting, std::string("settings.") + field, -1,
                 "value " + std::to_string(value) + ", must be " + rule);
}

inline void validate_settings(const advantage_settings& s) {
  check_setting(std::isfinite(s.epsilon) && s.epsilon >= 0, "epsilon", s.epsilon, "finite and >= 0");
  check_setting(std::isfinite(s.alpha) && s.alpha >= 0, "alpha", s.alpha, "finite and >= 0");
  check_setting(std::isfinite(s.floor_factor) && s.floor_factor > 1, "floor_factor", s.floor_factor,
                "finite and > 1 (so that D - pbar stays positive)");
  check_setting(std::isfinite(s.logprob_tolerance) && s.logprob_tolerance >= 0, "logprob_tolerance",
                s.logprob_tolerance, "finite and >= 0");
  const int kind = static_cast<int>(s.kind);
  check_setting(kind >= 0 && kind <= static_cast<int>(estimator::lens), "kind", kind, "a lens::estimator");
}

/// What the device backends (CUDA kernels, Thrust path) do not implement yet:
/// settings.skip_nan_scores (TRL's NaN rule) runs on the CPU backend only.
inline void check_device_settings(const advantage_settings& s) {
  check_setting(!s.skip_nan_scores, "skip_nan_scores", 1.0,
                "false on the GPU backends for now (TRL's NaN rule runs on the CPU backend)");
}

/// Sizes and null pointers of per-sample inputs and their output, checked by
/// every backend before any value (values are checked where they live).
template <class Real, class Out>
void validate_sequence_shapes(const sequence_inputs<Real>& in, const advantage_settings& settings,
                              span<Out> advantages) {
  const std::size_t n = in.scores.size();
  check_size("advantages", advantages.size(), n);
  if (n > 0 && in.scores.data() == nullptr) raise(error_code::size_mismatch, "scores", -1, "is null");
  if (settings.kind != estimator::lens) return;
  check_size("logprob_sums", in.logprob_sums.size(), n);
  check_size("response_lengths", in.response_lengths.size(), n);
  if (n > 0 && (in.logprob_sums.data() == nullptr || in.response_lengths.data() == nullptr))
    raise(error_code::size_mismatch, "logprob_sums / response_lengths", -1, "is null");
}

/// Sizes and null pointers of token-level inputs and their outputs (either
/// output may be empty: not wanted).
template <class Real, class Mask, class Reward, class Out>
void validate_token_shapes(const token_inputs<Real, Mask, Reward>& in, const advantage_settings& settings,
                           span<Out> advantages, span<Out> token_advantages) {
  const std::size_t n = in.num_samples, t = in.num_tokens;
  if (!advantages.empty()) check_size("advantages", advantages.size(), n);
  if (!token_advantages.empty()) check_size("token_advantages", token_advantages.size(), n * t);
  if (n == 0) return;
  if ((in.scores == nullptr) == (in.token_rewards == nullptr))
    raise(error_code::size_mismatch, "scores / token_rewards", -1, "give exactly one of the two");
  if (in.token_rewards && t == 0) raise(error_code::size_mismatch, "token_rewards", -1, "needs num_tokens >= 1");
  const bool is_lens = settings.kind == estimator::lens;
  if ((is_lens || !token_advantages.empty()) && in.mask == nullptr)
    raise(error_code::size_mismatch, "mask", -1, "is null but LENS or token_advantages needs it");
  if (is_lens && in.logprobs == nullptr) raise(error_code::size_mismatch, "logprobs", -1, "is null but LENS needs it");
  if (is_lens && t == 0) raise(error_code::empty_response, "mask", 0, "num_tokens is 0");
}

/// Settings, then the sizes and null pointers of per-sample inputs and their
/// output: what every backend checks on the host before it reads a value.
template <class Real, class Out>
void check_sequence_call(const sequence_inputs<Real>& in, const advantage_settings& settings, span<Out> advantages) {
  validate_settings(settings);
  validate_sequence_shapes(in, settings, advantages);
}

/// Settings, then the shapes of token-level inputs and their outputs.
template <class Real, class Mask, class Reward, class Out>
void check_token_call(const token_inputs<Real, Mask, Reward>& in, const advantage_settings& settings, span<Out> advantages,
                      span<Out> token_advantages) {
  validate_settings(settings);
  validate_token_shapes(in, settings, advantages, token_advantages);
}

}  // namespace core
}  // namespace lens
