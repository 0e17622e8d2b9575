// lens/core/policy_loss.hpp: the PPO-clip family of policy losses fused with
// their gradient d loss / d logp. The settings struct (each default named after
// verl core_algos.py / ActorConfig and TRL GRPOConfig), the per-token and
// per-sequence math as LENS_HD functions that the CPU backend
// (lens/cpu/policy_loss.hpp) and the CUDA kernels (lens/kernels/policy_loss.cuh)
// both call, and the boundary checks. docs/LOSS.md gives the formulas and which
// trainer function each mode follows.
//
// Shapes: N samples x T token columns, row-major. logp is the only input the
// gradient is taken against; old, reference and rollout log-probs, the mask and
// the advantages are constants (detached), as in the trainers.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "lens/core/config.hpp"
#include "lens/core/errors.hpp"
#include "lens/core/views.hpp"

// The per-token functions are small and called once per token: on the host
// they are forced inline so that the CPU loop has no call in it.
#if !defined(__CUDACC__) && defined(__GNUC__)
#define LENS_LOSS_INLINE __attribute__((always_inline))
#else
#define LENS_LOSS_INLINE
#endif

namespace lens {

/// Which policy-gradient term. Every kind clamps log(pi/pi_old) to [-20, 20]
/// before exp (verl), except gspo, which follows verl's sequence form (below).
enum class policy_loss_kind : std::int32_t {
  vanilla,    ///< verl compute_policy_loss_vanilla: asymmetric PPO clip + dual clip (clip_ratio_c) for A < 0
  gspo,       ///< verl compute_policy_loss_gspo: sequence ratio exp(mean_t log r) in the token stop-gradient form, log clamped at 10
  cispo,      ///< verl compute_policy_loss_cispo: -sg(clip(r)) * A * logp
  sapo,       ///< verl compute_policy_loss_sapo / TRL loss_type="sapo": -sigmoid(tau (r - 1)) * 4 / tau * A
  two_sided,  ///< TRL GRPOTrainer._compute_loss (grpo/bnpo/dr_grpo/dapo): -min(min(r, delta) A, clip(r) A)
};

/// KL penalty against the reference log-probs (verl kl_penalty; "+" = verl's
/// straight-through variants: the value of the base estimator, the gradient of k2).
enum class kl_kind : std::int32_t {
  none,      ///< no KL term (verl use_kl_loss=False; TRL beta=0, its default)
  k1,        ///< logp - ref                       (verl "kl" / "k1")
  abs,       ///< |logp - ref|                     (verl "abs")
  k2,        ///< 0.5 (logp - ref)^2               (verl "mse" / "k2"; "k2+" is the same)
  k3,        ///< clamp(e^kl - kl - 1, -10, 10), kl = clamp(ref - logp, -20, 20) (verl "low_var_kl" / "k3"; TRL's KL without the clamps)
  k1_plus,   ///< value of k1, gradient of k2      (verl "k1+")
  abs_plus,  ///< value of abs, gradient of k2     (verl "abs+")
  k3_plus,   ///< value of k3, gradient of k2      (verl "k3+" / "low_var_kl+")
};

/// Rollout importance-sampling correction: weights from the trainer's old
/// log-probs against the rollout engine's (verl compute_rollout_correction_weights,
/// log_ratio = old_log_prob - rollout_log_prob; TRL vllm_importance_sampling_*).
/// The weights are constants (detached) and multiply the policy-gradient term only.
enum class rollout_is_level : std::int32_t {
  none,      ///< no correction (verl rollout_is=None, TRL vllm_importance_sampling_correction=False)
  token,     ///< w_t = exp(clamp(old_t - rollout_t, -20, 20))            (verl "token", TRL "token_*")
  sequence,  ///< w = exp(clamp(sum_t m_t (old_t - rollout_t), -20, 20)) per row (verl "sequence", TRL "sequence_*")
};

enum class rollout_is_mode : std::int32_t {
  truncate,  ///< w = min(w, is_threshold), and max(w, is_threshold_low) when that is > 0 (verl TIS, TRL "*_truncate")
  mask,      ///< w = 0 outside [is_threshold_low, is_threshold] (verl IcePop "low_high", TRL "*_mask")
};

/// How the [N x T] loss matrix becomes one number (verl agg_loss).
enum class loss_aggregation : std::int32_t {
  token_mean,               ///< sum_it m l / tokens                 (verl default; TRL "bnpo", and "dapo"/"cispo" with global_token_count)
  seq_mean_token_sum,       ///< mean over sequences of sum_t m l
  seq_mean_token_mean,      ///< mean over sequences of (sum_t m l / L_i) (verl gspo/sapo; TRL "grpo"/"sapo" with global_sequence_count = N)
  seq_mean_token_sum_norm,  ///< seq_mean_token_sum / loss_scale_factor (Dr. GRPO; TRL "dr_grpo" with global_sequence_count = N)
};

/// Every knob of the loss. Plain data; the defaults are verl's ActorConfig
/// (verl 0.9.1 workers/config/actor.py, trainer/config/actor/actor.yaml) unless
/// noted; TRL's GRPOConfig defaults (trl 1.10.0.dev0) follow in the comments.
struct policy_loss_settings {
  policy_loss_kind kind = policy_loss_kind::vanilla;  ///< verl policy_loss.loss_mode "vanilla"; TRL loss_type "dapo" = two_sided + token_mean over a global count

