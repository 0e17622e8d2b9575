// tests/loss/verl_eager.hpp: the trainers' losses as eager LibTorch ops, op
// for op as verl 0.9.1 writes them (core_algos.py compute_policy_loss_vanilla,
// _gspo, _cispo, _sapo, kl_penalty, agg_loss; rollout_corr_helper.py
// compute_rollout_correction_weights) and as TRL writes its two-sided clip
// (GRPOTrainer._compute_loss). The gradient comes from torch autograd over
// these ops. Used by the torch test and the benchmark (the baseline).
#pragma once

#include <torch/torch.h>

#include "lens/core/policy_loss.hpp"

namespace verl_eager {

struct result {
  at::Tensor loss;  // differentiable in log_prob
  double pg_clipfrac = 0, ppo_kl = 0, pg_clipfrac_lower = 0;
};

inline at::Tensor masked_sum(const at::Tensor& v, const at::Tensor& m) { return (v * m).sum(); }
inline at::Tensor masked_mean(const at::Tensor& v, const at::Tensor& m) { return masked_sum(v, m) / (m.sum() + 1e-8); }

/// verl agg_loss (dp_size 1), with lens's global counts standing for
/// batch_num_tokens / global_batch_size.
inline at::Tensor agg_loss(const at::Tensor& loss_mat, const at::Tensor& loss_mask, const lens::policy_loss_settings& s) {
  using A = lens::loss_aggregation;
  if (s.aggregation == A::token_mean) {
    at::Tensor tokens = s.global_token_count > 0 ? at::scalar_tensor(s.global_token_count, loss_mask.options())
                                                 : loss_mask.sum();
    return masked_sum(loss_mat, loss_mask) / tokens;
  }
  if (s.aggregation == A::seq_mean_token_mean) {
    at::Tensor seq_mask = loss_mask.sum(-1);
    at::Tensor seq_losses = (loss_mat * loss_mask).sum(-1) / (seq_mask + 1e-8);
    seq_mask = (seq_mask > 0).to(loss_mat.scalar_type());
    at::Tensor gbs = s.global_sequence_count > 0 ? at::scalar_tensor(s.global_sequence_count, loss_mask.options())
                                                 : seq_mask.sum();
    return masked_sum(seq_losses, seq_mask) / gbs;
  }
  at::Tensor seq_losses = (loss_mat * loss_mask).sum(-1);
  at::Tensor seq_mask = (loss_mask.sum(-1) > 0).to(loss_mat.scalar_type());
  at::Tensor gbs = s.global_sequence_count > 0 ? at::scalar_tensor(s.global_sequence_count, loss_mask.options())
                                               : seq_mask.sum();
  at::Tensor loss = masked_sum(seq_losses, seq_mask) / gbs;
  if (s.aggregation == A::seq_mean_token_sum_norm)
    loss = loss / (s.loss_scale_factor > 0 ? s.loss_scale_factor : static_cast<double>(loss_mask.size(-1)));
  return loss;
}

/// verl kl_penalty (with the "+" straight-through variants).
inline at::Tensor kl_penalty(const at::Tensor& logprob, const at::Tensor& ref, lens::kl_kind k) {
  using K = lens::kl_kind;
  auto forward = [&](K base) -> at::Tensor {
    if (base == K::k1) return logprob - ref;
    if (base == K::abs) return (logprob - ref).abs();
    if (base == K::k2) return 0.5 * (logprob - ref).square();
    at::Tensor kl = ref - logprob;
    kl = at::clamp(kl, -20, 20);
    at::Tensor ratio = at::exp(kl);
    at::Tensor kld = (ratio - kl - 1).contiguous();
    return at::clamp(kld, -10, 10);
  };
  const K base = k == K::k1_plus ? K::k1 : k == K::abs_plus ? K::abs : k == K::k3_plus ? K::k3 : k;
  at::Tensor forward_score = forward(base);
  if (base == k) return forward_score;
  at::Tensor backward_score = 0.5 * (logprob - ref).square();
  return backward_score - backward_score.detach() + forward_score.detach();
}

/// verl compute_rollout_correction_weights (token / sequence, TIS or IcePop)
/// with TRL's lower clamp for truncation when is_threshold_low > 0.
inline at::Tensor rollout_weights(const at::Tensor& old, const at::Tensor& roll, const at::Tensor& mask,
                                  const lens::policy_loss_settings& s) {
  at::Tensor log_ratio = old - roll;
  at::Tensor raw;
  if (s.is_level == lens::rollout_is_level::token) {
    raw = at::exp(at::clamp(log_ratio, -20.0, 20.0));
  } else {
    at::Tensor sum = (log_ratio * mask).sum(-1, true);
    raw = at::exp(at::clamp(sum, -20.0, 20.0)).expand_as(log_ratio);
  }
  raw = raw * mask;
  at::Tensor w;
  if (s.is_mode == lens::rollout_is_mode::truncate) {
    w = raw.clamp_max(s.is_threshold);
    if (s.is_threshold_low > 0) w = w.clamp_min(s.is_threshold_low);
  } else {
    at::Tensor kept = (raw >= s.is_threshold_low) & (raw <= s.is_threshold);
    w = at::where(kept, raw, at::zeros_like(raw));
  }
  return w.detach();
}

/// The policy-gradient loss matrix of each kind, verl's / TRL's ops.
inline at::Tensor pg_losses(const at::Tensor& old_log_prob, const at::Tensor& log_prob, const at::Tensor& advantages,
                            const at::Tensor& response_mask, const lens::policy_loss_settings& s, result& r) {
  using K = lens::policy_loss_kind;
  const double low = s.clip_ratio_low, high = s.clip_ratio_high;
  if (s.kind == K::gspo) {
    at::Tensor negative_approx_kl = log_prob - old_log_prob;
    at::Tensor seq_lengths = at::sum(response_mask, -1).clamp_min(1);
    at::Tensor negative_approx_kl_seq = at::sum(negative_approx_kl * response_mask, -1) / seq_lengths;
    at::Tensor log_seq_importance_ratio = log_prob - log_prob.detach() + negative_approx_kl_seq.detach().unsqueeze(-1);
    log_seq_importance_ratio = at::clamp(log_seq_importance_ratio, c10::nullopt, 10.0);
    at::Tensor seq_importance_ratio = at::exp(log_seq_importance_ratio);
    at::Tensor pg_losses1 = -advantages * seq_importance_ratio;
    at::Tensor pg_losses2 = -advantages * at::clamp(seq_importance_ratio, 1 - low, 1 + high);
    r.pg_clipfrac = masked_mean(at::gt(pg_losses2, pg_losses1).to(log_prob.scalar_type()), response_mask).item<double>();
    r.ppo_kl = masked_mean(-negative_approx_kl, response_mask).item<double>();
    return at::maximum(pg_losses1, pg_losses2);
  }
  at::Tensor negative_approx_kl = at::clamp(log_prob - old_log_prob, -20.0, 20.0);
  at::Tensor ratio = at::exp(negative_approx_kl);
  r.ppo_kl = masked_mean(-negative_approx_kl, response_mask).item<double>();
  if (s.kind == K::vanilla) {
    at::Tensor pg_losses1 = -advantages * ratio;
    at::Tensor pg_losses2 = -advantages * at::clamp(ratio, 1 - low, 1 + high);
    at::Tensor clip_pg_losses1 = at::maximum(pg_losses1, pg_losses2);
    r.pg_clipfrac = masked_mean(at::gt(pg_losses2, pg_losses1).to(log_prob.scalar_type()), response_mask).item<double>();
    at::Tensor pg_losses3 = -advantages * s.clip_ratio_c;
    at::Tensor clip_pg_losses2 = at::min(pg_losses3, clip_pg_losses1);
    r.pg_clipfrac_lower =
        masked_mean(at::gt(clip_pg_losses1, pg_losses3) * (advantages < 0).to(log_prob.scalar_type()), response_mask)
            .item<double>();
    return at::where(advantages < 0, clip_pg_losses2, clip_pg_losses1);
  }
  if (s.kind == K::cispo) {
    at::Tensor clipped_ratio = at::clamp(ratio, 1 - low, 1 + high);
    at::Tensor clipped_ratio_sg = clipped_ratio.detach();
    r.pg_clipfrac = masked_mean((ratio != clipped_ratio).to(log_prob.scalar_type()), response_mask).item<double>();
    return -clipped_ratio_sg * advantages * log_prob;
  }
  if (s.kind == K::sapo) {
    at::Tensor tau_pos = at::scalar_tensor(s.tau_pos, advantages.options());
    at::Tensor tau_neg = at::scalar_tensor(s.tau_neg, advantages.options());
    at::Tensor taus = at::where(advantages > 0, tau_pos, tau_neg);
    at::Tensor gates = at::sigmoid(taus * (ratio - 1.0)) * (4.0 / taus);
    return -gates * advantages;
  }
  // TRL two-sided (grpo / dapo): coef_1 = exp(log_ratio) (clamped as lens does), delta caps it.
  at::Tensor coef_1 = ratio;
  at::Tensor coef_2 = at::clamp(coef_1, 1 - low, 1 + high);
  if (s.delta > 0) coef_1 = at::clamp(coef_1, c10::nullopt, s.delta);
  at::Tensor per_token_loss1 = coef_1 * advantages;
  at::Tensor per_token_loss2 = coef_2 * advantages;
  at::Tensor is_low = (coef_1 < 1 - low) & (advantages < 0);
  at::Tensor is_high = (coef_1 > 1 + high) & (advantages > 0);
  r.pg_clipfrac = masked_mean((is_low | is_high).to(log_prob.scalar_type()), response_mask).item<double>();
  return -at::min(per_token_loss1, per_token_loss2);
}

/// The whole loss: agg(pg * w) + kl_coef * agg(kl), as verl's actor adds them.
inline result loss(const at::Tensor& old_log_prob, const at::Tensor& log_prob, const at::Tensor& advantages_in,
                   const at::Tensor& response_mask_in, const lens::policy_loss_settings& s,
                   const at::Tensor& ref_log_prob = at::Tensor(), const at::Tensor& rollout_log_prob = at::Tensor()) {
  result r;
  const at::Tensor response_mask = response_mask_in.to(log_prob.scalar_type());
  const at::Tensor advantages = advantages_in.dim() == 1 ? advantages_in.unsqueeze(1) : advantages_in;
  at::Tensor pg = pg_losses(old_log_prob, log_prob, advantages, response_mask, s, r);
  if (s.is_level != lens::rollout_is_level::none)
    pg = pg * rollout_weights(old_log_prob, rollout_log_prob, response_mask, s);
  r.loss = agg_loss(pg, response_mask, s);
  if (s.kl != lens::kl_kind::none) {
    at::Tensor kld = kl_penalty(log_prob, ref_log_prob, s.kl);
    r.loss = r.loss + agg_loss(kld, response_mask, s) * s.kl_coef;
  }
  return r;
}

}  // namespace verl_eager
