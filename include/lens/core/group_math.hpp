// lens/core/group_math.hpp: the per-group math, written once. The CPU engine,
// the Thrust path and the CUDA kernels all call these LENS_HD functions, so the
// backends differ only in how they move data, never in what they compute.
//
// A group is processed in three steps:
//   1. confidence_summary (LENS only): max log-confidence and the log-sum-exp
//      of D_imp, mergeable so a warp or a block can combine partial results;
//      log_difficulty() turns it into log D.
//   2. shaped_score() per sample (LENS: the calibrated reward r~, otherwise the
//      score itself), accumulated into score_moments (Welford in double, or
//      the CPU engine's blocked two-pass sums; mergeable with Chan's rule);
//      make_transform() turns the moments into a centre and a scale.
//   3. advantage() = (score - centre) * scale, or exactly 0.
#pragma once

#include <math.h>

#include <cstdint>

#include "lens/core/config.hpp"
#include "lens/core/outputs.hpp"
#include "lens/core/settings.hpp"

namespace lens {
namespace core {

// ------------------------------------------------------------------ moments

/// Count, mean, sum of squared deviations (M2), min and max of a set of scores,
/// in double. Welford's update keeps a near-constant group free of the
/// cancellation a one-pass E[x^2] - E[x]^2 suffers; min and max let a constant
/// group be detected exactly.
struct score_moments {
  double count = 0;
  double mean = 0;
  double m2 = 0;
  double min = HUGE_VAL;
  double max = -HUGE_VAL;
};

/// Welford's update, with reciprocal = 1 / (m.count + 1) given by the caller
/// (a hot loop reads it from a table); the same bits as add(m, x).
LENS_HD void add(score_moments& m, double x, double reciprocal) {
  m.count += 1;
  const double delta = x - m.mean;
  m.mean += delta * reciprocal;  // a multiply, not a divide, on the mean's dependency chain
  m.m2 += delta * (x - m.mean);
  m.min = x < m.min ? x : m.min;
  m.max = x > m.max ? x : m.max;
}

LENS_HD void add(score_moments& m, double x) { add(m, x, 1.0 / (m.count + 1)); }

/// Calls the merge of its arguments' type (score_moments, confidence_summary,
/// row_reduction): the one functor Thrust's reductions and the kernels' warp
/// and block reductions use.
struct merge_op {
  template <class T>
  LENS_HD T operator()(const T& a, const T& b) const {
    return merge(a, b);
  }
};

/// Chan et al.'s parallel combination; associative up to rounding.
LENS_HD score_moments merge(const score_moments& a, const score_moments& b) {
  if (a.count == 0) return b;
  if (b.count == 0) return a;
  score_moments r;
  r.count = a.count + b.count;
  const double delta = b.mean - a.mean;
  r.mean = a.mean + delta * (b.count / r.count);
  r.m2 = a.m2 + b.m2 + delta * delta * (a.count * b.count / r.count);
  r.min = a.min < b.min ? a.min : b.min;
  r.max = a.max > b.max ? a.max : b.max;
  return r;
}

/// x where it is above 0, else 0 (NaN too); a > b ? a : b. T: double, or
/// the CPU engine's packet of four (its overloads by argument-dependent lookup).
LENS_HD double at_least_zero(double x) { return x > 0 ? x : 0.0; }
LENS_HD double larger(double a, double b) { return a > b ? a : b; }

/// sqrt(M2 / divisor), 0 where that is not above 0: a standard deviation.
LENS_GENERIC template <class T>
LENS_HD_GENERIC T spread(const T& m2, double divisor) {
  return sqrt(at_least_zero(m2 / divisor));
}

/// Standard deviation with the divisor the settings ask for; 0 when undefined.
LENS_HD double standard_deviation(const score_moments& m, bool unbiased) {
  const double divisor = unbiased ? m.count - 1 : m.count;
  if (divisor <= 0) return 0;
  return spread(m.m2, divisor);
}

// ------------------------------------------------------------------ LENS confidence and difficulty

/// x where it is below 0, else 0 (NaN too): log-probabilities within the
/// tolerance above 0 are read as 0.
LENS_HD double at_most_zero(double x) { return x < 0 ? x : 0.0; }

/// Per-sample LENS quantities derived from l_i (summed log-probability) and n_i.
/// log_confidence = log pbar_i = l_i / n_i; log_probability = log p_i, the
/// probability D_imp uses (l_i, or log pbar_i under geometric_mean). T: double,
/// or the CPU engine's packet of four samples (its at_most_zero by
/// argument-dependent lookup).
LENS_GENERIC template <class T>
LENS_HD_GENERIC T log_confidence(const T& logprob_sum, const T& length) {
  return at_most_zero(logprob_sum / length);
}

LENS_GENERIC template <class T>
LENS_HD_GENERIC T log_probability(const T& logprob_sum, const T& length, difficulty_probability source) {
  return source == difficulty_probability::geometric_mean ? log_confidence(logprob_sum, length)
                                                          : at_most_zero(logprob_sum);
}

/// What step 1 needs of a group: its size, max log pbar, whether any reward is
/// above 0, and a running log-sum-exp of log r_i - log p_i over those rewards.
struct confidence_summary {
  double count = 0;
  double num_correct = 0;
  double max_log_confidence = -HUGE_VAL;
  double lse_max = -HUGE_VAL;   ///< log-sum-exp as max + log(sum of exp(x - max))
  double lse_sum = 0;
};

/// A correct sample's term in D_imp's log-sum-exp: log r_i - log p_i. T is
/// double or the CPU engine's packet of four (lens/cpu/packet.hpp, whose log
/// argument-dependent lookup finds).
LENS_GENERIC template <class T>
LENS_HD_GENERIC T importance_term(const T& reward, const T& log_prob) {
  return log(reward) - log_prob;
}

LENS_HD void add(confidence_summary& s, double reward, double log_conf, double log_prob) {
  s.count += 1;
  s.max_log_confidence = log_conf > s.max_log_confidence ? log_conf : s.max_log_confidence;
  if (reward > 0) {
    s.num_correct += 1;
    const double term = importance_term(reward, log_prob);
    if (term > s.lse_max) {
      s.lse_sum = s.lse_sum * exp(s.lse_max - term) + 1.0;
      s.lse_max = term;
    } else {
      s.lse_sum += exp(term - s.lse_max);
    }
  }
}

LENS_HD confidence_summary merge(const confidence_summary& a, const confidence_summary& b) {
  if (a.count == 0) return b;
  if (b.count == 0) return a;
  confidence_summary r;
  r.count = a.count + b.count;
  r.num_correct = a.num_correct + b.num_correct;
  r.max_log_confidence = a.max_log_confidence > b.max_log_confidence ? a.max_log_confidence : b.max_log_confidence;
  if (a.num_correct == 0) {
    r.lse_max = b.lse_max;
    r.lse_sum = b.lse_sum;
  } else if (b.num_correct == 0) {
    r.lse_max = a.lse_max;
    r.lse_sum = a.lse_sum;
  } else {
    r.lse_max = a.lse_max > b.lse_max ? a.lse_max : b.lse_max;
    r.lse_sum = a.lse_sum * exp(a.lse_max - r.lse_max) + b.lse_sum * exp(b.lse_max - r.lse_max);
  }
  return r;
}

/// log D(q): the floor log F = log(floor_factor) + max log pbar for a negative
/// group, max(log D_imp, log F) for a mixed one, where
/// log D_imp = log G - logsumexp_{r_i > 0}(log r_i - log p_i).
/// The logs log_difficulty takes of a group's constants, which a caller
/// that sees many groups of one size computes once: log(floor_factor) and
/// log G.
struct difficulty_logs {
  double log_floor_factor = 0;
  double log_count = 0;
};

LENS_HD difficulty_logs make_difficulty_logs(const advantage_settings& settings, double count) {
  difficulty_logs logs;
  logs.log_floor_factor = log(settings.floor_factor);
  logs.log_count = log(count);
  return logs;
}

LENS_HD double log_difficulty(const confidence_summary& s, const difficulty_logs& logs) {
  const double log_floor = logs.log_floor_factor + s.max_log_confidence;
  if (s.num_correct == 0) return log_floor;
  const double log_importance = logs.log_count - (s.lse_max + log(s.lse_sum));
  return log_importance > log_floor ? log_importance : log_floor;
}

LENS_HD double log_difficulty(const confidence_summary& s, const advantage_settings& settings) {
  return log_difficulty(s, make_difficulty_logs(settings, s.count));
}

// ------------------------------------------------------------------ shaping

/// Whether LENS calibrates this group, given the ablation scope.
LENS_HD bool lens_calibrates(const advantage_settings& settings, bool negative_group) {
  if (settings.kind != estimator::lens) return false;
  if (negative_group) return settings.scope != lens_scope::mixed_groups;
  return settings.scope != lens_scope::negative_groups;
}

/// The weight in front of the penalty ratio: 1/G with the default 1/G factor.
LENS_HD double penalty_weight(const advantage_settings& settings, double group_size) {
  return settings.divide_penalty_by_group_size ? 1.0 / group_size : 1.0;
}

/// LENS's calibrated reward r~ = r - (1 - r) * weight * pbar / (D - pbar).
/// The ratio depends only on u = exp(log pbar - log D) in (0, 1/floor_factor],
/// as u / (1 - u), which never underflows to 0/0. T: double, or the CPU
/// engine's packet of four samples (its exp by argument-dependent lookup).
/// (No local of type T in these templates: nvcc rejects a vector variable in
/// the device copy it compiles of every instantiation.)
LENS_GENERIC template <class T>
LENS_HD_GENERIC T odds(const T& u) {
  return u / (1.0 - u);
}

LENS_GENERIC template <class T>
LENS_HD_GENERIC T calibrated_reward(const T& reward, const T& log_conf, double log_diff, double weight) {
  return reward - (1.0 - reward) * weight * odds(exp(log_conf - log_diff));
}

/// Everything step 2 needs to shape one group's scores.
struct group_shape {
  bool calibrate = false;   ///< LENS calibrates this group
  bool negative = false;    ///< no reward above 0
  double log_difficulty = 0;
  double weight = 0;        ///< penalty weight (1/G or 1)
};

/// logs: make_difficulty_logs(settings, s.count), which only LENS reads.
LENS_HD group_shape make_shape(const confidence_summary& s, const advantage_settings& settings,
                               const difficulty_logs& logs) {
  group_shape shape;
  shape.negative = s.num_correct == 0;
  shape.calibrate = lens_calibrates(settings, shape.negative);
  if (shape.calibrate) {
    shape.log_difficulty = log_difficulty(s, logs);
    shape.weight = penalty_weight(settings, s.count);
  }
  return shape;
}

LENS_HD group_shape make_shape(const confidence_summary& s, const advantage_settings& settings) {
  return make_shape(s, settings, settings.kind == estimator::lens ? make_difficulty_logs(settings, s.count)
                                                                  : difficulty_logs{});
}

/// The score a sample's advantage is computed from: r~ where LENS calibrates,
/// the plain score everywhere else.
LENS_HD double shaped_score(const group_shape& shape, double score, double log_conf) {
  return shape.calibrate ? calibrated_reward(score, log_conf, shape.log_difficulty, shape.weight) : score;
}

// ------------------------------------------------------------------ advantages

/// advantage = (score - centre) * scale, or exactly 0 when zero is set.
struct group_transform {
  double centre = 0;
  double scale = 0;
  bool zero = true;
};

/// 1 / (std + epsilon): the scale of a group normalised by a standard deviation.
LENS_GENERIC template <class T>
LENS_HD_GENERIC T normalizing_scale(const T& deviation, double epsilon) {
  return 1.0 / (deviation + epsilon);
}

/// What make_transform does with every group of one size and shape, known
/// before its scores are read: groups of one size have at most two rules
/// (negative or not), which the CPU engine applies to four groups at once.
struct transform_rule {
  bool zero = true;       ///< every such group's advantages are 0
  bool centred = false;   ///< two or more members: centred on the mean, and a constant group gives 0
  bool by_std = false;    ///< scale = normalizing_scale(the group's std, epsilon)
  double scale = 0;       ///< ... otherwise this scale
  double divisor = 1;     ///< the group std's divisor (count, or count - 1 for unbiased_std)
  double epsilon = 0;
};

/// The rules, for a group of count members and its shape:
/// - a singleton follows settings.singleton: verl uses mean 0 and std 1, zero gives 0;
///   a LENS negative singleton (calibrated) gives 0 under every policy: it is
///   centred by its own mean like every negative group (ALGORITHM.md section 3);
/// - a constant group (max == min) gives exactly 0;
/// - GRPO: (s - mean) / (std + eps), or s - mean without std normalisation (Dr. GRPO);
/// - GRPO batch std: (s - mean) / (batch_std + eps);
/// - RLOO: G/(G-1) * (s - mean);
/// - LENS: a calibrated negative group is de-meaned and scaled by alpha, a mixed
///   group is normalised as GRPO.
/// batch_std is only read by grpo_batch_std.
LENS_HD transform_rule make_rule(double count, const group_shape& shape, const advantage_settings& settings,
                                 double batch_std) {
  transform_rule r;
  const bool singleton = count == 1;
  if (count == 0) return r;
  if (singleton && (settings.singleton == singleton_policy::zero || (shape.calibrate && shape.negative))) return r;
  r.zero = false;
  r.centred = !singleton;
  r.divisor = settings.unbiased_std ? count - 1 : count;
  r.epsilon = settings.epsilon;
  const bool normalize = settings.normalize_by_std;
  // GRPO's scale, and LENS's outside calibrated negative groups: a singleton's std is 1.
  const bool grpo_like = settings.kind == estimator::grpo || (settings.kind == estimator::lens &&
                                                              !(shape.calibrate && shape.negative));
  r.by_std = grpo_like && normalize && !singleton;
  switch (settings.kind) {
    case estimator::grpo:
    case estimator::lens:
      if (grpo_like) r.scale = normalize ? normalizing_scale(1.0, settings.epsilon) : 1.0;
      else r.scale = settings.alpha;
      break;
    case estimator::grpo_batch_std:
      r.scale = normalize ? normalizing_scale(batch_std, settings.epsilon) : 1.0;
      break;
    case estimator::rloo:
      r.scale = singleton ? 1.0 : count / (count - 1.0);
      break;
  }
  return r;
}

/// A group's transform from its moments and its rule.
LENS_HD group_transform make_transform(const score_moments& m, const transform_rule& r) {
  group_transform t;
  if (r.zero || (r.centred && m.max == m.min)) return t;
  t.zero = false;
  t.centre = r.centred ? m.mean : 0.0;
  t.scale = r.by_std ? normalizing_scale(spread(m.m2, r.divisor), r.epsilon) : r.scale;
  return t;
}

/// Turns a group's moments into its transform (make_rule says how).
LENS_HD group_transform make_transform(const score_moments& m, const group_shape& shape,
                                       const advantage_settings& settings, double batch_std) {
  return make_transform(m, make_rule(m.count, shape, settings, batch_std));
}

/// (shaped - centre) * scale: an advantage in a group whose transform is not
/// zero. T: double, or the CPU engine's packet of four samples.
LENS_GENERIC template <class T>
LENS_HD_GENERIC T scaled_advantage(const group_transform& t, const T& shaped) {
  return (shaped - t.centre) * t.scale;
}

LENS_HD double advantage(const group_transform& t, double shaped) {
  return t.zero ? 0.0 : scaled_advantage(t, shaped);
}

/// A token's advantage, A_i * mask_it, as verl's `adv.unsqueeze(-1) * mask`
/// computes it: a product, not a select, so a masked token of a negative
/// advantage is -0.0 (ALGORITHM.md section 4). Every backend writes this.
template <class Out>
LENS_HD Out token_advantage(Out advantage, bool unmasked) {
  return static_cast<Out>(unmasked ? 1 : 0) * advantage;
}

/// Two or more samples, all scores equal: advantages exactly 0. A singleton is
/// not counted (its advantage follows settings.singleton).
LENS_HD bool zero_variance(const score_moments& m) { return m.count >= 2 && m.max == m.min; }

/// The largest |advantage| of a group: its extreme shaped scores through its
/// transform (not zero).
LENS_GENERIC template <class T>
LENS_HD_GENERIC T advantage_reach(const T& min, const T& max, const T& centre, const T& scale) {
  return larger(fabs(max - centre), fabs(min - centre)) * scale;
}

/// isfinite, under the name the CPU engine's packet overload has.
LENS_HD bool finite(double x) { return isfinite(x); }

/// The overflow rule of a group whose transform is not zero: its largest
/// |advantage| (advantage_reach) at most output_max, the largest value of the
/// output type, and its M2 finite: a spread whose square overflows double
/// (|score| beyond ~1e150) would give an infinite std, which silently scales
/// advantages to 0. T: double (a bool comes back), or the CPU engine's packet
/// (a lane mask).
LENS_GENERIC template <class T>
LENS_HD_GENERIC auto reach_fits(const T& reach, const T& m2, const T& output_max)
    -> decltype((reach <= output_max) & finite(m2)) {
  return (reach <= output_max) & finite(m2);
}

/// Whether a group's advantages are finite in an output type whose largest
/// value is output_max (reach_fits; a non-finite batch std fails too). The
/// largest |advantage| is stored in *reach (0 for a zero transform).
LENS_HD bool advantages_fit(const score_moments& m, const group_transform& t, const advantage_settings& settings,
                            double batch_std, double output_max, double* reach) {
  *reach = 0;
  if (t.zero) return true;
  *reach = advantage_reach(m.min, m.max, t.centre, t.scale);
  const bool batch_ok = settings.kind != estimator::grpo_batch_std || isfinite(batch_std);
  return reach_fits(*reach, m.m2, output_max) && batch_ok;
}

/// One group's statistics, as every backend reports them.
LENS_HD group_statistics make_statistics(std::int64_t id, std::int64_t num_correct, const group_shape& shape,
                                         const score_moments& m, const advantage_settings& settings) {
  group_statistics s;
  s.group_id = id;
  s.size = static_cast<std::int64_t>(m.count);
  s.num_correct = num_correct;
  s.mean = m.mean;
  s.std = standard_deviation(m, settings.unbiased_std);
  s.difficulty = shape.calibrate ? exp(shape.log_difficulty) : 0.0;
  s.negative = shape.negative;
  s.zero_variance = zero_variance(m);
  return s;
}

}  // namespace core
}  // namespace lens