  // --- ratio clipping: r is kept in [1 - clip_ratio_low, 1 + clip_ratio_high]
  double clip_ratio_low = 0.2;   ///< verl clip_ratio_low 0.2; TRL epsilon 0.2; DAPO 0.2. In [0, 1]
  double clip_ratio_high = 0.2;  ///< verl clip_ratio_high 0.2; TRL epsilon_high (= epsilon); DAPO clip-higher 0.28. >= 0
  double clip_ratio_c = 3.0;     ///< verl clip_ratio_c 3.0: dual-clip bound for A < 0 (vanilla only). > 1
  double delta = 0.0;            ///< TRL delta (default None = 0 here: off): two_sided caps r at delta. 0 or > 0
  double tau_pos = 1.0;          ///< verl tau_pos 1.0; TRL sapo_temperature_pos 1.0 (sapo, A > 0). > 0
  double tau_neg = 1.05;         ///< verl tau_neg 1.05; TRL sapo_temperature_neg 1.05 (sapo, A <= 0). > 0

  // --- KL penalty, added per token as kl_coef * kl (verl: pg_loss + kl_loss_coef * agg_loss(kld))
  kl_kind kl = kl_kind::none;  ///< verl use_kl_loss False (kl_loss_type "low_var_kl" = k3 when on); TRL beta 0 (k3 when on)
  double kl_coef = 0.001;      ///< verl kl_loss_coef 0.001; TRL beta (0.0 default; 0.04 before trl 0.19). >= 0

  // --- rollout importance sampling (needs inputs.rollout_logprobs)
  rollout_is_level is_level = rollout_is_level::none;  ///< verl rollout_is None; TRL "sequence" (vllm_importance_sampling_mode "sequence_mask")
  rollout_is_mode is_mode = rollout_is_mode::truncate; ///< verl: truncate for a single threshold; TRL default "mask"
  double is_threshold = 2.0;      ///< verl rollout_is_threshold 2.0; TRL vllm_importance_sampling_clip_max 3.0. > 0
  double is_threshold_low = 0.0;  ///< verl IcePop lower bound (none); TRL vllm_importance_sampling_clip_min (None). 0 = none. In [0, is_threshold)

  // --- aggregation
  loss_aggregation aggregation = loss_aggregation::token_mean;  ///< verl loss_agg_mode "token-mean"
  double loss_scale_factor = 0.0;      ///< verl loss_scale_factor (None = T, the mask's width); Dr. GRPO / TRL dr_grpo: max_completion_length. >= 0
  double global_token_count = 0.0;     ///< token_mean divisor; 0 = this batch's unmasked tokens. verl batch_num_tokens / dp_size; TRL dapo: num_items_in_batch / num_processes. >= 0
  double global_sequence_count = 0.0;  ///< seq-mean divisor; 0 = this batch's rows with a token. verl global_batch_size / dp_size; TRL grpo/dr_grpo: N. >= 0
  double row_length_epsilon = 1e-8;    ///< seq-mean-token-mean divides a row by L_i + this: verl agg_loss 1e-8; TRL (clamp(min=1)) 0. >= 0

