// lens/cpu/engine.hpp: runs the per-group math of lens/core/group_math.hpp
// over validated inputs on the host. Inner code: it trusts its inputs.
//
// Two passes over groups whose members are contiguous:
//   1. measure: each group's confidence (LENS), shape and moments, by the
//      blocked kernels of lens/cpu/group_kernels.hpp;
//   2. write: once every group is known to fit the output type, each
//      member's advantage.
// When every group has one size (and no statistics are asked for), run_tiles
// does both passes four groups at a time, one group per lane, with the same
// bits as the per-group kernels.
// Contiguous layouts (fixed, offsets) are read in place. The ids layout, and
// any layout with scores that TRL's NaN rule leaves out, is first gathered
// group by group (a counting sort by dense group number), then runs the same
// passes and scatters its advantages back; a group's members keep the
// caller's order, so every layout gives the same bits for the same groups.
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
#include "lens/core/groups.hpp"
#include "lens/core/samples.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/views.hpp"
#include "lens/cpu/dispatch.hpp"
#include "lens/cpu/group_index.hpp"
#include "lens/cpu/group_kernels.hpp"

namespace lens {
namespace cpu {
namespace detail {

// ------------------------------------------------------------------ samples

/// Per-sample inputs read straight from the caller's buffers (sequence level).
/// logprob_sums and lengths are read only for LENS.
template <class Real>
struct caller_samples {
  const Real* scores;
  const Real* logprob_sums;
  const std::int64_t* lengths;
  difficulty_probability source;
  bool skip_nan_scores;
  const Real* score_data() const { return scores; }
  double score(std::size_t i) const { return static_cast<double>(scores[i]); }
  bool missing(std::size_t i) const { return skip_nan_scores && std::isnan(score(i)); }
  double log_confidence(std::size_t i) const {
    return core::log_confidence(static_cast<double>(logprob_sums[i]), static_cast<double>(lengths[i]));
  }
  double log_probability(std::size_t i) const {
    return core::log_probability(static_cast<double>(logprob_sums[i]), static_cast<double>(lengths[i]), source);
  }
  /// log pbar and log p of samples [first, first + n), computed into c and p.
  LENS_CPU_INLINE void lens_values(std::size_t first, std::size_t n, double* c, double* p, const double*& c_out,
                                   const double*& p_out) const {
    std::size_t k = 0;
    for (; k + lanes <= n; k += lanes) {
      const packet sum = load(logprob_sums + first + k);
      const packet length = load(lengths + first + k);
      store(c + k, core::log_confidence(sum, length));
      store(p + k, core::log_probability(sum, length, source));
    }
    for (; k < n; ++k) {
      c[k] = log_confidence(first + k);
      p[k] = log_probability(first + k);
    }
    c_out = c;
    p_out = p;
  }
};

/// Per-sample values already in double: token rows reduced (core::finish_row),
/// or samples gathered group by group. missing: null, or one flag per sample.
struct value_samples {
  const double* scores;
  const double* log_conf;
  const double* log_prob;
  const char* missing_flags = nullptr;
  const double* score_data() const { return scores; }
  double score(std::size_t i) const { return scores[i]; }
  bool missing(std::size_t i) const { return missing_flags && missing_flags[i]; }
  double log_confidence(std::size_t i) const { return log_conf[i]; }
  double log_probability(std::size_t i) const { return log_prob[i]; }
  LENS_CPU_INLINE void lens_values(std::size_t first, std::size_t, double*, double*, const double*& c_out,
                                   const double*& p_out) const {
    c_out = log_conf + first;
    p_out = log_prob + first;
  }
};

/// The token path's rows as value_samples' arrays.
struct row_values {
  std::vector<double> scores, log_conf, log_prob;
  std::vector<char> missing;
  bool any_missing = false;
  explicit row_values(const std::vector<core::sample_values>& rows) {
    const std::size_t n = rows.size();
    scores.resize(n);
    log_conf.resize(n);
    log_prob.resize(n);
    missing.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      scores[i] = rows[i].score;
      log_conf[i] = rows[i].log_confidence;
      log_prob[i] = rows[i].log_probability;
      missing[i] = rows[i].missing;
      any_missing |= rows[i].missing;
    }
  }
  value_samples samples() const {
    return {scores.data(), log_conf.data(), log_prob.data(), any_missing ? missing.data() : nullptr};
  }
};

// ------------------------------------------------------------------ group-level helpers

/// A per-thread T kept between calls: the per-group and per-member results of
/// a large batch are megabytes of fresh memory otherwise, and faulting those
/// pages in costs more than the work on them. The engine's passes use one
/// of each type at a time (no call nests in another on a thread), so two
/// buffers alive at once need two types.
template <class T>
T& reused() {
  thread_local T value;
  return value;
}

template <class T>
std::vector<T>& reused(std::size_t size) {
  std::vector<T>& buffer = reused<std::vector<T>>();
  buffer.resize(size);
  return buffer;
}

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

/// The error for group g, whose largest |advantage| reach does not fit. The
/// index is the group's position (order of first appearance for ids), as in
/// group_statistics.
[[noreturn]] inline void raise_misfit(std::size_t g, double reach) {
  char detail[64];
  std::snprintf(detail, sizeof detail, "largest |advantage| %.3g", reach);
  raise(error_code::advantage_overflow, "groups", static_cast<std::int64_t>(g), detail);
}

/// Rejects, before any output is written, a batch whose advantages would not be
/// finite in Real (core::advantages_fit); returns each group's transform (in
/// this thread's buffer, see reused), which pass 2 applies.
template <class Real>
const std::vector<core::group_transform>& fitting_transforms(const std::vector<core::score_moments>& moments,
                                                             const std::vector<core::group_shape>& shapes,
                                                             const advantage_settings& settings, double batch_std) {
  const double largest = static_cast<double>(std::numeric_limits<Real>::max());
  std::vector<core::group_transform>& transforms = reused<core::group_transform>(moments.size());
  for (std::size_t g = 0; g < moments.size(); ++g) {
    transforms[g] = core::make_transform(moments[g], shapes[g], settings, batch_std);
    double reach = 0;
    if (!core::advantages_fit(moments[g], transforms[g], settings, batch_std, largest, &reach)) raise_misfit(g, reach);
  }
  return transforms;
}

// ------------------------------------------------------------------ the two passes

/// What pass 1 learns: per group its shape, moments and correct count; per
/// member position, LENS's r~ where the group is calibrated.
struct group_state {
  std::vector<core::group_shape> shapes;
  std::vector<core::score_moments> moments;
  std::vector<std::int64_t> num_correct;
  std::vector<double> shaped;
};

/// Step 1 of one group of n members: its confidence (count and num_correct
/// for every estimator, D_imp's terms for LENS from log pbar c and log p p)
/// and, for the estimators that shape nothing, its moments. terms: n doubles
/// of scratch (LENS).
template <class S>
LENS_CPU_INLINE core::confidence_summary measure_group(const S* scores, const double* c, const double* p, std::size_t n,
                                                       bool is_lens, double* terms, core::score_moments& moments) {
  if (is_lens) return measure_confidence(scores, c, p, n, terms);
  const blocked_moments b = measure_scores(scores, n);
  moments = b.moments;
  core::confidence_summary confidence;
  confidence.count = static_cast<double>(n);
  confidence.num_correct = static_cast<double>(b.num_positive);
  return confidence;
}

/// Step 2 of one LENS group: r~ into shaped where its shape calibrates, and
/// the moments of the shaped scores.
template <class S>
LENS_CPU_INLINE core::score_moments measure_shaped(const S* scores, const double* c, std::size_t n,
                                                   const core::group_shape& shape, double* shaped) {
  if (!shape.calibrate) return measure_scores(scores, n).moments;
  calibrate(scores, c, n, shape, shaped);
  return measure_scores(shaped, n).moments;
}

/// The largest group of view.
template <class View>
std::size_t largest_group(const View& view) {
  std::size_t largest = 0;
  for (std::int64_t g = 0; g < view.count(); ++g)
    largest = std::max(largest, static_cast<std::size_t>(view.end(g) - view.begin(g)));
  return largest;
}

/// Pass 1 over the groups of view (positions [begin(g), end(g)) of samples).
template <class View, class Samples>
const group_state& measure_groups(const View& view, const Samples& samples, std::size_t num_positions,
                                  const advantage_settings& settings) {
  const std::size_t num_groups = static_cast<std::size_t>(view.count());
  const bool is_lens = settings.kind == estimator::lens;
  group_state& state = reused<group_state>();  // every entry below is written before it is read
  state.shapes.resize(num_groups);
  state.moments.resize(num_groups);
  state.num_correct.resize(num_groups);
  if (is_lens) state.shaped.resize(num_positions);
  const std::size_t largest = largest_group(view);
  // LENS scratch for one group: log pbar, log p and the D_imp terms.
  std::vector<double> scratch(is_lens ? 3 * largest : 0);
  double* const terms = is_lens ? scratch.data() + 2 * largest : nullptr;  // no offset on GRPO's null data()
  const auto* scores = samples.score_data();
  core::difficulty_logs logs;
  double logs_count = -1;  // the group size logs are for
  with_best_isa([&]() LENS_CPU_KERNEL {
    for (std::size_t g = 0; g < num_groups; ++g) {
      const auto first = static_cast<std::size_t>(view.begin(static_cast<std::int64_t>(g)));
      const std::size_t n = static_cast<std::size_t>(view.end(static_cast<std::int64_t>(g))) - first;
      const double *c = nullptr, *p = nullptr;
      if (is_lens) samples.lens_values(first, n, scratch.data(), scratch.data() + largest, c, p);
      const core::confidence_summary confidence =
          measure_group(scores + first, c, p, n, is_lens, terms, state.moments[g]);
      if (is_lens && confidence.count != logs_count) {  // groups of one size: their logs once
        logs = core::make_difficulty_logs(settings, confidence.count);
        logs_count = confidence.count;
      }
      state.shapes[g] = core::make_shape(confidence, settings, logs);
      if (is_lens) state.moments[g] = measure_shaped(scores + first, c, n, state.shapes[g], state.shaped.data() + first);
      state.num_correct[g] = static_cast<std::int64_t>(confidence.num_correct);
    }
  });
  return state;
}

/// Pass 2: every member's advantage through sink_for(first) (a sink of
/// group_kernels.hpp); returns how many are nonzero.
template <class Out, class View, class Samples, class SinkFor>
std::int64_t write_groups(const View& view, const Samples& samples, const std::vector<core::group_shape>& shapes,
                          const std::vector<core::group_transform>& transforms, const double* shaped,
                          SinkFor sink_for) {
  const std::size_t num_groups = shapes.size();
  const auto* scores = samples.score_data();
  lane_ints nonzero = {};
  with_best_isa([&]() LENS_CPU_KERNEL {
    // A local, kept in a register (a captured one went through memory at
    // every packet); copied from nonzero's zeros, as nvcc's host pass fails
    // on a vector initialised with {} inside a lambda.
    lane_ints counted = nonzero;
    for (std::size_t g = 0; g < num_groups; ++g) {
      const auto first = static_cast<std::size_t>(view.begin(static_cast<std::int64_t>(g)));
      const std::size_t n = static_cast<std::size_t>(view.end(static_cast<std::int64_t>(g))) - first;
      const core::group_transform& t = transforms[g];
      if (shapes[g].calibrate)
        write_group<Out>(shaped + first, n, t, sink_for(first), counted);
      else
        write_group<Out>(scores + first, n, t, sink_for(first), counted);
    }
    nonzero = counted;
  });
  return total_of(nonzero);
}

// ------------------------------------------------------------------ groups of one size

/// The size every group of view has, or 0 when sizes differ.
template <class View>
std::size_t common_size(const View& view) {
  if (view.count() == 0) return 0;
  const std::int64_t size = view.end(0) - view.begin(0);
  for (std::int64_t g = 1; g < view.count(); ++g)
    if (view.end(g) - view.begin(g) != size) return 0;
  return static_cast<std::size_t>(size);
}

inline std::size_t common_size(const core::fixed_group_view& view) {
  return static_cast<std::size_t>(view.group_size);
}

/// The passes when every group has n members and no statistics are asked
/// for (batch std excepted): pass 1 measures four groups at once, one per
/// lane (measure_tile, and for LENS measure_confidence_tile), so each lane's
/// bits are the per-group kernels'; it keeps each group's transform and, for
/// LENS, every member's shaped score (r~, or the score where the group is not
/// calibrated). Pass 2 writes.
template <class Out, class View, class Samples, class SinkFor>
batch_summary run_tiles(const View& view, std::size_t n, const Samples& samples, std::size_t num_samples,
                        SinkFor sink_for, const advantage_settings& caller_settings) {
  // A copy whose address does not escape: the stores to transforms cannot
  // alias it, so the per-group rules keep its fields in registers.
  const advantage_settings settings = caller_settings;
  const std::size_t num_groups = static_cast<std::size_t>(view.count());
  const bool is_lens = settings.kind == estimator::lens;
  std::vector<core::group_transform>& transforms = reused<core::group_transform>(num_groups);
  double* const shaped = is_lens ? reused<double>(num_samples).data() : nullptr;
  // LENS scratch for one tile: log pbar, log p and the D_imp terms of 4 n
  // members (a buffer of its own type: reused<double> holds shaped).
  struct tile_scratch {
    std::vector<double> values;
  };
  std::vector<double>& scratch = reused<tile_scratch>().values;
  scratch.resize(is_lens ? 3 * lanes * n : 0);
  const auto* scores = samples.score_data();
  const double largest = static_cast<double>(std::numeric_limits<Out>::max());
  const double count = static_cast<double>(n);
  const core::difficulty_logs logs = is_lens ? core::make_difficulty_logs(settings, count) : core::difficulty_logs{};
  batch_summary summary;
  summary.num_samples = num_samples;
  summary.num_groups = num_groups;
  std::size_t first_misfit = num_groups;
  double misfit_reach = 0;
  // Transform and fit of group g from its shape and moments (core's rules).
  auto finish = [&](std::size_t g, const core::group_shape& shape, const core::score_moments& m) LENS_CPU_KERNEL {
    transforms[g] = core::make_transform(m, shape, settings, 0.0);
    double reach = 0;
    if (!core::advantages_fit(m, transforms[g], settings, 0.0, largest, &reach) && g < first_misfit) {
      first_misfit = g;
      misfit_reach = reach;
    }
    summary.num_negative_groups += shape.negative;
    summary.num_zero_variance_groups += core::zero_variance(m);
  };
  // The GRPO family's shape needs only whether some score is above 0:
  // plain[some positive].
  core::group_shape plain[2];
  for (int positive = 0; positive < 2; ++positive) {
    core::confidence_summary confidence;
    confidence.count = count;
    confidence.num_correct = positive;
    plain[positive] = core::make_shape(confidence, settings);
  }
  // finish for each of the four groups g .. g + 3 of a tile, one at a time.
  // shapes: LENS's; null for the GRPO family, whose shapes follow from the max.
  auto finish_lanes = [&](std::size_t g, const core::group_shape* shapes, const tile_moments& tile) LENS_CPU_KERNEL {
    for (std::size_t q = 0; q < lanes; ++q) {
      core::score_moments m;
      m.count = count;
      m.mean = tile.mean.v[q];
      m.m2 = tile.m2.v[q];
      m.min = tile.min.v[q];
      m.max = tile.max.v[q];
      finish(g + q, shapes ? shapes[q] : plain[m.max > 0], m);
    }
  };
  // A group's rule depends only on its size and on whether it is negative
  // (calibrate follows from that): rules[some positive], for every group.
  const core::transform_rule rules[2] = {core::make_rule(count, plain[0], settings, 0.0),
                                         core::make_rule(count, plain[1], settings, 0.0)};
  lane_ints num_negative = {}, num_constant = {};
  // finish for four groups g .. g + 3 (two or more members each), the rules
  // applied lane by lane with blends: whether a group is negative or constant
  // is data, and at G = 4 the branches of one group at a time were
  // mispredicted often enough to take most of the pass. The same operations
  // as make_transform, so the same bits; when a lane does not fit, the four
  // groups go through finish_lanes, which finds the first misfit and its reach.
  auto finish_tile = [&](std::size_t g, const core::group_shape* shapes, const lane_mask& negative,
                         const tile_moments& m) LENS_CPU_KERNEL {
    auto rule_flag = [&](bool core::transform_rule::*field) LENS_CPU_KERNEL {
      return (negative & every_lane(rules[0].*field)) | (~negative & every_lane(rules[1].*field));
    };
    const lane_mask centred = rule_flag(&core::transform_rule::centred);
    const lane_mask zero = rule_flag(&core::transform_rule::zero) | (centred & (m.max == m.min));
    const packet none = broadcast(0.0);
    const packet by_rule = select(negative, broadcast(rules[0].scale), broadcast(rules[1].scale));
    // Both rules take divisor and epsilon from the settings for two or more members.
    const packet by_std = core::normalizing_scale(core::spread(m.m2, rules[1].divisor), rules[1].epsilon);
    const packet centre = select(zero, none, select(centred, m.mean, none));
    const packet scale = select(zero, none, select(rule_flag(&core::transform_rule::by_std), by_std, by_rule));
    const packet reach = core::advantage_reach(m.min, m.max, centre, scale);
    const lane_mask fits = zero | core::reach_fits(reach, m.m2, broadcast(largest));
    if (any(~fits)) {
      finish_lanes(g, shapes, m);
      return;
    }
    for (std::size_t q = 0; q < lanes; ++q) {
      transforms[g + q].centre = centre.v[q];
      transforms[g + q].scale = scale.v[q];
      transforms[g + q].zero = zero.m[q] != 0;
    }
    count_into(num_negative, negative);
    count_into(num_constant, m.max == m.min);  // zero_variance: two or more members, max == min
  };
  // LENS step 2 of the group at first: r~ or its scores into shaped.
  auto shape_scores = [&](std::size_t first, const double* c, const core::group_shape& shape) LENS_CPU_KERNEL {
    if (shape.calibrate) {
      calibrate(scores + first, c, n, shape, shaped + first);
    } else {
      for (std::size_t k = 0; k < n; ++k) shaped[first + k] = static_cast<double>(scores[first + k]);
    }
  };
  with_best_isa([&]() LENS_CPU_KERNEL {
    std::size_t g = 0;
    if (!is_lens && n >= 2) {
      // A run of tiles at a time, each pass over all of them before the next:
      // one tile's chain of dependent steps (the compensated sum, two
      // divisions, the square root) is longer than its work, and the tiles
      // of a run are independent, so their chains overlap. A run's scores
      // (at most 2048) stay in L1 between the passes.
      constexpr std::size_t most_tiles = 16;
      const std::size_t run = std::max<std::size_t>(1, std::min<std::size_t>(most_tiles, 2048 / (lanes * n)));
      tile_moments tiles[most_tiles];
      for (; g + run * lanes <= num_groups; g += run * lanes) {
        const auto first = static_cast<std::size_t>(view.begin(static_cast<std::int64_t>(g)));
        for (std::size_t t = 0; t < run; ++t) measure_tile_sums(scores + first + t * lanes * n, n, tiles[t]);
        for (std::size_t t = 0; t < run; ++t) measure_tile_spread(scores + first + t * lanes * n, n, tiles[t]);
        for (std::size_t t = 0; t < run; ++t)
          finish_tile(g + t * lanes, nullptr, ~(tiles[t].max > broadcast(0.0)), tiles[t]);
      }
    }
    for (; g + lanes <= num_groups; g += lanes) {
      const auto first = static_cast<std::size_t>(view.begin(static_cast<std::int64_t>(g)));
      core::group_shape lens_shapes[lanes];
      const core::group_shape* shapes = nullptr;  // the GRPO family's follow from the max
      tile_moments tile;
      lane_mask negative;
      if (is_lens) {
        const double *c = nullptr, *p = nullptr;
        samples.lens_values(first, lanes * n, scratch.data(), scratch.data() + lanes * n, c, p);
        const confidence_tile confidence = measure_confidence_tile(scores + first, c, p, n, scratch.data() + 2 * lanes * n);
        for (std::size_t q = 0; q < lanes; ++q) {
          core::confidence_summary s;
          s.count = count;
          s.num_correct = static_cast<double>(confidence.num_correct[q]);
          s.max_log_confidence = confidence.max_log_confidence.v[q];
          s.lse_max = confidence.lse_max.v[q];
          s.lse_sum = confidence.lse_sum.v[q];
          lens_shapes[q] = core::make_shape(s, settings, logs);
        }
        calibrate_tile(scores + first, c, n, lens_shapes, shaped + first);
        shapes = lens_shapes;
        negative.m = confidence.num_correct == 0;
        tile = measure_tile(shaped + first, n);
      } else {
        tile = measure_tile(scores + first, n);
        negative = ~(tile.max > broadcast(0.0));
      }
      if (n >= 2) finish_tile(g, shapes, negative, tile);
      else finish_lanes(g, shapes, tile);
    }
    for (; g < num_groups; ++g) {  // the last num_groups % 4, one at a time
      const auto first = static_cast<std::size_t>(view.begin(static_cast<std::int64_t>(g)));
      if (is_lens) {
        const double *c = nullptr, *p = nullptr;
        samples.lens_values(first, n, scratch.data(), scratch.data() + lanes * n, c, p);
        core::score_moments unused;
        const core::confidence_summary s =
            measure_group(scores + first, c, p, n, true, scratch.data() + 2 * lanes * n, unused);
        const core::group_shape shape = core::make_shape(s, settings, logs);
        shape_scores(first, c, shape);
        finish(g, shape, measure_scores(shaped + first, n).moments);
      } else {
        const blocked_moments b = measure_scores(scores + first, n);
        finish(g, plain[b.num_positive > 0], b.moments);
      }
    }
  });
  if (first_misfit < num_groups) raise_misfit(first_misfit, misfit_reach);
  summary.num_negative_groups += static_cast<std::size_t>(total_of(num_negative));
  summary.num_zero_variance_groups += static_cast<std::size_t>(total_of(num_constant));
  lane_ints nonzero = {};
  with_best_isa([&]() LENS_CPU_KERNEL {
    lane_ints counted = nonzero;  // a local, kept in a register (as in write_groups)
    for (std::size_t g = 0; g < num_groups; ++g) {
      const auto first = static_cast<std::size_t>(view.begin(static_cast<std::int64_t>(g)));
      if (is_lens) write_group<Out>(shaped + first, n, transforms[g], sink_for(first), counted);
      else write_group<Out>(scores + first, n, transforms[g], sink_for(first), counted);
    }
    nonzero = counted;
  });
  summary.num_nonzero_advantages = static_cast<std::size_t>(total_of(nonzero));
  core::finish_summary(summary);
  return summary;
}

/// Both passes, the fit check between them, the summary and the statistics.
/// group_id(g): what group_statistics reports for group g.
template <class Out, class View, class Samples, class SinkFor, class GroupId>
batch_summary run_passes(const View& view, const Samples& samples, std::size_t num_positions, std::size_t num_samples,
                         SinkFor sink_for, GroupId group_id, const advantage_settings& settings,
                         std::vector<group_statistics>* statistics) {
  const bool tiles = settings.kind != estimator::grpo_batch_std && !statistics;
  const std::size_t size = tiles ? common_size(view) : 0;
  if (size > 0) return run_tiles<Out>(view, size, samples, num_samples, sink_for, settings);
  const group_state& state = measure_groups(view, samples, num_positions, settings);
  const std::size_t num_groups = state.moments.size();
  const double batch_std = batch_standard_deviation(state.moments, settings);
  const std::vector<core::group_transform>& transforms =
      fitting_transforms<Out>(state.moments, state.shapes, settings, batch_std);
  batch_summary summary;
  summary.num_samples = num_samples;
  summary.num_groups = num_groups;
  const std::int64_t nonzero =
      write_groups<Out>(view, samples, state.shapes, transforms, state.shaped.data(), sink_for);
  summary.num_nonzero_advantages = static_cast<std::size_t>(nonzero);
  if (statistics) statistics->resize(num_groups);
  for (std::size_t g = 0; g < num_groups; ++g)
    record_group(summary, statistics, g, group_id(g), state.num_correct[g], state.moments[g], state.shapes[g], settings);
  core::finish_summary(summary);
  return summary;
}

// ------------------------------------------------------------------ gathering

/// Samples laid out group by group: group g is positions [offsets[g],
/// offsets[g+1]), position k holds sample order[k] (the caller's order within
/// a group), with its values in double. Samples Samples::missing() reports are
/// left out.
struct gathered_groups {
  std::vector<std::int64_t> offsets;
  std::vector<std::int64_t> order;
  std::vector<double> scores, log_conf, log_prob;
  core::offset_group_view view() const {
    return {offsets.data(), static_cast<std::int64_t>(offsets.size()) - 1};
  }
  value_samples samples() const { return {scores.data(), log_conf.data(), log_prob.data()}; }
};

/// One sample on its way to its group's positions (gather_groups).
struct gathered_sample {
  std::int64_t index, group;
  double score, log_conf, log_prob;
};

/// The next position of each group and of each bucket (types of their own
/// for reused).
struct gather_cursors {
  std::vector<std::int64_t> group, bucket;
};

/// Batches below this many samples are gathered in one scatter: their
/// destinations fit in cache.
constexpr std::size_t direct_gather_limit = std::size_t{1} << 15;

/// How many high bits of the group number pick a sample's bucket: about
/// 4096 samples per bucket (its positions and its groups' cursors stay in
/// L2), at most 2^9 buckets (each one's write stream keeps a line in L1).
inline int bucket_bits(std::size_t num_samples, int group_bits) {
  int bits = 0;
  while (bits < 9 && bits < group_bits && (num_samples >> (bits + 12)) > 0) ++bits;
  return bits;
}

/// A counting sort by group_of (dense group numbers below num_groups), into r
/// (whose buffers are reused). Past direct_gather_limit samples it runs in two
/// stable steps, so that no step writes at random over the whole batch: the
/// samples go first, in order, to the positions of their bucket (a range of
/// group numbers, so of positions), then each bucket's samples to their
/// group's positions. Both steps keep the caller's order, so the layout is
/// the one-step sort's.
template <class Samples>
void gather_groups(const std::int64_t* group_of, std::size_t num_groups, std::size_t num_samples,
                   const Samples& samples, bool is_lens, gathered_groups& r) {
  r.offsets.assign(num_groups + 1, 0);
  for (std::size_t i = 0; i < num_samples; ++i)
    if (!samples.missing(i)) ++r.offsets[static_cast<std::size_t>(group_of[i]) + 1];
  for (std::size_t g = 0; g < num_groups; ++g) r.offsets[g + 1] += r.offsets[g];
  const auto members = static_cast<std::size_t>(r.offsets[num_groups]);
  r.order.resize(members);
  r.scores.resize(members);
  if (is_lens) {
    r.log_conf.resize(members);
    r.log_prob.resize(members);
  }
  gather_cursors& cursors = reused<gather_cursors>();
  std::vector<std::int64_t>& cursor = cursors.group;
  cursor.assign(r.offsets.begin(), r.offsets.end() - 1);
  auto put = [&](std::size_t k, const gathered_sample& s) {
    r.order[k] = s.index;
    r.scores[k] = s.score;
    if (is_lens) {
      r.log_conf[k] = s.log_conf;
      r.log_prob[k] = s.log_prob;
    }
  };
  auto sample = [&](std::size_t i) {
    gathered_sample s{static_cast<std::int64_t>(i), group_of[i], samples.score(i), 0.0, 0.0};
    if (is_lens) {
      s.log_conf = samples.log_confidence(i);
      s.log_prob = samples.log_probability(i);
    }
    return s;
  };
  int group_bits = 0;
  while ((std::size_t{1} << group_bits) < num_groups) ++group_bits;
  const int bits = num_samples < direct_gather_limit ? 0 : bucket_bits(num_samples, group_bits);
  if (bits == 0) {
    for (std::size_t i = 0; i < num_samples; ++i) {
      if (i + prefetch_distance < num_samples)
        prefetch(&cursor[static_cast<std::size_t>(group_of[i + prefetch_distance])]);
      if (samples.missing(i)) continue;
      put(static_cast<std::size_t>(cursor[static_cast<std::size_t>(group_of[i])]++), sample(i));
    }
    return;
  }
  // Bucket b: groups [b << shift, (b + 1) << shift), positions from its first group's offset.
  const int shift = group_bits - bits;
  const std::size_t num_buckets = std::size_t{1} << bits;
  std::vector<std::int64_t>& bucket_cursor = cursors.bucket;
  bucket_cursor.resize(num_buckets + 1);
  for (std::size_t b = 0; b <= num_buckets; ++b)
    bucket_cursor[b] = r.offsets[std::min(b << shift, num_groups)];
  std::vector<gathered_sample>& staged = reused<gathered_sample>(members);
  for (std::size_t i = 0; i < num_samples; ++i) {
    if (samples.missing(i)) continue;
    const std::size_t b = static_cast<std::size_t>(group_of[i]) >> shift;
    staged[static_cast<std::size_t>(bucket_cursor[b]++)] = sample(i);
  }
  // Each bucket's samples now fill its positions, in the caller's order.
  for (std::size_t k = 0; k < members; ++k) {
    put(static_cast<std::size_t>(cursor[static_cast<std::size_t>(staged[k].group)]++), staged[k]);
  }
}

/// The passes over gathered groups, scattering advantages back to the
/// caller's positions; samples left out get exactly 0.
template <class Out, class Samples, class GroupId>
batch_summary run_gathered(const std::int64_t* group_of, std::size_t num_groups, std::size_t num_samples,
                           const Samples& samples, Out* advantages, GroupId group_id, const advantage_settings& settings,
                           std::vector<group_statistics>* statistics) {
  gathered_groups& gathered = reused<gathered_groups>();
  gather_groups(group_of, num_groups, num_samples, samples, settings.kind == estimator::lens, gathered);
  for (std::size_t i = 0; i < num_samples; ++i)
    if (samples.missing(i)) advantages[i] = Out(0);
  const std::int64_t* order = gathered.order.data();
  return run_passes<Out>(gathered.view(), gathered.samples(), gathered.order.size(), num_samples,
                         [&](std::size_t first) { return scatter_sink<Out>{advantages, order + first}; }, group_id,
                         settings, statistics);
}

/// Whether any sample is left out (TRL's NaN rule).
template <class Samples>
bool any_missing(const Samples& samples, std::size_t num_samples, const advantage_settings& settings) {
  if (!settings.skip_nan_scores) return false;
  for (std::size_t i = 0; i < num_samples; ++i)
    if (samples.missing(i)) return true;
  return false;
}

/// Checks the layout against N (core::group_traits), then runs the engine:
/// in place for contiguous groups, gathered for ids or left-out samples.
/// Throws before writing anything when the layout is rejected.
template <class Out, class Layout, class Samples>
batch_summary run_layout(const Layout& layout, std::size_t num_samples, const Samples& samples, Out* advantages,
                         const advantage_settings& settings, std::vector<group_statistics>* statistics) {
  using traits = core::group_traits<Layout>;
  const auto view = traits::make_view(layout, traits::check(layout, num_samples));
  auto own_id = [&](std::size_t g) { return view.id(static_cast<std::int64_t>(g)); };
  if (!any_missing(samples, num_samples, settings))
    return run_passes<Out>(view, samples, num_samples, num_samples,
                           [&](std::size_t first) { return contiguous_sink<Out>{advantages + first}; }, own_id, settings,
                           statistics);
  std::vector<std::int64_t> group_of(num_samples);
  for (std::int64_t g = 0; g < view.count(); ++g)
    for (std::int64_t k = view.begin(g); k < view.end(g); ++k) group_of[static_cast<std::size_t>(k)] = g;
  return run_gathered(group_of.data(), static_cast<std::size_t>(view.count()), num_samples, samples, advantages, own_id,
                      settings, statistics);
}

template <class Out, class Samples>
batch_summary run_layout(const id_groups& layout, std::size_t num_samples, const Samples& samples, Out* advantages,
                         const advantage_settings& settings, std::vector<group_statistics>* statistics) {
  core::group_traits<id_groups>::check(layout, num_samples);
  const id_numbering numbering = number_groups(layout.ids.data(), num_samples);
  return run_gathered(numbering.group.data(), numbering.num_groups(), num_samples, samples, advantages,
                      [&](std::size_t g) { return numbering.ids[g]; }, settings, statistics);
}

}  // namespace detail
}  // namespace cpu
}  // namespace lens
