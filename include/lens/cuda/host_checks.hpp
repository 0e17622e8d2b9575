// lens/cuda/host_checks.hpp: the boundary checks the device path can make on
// the host (settings, sizes, null pointers, a fixed group size), with the CPU
// backend's messages. Values in device memory are checked on the device
// (lens/cuda/samples.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lens/core/errors.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/validate.hpp"
#include "lens/core/views.hpp"

namespace lens {
namespace cuda {
namespace detail {

template <class Real, class Out>
void check_sequence_shapes(const sequence_inputs<Real>& in, const advantage_settings& settings, span<Out> advantages) {
  core::validate_settings(settings);
  const std::size_t n = in.scores.size();
  core::check_size("advantages", advantages.size(), n);
  if (n > 0 && in.scores.data() == nullptr) raise(error_code::size_mismatch, "scores", -1, "is null");
  if (settings.kind != estimator::lens) return;
  core::check_size("logprob_sums", in.logprob_sums.size(), n);
  core::check_size("response_lengths", in.response_lengths.size(), n);
  if (n > 0 && (in.logprob_sums.data() == nullptr || in.response_lengths.data() == nullptr))
    raise(error_code::size_mismatch, "logprob_sums / response_lengths", -1, "is null");
}

template <class Real, class Mask, class Out>
void check_token_shapes(const token_inputs<Real, Mask>& in, const advantage_settings& settings, span<Out> advantages,
                        span<Out> token_advantages) {
  core::validate_settings(settings);
  const std::size_t n = in.num_samples, t = in.num_tokens;
  if (!advantages.empty()) core::check_size("advantages", advantages.size(), n);
  if (!token_advantages.empty()) core::check_size("token_advantages", token_advantages.size(), n * t);
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

/// What the host knows of a layout before any device work: the number of
/// groups where it is known (fixed, offsets), or none (ids: found on the device).
inline std::size_t check_layout(const fixed_groups& layout, std::size_t num_samples) {
  return core::validate_layout(layout, num_samples);
}

/// Offsets live on the device: only their count is checked here; their values
/// are checked on the device (check_offset).
inline std::size_t check_layout(const offset_groups& layout, std::size_t) {
  if (layout.offsets.empty() || layout.offsets.data() == nullptr)
    raise(error_code::bad_offsets, "groups.offsets", -1, "needs num_groups + 1 >= 1 entries");
  return layout.offsets.size() - 1;
}

inline std::size_t check_layout(const id_groups& layout, std::size_t num_samples) {
  core::validate_layout(layout, num_samples);
  return 0;
}

}  // namespace detail
}  // namespace cuda
}  // namespace lens