  // --- input checks
  double logprob_tolerance = 1e-4;  ///< log-probabilities up to this above 0 are accepted (used as given)
};

/// The inputs, views of caller buffers (row-major [N x T] unless noted).
template <class Real, class Mask>
struct policy_loss_inputs {
  std::size_t num_samples = 0;           ///< N
  std::size_t num_tokens = 0;            ///< T
  span<const Real> logprobs{};           ///< [N x T] log pi_theta: the gradient is taken against this
  span<const Real> old_logprobs{};       ///< [N x T] log pi_old (behaviour policy, trainer-side)
  span<const Real> ref_logprobs{};       ///< [N x T] reference policy; required when settings.kl != none
  span<const Real> rollout_logprobs{};   ///< [N x T] rollout engine's; required when settings.is_level != none
  span<const Mask> mask{};               ///< [N x T] 0 or 1
  span<const Real> advantages{};         ///< [N] per sample (broadcast over the row) or [N x T] per token
};

/// What one call reports (double, whatever Real is). Means are over unmasked
/// tokens of this batch (0 when there is none).
struct policy_loss_metrics {
  double loss = 0;            ///< pg_loss + kl_coef * kl_loss: the number the gradient belongs to
  double pg_loss = 0;         ///< aggregated policy-gradient term (verl pg_loss)
  double kl_loss = 0;         ///< aggregated KL term before kl_coef (verl metrics "kl_loss"); 0 without KL
  double kl_mean = 0;         ///< token mean of the KL term (TRL metrics "kl")
  double pg_clipfrac = 0;     ///< verl actor/pg_clipfrac (= clipfrac_high + clipfrac_low)
  double clipfrac_high = 0;   ///< upper bound active: r > 1 + high and A > 0 (TRL clip_ratio/high_mean); cispo: r > 1 + high
  double clipfrac_low = 0;    ///< lower bound active: r < 1 - low and A < 0 (TRL clip_ratio/low_mean); cispo: r < 1 - low
  double clipfrac_dual = 0;   ///< dual clip active (verl actor/pg_clipfrac_lower), vanilla only
  double ppo_kl = 0;          ///< verl actor/ppo_kl: token mean of -(logp - old) (clamped to [-20, 20] except gspo)
  double is_weight_mean = 0;  ///< token mean of the applied rollout IS weights (verl rollout_is_mean)
  double is_weight_min = 0;   ///< smallest applied weight at an unmasked token
  double is_weight_max = 0;   ///< largest applied weight at an unmasked token
  double is_fraction_high = 0;  ///< raw weight above is_threshold: token mean (token level) or fraction of rows (sequence level)
  double is_fraction_low = 0;   ///< raw weight below is_threshold_low (or 1 / is_threshold when that is 0), likewise
  std::int64_t num_tokens = 0;     ///< unmasked tokens in this batch
  std::int64_t num_sequences = 0;  ///< rows with at least one unmasked token
};

namespace core {

// ------------------------------------------------------------------ the math

/// The settings as numbers the per-token code reads, with the batch's
/// divisor filled in once the counts are known. Plain data, passed to kernels by value.
struct policy_loss_params {
  std::int32_t kind = 0, kl = 0, is_level = 0, is_mode = 0, aggregation = 0;
  double lower = 0.8, upper = 1.2;  ///< 1 - clip_ratio_low, 1 + clip_ratio_high
  double clip_c = 3.0, delta = 0.0, tau_pos = 1.0, tau_neg = 1.05, kl_coef = 0.0;
  double is_upper = 2.0, is_lower = 0.0;  ///< applied bounds (is_lower 0 = none)
  double is_metric_lower = 0.5;           ///< lower bound the fraction metric counts against
  double divisor = 1.0;                   ///< tokens (token_mean), sequences, or sequences x scale factor
  double row_length_epsilon = 1e-8;       ///< added to L_i in seq_mean_token_mean (verl's 1e-8)
};

inline constexpr double log_ratio_bound = 20.0;   ///< verl's clamp of log(pi / pi_old) (and SAFETY_BOUND)
inline constexpr double gspo_log_ratio_max = 10.0;  ///< verl gspo: clamp(log s, max=10)
inline constexpr double k3_log_bound = 20.0, k3_value_bound = 10.0;  ///< verl low_var_kl clamps

enum token_flag : unsigned { flag_clip_high = 1u, flag_clip_low = 2u, flag_clip_dual = 4u };

/// One token's policy-gradient term: value, d value / d logp and what clipped.
template <class T>
struct token_term {
  T loss;
  T grad;
  unsigned flags;
};

/// exp in the argument's own precision on the host and the device.
template <class T>
LENS_HD LENS_LOSS_INLINE T exp_of(T x) {
#if defined(__CUDA_ARCH__)
  return ::exp(x);
#else
  return std::exp(x);
#endif
}

template <class T>
LENS_HD LENS_LOSS_INLINE T clamp_value(T x, T lo, T hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

/// torch.maximum's gradient rule: the larger side's, half of each at a tie.
template <class T>
LENS_HD LENS_LOSS_INLINE void max_with_grad(T a, T ga, T b, T gb, T& value, T& grad) {
  if (a > b) { value = a; grad = ga; }
  else if (b > a) { value = b; grad = gb; }
  else { value = a; grad = (ga + gb) / T(2); }
}

/// torch.minimum's rule, likewise.
template <class T>
LENS_HD LENS_LOSS_INLINE void min_with_grad(T a, T ga, T b, T gb, T& value, T& grad) {
  if (a < b) { value = a; grad = ga; }
  else if (b < a) { value = b; grad = gb; }
  else { value = a; grad = (ga + gb) / T(2); }
}

/// r = exp(clamp(log_ratio, -20, 20)) and dr / dlogp (0 where the clamp bites;
/// torch.clamp passes the gradient at the bound itself).
template <class T>
LENS_HD LENS_LOSS_INLINE T clamped_ratio(T log_ratio, T& dratio) {
  const T bound = T(log_ratio_bound);
  const bool inside = log_ratio >= -bound && log_ratio <= bound;
  const T r = exp_of(clamp_value(log_ratio, -bound, bound));
  dratio = inside ? r : T(0);
  return r;
}

/// The policy-gradient term of one unmasked token. seq_log_ratio is
/// mean_t m_t (logp_t - old_t) over the row (gspo only). Kind >= 0 fixes the
/// loss kind at compile time (the CPU loop); -1 reads p.kind (the kernels).
template <class T, int Kind = -1>
LENS_HD LENS_LOSS_INLINE token_term<T> policy_token(const policy_loss_params& p, T logp, T old_logp, T advantage,
                                                    T seq_log_ratio) {
  const T a = advantage;
  const T lo = T(p.lower), hi = T(p.upper);
  token_term<T> out{T(0), T(0), 0u};
  switch (static_cast<policy_loss_kind>(Kind >= 0 ? Kind : p.kind)) {
    case policy_loss_kind::vanilla: {
      T dr;
      const T r = clamped_ratio(logp - old_logp, dr);
      const bool in_clip = r >= lo && r <= hi;
      const T l1 = -a * r, g1 = -a * dr;
      const T l2 = -a * clamp_value(r, lo, hi), g2 = in_clip ? -a * dr : T(0);
      T c1, gc1;
      max_with_grad(l1, g1, l2, g2, c1, gc1);
      if (l2 > l1) out.flags |= (r > hi ? flag_clip_high : flag_clip_low);
      if (a < T(0)) {
        const T l3 = -a * T(p.clip_c);
        min_with_grad(l3, T(0), c1, gc1, out.loss, out.grad);
        if (c1 > l3) out.flags |= flag_clip_dual;
      } else {
        out.loss = c1;
        out.grad = gc1;
      }
      return out;
    }
    case policy_loss_kind::gspo: {
      // log s_t = sg(seq) + logp - sg(logp), clamped at 10: value exp(min(seq, 10)), ds/dlogp = s below the clamp.
      const bool inside = seq_log_ratio <= T(gspo_log_ratio_max);
      const T s = exp_of(inside ? seq_log_ratio : T(gspo_log_ratio_max));
      const T ds = inside ? s : T(0);
      const bool in_clip = s >= lo && s <= hi;
      const T l1 = -a * s, g1 = -a * ds;
      const T l2 = -a * clamp_value(s, lo, hi), g2 = in_clip ? -a * ds : T(0);
      max_with_grad(l1, g1, l2, g2, out.loss, out.grad);
      if (l2 > l1) out.flags |= (s > hi ? flag_clip_high : flag_clip_low);
      return out;
    }
    case policy_loss_kind::cispo: {
      T dr;
      const T r = clamped_ratio(logp - old_logp, dr);
      const T w = clamp_value(r, lo, hi);  // detached
      out.loss = -w * a * logp;
      out.grad = -w * a;
      if (r > hi) out.flags |= flag_clip_high;
      if (r < lo) out.flags |= flag_clip_low;
      return out;
    }
    case policy_loss_kind::sapo: {
      T dr;
      const T r = clamped_ratio(logp - old_logp, dr);
      const T tau = a > T(0) ? T(p.tau_pos) : T(p.tau_neg);
      const T sig = T(1) / (T(1) + exp_of(-tau * (r - T(1))));
      out.loss = -sig * (T(4) / tau) * a;
      out.grad = -a * T(4) * sig * (T(1) - sig) * dr;
      return out;
    }
    case policy_loss_kind::two_sided: {
      T dr;
      const T r = clamped_ratio(logp - old_logp, dr);
      T c1 = r, gc1 = dr;
      if (p.delta > 0 && r > T(p.delta)) { c1 = T(p.delta); gc1 = T(0); }
      const bool in_clip = r >= lo && r <= hi;
      const T c2 = clamp_value(r, lo, hi), gc2 = in_clip ? dr : T(0);
      T m, gm;
      min_with_grad(c1 * a, gc1 * a, c2 * a, gc2 * a, m, gm);
      out.loss = -m;
      out.grad = -gm;
      if (c1 > hi && a > T(0)) out.flags |= flag_clip_high;
      if (c1 < lo && a < T(0)) out.flags |= flag_clip_low;
      return out;
    }
  }
  return out;
}

/// The KL term of one token against the reference and its gradient in logp.
template <class T>
LENS_HD LENS_LOSS_INLINE T kl_token(std::int32_t kind, T logp, T ref, T& grad) {
  const T d = logp - ref;
  T value = T(0);
  grad = T(0);
  switch (static_cast<kl_kind>(kind)) {
    case kl_kind::none: return T(0);
    case kl_kind::k1: case kl_kind::k1_plus: value = d; grad = T(1); break;
    case kl_kind::abs: case kl_kind::abs_plus:
      value = d < T(0) ? -d : d;
      grad = d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
      break;
    case kl_kind::k2: value = T(0.5) * d * d; grad = d; break;
    case kl_kind::k3: case kl_kind::k3_plus: {
      const T kl = -d;
      const T bound = T(k3_log_bound);
      const bool inside = kl >= -bound && kl <= bound;
      const T klc = clamp_value(kl, -bound, bound);
      const T ratio = exp_of(klc);
      const T raw = ratio - klc - T(1);
      value = clamp_value(raw, -T(k3_value_bound), T(k3_value_bound));
      const bool value_inside = raw >= -T(k3_value_bound) && raw <= T(k3_value_bound);
      grad = (inside && value_inside) ? (T(1) - ratio) : T(0);
      break;
    }
  }
  const auto k = static_cast<kl_kind>(kind);
  if (k == kl_kind::k1_plus || k == kl_kind::abs_plus || k == kl_kind::k3_plus) grad = d;  // straight-through k2
  return value;
}

/// Raw rollout IS weight exp(clamp(log_ratio, -20, 20)) and the applied one.
template <class T>
LENS_HD LENS_LOSS_INLINE T rollout_weight(const policy_loss_params& p, T log_ratio, T& raw) {
  const T bound = T(log_ratio_bound);
  raw = exp_of(clamp_value(log_ratio, -bound, bound));
  if (static_cast<rollout_is_mode>(p.is_mode) == rollout_is_mode::truncate) {
    T w = raw > T(p.is_upper) ? T(p.is_upper) : raw;
    if (p.is_lower > 0 && w < T(p.is_lower)) w = T(p.is_lower);
    return w;
  }
  return (raw < T(p.is_lower) || raw > T(p.is_upper)) ? T(0) : raw;
}

/// The aggregation weight of one row before the batch divisor: 1 / L_i for
/// seq_mean_token_mean, else 1.
LENS_HD double row_weight(const policy_loss_params& p, double row_tokens) {
  return static_cast<loss_aggregation>(p.aggregation) == loss_aggregation::seq_mean_token_mean
             ? 1.0 / (row_tokens + p.row_length_epsilon)
             : 1.0;
}

/// The batch divisor, from the batch's counts and the caller's global counts.
/// 0 when there is nothing to average (loss and gradient are then 0).
inline double aggregation_divisor(const policy_loss_settings& s, double num_tokens, double num_sequences,
                                  std::size_t num_columns) {
  switch (s.aggregation) {
    case loss_aggregation::token_mean: return s.global_token_count > 0 ? s.global_token_count : num_tokens;
    case loss_aggregation::seq_mean_token_sum:
    case loss_aggregation::seq_mean_token_mean:
      return s.global_sequence_count > 0 ? s.global_sequence_count : num_sequences;
    case loss_aggregation::seq_mean_token_sum_norm: {
      const double seqs = s.global_sequence_count > 0 ? s.global_sequence_count : num_sequences;
      const double scale = s.loss_scale_factor > 0 ? s.loss_scale_factor : static_cast<double>(num_columns);
      return seqs * scale;
    }
  }
  return 0.0;
}

/// Settings -> params, with the divisor still to be set (validate first).
inline policy_loss_params make_policy_loss_params(const policy_loss_settings& s) {
  policy_loss_params p;
  p.kind = static_cast<std::int32_t>(s.kind);
  p.kl = static_cast<std::int32_t>(s.kl);
  p.is_level = static_cast<std::int32_t>(s.is_level);
  p.is_mode = static_cast<std::int32_t>(s.is_mode);
  p.aggregation = static_cast<std::int32_t>(s.aggregation);
  p.lower = 1.0 - s.clip_ratio_low;
  p.upper = 1.0 + s.clip_ratio_high;
  p.clip_c = s.clip_ratio_c;
  p.delta = s.delta;
  p.tau_pos = s.tau_pos;
  p.tau_neg = s.tau_neg;
  p.row_length_epsilon = s.row_length_epsilon;
  p.kl_coef = s.kl == kl_kind::none ? 0.0 : s.kl_coef;
  p.is_upper = s.is_threshold;
  p.is_lower = s.is_threshold_low;
  p.is_metric_lower = s.is_threshold_low > 0 ? s.is_threshold_low : 1.0 / s.is_threshold;
  return p;
}

/// Per-row sums every backend accumulates (double); combined into the metrics
/// by finish_metrics. Associative: rows can be summed in any order.
struct policy_loss_sums {
  double pg = 0;         ///< sum_rows row_weight * sum_t m IS l_pg
  double kl = 0;         ///< sum_rows row_weight * sum_t m kl
  double kl_tokens = 0;  ///< sum_t m kl (unweighted)
  double tokens = 0, sequences = 0;
  double clip_high = 0, clip_low = 0, clip_dual = 0;
  double neg_log_ratio = 0;
  double is_sum = 0, is_high = 0, is_low = 0;
  double is_min = std::numeric_limits<double>::infinity();
  double is_max = -std::numeric_limits<double>::infinity();
};

LENS_HD void combine(policy_loss_sums& into, const policy_loss_sums& from) {
  into.pg += from.pg;
  into.kl += from.kl;
  into.kl_tokens += from.kl_tokens;
  into.tokens += from.tokens;
  into.sequences += from.sequences;
  into.clip_high += from.clip_high;
  into.clip_low += from.clip_low;
  into.clip_dual += from.clip_dual;
  into.neg_log_ratio += from.neg_log_ratio;
  into.is_sum += from.is_sum;
  into.is_high += from.is_high;
  into.is_low += from.is_low;
  into.is_min = from.is_min < into.is_min ? from.is_min : into.is_min;
  into.is_max = from.is_max > into.is_max ? from.is_max : into.is_max;
}

/// The metrics from the batch's sums.
LENS_HD policy_loss_metrics finish_metrics(const policy_loss_params& p, const policy_loss_sums& s,
                                           double num_rows) {
  policy_loss_metrics m;
  const double inv_div = p.divisor > 0 ? 1.0 / p.divisor : 0.0;
  const double inv_tok = s.tokens > 0 ? 1.0 / s.tokens : 0.0;
  m.pg_loss = s.pg * inv_div;
  m.kl_loss = s.kl * inv_div;
  m.loss = m.pg_loss + p.kl_coef * m.kl_loss;
  m.kl_mean = s.kl_tokens * inv_tok;
  m.clipfrac_high = s.clip_high * inv_tok;
  m.clipfrac_low = s.clip_low * inv_tok;
  m.pg_clipfrac = (s.clip_high + s.clip_low) * inv_tok;
  m.clipfrac_dual = s.clip_dual * inv_tok;
  m.ppo_kl = s.neg_log_ratio * inv_tok;
  if (p.is_level != static_cast<std::int32_t>(rollout_is_level::none)) {
    m.is_weight_mean = s.is_sum * inv_tok;
    m.is_weight_min = s.tokens > 0 ? s.is_min : 0.0;
    m.is_weight_max = s.tokens > 0 ? s.is_max : 0.0;
    const double per = p.is_level == static_cast<std::int32_t>(rollout_is_level::sequence)
                           ? (num_rows > 0 ? 1.0 / num_rows : 0.0)
                           : inv_tok;
    m.is_fraction_high = s.is_high * per;
    m.is_fraction_low = s.is_low * per;
  }
  m.num_tokens = static_cast<std::int64_t>(s.tokens);
  m.num_sequences = static_cast<std::int64_t>(s.sequences);
  return m;
}

/// What a row needs before its tokens: its token count and the sums the
/// sequence-level terms read (gspo's mean log-ratio, the sequence IS log weight).
struct row_prologue {
  double tokens = 0;
  double log_ratio_sum = 0;  ///< sum_t m (logp - old), unclamped (gspo)
  double rollout_sum = 0;    ///< sum_t m (old - rollout) (sequence IS)
};

/// One unmasked token: adds its contributions to the row's sums and returns
/// its gradient before the aggregation weight (IS * dpg + kl_coef * dkl).
template <class T, int Kind = -1>
LENS_HD LENS_LOSS_INLINE T token_contribution(const policy_loss_params& p, T logp, T old_logp, T ref_logp,
                                              T rollout_logp, T advantage, T seq_log_ratio, T seq_is_weight,
                                              T seq_is_raw, policy_loss_sums& row) {
  const token_term<T> pg = policy_token<T, Kind>(p, logp, old_logp, advantage, seq_log_ratio);
  T w = T(1);
  if (p.is_level == static_cast<std::int32_t>(rollout_is_level::token)) {
    T raw;
    w = rollout_weight(p, old_logp - rollout_logp, raw);
    if (double(raw) > p.is_upper) row.is_high += 1;
    if (double(raw) < p.is_metric_lower) row.is_low += 1;
  } else if (p.is_level == static_cast<std::int32_t>(rollout_is_level::sequence)) {
    w = seq_is_weight;
    (void)seq_is_raw;
  }
  if (p.is_level != static_cast<std::int32_t>(rollout_is_level::none)) {
    const double wd = double(w);
    row.is_sum += wd;
    if (wd < row.is_min) row.is_min = wd;
    if (wd > row.is_max) row.is_max = wd;
  }
  row.pg += double(w * pg.loss);
  row.tokens += 1;
  if (pg.flags & flag_clip_high) row.clip_high += 1;
  if (pg.flags & flag_clip_low) row.clip_low += 1;
  if (pg.flags & flag_clip_dual) row.clip_dual += 1;
  T lr = logp - old_logp;
  if ((Kind >= 0 ? Kind : p.kind) != static_cast<std::int32_t>(policy_loss_kind::gspo))
    lr = clamp_value(lr, -T(log_ratio_bound), T(log_ratio_bound));
  row.neg_log_ratio -= double(lr);
  T grad = w * pg.grad;
  if (p.kl != static_cast<std::int32_t>(kl_kind::none)) {
    T dkl;
    const T kl = kl_token(p.kl, logp, ref_logp, dkl);
    row.kl += double(kl);
    grad += T(p.kl_coef) * dkl;
  }
  return grad;
}

/// A row's sequence IS weight and the row-level fraction counts (sequence level).
template <class T>
LENS_HD T sequence_is_weight(const policy_loss_params& p, double rollout_sum, policy_loss_sums& row, T& raw) {
  const T w = rollout_weight(p, T(rollout_sum), raw);
  if (double(raw) > p.is_upper) row.is_high += 1;
  if (double(raw) < p.is_metric_lower) row.is_low += 1;
  return w;
}

/// Scales a finished row's sums by its aggregation weight (the pg and kl sums
/// only). row_tokens is the whole row's count; a backend that splits a row over
/// threads calls this on each part and counts the sequence on one of them.
LENS_HD void close_row(const policy_loss_params& p, policy_loss_sums& row, double row_tokens, bool count_sequence) {
  row.kl_tokens = row.kl;
  if (row_tokens > 0) {
    const double rw = row_weight(p, row_tokens);
    row.pg *= rw;
    row.kl *= rw;
  }
  row.sequences = (count_sequence && row_tokens > 0) ? 1.0 : 0.0;
}

// ------------------------------------------------------------ the checks

inline void check_loss_setting(bool ok, const char* field, double value, const char* rule) {
  if (!ok) raise(error_code::bad_setting, std::string("settings.") + field, -1,
                 "value " + std::to_string(value) + ", must be " + rule);
}

inline void validate_policy_loss_settings(const policy_loss_settings& s) {
  auto finite = [](double x) { return std::isfinite(x); };
  const int kind = static_cast<int>(s.kind), kl = static_cast<int>(s.kl), lvl = static_cast<int>(s.is_level),
            mode = static_cast<int>(s.is_mode), agg = static_cast<int>(s.aggregation);
  check_loss_setting(kind >= 0 && kind <= static_cast<int>(policy_loss_kind::two_sided), "kind", kind,
                     "a lens::policy_loss_kind");
  check_loss_setting(kl >= 0 && kl <= static_cast<int>(kl_kind::k3_plus), "kl", kl, "a lens::kl_kind");
  check_loss_setting(lvl >= 0 && lvl <= static_cast<int>(rollout_is_level::sequence), "is_level", lvl,
                     "a lens::rollout_is_level");
  check_loss_setting(mode >= 0 && mode <= static_cast<int>(rollout_is_mode::mask), "is_mode", mode,
                     "a lens::rollout_is_mode");
  check_loss_setting(agg >= 0 && agg <= static_cast<int>(loss_aggregation::seq_mean_token_sum_norm), "aggregation",
                     agg, "a lens::loss_aggregation");
  check_loss_setting(finite(s.clip_ratio_low) && s.clip_ratio_low >= 0 && s.clip_ratio_low <= 1, "clip_ratio_low",
                     s.clip_ratio_low, "in [0, 1]");
  check_loss_setting(finite(s.clip_ratio_high) && s.clip_ratio_high >= 0, "clip_ratio_high", s.clip_ratio_high,
                     "finite and >= 0");
  if (s.kind == policy_loss_kind::vanilla)
    check_loss_setting(finite(s.clip_ratio_c) && s.clip_ratio_c > 1, "clip_ratio_c", s.clip_ratio_c,
                       "finite and > 1 (verl's dual-clip rule)");
  check_loss_setting(finite(s.delta) && s.delta >= 0, "delta", s.delta, "finite and >= 0 (0 = off)");
  check_loss_setting(finite(s.tau_pos) && s.tau_pos > 0, "tau_pos", s.tau_pos, "finite and > 0");
  check_loss_setting(finite(s.tau_neg) && s.tau_neg > 0, "tau_neg", s.tau_neg, "finite and > 0");
  check_loss_setting(finite(s.kl_coef) && s.kl_coef >= 0, "kl_coef", s.kl_coef, "finite and >= 0");
  check_loss_setting(finite(s.is_threshold) && s.is_threshold > 0, "is_threshold", s.is_threshold, "finite and > 0");
  check_loss_setting(finite(s.is_threshold_low) && s.is_threshold_low >= 0 && s.is_threshold_low < s.is_threshold,
                     "is_threshold_low", s.is_threshold_low, "in [0, is_threshold)");
  check_loss_setting(finite(s.row_length_epsilon) && s.row_length_epsilon >= 0, "row_length_epsilon",
                     s.row_length_epsilon, "finite and >= 0");
  check_loss_setting(finite(s.loss_scale_factor) && s.loss_scale_factor >= 0, "loss_scale_factor",
                     s.loss_scale_factor, "finite and >= 0 (0 = T)");
  check_loss_setting(finite(s.global_token_count) && s.global_token_count >= 0, "global_token_count",
                     s.global_token_count, "finite and >= 0 (0 = this batch's tokens)");
  check_loss_setting(finite(s.global_sequence_count) && s.global_sequence_count >= 0, "global_sequence_count",
                     s.global_sequence_count, "finite and >= 0 (0 = this batch's sequences)");
  check_loss_setting(finite(s.logprob_tolerance) && s.logprob_tolerance >= 0, "logprob_tolerance",
                     s.logprob_tolerance, "finite and >= 0");
}

inline void check_loss_size(const char* field, std::size_t actual, std::size_t expected, bool allow_empty = false) {
  if (allow_empty && actual == 0) return;
  if (actual != expected)
    raise(error_code::size_mismatch, field, -1,
          "has " + std::to_string(actual) + " elements, expected " + std::to_string(expected));
}

/// Shapes and the optional buffers the settings require. Returns N * T.
template <class Real, class Mask>
std::size_t validate_policy_loss_shapes(const policy_loss_inputs<Real, Mask>& in, const policy_loss_settings& s,
                                        std::size_t gradient_size) {
  const std::size_t n = in.num_samples, t = in.num_tokens;
  if (t != 0 && n > std::numeric_limits<std::size_t>::max() / t)
    raise(error_code::size_mismatch, "inputs.num_samples", -1, "N x T overflows");
  const std::size_t nt = n * t;
  check_loss_size("inputs.logprobs", in.logprobs.size(), nt);
  check_loss_size("inputs.old_logprobs", in.old_logprobs.size(), nt);
  check_loss_size("inputs.mask", in.mask.size(), nt);
  if (in.advantages.size() != n && in.advantages.size() != nt)
    raise(error_code::size_mismatch, "inputs.advantages", -1,
          "has " + std::to_string(in.advantages.size()) + " elements, expected N = " + std::to_string(n) +
              " (per sample) or N x T = " + std::to_string(nt) + " (per token)");
  if (s.kl != kl_kind::none) {
    if (in.ref_logprobs.size() != nt)
      raise(error_code::size_mismatch, "inputs.ref_logprobs", -1,
            "has " + std::to_string(in.ref_logprobs.size()) + " elements, expected N x T = " + std::to_string(nt) +
                " (settings.kl needs reference log-probs)");
  }
  if (s.is_level != rollout_is_level::none) {
    if (in.rollout_logprobs.size() != nt)
      raise(error_code::size_mismatch, "inputs.rollout_logprobs", -1,
            "has " + std::to_string(in.rollout_logprobs.size()) + " elements, expected N x T = " +
                std::to_string(nt) + " (settings.is_level needs rollout log-probs)");
  }
  if (gradient_size != 0 && gradient_size != nt)
    raise(error_code::size_mismatch, "outputs.grad_logprobs", -1,
          "has " + std::to_string(gradient_size) + " elements, expected N x T = " + std::to_string(nt) +
              " (or 0 for no gradient)");
  return nt;
}

/// The field names the value checks report, in check order.
enum class loss_field : std::int32_t { mask, logprobs, old_logprobs, ref_logprobs, rollout_logprobs, advantages };

inline const char* loss_field_name(loss_field f) {
  switch (f) {
    case loss_field::mask: return "inputs.mask";
    case loss_field::logprobs: return "inputs.logprobs";
    case loss_field::old_logprobs: return "inputs.old_logprobs";
    case loss_field::ref_logprobs: return "inputs.ref_logprobs";
    case loss_field::rollout_logprobs: return "inputs.rollout_logprobs";
    case loss_field::advantages: return "inputs.advantages";
  }
  return "inputs";
}

/// The check of one log-probability: 0 if fine, else the error code.
template <class T>
LENS_HD std::int32_t logprob_check(T x, double tolerance) {
  if (!(x == x) || x == T(INFINITY) || x == T(-INFINITY)) return static_cast<std::int32_t>(error_code::not_finite);
  if (double(x) > tolerance) return static_cast<std::int32_t>(error_code::logprob_above_zero);
  return 0;
}

template <class T>
LENS_HD bool finite_value(T x) {
  return x == x && x != T(INFINITY) && x != T(-INFINITY);
}

template <class M>
LENS_HD int mask_state(M m) {  // 0, 1, or -1 (neither)
  if (m == M(0)) return 0;
  if (m == M(1)) return 1;
  return -1;
}

/// The message every backend throws for a bad value at (row, column) of a field.
[[noreturn]] inline void raise_value(error_code code, loss_field field, std::size_t row, std::size_t column,
                                     std::size_t num_tokens, double value, bool per_sample = false) {
  const std::int64_t index = per_sample ? static_cast<std::int64_t>(row)
                                        : static_cast<std::int64_t>(row * num_tokens + column);
  std::string detail = per_sample ? "row " + std::to_string(row)
                                  : "row " + std::to_string(row) + ", column " + std::to_string(column);
  detail += "; value " + std::to_string(value);
  raise(code, loss_field_name(field), index, detail);
}

}  // namespace core
}  // namespace lens
