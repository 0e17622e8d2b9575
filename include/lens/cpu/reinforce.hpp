// lens/cpu/reinforce.hpp: the REINFORCE++ estimators of verl and OpenRLHF on
// the CPU, over token-level inputs in verl's layout.
//   - REINFORCE++-baseline: the score minus its group's mean (a group of one
//     keeps its score, as verl's loop), broadcast to the response tokens, then
//     whitened over every unmasked token of the batch (core/whitening.hpp);
//   - REINFORCE++: per-token discounted returns G_t = r_t + gamma * G_{t+1}
//     over the response tokens (a masked token passes the running return
//     through unchanged, as verl's loop does for observation spans), whitened
//     over every unmasked token.
// The group step is the group engine's (lens::compute_advantages with
// estimator::grpo, normalize_by_std = false, the verl singleton policy), so
// its rules and checks are the other estimators'. Validation finishes before
// the first store; a rejected call writes nothing.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lens/core/errors.hpp"
#include "lens/core/samples.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/status.hpp"
#include "lens/core/validate.hpp"
#include "lens/core/views.hpp"
#include "lens/core/whitening.hpp"
#include "lens/cpu/advantages.hpp"

namespace lens {
namespace cpu {
namespace detail {

/// Unmasked tokens per row, in double, and their total (the mask passed the
/// group engine's checks, or check_token_mask below).
template <class Mask>
double row_token_counts(const Mask* mask, std::size_t n, std::size_t t, std::vector<double>& counts) {
  counts.assign(n, 0.0);
  double total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double c = 0;
    for (std::size_t k = 0; k < t; ++k) c += mask[i * t + k] != Mask(0);
    counts[i] = c;
    total += c;
  }
  return total;
}

/// Throws the CPU backend's message for a bad token k of an [N x T] input
/// ("lens: <field>[k] ... (row r, column c)"), through core/status.hpp's texts.
[[noreturn]] inline void raise_token(error_code code, core::error_field field, std::size_t k, std::size_t t) {
  core::error_report r =
      core::make_report(0, code, field, static_cast<std::int64_t>(k), core::error_detail::row_column);
  r.row = static_cast<std::int64_t>(k / t);
  r.column = static_cast<std::int64_t>(k % t);
  raise(code, core::field_text(field), r.index, core::detail_text(r));
}

inline void check_whitening_count(double count) {
  if (count < 2)
    raise(error_code::size_mismatch, "mask", -1,
          "REINFORCE++ whitens over the batch's unmasked tokens and needs at least 2, found " +
              std::to_string(static_cast<long long>(count)));
}

}  // namespace detail

/// REINFORCE++-baseline advantages (verl compute_reinforce_plus_plus_baseline_outcome_advantage):
/// `advantages` [N] (whitened per-sample values; may be empty) and
/// `token_advantages` [N x T] (= advantages[i] * mask). settings.epsilon,
/// unbiased_std and the kind are not read (the group step only centres).
template <class Real, class Mask, class Layout>
batch_summary compute_reinforce_pp_baseline_advantages(const token_inputs<Real, Mask>& inputs, const Layout& groups,
                                                       span<Real> advantages, span<Real> token_advantages,
                                                       std::vector<group_statistics>* group_stats = nullptr) {
  const advantage_settings settings = presets::dr_grpo();  // mean 0 for a group of one: A = s, as verl
  const std::size_t n = inputs.num_samples, t = inputs.num_tokens;
  core::check_size("token_advantages", token_advantages.size(), n * t);
  core::validate_token_shapes(inputs, settings, advantages, token_advantages);
  if (n > 0 && inputs.mask == nullptr) raise(error_code::size_mismatch, "mask", -1, "is null");
  // Every check before any store: the mask's values and the token count here,
  // the rest inside compute_advantages (which writes only after its own checks).
  for (std::size_t k = 0; k < n * t; ++k)
    if (!core::mask_is_binary(inputs.mask[k]))
      detail::raise_token(error_code::bad_mask_value, core::error_field::mask, k, t);
  std::vector<double> counts;
  const double total = detail::row_token_counts(inputs.mask, n, t, counts);
  if (n > 0) detail::check_whitening_count(total);

  std::vector<Real> centred(n);
  const batch_summary summary = cpu::compute_advantages(inputs, groups, span<Real>(centred), span<Real>(), settings,
                                                        group_stats);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += counts[i] * static_cast<double>(centred[i]);
  const double mean = core::whitening_mean(sum, total);
  double squares = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(centred[i]) - mean;
    squares += counts[i] * d * d;
  }
  const core::whitening_transform w = core::make_whitening(mean, squares, total);
  for (std::size_t i = 0; i < n; ++i) {
    const Real a = static_cast<Real>(core::whiten(w, static_cast<double>(centred[i])));
    if (!advantages.empty()) advantages[i] = a;
    for (std::size_t k = 0; k < t; ++k)
      token_advantages[i * t + k] = a * static_cast<Real>(inputs.mask[i * t + k]);  // verl's product: -0.0 kept
  }
  return summary;
}

