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
#include <string>
#include <vector>

#include "lens/core/errors.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/validate.hpp"
#include "lens/core/views.hpp"
#include "lens/cpu/engine.hpp"
#include "lens/cpu/rows.hpp"
#include "lens/cpu/segments.hpp"

namespace lens {
namespace cpu {
namespace detail {

/// The values of per-sample inputs (their shapes passed core::validate_sequence_shapes).
template <class Real>
void validate_sequence_inputs(const sequence_inputs<Real>& in, const advantage_settings& settings) {
  const std::size_t n = in.scores.size();
  const bool is_lens = settings.kind == estimator::lens;
  for (std::size_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(in.scores[i]);
    if (!std::isfinite(r)) raise(error_code::not_finite, "scores", static_cast<std::int64_t>(i));
    if (is_lens && (r < 0 || r > 1))
      raise(error_code::reward_out_of_range, "scores", static_cast<std::int64_t>(i), "value " + std::to_string(r));
  }
  if (!is_lens) return;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t length = in.response_lengths[i];
    if (length < 0) raise(error_code::bad_length, "response_lengths", static_cast<std::int64_t>(i));
    if (length == 0) raise(error_code::empty_response, "response_lengths", static_cast<std::int64_t>(i));
    const double l = static_cast<double>(in.logprob_sums[i]);
    if (!std::isfinite(l)) raise(error_code::not_finite, "logprob_sums", static_cast<std::int64_t>(i));
    if (l > settings.logprob_tolerance * static_cast<double>(length))
      raise(error_code::logprob_above_zero, "logprob_sums", static_cast<std::int64_t>(i),
            "sum " + std::to_string(l) + " over " + std::to_string(length) + " tokens");
  }
}

/// What the token path reduces each row to, in double.
struct reduced_rows {
  std::vector<double> scores, logprob_sums, lengths;
};

[[noreturn]] inline void raise_at(error_code code, const char* field, std::size_t row, std::size_t column,
                                  std::size_t num_tokens, const std::string& extra = {}) {
  raise(code, field, static_cast<std::int64_t>(row * num_tokens + column),
        "row " + std::to_string(row) + ", column " + std::to_string(column) + (extra.empty() ? "" : "; " + extra));
}

/// Reads every row once (the validating pass): mask values, the score (given
/// or summed from token rewards, as verl does), and for LENS the masked sum
/// and count of log-probabilities. Throws on the first bad value.
template <class Real, class Mask>
reduced_rows reduce_rows(const token_inputs<Real, Mask>& in, const advantage_settings& settings, bool need_mask) {
  const std::size_t n = in.num_samples, t = in.num_tokens;
  const bool is_lens = settings.kind == estimator::lens;
  reduced_rows rows;
  rows.scores.resize(n);
  if (is_lens) {
    rows.logprob_sums.resize(n);
    rows.lengths.resize(n);
  }
  const Real tolerance = static_cast<Real>(settings.logprob_tolerance);
  for (std::size_t i = 0; i < n; ++i) {
    double score;
    if (in.scores) {
      score = static_cast<double>(in.scores[i]);
      if (!std::isfinite(score)) raise(error_code::not_finite, "scores", static_cast<std::int64_t>(i));
    } else {
      score = sum_row(in.token_rewards + i * t, t);
      if (!std::isfinite(score)) {
        for (std::size_t c = 0; c < t; ++c)
          if (!std::isfinite(static_cast<double>(in.token_rewards[i * t + c])))
            raise_at(error_code::not_finite, "token_rewards", i, c, t);
        raise(error_code::not_finite, "token_rewards", static_cast<std::int64_t>(i * t), "row sum overflows");
      }
    }
    if (is_lens && (score < 0 || score > 1))
      raise(error_code::reward_out_of_range, in.scores ? "scores" : "token_rewards (row sum)",
            static_cast<std::int64_t>(i), "value " + std::to_string(score));
    rows.scores[i] = score;
    if (!need_mask) continue;

    const Mask* mask = in.mask + i * t;
    auto raise_bad_mask = [&] {
      for (std::size_t c = 0; c < t; ++c)
        if (is_bad_mask(mask[c])) raise_at(error_code::bad_mask_value, "mask", i, c, t);
    };
    if (!is_lens) {
      if (!mask_row_ok(mask, t)) raise_bad_mask();
      continue;
    }

    // One pass reads the row; the rare row it flags is read again to find the
    // error or to clamp log-probs within the tolerance above 0.
    const Real* logprobs = in.logprobs + i * t;
    const lens_row_scan scan = scan_lens_row(logprobs, mask, t);
    if (scan.bad_mask) raise_bad_mask();
    if (scan.count == 0) raise(error_code::empty_response, "mask", static_cast<std::int64_t>(i), "row has no 1");
    double sum = scan.sum;
    if (scan.unusual || !std::isfinite(sum)) {
      sum = 0;
      for (std::size_t c = 0; c < t; ++c) {
        if (mask[c] == Mask(0)) continue;
        const Real v = logprobs[c];
        if (!std::isfinite(static_cast<double>(v))) raise_at(error_code::not_finite, "logprobs", i, c, t);
        if (v > tolerance)
          raise_at(error_code::logprob_above_zero, "logprobs", i, c, t, "value " + std::to_string(double(v)));
        sum += static_cast<double>(v < Real(0) ? v : Real(0));  // within the tolerance above 0: read as 0
      }
    }
    rows.logprob_sums[i] = sum;
    rows.lengths[i] = static_cast<double>(scan.count);
  }
  return rows;
}

}  // namespace detail

/// Advantages from per-sample inputs: one advantage per sample into
/// `advantages` (size N = scores.size()). Returns the batch summary; fills
/// `group_stats` (one entry per group) when given.
template <class Real, class Layout>
batch_summary compute_advantages(const sequence_inputs<Real>& inputs, const Layout& groups, span<Real> advantages,
                                 const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr) {
  core::check_sequence_call(inputs, settings, advantages);
  const std::size_t n = inputs.scores.size();
  detail::validate_sequence_inputs(inputs, settings);
  return detail::with_segments(groups, n, [&](const auto& segments) {
    const detail::sequence_samples<Real> samples{inputs.scores.data(), inputs.logprob_sums.data(),
                                                 inputs.response_lengths.data(), settings.difficulty_source};
    return detail::run_groups(segments, samples, n, advantages.data(), settings, group_stats);
  });
}

/// Advantages from token-level inputs ([N x T], verl's layout). Writes one
/// advantage per sample into `advantages` (size N, or empty to skip) and
/// A_i * mask_it into `token_advantages` (size N x T, or empty to skip).
template <class Real, class Mask, class Layout>
batch_summary compute_advantages(const token_inputs<Real, Mask>& inputs, const Layout& groups,
                                 span<Real> advantages, span<Real> token_advantages,
                                 const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr) {
  core::check_token_call(inputs, settings, advantages, token_advantages);
  const std::size_t n = inputs.num_samples, t = inputs.num_tokens;
  const bool need_mask = settings.kind == estimator::lens || !token_advantages.empty();
  const detail::reduced_rows rows = detail::reduce_rows(inputs, settings, need_mask && n > 0);
  return detail::with_segments(groups, n, [&](const auto& segments) {
    std::vector<Real> scratch;
    Real* per_sample = advantages.data();
    if (advantages.empty()) {
      scratch.resize(n);
      per_sample = scratch.data();
    }
    const detail::reduced_samples samples{rows.scores.data(), rows.logprob_sums.data(), rows.lengths.data(),
                                          settings.difficulty_source};
    const batch_summary summary = detail::run_groups(segments, samples, n, per_sample, settings, group_stats);
    if (!token_advantages.empty()) detail::broadcast_rows(token_advantages.data(), inputs.mask, per_sample, n, t);
    return summary;
  });
}

}  // namespace cpu
}  // namespace lens
