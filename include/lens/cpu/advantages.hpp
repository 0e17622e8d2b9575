// lens/cpu/advantages.hpp: the CPU backend. Validates at the boundary, reduces
// token rows in one pass each (lens/cpu/rows.hpp), runs the shared per-group
// math, and broadcasts advantages back to tokens. Every entry point throws lens::invalid_argument
// before writing any output, so a rejected call leaves outputs untouched.
//
// The token loops are written by hand: each row must be validated, counted
// and summed in ONE read. The first version of this file used Eigen
// reductions, which evaluate each reduction of an expression as its own pass
// (three per row), and reached 24% of a copy's bandwidth at 16M tokens; the
// fused loops reach 87% (docs/BENCHMARKS.md). Eigen objects still feed the API
// through lens::as_span (lens/eigen.hpp).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "lens/core/errors.hpp"
#include "lens/core/samples.hpp"
#include "lens/core/status.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/validate.hpp"
#include "lens/core/views.hpp"
#include "lens/cpu/engine.hpp"
#include "lens/cpu/rows.hpp"

namespace lens {
namespace cpu {
namespace detail {

/// The values of per-sample inputs (their shapes passed core::check_sequence_call),
/// by the rule every backend applies (core::check_sequence_sample).
template <class Real>
void validate_sequence_inputs(const sequence_inputs<Real>& in, const advantage_settings& settings) {
  const core::sequence_params<Real> p = core::make_sequence_params(in);
  core::device_status status;
  for (std::int64_t i = 0; i < p.num_samples; ++i) core::check_sequence_sample(p, i, settings, &status);
  core::throw_if_error(status);
}

/// 32 bytes of Real, and the flags a comparison of them gives.
template <class Real>
struct screen_blocks;
template <>
struct screen_blocks<float> {
  typedef float values __attribute__((vector_size(32)));
  typedef std::int32_t flags __attribute__((vector_size(32)));
};
template <>
struct screen_blocks<double> {
  typedef double values __attribute__((vector_size(32)));
  typedef std::int64_t flags __attribute__((vector_size(32)));
};

/// Whether core::check_sequence_sample might reject some sample: a
/// branch-free screen in blocks of 32 bytes of Real (on the run-time AVX2
/// path of lens/cpu/dispatch.hpp), true for every input the rule rejects. It
/// may also flag a valid input, which then only costs the rule's scalar run:
/// a log-probability sum above 0 but within the tolerance. TRL's NaN rule
/// skips the checks of a left-out sample, so under it the rule runs directly.
template <class Real>
bool might_reject(const sequence_inputs<Real>& in, const advantage_settings& settings) {
  if (settings.skip_nan_scores) return true;
  constexpr std::size_t width = 32 / sizeof(Real);
  typedef typename screen_blocks<Real>::values block;
  typedef typename screen_blocks<Real>::flags flags;
  typedef std::int64_t length_block __attribute__((vector_size(32)));
  const std::size_t n = in.scores.size(), full = n - n % width;
  const Real* scores = in.scores.data();
  const Real* sums = in.logprob_sums.data();
  const std::int64_t* lengths = in.response_lengths.data();
  const bool is_lens = settings.kind == estimator::lens;
  bool bad = false;
  with_best_isa([&]() LENS_CPU_KERNEL {
    flags any = {};
    length_block short_rows = {};
    for (std::size_t i = 0; i < full; i += width) {
      block s;
      std::memcpy(&s, scores + i, sizeof s);
      if (!is_lens) {
        any |= s - s != block{};  // NaN or infinite
        continue;
      }
      block l;
      std::memcpy(&l, sums + i, sizeof l);
      any |= ~((s >= Real(0)) & (s <= Real(1)));
      any |= ~((l > Real(-HUGE_VAL)) & (l <= Real(0)));  // above 0: the tolerance needs the length
      for (std::size_t j = 0; j < width; j += 4) {
        length_block len;
        std::memcpy(&len, lengths + i + j, sizeof len);
        short_rows |= len < 1;
      }
    }
    for (std::size_t j = 0; j < width; ++j) bad |= any[j] != 0;
    for (std::size_t j = 0; j < 4; ++j) bad |= short_rows[j] != 0;
  });
  for (std::size_t i = full; i < n; ++i) {
    bad |= !(scores[i] - scores[i] == Real(0));
    if (!is_lens) continue;
    bad |= !(scores[i] >= Real(0) && scores[i] <= Real(1));
    bad |= !(sums[i] > Real(-HUGE_VAL) && sums[i] <= Real(0));
    bad |= lengths[i] < 1;
  }
  return bad;
}

/// Reads every row once (the validating pass), with the fast scans of
/// lens/cpu/rows.hpp: mask values, the score (given or summed from token
/// rewards, as verl does), and for LENS the masked sum and count of
/// log-probabilities. The rare row a scan flags is read again to find the
/// first bad column; the row's checks and values are then the shared rule
/// (core::finish_row). Throws on the first bad row.
template <class Real, class Mask, class Reward>
std::vector<core::sample_values> reduce_rows(const token_inputs<Real, Mask, Reward>& in, const advantage_settings& settings,
                                             bool want_token_advantages) {
  const core::token_params<Real, Mask, Reward> p = core::make_token_params(in, settings, want_token_advantages);
  const std::size_t n = in.num_samples, t = in.num_tokens;
  const bool is_lens = settings.kind == estimator::lens;
  std::vector<core::sample_values> samples(n);
  core::device_status status;
  for (std::size_t i = 0; i < n; ++i) {
    core::row_reduction row;
    if (!in.scores) {
      const Reward* rewards = in.token_rewards + i * t;
      row.reward_sum = sum_row(rewards, t);
      if (!std::isfinite(row.reward_sum)) {
        for (std::size_t c = 0; c < t && row.bad_reward == INT64_MAX; ++c)
          if (!std::isfinite(static_cast<double>(rewards[c]))) row.bad_reward = static_cast<std::int64_t>(c);
        if (row.bad_reward == INT64_MAX)
          raise(error_code::not_finite, "token_rewards", static_cast<std::int64_t>(i * t), "row sum overflows");
      }
    }
    if (p.need_mask) {
      const Mask* mask = in.mask + i * t;
      auto find_bad_mask = [&] {
        for (std::size_t c = 0; c < t && row.bad_mask == INT64_MAX; ++c)
          if (is_bad_mask(mask[c])) row.bad_mask = static_cast<std::int64_t>(c);
      };
      if (!is_lens) {
        if (!mask_row_ok(mask, t)) find_bad_mask();
      } else {
        const Real* logprobs = in.logprobs + i * t;
        const lens_row_scan scan = scan_lens_row(logprobs, mask, t);
        if (scan.bad_mask) find_bad_mask();
        row.length = static_cast<double>(scan.count);
        row.logprob_sum = scan.sum;
        if (scan.unusual || !std::isfinite(scan.sum)) {
          row.logprob_sum = 0;
          for (std::size_t c = 0; c < t; ++c) {
            if (mask[c] == Mask(0)) continue;
            const double v = static_cast<double>(logprobs[c]);
            if (core::is_bad_logprob(v, p.logprob_limit) && row.bad_logprob == INT64_MAX)
              row.bad_logprob = static_cast<std::int64_t>(c);
            row.logprob_sum += core::clamped_logprob(v);  // within the tolerance above 0: read as 0
          }
        }
      }
    }
    samples[i] = core::finish_row(p, static_cast<std::int64_t>(i), row, settings, &status);
    if (core::has_error(&status)) core::throw_if_error(status);
  }
  return samples;
}

}  // namespace detail

/// Advantages from per-sample inputs: one advantage per sample into
/// `advantages` (size N = scores.size()). Returns the batch summary; fills
/// `group_stats` (one entry per group) when given.
template <class Real, class Layout, class Out>
batch_summary compute_advantages(const sequence_inputs<Real>& inputs, const Layout& groups, span<Out> advantages,
                                 const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr) {
  core::check_sequence_call(inputs, settings, advantages);
  const std::size_t n = inputs.scores.size();
  if (detail::might_reject(inputs, settings)) detail::validate_sequence_inputs(inputs, settings);
  const detail::caller_samples<Real> samples{inputs.scores.data(), inputs.logprob_sums.data(),
                                             inputs.response_lengths.data(), settings.difficulty_source,
                                             settings.skip_nan_scores};
  return detail::run_layout(groups, n, samples, advantages.data(), settings, group_stats);
}

/// Advantages from token-level inputs ([N x T], verl's layout). Writes one
/// advantage per sample into `advantages` (size N, or empty to skip) and
/// A_i * mask_it into `token_advantages` (size N x T, or empty to skip). The
/// outputs' type Out is float or double, independent of the inputs' types.
template <class Real, class Mask, class Reward, class Layout, class Out>
batch_summary compute_advantages(const token_inputs<Real, Mask, Reward>& inputs, const Layout& groups,
                                 span<Out> advantages, span<Out> token_advantages,
                                 const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr) {
  core::check_token_call(inputs, settings, advantages, token_advantages);
  const std::size_t n = inputs.num_samples, t = inputs.num_tokens;
  const detail::row_values rows(detail::reduce_rows(inputs, settings, !token_advantages.empty()));
  std::vector<Out> scratch;
  Out* per_sample = advantages.data();
  if (advantages.empty()) {
    scratch.resize(n);
    per_sample = scratch.data();
  }
  const batch_summary summary = detail::run_layout(groups, n, rows.samples(), per_sample, settings, group_stats);
  if (!token_advantages.empty()) detail::broadcast_rows(token_advantages.data(), inputs.mask, per_sample, n, t);
  return summary;
}

}  // namespace cpu
}  // namespace lens
