// lens/cpu/engine.hpp: runs the per-group math of lens/core/group_math.hpp over
// validated inputs on the host. Inner code: it trusts its inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lens/core/group_math.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/views.hpp"

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
  double score(std::size_t i) const { return static_cast<double>(scores[i]); }
  double log_confidence(std::size_t i) const {
    return core::log_confidence(static_cast<double>(logprob_sums[i]), static_cast<double>(lengths[i]));
  }
  double log_probability(std::size_t i) const {
    return core::log_probability(static_cast<double>(logprob_sums[i]), static_cast<double>(lengths[i]), source);
  }
};

/// Per-sample values the token path reduced from [N x T] rows, in double.
struct reduced_samples {
  const double* scores;
  const double* logprob_sums;
  const double* lengths;
  difficulty_probability source;
  double score(std::size_t i) const { return scores[i]; }
  double log_confidence(std::size_t i) const { return core::log_confidence(logprob_sums[i], lengths[i]); }
  double log_probability(std::size_t i) const { return core::log_probability(logprob_sums[i], lengths[i], source); }
};

/// The three steps of group_math.hpp over every group, writing one advantage
/// per sample into advantages[sample index].
template <class Real, class Segments, class Samples>
batch_summary run_groups(const Segments& segments, const Samples& samples, std::size_t num_samples,
                         Real* advantages, const advantage_settings& settings,
                         std::vector<group_statistics>* statistics) {
  const std::size_t num_groups = segments.num_groups();
  const bool is_lens = settings.kind == estimator::lens;
  std::vector<core::group_shape> shapes(num_groups);
  std::vector<core::score_moments> moments(num_groups);
  std::vector<std::int64_t> num_correct(num_groups);

  // Steps 1 and 2: difficulty, then the moments of the shaped scores.
  for (std::size_t g = 0; g < num_groups; ++g) {
    const std::size_t begin = segments.begin(g), end = segments.end(g);
    core::confidence_summary confidence;
    if (is_lens) {
      for (std::size_t k = begin; k < end; ++k) {
        const std::size_t i = segments.member(k);
        core::add(confidence, samples.score(i), samples.log_confidence(i), samples.log_probability(i));
      }
    } else {
      for (std::size_t k = begin; k < end; ++k) confidence.num_correct += samples.score(segments.member(k)) > 0;
      confidence.count = static_cast<double>(end - begin);
    }
    const core::group_shape shape = core::make_shape(confidence, settings);
    core::score_moments m;
    for (std::size_t k = begin; k < end; ++k) {
      const std::size_t i = segments.member(k);
      core::add(m, core::shaped_score(shape, samples.score(i), shape.calibrate ? samples.log_confidence(i) : 0.0));
    }
    shapes[g] = shape;
    moments[g] = m;
    num_correct[g] = static_cast<std::int64_t>(confidence.num_correct);
  }

  double batch_std = 0;
  if (settings.kind == estimator::grpo_batch_std) {
    core::score_moments all;
    for (const auto& m : moments) all = core::merge(all, m);
    batch_std = core::standard_deviation(all, settings.unbiased_std);
  }

  // Step 3: advantages.
  batch_summary summary;
  summary.num_samples = num_samples;
  summary.num_groups = num_groups;
  if (statistics) statistics->resize(num_groups);
  for (std::size_t g = 0; g < num_groups; ++g) {
    const core::group_shape& shape = shapes[g];
    const core::group_transform transform = core::make_transform(moments[g], shape, settings, batch_std);
    for (std::size_t k = segments.begin(g), end = segments.end(g); k < end; ++k) {
      const std::size_t i = segments.member(k);
      const double shaped = core::shaped_score(shape, samples.score(i), shape.calibrate ? samples.log_confidence(i) : 0.0);
      const Real a = static_cast<Real>(core::advantage(transform, shaped));
      advantages[i] = a;
      summary.num_nonzero_advantages += a != Real(0);
    }
    const bool zero_variance = moments[g].count >= 2 && moments[g].max == moments[g].min;
    summary.num_negative_groups += shape.negative;
    summary.num_zero_variance_groups += zero_variance;
    if (statistics) {
      group_statistics& s = (*statistics)[g];
      s.group_id = segments.id(g);
      s.size = static_cast<std::int64_t>(segments.end(g) - segments.begin(g));
      s.mean = moments[g].mean;
      s.std = core::standard_deviation(moments[g], settings.unbiased_std);
      s.difficulty = shape.calibrate ? exp(shape.log_difficulty) : 0.0;
      s.negative = shape.negative;
      s.zero_variance = zero_variance;
      s.num_correct = num_correct[g];
    }
  }
  summary.negative_group_fraction = num_groups ? double(summary.num_negative_groups) / double(num_groups) : 0.0;
  summary.gradient_sample_fraction =
      num_samples ? double(summary.num_nonzero_advantages) / double(num_samples) : 0.0;
  return summary;
}

}  // namespace detail
}  // namespace cpu
}  // namespace lens
