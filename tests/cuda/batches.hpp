// tests/cuda/batches.hpp: random batches in the three layouts, on the host,
// shared by the Thrust-on-OpenMP test and the CUDA test. Token rows hold a
// response of random length (a prefix of 1s in the mask) and NaN garbage at
// masked positions, which every backend must ignore.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "lens/core/settings.hpp"
#include "lens/core/views.hpp"

namespace lens_test {

enum class layout_kind { fixed, ragged, ids };

struct batch {
  std::size_t num_samples = 0, num_tokens = 0;
  std::size_t group_size = 0;             // fixed layout
  std::vector<std::int64_t> offsets;      // ragged layout
  std::vector<std::int64_t> ids;          // ids layout (every layout has them, for the reference)
  std::vector<float> scores;              // [N]
  std::vector<float> logprobs;            // [N x T]
  std::vector<std::uint8_t> mask;         // [N x T]
  std::vector<float> logprob_sums;        // [N], the masked row sums
  std::vector<std::int64_t> lengths;      // [N]
};

/// Group sizes for `groups` groups: G each (fixed) or 1..2G-1 at random.
inline std::vector<std::size_t> group_sizes(std::mt19937_64& rng, layout_kind kind, std::size_t groups, std::size_t g) {
  std::vector<std::size_t> sizes(groups, g);
  if (kind != layout_kind::fixed) {
    std::uniform_int_distribution<std::size_t> size(1, 2 * g - 1);
    for (auto& s : sizes) s = size(rng);
  }
  return sizes;
}

/// binary: 0/1 rewards (LENS); otherwise continuous scores. Some groups are
/// all wrong, some all right, as in training.
inline batch make_batch(std::mt19937_64& rng, layout_kind kind, std::size_t groups, std::size_t g, std::size_t t,
                        bool binary, double min_logprob = -3.0) {
  batch b;
  const auto sizes = group_sizes(rng, kind, groups, g);
  b.num_samples = std::accumulate(sizes.begin(), sizes.end(), std::size_t(0));
  b.num_tokens = t;
  b.group_size = g;
  b.offsets.push_back(0);
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<std::int64_t> any_id(std::numeric_limits<std::int64_t>::min(),
                                                     std::numeric_limits<std::int64_t>::max());
  std::vector<std::int64_t> group_of;
  for (std::size_t k = 0; k < groups; ++k) {
    const double p_correct = unit(rng) < 0.4 ? 0.0 : (unit(rng) < 0.1 ? 1.0 : unit(rng));
    const std::int64_t id = any_id(rng);
    for (std::size_t j = 0; j < sizes[k]; ++j) {
      b.ids.push_back(id);
      b.scores.push_back(binary ? (unit(rng) < p_correct ? 1.0f : 0.0f) : static_cast<float>(unit(rng) * 4 - 2));
    }
    b.offsets.push_back(b.offsets.back() + static_cast<std::int64_t>(sizes[k]));
  }
  const std::size_t n = b.num_samples;
  b.logprobs.resize(n * t);
  b.mask.resize(n * t);
  b.logprob_sums.resize(n);
  b.lengths.resize(n);
  std::uniform_int_distribution<std::size_t> length(1, t);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t len = length(rng);
    // Each response has its own typical confidence, so groups differ.
    const double scale = min_logprob * unit(rng);
    double sum = 0;
    for (std::size_t c = 0; c < t; ++c) {
      const bool on = c < len;
      b.mask[i * t + c] = on;
      const float v = static_cast<float>(scale * unit(rng));
      b.logprobs[i * t + c] = on ? v : nan;
      if (on) sum += v;
    }
    b.logprob_sums[i] = static_cast<float>(sum);
    b.lengths[i] = static_cast<std::int64_t>(len);
  }
  if (kind == layout_kind::ids) {
    // verl shuffles the batch: permute samples, keeping each one's row.
    std::vector<std::size_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    batch s = b;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t from = perm[i];
      s.ids[i] = b.ids[from];
      s.scores[i] = b.scores[from];
      s.logprob_sums[i] = b.logprob_sums[from];
      s.lengths[i] = b.lengths[from];
      std::copy_n(b.logprobs.begin() + from * t, t, s.logprobs.begin() + i * t);
      std::copy_n(b.mask.begin() + from * t, t, s.mask.begin() + i * t);
    }
    b = s;
  }
  return b;
}

/// The estimators and anchors every parity test runs.
inline std::vector<lens::advantage_settings> all_settings() {
  std::vector<lens::advantage_settings> s = {lens::presets::lens(),        lens::presets::verl_grpo(),
                                             lens::presets::trl_grpo(),    lens::presets::dr_grpo(),
                                             lens::presets::rloo(),        lens::presets::trl_grpo_batch_std()};
  lens::advantage_settings geometric = lens::presets::lens();
  geometric.difficulty_source = lens::difficulty_probability::geometric_mean;
  s.push_back(geometric);
  lens::advantage_settings negative_only = lens::presets::lens();
  negative_only.scope = lens::lens_scope::negative_groups;
  s.push_back(negative_only);
  return s;
}

/// Largest |a - b| / max(1, |b|).
inline double max_relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = a.size() == b.size() ? 0.0 : INFINITY;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i])) / std::max(1.0, std::fabs(double(b[i])));
    worst = std::isnan(d) ? INFINITY : std::max(worst, d);
  }
  return worst;
}

/// The batch as host token-level inputs (scores, log-probs, mask).
inline lens::token_inputs<float> host_token_inputs(const batch& b) {
  lens::token_inputs<float> in;
  in.num_samples = b.num_samples;
  in.num_tokens = b.num_tokens;
  in.scores = b.scores.data();
  in.logprobs = b.logprobs.data();
  in.mask = b.mask.data();
  return in;
}

}  // namespace lens_test
