// lens/core/views.hpp: non-owning views of caller buffers (lens::span), the
// group layouts (lens/core/groups.hpp), the input bundles and the statistics
// outputs. No framework headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "lens/core/groups.hpp"
#include "lens/core/outputs.hpp"
#include "lens/core/span.hpp"

namespace lens {

// ------------------------------------------------------------------ inputs

/// Per-sample inputs: one score per response and, for LENS, the summed
/// log-probability of the response under the behaviour policy and its length.
template <class Real>
struct sequence_inputs {
  span<const Real> scores{};                   ///< [N] r_i; LENS requires [0, 1]
  span<const Real> logprob_sums{};             ///< [N] l_i = sum of log pi_old over response tokens (LENS only)
  span<const std::int64_t> response_lengths{}; ///< [N] n_i >= 1, the number of response tokens (LENS only)
};

/// Token-level inputs in verl's layout, row-major [N x T] with rows contiguous.
/// Mask may be any arithmetic type (uint8_t, bool, float, ...) holding 0 or 1.
template <class Real, class Mask = std::uint8_t>
struct token_inputs {
  std::size_t num_samples = 0;         ///< N
  std::size_t num_tokens = 0;          ///< T, the padded response length
  const Real* scores = nullptr;        ///< [N] outcome rewards, or null when token_rewards is given
  const Real* token_rewards = nullptr; ///< [N x T] verl's token_level_rewards, summed per row (verl's score)
  const Real* logprobs = nullptr;      ///< [N x T] log pi_old of the sampled tokens (LENS only); ignored where mask == 0
  const Mask* mask = nullptr;          ///< [N x T] response mask, 0 or 1
};

}  // namespace lens
