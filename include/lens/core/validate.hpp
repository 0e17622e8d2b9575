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

inline void check_size(const char* field, std::size_t actual, std::size_t expected) {
  if (actual != expected)
    raise(error_code::size_mismatch, field, -1,
          "has " + std::to_string(actual) + " elements, expected " + std::to_string(expected));
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
template <class Real, class Mask, class Out>
void validate_token_shapes(const token_inputs<Real, Mask>& in, const advantage_settings& settings,
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

/// Fixed groups: G >= 1 and G divides N. Returns the number of groups.
inline std::size_t validate_layout(const fixed_groups& layout, std::size_t num_samples) {
  if (layout.group_size == 0 || num_samples % layout.group_size != 0)
    raise(error_code::group_size_mismatch, "groups.group_size", -1,
          "group_size " + std::to_string(layout.group_size) + ", N " + std::to_string(num_samples));
  return num_samples / layout.group_size;
}

/// Offsets on the host: num_groups + 1 entries, 0 first, non-decreasing, N last.
inline std::size_t validate_layout(const offset_groups& layout, std::size_t num_samples) {
  const auto& offsets = layout.offsets;
  if (offsets.empty() || offsets.data() == nullptr)
    raise(error_code::bad_offsets, "groups.offsets", -1, "needs num_groups + 1 >= 1 entries");
  if (offsets[0] != 0) raise(error_code::bad_offsets, "groups.offsets", 0, "offsets[0] must be 0");
  for (std::size_t g = 1; g < offsets.size(); ++g)
    if (offsets[g] < offsets[g - 1])
      raise(error_code::bad_offsets, "groups.offsets", static_cast<std::int64_t>(g), "decreases");
  const std::int64_t last = offsets[offsets.size() - 1];
  if (last != static_cast<std::int64_t>(num_samples))
    raise(error_code::bad_offsets, "groups.offsets", static_cast<std::int64_t>(offsets.size() - 1),
          "last offset " + std::to_string(last) + " does not cover N = " + std::to_string(num_samples));
  return offsets.size() - 1;
}

/// Ids: one per sample; any value is allowed.
inline void validate_layout(const id_groups& layout, std::size_t num_samples) {
  check_size("groups.ids", layout.ids.size(), num_samples);
  if (num_samples > 0 && layout.ids.data() == nullptr)
    raise(error_code::size_mismatch, "groups.ids", -1, "is null");
}

/// Settings, then the sizes and null pointers of per-sample inputs and their
/// output: what every backend checks on the host before it reads a value.
template <class Real, class Out>
void check_sequence_call(const sequence_inputs<Real>& in, const advantage_settings& settings, span<Out> advantages) {
  validate_settings(settings);
  validate_sequence_shapes(in, settings, advantages);
}

/// Settings, then the shapes of token-level inputs and their outputs.
template <class Real, class Mask, class Out>
void check_token_call(const token_inputs<Real, Mask>& in, const advantage_settings& settings, span<Out> advantages,
                      span<Out> token_advantages) {
  validate_settings(settings);
  validate_token_shapes(in, settings, advantages, token_advantages);
}

/// What the host can check of a layout whose arrays are in device memory,
/// before any device work: everything for fixed groups, the number of entries
/// for offsets (their values are checked on the device, check_offset), the
/// size of the ids. Returns the number of groups where the host knows it
/// (fixed, offsets), 0 for ids (found on the device).
inline std::size_t check_layout_shape(const fixed_groups& layout, std::size_t num_samples) {
  return validate_layout(layout, num_samples);
}

inline std::size_t check_layout_shape(const offset_groups& layout, std::size_t) {
  if (layout.offsets.empty() || layout.offsets.data() == nullptr)
    raise(error_code::bad_offsets, "groups.offsets", -1, "needs num_groups + 1 >= 1 entries");
  return layout.offsets.size() - 1;
}

inline std::size_t check_layout_shape(const id_groups& layout, std::size_t num_samples) {
  validate_layout(layout, num_samples);
  return 0;
}

}  // namespace core
}  // namespace lens
