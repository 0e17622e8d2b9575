// lens/cpu/engine.hpp: runs the per-group math of lens/core/group_math.hpp over
// validated inputs on the host. Inner code: it trusts its inputs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "lens/core/errors.hpp"
#include "lens/core/group_math.hpp"
#include "lens/core/samples.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/views.hpp"
#include "lens/cpu/groups.hpp"

namespace lens {
namespace cpu {
namespace detail {

/// Per-sample values read straight from caller buffers (sequence inputs).
/// logprob_sums and lengths are read only for LENS.
template <class Real>
struct sequence_samples {
  const Real* scores;
  const Real* logprob_sums;
  const std::int64_t* lengths;
  difficulty_probability source;
  bool skip_nan_scores;
  double score(std::size_t i) const { return static_cast<double>(scores[i]); }
  bool missing(std::size_t i) const { return skip_nan_scores && std::isnan(score(i)); }
  double log_confidence(std::size_t i) const {
    return core::log_confidence(static_cast<double>(logprob_sums[i]), static_cast<double>(lengths[i]));
  }
  double log_probability(std::size_t i) const {
    return core::log_probability(static_cast<double>(logprob_sums[i]), static_cast<double>(lengths[i]), source);
  }
};

/// Per-sample values the token path reduced from [N x T] rows (core::finish_row).
struct reduced_samples {
  const core::sample_values* values;
  double score(std::size_t i) const { return values[i].score; }
  bool missing(std::size_t i) const { return values[i].missing; }
  double log_confidence(std::size_t i) const { return values[i].log_confidence; }
  double log_probability(std::size_t i) const { return values[i].log_probability; }
};

/// Batch std over every shaped score (only grpo_batch_std reads it).
inline double batch_standard_deviation(const std::vector<core::score_moments>& moments,
                                       const advantage_settings& settings) {
  if (settings.kind != estimator::grpo_batch_std) return 0;
  core::score_moments all;
  for (const auto& m : moments) all = core::merge(all, m);
  return core::standard_deviation(all, settings.unbiased_std);
}

/// Adds group g to the summary and, when asked, writes its statistics (core::make_statistics).
inline void record_group(batch_summary& summary, std::vector<group_statistics>* statistics, std::size_t g,
                         std::int64_t id, std::int64_t num_correct, const core::score_moments& m,
                         const core::group_shape& shape, const advantage_settings& settings) {
  summary.num_negative_groups += shape.negative;
  summary.num_zero_variance_groups += core::zero_variance(m);
  if (statistics) (*statistics)[g] = core::make_statistics(id, num_correct, shape, m, settings);
}

/// Rejects, before any output is written, a batch whose advantages would not be
/// finite in Real (core::advantages_fit). The index is the group's position
/// (order of first appearance for ids), as in group_statistics.
template <class Real>
void check_advantages_fit(const std::vector<core::score_moments>& moments, const std::vector<core::group_shape>& shapes,
                          const advantage_settings& settings, double batch_std) {
  const double largest = static_cast<double>(std::numeric_limits<Real>::max());
  for (std::size_t g = 0; g < moments.size(); ++g) {
    const core::group_transform t = core::make_transform(moments[g], shapes[g], settings, batch_std);
    double reach = 0;
    if (!core::advantages_fit(moments[g], t, settings, batch_std, largest, &reach)) {
      char detail[64];
      std::snprintf(detail, sizeof detail, "largest |advantage| %.3g", reach);
      raise(error_code::advantage_overflow, "groups", static_cast<std::int64_t>(g), detail);
    }
  }
}

/// The three steps of group_math.hpp over every group of a contiguous layout
/// (fixed or offsets), group by group, writing one advantage per sample into
/// advantages[sample index].
template <class Real, class Groups, class Samples>
batch_summary run_groups(const Groups& groups, const Samples& samples, std::size_t num_samples,
                         Real* advantages, const advantage_settings& settings,
                         std::vector<group_statistics>* statistics) {
  const std::size_t num_groups = static_cast<std::size_t>(groups.count());
  const bool skip = settings.skip_nan_scores;  // TRL's rule: a NaN score is in no group
  auto begin = [&](std::size_t g) { return static_cast<std::size_t>(groups.begin(static_cast<std::int64_t>(g))); };
  auto end = [&](std::size_t g) { return static_cast<std::size_t>(groups.end(static_cast<std::int64_t>(g))); };
  const bool is_lens = settings.kind == estimator::lens;
  std::vector<core::group_shape> shapes(num_groups);
  std::vector<core::score_moments> moments(num_groups);
  std::vector<std::int64_t> num_correct(num_groups);
  // LENS: each sample's shaped score, computed once in step 2 and read back in
  // step 3, which saves an exp per sample.
  std::vector<double> shaped_scores(is_lens ? num_samples : 0);
  // 1/k for k = 1 .. the largest group: Welford's update without a division per sample.
  std::size_t largest_group = 0;
  for (std::size_t g = 0; g < num_groups; ++g) largest_group = std::max(largest_group, end(g) - begin(g));
  std::vector<double> reciprocals(largest_group + 1);
  for (std::size_t k = 1; k <= largest_group; ++k) reciprocals[k] = 1.0 / static_cast<double>(k);

  // Steps 1 and 2: difficulty, then the moments of the shaped scores.
  for (std::size_t g = 0; g < num_groups; ++g) {
    const std::size_t first = begin(g), last = end(g);
    core::confidence_summary confidence;
    if (is_lens) {
      for (std::size_t k = first; k < last; ++k) {
        const std::size_t i = static_cast<std::size_t>(groups.member(static_cast<std::int64_t>(k)));
        if (skip && samples.missing(i)) continue;
        core::add(confidence, samples.score(i), samples.log_confidence(i), samples.log_probability(i));
      }
    } else {
      for (std::size_t k = first; k < last; ++k) {
        const std::size_t i = static_cast<std::size_t>(groups.member(static_cast<std::int64_t>(k)));
        if (skip && samples.missing(i)) continue;
        confidence.num_correct += samples.score(i) > 0;
        confidence.count += 1;
      }
    }
    const core::group_shape shape = core::make_shape(confidence, settings);
    core::score_moments m;
    for (std::size_t k = first; k < last; ++k) {
      const std::size_t i = static_cast<std::size_t>(groups.member(static_cast<std::int64_t>(k)));
      if (skip && samples.missing(i)) continue;
      const double shaped =
          core::shaped_score(shape, samples.score(i), shape.calibrate ? samples.log_confidence(i) : 0.0);
      if (is_lens) shaped_scores[i] = shaped;
      core::add(m, shaped, reciprocals[static_cast<std::size_t>(m.count) + 1]);
    }
    shapes[g] = shape;
    moments[g] = m;
    num_correct[g] = static_cast<std::int64_t>(confidence.num_correct);
  }

  const double batch_std = batch_standard_deviation(moments, settings);
  check_advantages_fit<Real>(moments, shapes, settings, batch_std);

  // Step 3: advantages.
  batch_summary summary;
  summary.num_samples = num_samples;
  summary.num_groups = num_groups;
  if (statistics) statistics->resize(num_groups);
  for (std::size_t g = 0; g < num_groups; ++g) {
    const core::group_transform transform = core::make_transform(moments[g], shapes[g], settings, batch_std);
    for (std::size_t k = begin(g), last = end(g); k < last; ++k) {
      const std::size_t i = static_cast<std::size_t>(groups.member(static_cast<std::int64_t>(k)));
      const double shaped = is_lens ? shaped_scores[i] : samples.score(i);
      const Real a = skip && samples.missing(i) ? Real(0) : static_cast<Real>(core::advantage(transform, shaped));
      advantages[i] = a;
      summary.num_nonzero_advantages += a != Real(0);
    }
    record_group(summary, statistics, g, groups.id(static_cast<std::int64_t>(g)), num_correct[g], moments[g], shapes[g], settings);
  }
  core::finish_summary(summary);
  return summary;
}

/// The same three steps for the ids layout, sample by sample in the caller's
/// order: each step updates or reads the state of the sample's group. A
/// group's members are visited in the same order as above, so the results
/// are bit for bit those of the group-by-group loop.
template <class Real, class Samples>
batch_summary run_groups(const numbered_id_groups& groups, const Samples& samples, std::size_t num_samples,
                         Real* advantages, const advantage_settings& settings,
                         std::vector<group_statistics>* statistics) {
  const std::size_t num_groups = groups.count();
  const bool is_lens = settings.kind == estimator::lens;
  const bool skip = settings.skip_nan_scores;  // TRL's rule: a NaN score is in no group
  std::vector<core::confidence_summary> confidence(num_groups);
  std::vector<core::group_shape> shapes(num_groups);
  std::vector<core::score_moments> moments(num_groups);
  std::vector<double> shaped_scores(is_lens ? num_samples : 0);

  if (is_lens) {
    // Step 1: difficulty.
    for (std::size_t i = 0; i < num_samples; ++i) {
      groups.prefetch_ahead(confidence.data(), i, num_samples);
      if (skip && samples.missing(i)) continue;
      core::add(confidence[groups.group_of(i)], samples.score(i), samples.log_confidence(i),
                samples.log_probability(i));
    }
    for (std::size_t g = 0; g < num_groups; ++g) shapes[g] = core::make_shape(confidence[g], settings);
    // Step 2: the moments of the shaped scores.
    for (std::size_t i = 0; i < num_samples; ++i) {
      groups.prefetch_ahead(shapes.data(), i, num_samples);
      groups.prefetch_ahead(moments.data(), i, num_samples);
      const std::size_t g = groups.group_of(i);
      if (skip && samples.missing(i)) continue;
      const core::group_shape& shape = shapes[g];
      const double shaped =
          core::shaped_score(shape, samples.score(i), shape.calibrate ? samples.log_confidence(i) : 0.0);
      shaped_scores[i] = shaped;
      core::add(moments[g], shaped);
    }
  } else {
    // The other estimators shape nothing (the shaped score is the score), so
    // steps 1 and 2 share one pass.
    for (std::size_t i = 0; i < num_samples; ++i) {
      groups.prefetch_ahead(confidence.data(), i, num_samples);
      groups.prefetch_ahead(moments.data(), i, num_samples);
      const std::size_t g = groups.group_of(i);
      if (skip && samples.missing(i)) continue;
      const double score = samples.score(i);
      confidence[g].num_correct += score > 0;
      core::add(moments[g], score);
    }
    for (std::size_t g = 0; g < num_groups; ++g) {
      confidence[g].count = moments[g].count;  // the group's size, less its missing scores
      shapes[g] = core::make_shape(confidence[g], settings);
    }
  }

  const double batch_std = batch_standard_deviation(moments, settings);
  std::vector<core::group_transform> transforms(num_groups);
  for (std::size_t g = 0; g < num_groups; ++g)
    transforms[g] = core::make_transform(moments[g], shapes[g], settings, batch_std);
  check_advantages_fit<Real>(moments, shapes, settings, batch_std);

  // Step 3: advantages.
  batch_summary summary;
  summary.num_samples = num_samples;
  summary.num_groups = num_groups;
  for (std::size_t i = 0; i < num_samples; ++i) {
    groups.prefetch_ahead(transforms.data(), i, num_samples);
    const double shaped = is_lens ? shaped_scores[i] : samples.score(i);
    const Real a = skip && samples.missing(i) ? Real(0)
                                              : static_cast<Real>(core::advantage(transforms[groups.group_of(i)], shaped));
    advantages[i] = a;
    summary.num_nonzero_advantages += a != Real(0);
  }
  if (statistics) statistics->resize(num_groups);
  for (std::size_t g = 0; g < num_groups; ++g)
    record_group(summary, statistics, g, groups.id(g), static_cast<std::int64_t>(confidence[g].num_correct),
                 moments[g], shapes[g], settings);
  core::finish_summary(summary);
  return summary;
}

}  // namespace detail
}  // namespace cpu
}  // namespace lens
