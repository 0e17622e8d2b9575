// lens/core/outputs.hpp: what a call returns besides the advantages: the
// per-group statistics and the batch summary, and the one function that
// finishes a summary's fractions (every backend calls it).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lens/core/config.hpp"

namespace lens {

/// What one group looked like, for logging and filtering.
struct group_statistics {
  std::int64_t group_id = 0;      ///< the id (id layout) or the group's position (other layouts)
  std::int64_t size = 0;          ///< samples in the group
  std::int64_t num_correct = 0;   ///< samples with a reward above 0
  double mean = 0;                ///< mean of the scores the advantages centre on (LENS: calibrated rewards)
  double std = 0;                 ///< their standard deviation (settings.unbiased_std decides the divisor)
  double difficulty = 0;          ///< LENS's D(q); 0 for the other estimators
  bool negative = false;          ///< no reward above 0
  bool zero_variance = false;     ///< two or more samples, all scores equal (advantages exactly 0)
};

/// Batch-wide numbers a trainer logs each step.
struct batch_summary {
  std::size_t num_samples = 0;
  std::size_t num_groups = 0;
  std::size_t num_negative_groups = 0;
  std::size_t num_zero_variance_groups = 0;
  std::size_t num_nonzero_advantages = 0;   ///< samples that carry gradient
  double negative_group_fraction = 0;       ///< num_negative_groups / num_groups (0 for no groups)
  double gradient_sample_fraction = 0;      ///< num_nonzero_advantages / num_samples (0 for no samples)
};

namespace core {

/// Fills the fractions from the counts: the one place they are computed.
LENS_HD void finish_summary(batch_summary& s) {
  s.negative_group_fraction = s.num_groups ? double(s.num_negative_groups) / double(s.num_groups) : 0.0;
  s.gradient_sample_fraction = s.num_samples ? double(s.num_nonzero_advantages) / double(s.num_samples) : 0.0;
}

/// A summary from its counts.
LENS_HD batch_summary make_summary(std::size_t num_samples, std::size_t num_groups, std::size_t num_negative_groups,
                                   std::size_t num_zero_variance_groups, std::size_t num_nonzero_advantages) {
  batch_summary s;
  s.num_samples = num_samples;
  s.num_groups = num_groups;
  s.num_negative_groups = num_negative_groups;
  s.num_zero_variance_groups = num_zero_variance_groups;
  s.num_nonzero_advantages = num_nonzero_advantages;
  finish_summary(s);
  return s;
}

}  // namespace core
}  // namespace lens
