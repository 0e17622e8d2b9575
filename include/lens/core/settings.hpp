// lens/core/settings.hpp: the plain settings struct every backend takes, with
// the anchors' defaults (verl, TRL, OpenRLHF, the LENS paper) named per field.
#pragma once

namespace lens {

/// Which advantage estimator to compute.
enum class estimator {
  grpo,            ///< (s - mean) / (std + eps); Dr. GRPO with normalize_by_std = false
  grpo_batch_std,  ///< (s - mean_group) / (std_batch + eps); TRL scale_rewards="batch"
  rloo,            ///< G/(G-1) * (s - mean): s minus the mean of the others
  lens,            ///< confidence-reweighted rewards, docs/ALGORITHM.md section 3
};

/// What a group of one sample gets. verl's loop uses mean 0 and std 1
/// (A = s / (1 + eps)); TRL, OpenRLHF and others give 0.
enum class singleton_policy { verl, zero };

/// The probability p_i inside LENS's importance-sampling difficulty estimate D_imp.
enum class difficulty_probability {
  sequence,        ///< raw sequence probability exp(l_i), the paper's Eq. 14 (default)
  geometric_mean,  ///< length-normalised pbar_i = exp(l_i / n_i)
};

/// The LENS ablations the paper reports.
enum class lens_scope {
  all_groups,       ///< calibrate mixed groups and rescue negative groups (default)
  negative_groups,  ///< rescue negative groups only; mixed groups are plain GRPO
  mixed_groups,     ///< calibrate mixed groups only; negative groups get 0 as in GRPO
};

struct advantage_settings {
  estimator kind = estimator::lens;

  // --- group normalisation (GRPO, GRPO batch std, LENS mixed groups)
  double epsilon = 1e-6;          ///< added to std. verl 1e-6 (default), TRL 1e-4, OpenRLHF 1e-9
  bool unbiased_std = true;       ///< torch.std's default, as verl, TRL and OpenRLHF use
  bool normalize_by_std = true;   ///< false = Dr. GRPO (verl norm_adv_by_std_in_grpo=False, TRL scale_rewards="none")
  singleton_policy singleton = singleton_policy::verl;  ///< verl (default) or zero (TRL, OpenRLHF)

  // --- LENS (docs/ALGORITHM.md section 3); ignored by the other estimators
  double alpha = 0.25;            ///< negative-group scale, the paper's only hyperparameter
  double floor_factor = 2.0;      ///< F = floor_factor * max_j pbar_j; must be > 1
  difficulty_probability difficulty_source = difficulty_probability::sequence;  ///< paper's Eq. 14
  bool divide_penalty_by_group_size = true;  ///< the 1/G factor: keeps correct > 0 > wrong after normalisation
  lens_scope scope = lens_scope::all_groups; ///< the paper's ablations

  // --- input checks
  double logprob_tolerance = 1e-4;  ///< log-probabilities up to this above 0 are accepted (and read as 0)
  /// TRL: a NaN score (every reward function returned None) leaves its sample
  /// out of its group (baseline, spread, LENS confidence, group size) and gives
  /// it advantage 0. false (default): a NaN score is rejected like any
  /// non-finite input. CPU backend only for now; lens.trl sets it.
  bool skip_nan_scores = false;
};

/// A copy of settings with the estimator replaced: what the named entry points
/// (compute_lens_advantages, compute_grpo_advantages) of every backend run.
inline advantage_settings with_estimator(advantage_settings settings, estimator kind) {
  settings.kind = kind;
  return settings;
}

/// Ready-made settings matching each anchor's defaults.
namespace presets {
inline advantage_settings lens() { return {}; }
inline advantage_settings verl_grpo() {
  advantage_settings s;
  s.kind = estimator::grpo;
  s.epsilon = 1e-6;
  s.singleton = singleton_policy::verl;
  return s;
}
inline advantage_settings trl_grpo() {
  advantage_settings s = verl_grpo();
  s.epsilon = 1e-4;
  s.singleton = singleton_policy::zero;
  return s;
}
inline advantage_settings openrlhf_grpo() {
  advantage_settings s = trl_grpo();
  s.epsilon = 1e-9;
  return s;
}
inline advantage_settings dr_grpo() {
  advantage_settings s = verl_grpo();
  s.normalize_by_std = false;
  return s;
}
inline advantage_settings trl_grpo_batch_std() {
  advantage_settings s = trl_grpo();
  s.kind = estimator::grpo_batch_std;
  return s;
}
inline advantage_settings rloo() {
  advantage_settings s = verl_grpo();
  s.kind = estimator::rloo;
  return s;
}
}  // namespace presets

}  // namespace lens
