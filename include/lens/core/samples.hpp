// lens/core/samples.hpp: the device path's per-sample step, shared by the
// Thrust path and the CUDA kernels: plain parameter structs (raw pointers,
// sizes), the checks each input value goes through (in the CPU backend's
// order, reported through device_status), and the reduction of a token row to
// one sample. LENS_HD throughout; no CUDA-only syntax outside __CUDACC__ blocks.
#pragma once

#include <math.h>

#include <cstdint>

#include "lens/core/config.hpp"
#include "lens/core/errors.hpp"
#include "lens/core/group_math.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/views.hpp"
#include "lens/core/status.hpp"

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace lens {
namespace core {

// ------------------------------------------------------------------ values

template <class T>
LENS_HD double to_double(T x) {
  return static_cast<double>(x);
}
#if defined(__CUDACC__)
LENS_HD double to_double(__half x) { return static_cast<double>(__half2float(x)); }
LENS_HD double to_double(__nv_bfloat16 x) { return static_cast<double>(__bfloat162float(x)); }
#endif

/// Mask values are compared with 0 and 1 in their own type (as the CPU backend does).
template <class Mask>
LENS_HD bool mask_is_binary(Mask m) {
  return m == Mask(0) || m == Mask(1);
}

/// What the group step needs of one sample, in double.
struct sample_values {
  double score = 0;            ///< r_i (or the row sum of token rewards)
  double log_confidence = 0;   ///< log pbar_i (LENS only)
  double log_probability = 0;  ///< log p_i for D_imp (LENS only)
  bool missing = false;        ///< a NaN score under settings.skip_nan_scores: in no group, advantage 0
};

/// A score that settings.skip_nan_scores leaves out (TRL's unscorable completion).
LENS_HD bool is_missing_score(double score, const advantage_settings& settings) {
  return settings.skip_nan_scores && isnan(score);
}

// ------------------------------------------------------------------ parameters

/// Per-sample inputs on the device.
template <class Real>
struct sequence_params {
  const Real* scores = nullptr;                 ///< [N]
  const Real* logprob_sums = nullptr;           ///< [N], LENS only
  const std::int64_t* response_lengths = nullptr;  ///< [N], LENS only
  std::int64_t num_samples = 0;                 ///< N
};

/// Token-level inputs on the device, row-major [N x T].
template <class Real, class Mask, class Reward = Real>
struct token_params {
  const Reward* scores = nullptr;         ///< [N], or null when token_rewards is given
  const Reward* token_rewards = nullptr;  ///< [N x T], summed per row
  const Real* logprobs = nullptr;       ///< [N x T], read where mask == 1 (LENS only)
  const Mask* mask = nullptr;           ///< [N x T], 0 or 1
  std::int64_t num_samples = 0;         ///< N
  std::int64_t num_tokens = 0;          ///< T
  bool need_mask = false;               ///< LENS, or token advantages requested
  double logprob_limit = 0;             ///< settings.logprob_tolerance rounded to Real
};

/// The kernels' view of validated per-sample inputs (one builder for the
/// kernel path and the Thrust path).
template <class Real>
inline sequence_params<Real> make_sequence_params(const sequence_inputs<Real>& in) {
  sequence_params<Real> p;
  p.scores = in.scores.data();
  p.logprob_sums = in.logprob_sums.data();
  p.response_lengths = in.response_lengths.data();
  p.num_samples = static_cast<std::int64_t>(in.scores.size());
  return p;
}

/// The kernels' view of validated token-level inputs; want_token_advantages
/// says whether the caller asked for the [N x T] output (which reads the mask).
template <class Real, class Mask, class Reward>
inline token_params<Real, Mask, Reward> make_token_params(const token_inputs<Real, Mask, Reward>& in,
                                                  const advantage_settings& settings, bool want_token_advantages) {
  token_params<Real, Mask, Reward> p;
  p.scores = in.scores;
  p.token_rewards = in.token_rewards;
  p.logprobs = in.logprobs;
  p.mask = in.mask;
  p.num_samples = static_cast<std::int64_t>(in.num_samples);
  p.num_tokens = static_cast<std::int64_t>(in.num_tokens);
  p.need_mask = (settings.kind == estimator::lens || want_token_advantages) && in.num_samples > 0;
  p.logprob_limit = to_double(static_cast<Real>(settings.logprob_tolerance));
  return p;
}

// ------------------------------------------------------------------ sequence inputs

/// Checks sample i in the CPU backend's order (every score first, rank i; then
/// the LENS inputs, rank N + i) and returns its values.
template <class Real>
LENS_HD sample_values check_sequence_sample(const sequence_params<Real>& p, std::int64_t i,
                                            const advantage_settings& settings, device_status* status) {
  const bool is_lens = settings.kind == estimator::lens;
  sample_values v;
  v.score = to_double(p.scores[i]);
  const auto rank = static_cast<std::uint64_t>(i);
  if (is_missing_score(v.score, settings)) {
    v.missing = true;
    return v;
  }
  if (!isfinite(v.score)) {
    report_error(status, make_report(rank, error_code::not_finite, error_field::scores, i));
  } else if (is_lens && (v.score < 0 || v.score > 1)) {
    error_report r = make_report(rank, error_code::reward_out_of_range, error_field::scores, i, error_detail::value);
    r.value = v.score;
    report_error(status, r);
  }
  if (!is_lens) return v;
  const std::int64_t length = p.response_lengths[i];
  const double sum = to_double(p.logprob_sums[i]);
  const auto lens_rank = static_cast<std::uint64_t>(p.num_samples + i);
  if (length < 0) {
    report_error(status, make_report(lens_rank, error_code::bad_length, error_field::response_lengths, i));
  } else if (length == 0) {
    report_error(status, make_report(lens_rank, error_code::empty_response, error_field::response_lengths, i));
  } else if (!isfinite(sum)) {
    report_error(status, make_report(lens_rank, error_code::not_finite, error_field::logprob_sums, i));
  } else if (sum > settings.logprob_tolerance * static_cast<double>(length)) {
    error_report r = make_report(lens_rank, error_code::logprob_above_zero, error_field::logprob_sums, i,
                                 error_detail::sum_over_length);
    r.value = sum;
    r.count = length;
    report_error(status, r);
  } else {
    const double n = static_cast<double>(length);
    v.log_confidence = core::log_confidence(sum, n);
    v.log_probability = core::log_probability(sum, n, settings.difficulty_source);
  }
  return v;
}

/// Where the offsets checks rank: after every sample check.
LENS_HD std::uint64_t sequence_offsets_rank(std::int64_t num_samples) { return 2 * static_cast<std::uint64_t>(num_samples); }

// ------------------------------------------------------------------ token rows

/// A row of tokens reduced so far: sums in double, the first bad column of
/// each kind. Mergeable, so a warp can split a row among its lanes.
struct row_reduction {
  double reward_sum = 0;
  double logprob_sum = 0;
  double length = 0;
  std::int64_t bad_reward = INT64_MAX;   ///< first non-finite token reward
  std::int64_t bad_mask = INT64_MAX;     ///< first mask value other than 0 or 1
  std::int64_t bad_logprob = INT64_MAX;  ///< first unmasked log-probability that is not finite or above the limit
};

LENS_HD std::int64_t min_index(std::int64_t a, std::int64_t b) { return a < b ? a : b; }

LENS_HD row_reduction merge(const row_reduction& a, const row_reduction& b) {
  row_reduction r;
  r.reward_sum = a.reward_sum + b.reward_sum;
  r.logprob_sum = a.logprob_sum + b.logprob_sum;
  r.length = a.length + b.length;
  r.bad_reward = min_index(a.bad_reward, b.bad_reward);
  r.bad_mask = min_index(a.bad_mask, b.bad_mask);
  r.bad_logprob = min_index(a.bad_logprob, b.bad_logprob);
  return r;
}

LENS_HD void add_reward(row_reduction& row, std::int64_t column, double reward) {
  row.reward_sum += reward;
  if (!isfinite(reward)) row.bad_reward = min_index(row.bad_reward, column);
}

/// Returns whether the token is in the response (mask != 0).
template <class Mask>
LENS_HD bool add_mask(row_reduction& row, std::int64_t column, Mask m) {
  if (!mask_is_binary(m)) row.bad_mask = min_index(row.bad_mask, column);
  return m != Mask(0);
}

/// An unmasked log-probability the CPU backend rejects: not finite, or above the limit.
LENS_HD bool is_bad_logprob(double v, double limit) { return !isfinite(v) || v > limit; }

/// What an accepted log-probability adds to the sum: min(v, 0) (values within
/// the tolerance above 0 read as 0, as on the CPU).
LENS_HD double clamped_logprob(double v) { return v < 0 ? v : 0.0; }

/// An unmasked log-probability: counted, checked, and summed.
LENS_HD void add_logprob(row_reduction& row, std::int64_t column, double v, double limit) {
  row.length += 1;
  if (is_bad_logprob(v, limit)) row.bad_logprob = min_index(row.bad_logprob, column);
  row.logprob_sum += clamped_logprob(v);
}

/// Rank of row r's check number `step` (0..4): row-major, as the CPU backend
/// checks one row completely before the next.
LENS_HD std::uint64_t row_rank(std::int64_t row, int step) { return static_cast<std::uint64_t>(row) * 8 + step; }

LENS_HD std::uint64_t token_offsets_rank(std::int64_t num_samples) { return row_rank(num_samples, 0); }

/// Turns a reduced row into the sample's values and reports the row's first
/// error in the CPU backend's order: score, reward range, mask, empty
/// response, log-probabilities.
template <class Real, class Mask, class Reward>
LENS_HD sample_values finish_row(const token_params<Real, Mask, Reward>& p, std::int64_t r, const row_reduction& row,
                                 const advantage_settings& settings, device_status* status) {
  const bool is_lens = settings.kind == estimator::lens;
  const std::int64_t t = p.num_tokens;
  sample_values v;
  v.score = p.scores ? to_double(p.scores[r]) : row.reward_sum;
  if (is_missing_score(v.score, settings)) {
    v.missing = true;
    return v;
  }
  auto at = [&](int step, error_code code, error_field field, std::int64_t column, error_detail detail) {
    error_report e = make_report(row_rank(r, step), code, field, r * t + column, detail);
    e.row = r;
    e.column = column;
    return e;
  };
  if (p.scores && !isfinite(v.score)) {
    report_error(status, make_report(row_rank(r, 0), error_code::not_finite, error_field::scores, r));
    return v;
  }
  if (!p.scores && row.bad_reward != INT64_MAX) {
    report_error(status, at(0, error_code::not_finite, error_field::token_rewards, row.bad_reward, error_detail::row_column));
    return v;
  }
  if (is_lens && (v.score < 0 || v.score > 1)) {
    error_report e = make_report(row_rank(r, 1), error_code::reward_out_of_range,
                                 p.scores ? error_field::scores : error_field::token_rewards_row_sum, r, error_detail::value);
    e.value = v.score;
    report_error(status, e);
    return v;
  }
  if (p.need_mask && row.bad_mask != INT64_MAX) {
    report_error(status, at(2, error_code::bad_mask_value, error_field::mask, row.bad_mask, error_detail::row_column));
    return v;
  }
  if (!is_lens) return v;
  if (row.length == 0) {
    report_error(status, make_report(row_rank(r, 3), error_code::empty_response, error_field::mask, r,
                                     error_detail::row_has_no_one));
    return v;
  }
  if (row.bad_logprob != INT64_MAX) {
    const double bad = to_double(p.logprobs[r * t + row.bad_logprob]);
    if (!isfinite(bad)) {
      report_error(status, at(4, error_code::not_finite, error_field::logprobs, row.bad_logprob, error_detail::row_column));
    } else {
      error_report e = at(4, error_code::logprob_above_zero, error_field::logprobs, row.bad_logprob,
                          error_detail::row_column_value);
      e.value = bad;
      report_error(status, e);
    }
    return v;
  }
  v.log_confidence = core::log_confidence(row.logprob_sum, row.length);
  v.log_probability = core::log_probability(row.logprob_sum, row.length, settings.difficulty_source);
  return v;
}

/// Row r by one thread (the Thrust path): every column in order.
template <class Real, class Mask, class Reward>
LENS_HD sample_values reduce_row(const token_params<Real, Mask, Reward>& p, std::int64_t r, const advantage_settings& settings,
                                 device_status* status) {
  const bool is_lens = settings.kind == estimator::lens;
  const std::int64_t t = p.num_tokens;
  row_reduction row;
  for (std::int64_t c = 0; c < t; ++c) {
    const std::int64_t k = r * t + c;
    if (!p.scores) add_reward(row, c, to_double(p.token_rewards[k]));
    if (!p.need_mask) continue;
    const bool on = add_mask(row, c, p.mask[k]);
    if (is_lens && on) add_logprob(row, c, to_double(p.logprobs[k]), p.logprob_limit);
  }
  return finish_row(p, r, row, settings, status);
}

// ------------------------------------------------------------------ groups

/// A sample's contribution to its group's confidence summary.
LENS_HD core::confidence_summary confidence_of(const sample_values& v) {
  core::confidence_summary c;
  core::add(c, v.score, v.log_confidence, v.log_probability);
  return c;
}

/// The score the advantages centre on (LENS: the calibrated reward).
LENS_HD double shaped_of(const core::group_shape& shape, const sample_values& v) {
  return core::shaped_score(shape, v.score, shape.calibrate ? v.log_confidence : 0.0);
}

/// The largest finite value of an output type (no std::numeric_limits, whose
/// members device code can call only with --expt-relaxed-constexpr).
template <class Out>
struct output_limits;
template <>
struct output_limits<float> {
  static constexpr double max = 3.4028234663852886e38;  // FLT_MAX
};
template <>
struct output_limits<double> {
  static constexpr double max = 1.7976931348623157e308;  // DBL_MAX
};

/// The overflow rule (core::advantages_fit) for an output type Out.
template <class Out>
LENS_HD bool advantages_fit_in(const core::score_moments& m, const core::group_transform& t,
                               const advantage_settings& settings, double batch_std, double* reach) {
  return core::advantages_fit(m, t, settings, batch_std, output_limits<Out>::max, reach);
}

/// Ranked after every input check: group slot g (the group's position, order
/// of first appearance for ids), as the CPU backend checks groups in order.
LENS_HD error_report overflow_report(std::int64_t slot, double reach) {
  error_report r = make_report((std::uint64_t(1) << 62) + static_cast<std::uint64_t>(slot), error_code::advantage_overflow,
                               error_field::groups, slot, error_detail::largest_advantage);
  r.value = reach;
  return r;
}

}  // namespace core
}  // namespace lens