/// REINFORCE++ advantages and returns (verl compute_reinforce_plus_plus_outcome_advantage),
/// both [N x T]: returns G_t = r_t + gamma G_{t+1} on response tokens, and
/// advantages = the returns whitened over the batch's unmasked tokens, times the mask.
template <class Real, class Mask>
void compute_reinforce_pp_advantages(std::size_t num_samples, std::size_t num_tokens, const Real* token_rewards,
                                     const Mask* mask, double gamma, span<Real> advantages, span<Real> returns) {
  const std::size_t n = num_samples, t = num_tokens;
  core::check_size("advantages", advantages.size(), n * t);
  core::check_size("returns", returns.size(), n * t);
  if (!(std::isfinite(gamma) && gamma >= 0 && gamma <= 1))
    raise(error_code::bad_setting, "gamma", -1, "value " + std::to_string(gamma) + ", must be in [0, 1]");
  if (n * t > 0 && (token_rewards == nullptr || mask == nullptr))
    raise(error_code::size_mismatch, "token_rewards / mask", -1, "is null");
  for (std::size_t k = 0; k < n * t; ++k) {
    if (!core::mask_is_binary(mask[k])) detail::raise_token(error_code::bad_mask_value, core::error_field::mask, k, t);
    if (!std::isfinite(static_cast<double>(token_rewards[k])))
      detail::raise_token(error_code::not_finite, core::error_field::token_rewards, k, t);
  }
  std::vector<double> counts;
  const double total = detail::row_token_counts(mask, n, t, counts);
  if (n > 0) detail::check_whitening_count(total);

  // Returns in double, kept for the two passes of the whitening.
  std::vector<double> g(n * t);
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double running = 0;
    for (std::size_t k = t; k-- > 0;) {
      const double on = static_cast<double>(mask[i * t + k]);
      const double next = static_cast<double>(token_rewards[i * t + k]) + gamma * running;
      g[i * t + k] = next * on;
      running = next * on + running * (1.0 - on);
      sum += next * on;
    }
  }
  for (std::size_t k = 0; k < n * t; ++k) {
    const double r = g[k];
    if (!std::isfinite(r)) raise(error_code::not_finite, "returns", static_cast<std::int64_t>(k), "overflow");
  }
  const double mean = core::whitening_mean(sum, total);
  double squares = 0;
  for (std::size_t k = 0; k < n * t; ++k) {
    const double d = g[k] - mean;
    squares += mask[k] != Mask(0) ? d * d : 0.0;
  }
  const core::whitening_transform w = core::make_whitening(mean, squares, total);
  for (std::size_t k = 0; k < n * t; ++k) {
    const Real m = static_cast<Real>(mask[k]);
    returns[k] = static_cast<Real>(g[k]);
    advantages[k] = static_cast<Real>(core::whiten(w, g[k])) * m;
  }
}

}  // namespace cpu
}  // namespace lens
