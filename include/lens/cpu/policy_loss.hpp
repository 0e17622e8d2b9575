// lens/cpu/policy_loss.hpp: the CPU backend of the policy losses. One check
// pass over the inputs (nothing is written if it throws), then one fused pass
// per row that reads logp, old logp, the mask, the advantage (per sample,
// broadcast here, or per token) and optionally the reference and rollout
// log-probs, and writes d loss / d logp while it sums the loss and the metrics.
// The math is lens/core/policy_loss.hpp's, shared with the CUDA kernels.
//
//   lens::policy_loss_inputs<float, std::uint8_t> in;   // views of [N x T] buffers
//   in.num_samples = N; in.num_tokens = T; in.logprobs = {logp, N * T}; ...
//   lens::policy_loss_settings s;                       // verl's vanilla PPO clip
//   lens::policy_loss_metrics m = lens::cpu::compute_policy_loss(in, s, {grad, N * T});
//   // m.loss, m.pg_clipfrac, ...; grad[i * T + t] = d m.loss / d logp[i, t]
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "lens/core/policy_loss.hpp"

namespace lens {
namespace cpu {

/// Whether the advantages are read per token ([N x T]) or per sample ([N]).
/// When T == 1 both shapes are [N]; they mean the same.
template <class Real, class Mask>
bool advantages_per_token(const policy_loss_inputs<Real, Mask>& in) {
  return in.num_tokens != 1 && in.advantages.size() == in.num_samples * in.num_tokens;
}

namespace detail {

/// The value checks, in the order every backend reports them: per-sample
/// advantages (all N), then token by token (mask, logp, old, ref, rollout,
/// per-token advantage). Returns the batch's token and sequence counts.
template <class Real, class Mask>
void check_policy_loss_values(const policy_loss_inputs<Real, Mask>& in, const policy_loss_settings& s,
                              double& num_tokens, double& num_sequences) {
  using core::loss_field;
  const std::size_t n = in.num_samples, t = in.num_tokens;
  const bool per_token = advantages_per_token(in);
  if (!per_token)
    for (std::size_t i = 0; i < n; ++i)
      if (!core::finite_value(in.advantages[i]))
        core::raise_value(error_code::not_finite, loss_field::advantages, i, 0, t, double(in.advantages[i]), true);
  const bool kl = s.kl != kl_kind::none, is = s.is_level != rollout_is_level::none;
  const double tol = s.logprob_tolerance;
  const Real tol_real = static_cast<Real>(tol);
  const Real neg_inf = -std::numeric_limits<Real>::infinity();
  // A log-prob passes when -inf < x <= tolerance (false for NaN).
  auto ok = [&](Real x) { return (x <= tol_real) & (x > neg_inf); };
  std::size_t tokens = 0, sequences = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t base = i * t;
    // A branch-free scan of the row first; only a row that fails is scanned
    // again, in check order, to name its first bad value.
    bool row_bad = false;
    std::size_t row_tokens = 0;
    for (std::size_t c = 0; c < t; ++c) {
      const std::size_t k = base + c;
      const Mask m = in.mask[k];
      const bool one = m == Mask(1), zero = m == Mask(0);
      bool good = ok(in.logprobs[k]) & ok(in.old_logprobs[k]);
      if (kl) good = good & ok(in.ref_logprobs[k]);
      if (is) good = good & ok(in.rollout_logprobs[k]);
      if (per_token) good = good & core::finite_value(in.advantages[k]);
      row_bad |= !(zero | (one & good));
      row_tokens += one ? 1 : 0;
    }
    if (row_bad) {
      for (std::size_t c = 0; c < t; ++c) {
        const std::size_t k = base + c;
        const int state = core::mask_state(in.mask[k]);
        if (state < 0) core::raise_value(error_code::bad_mask_value, loss_field::mask, i, c, t, double(in.mask[k]));
        if (state == 0) continue;
        if (auto e = core::logprob_check(in.logprobs[k], tol))
          core::raise_value(static_cast<error_code>(e), loss_field::logprobs, i, c, t, double(in.logprobs[k]));
        if (auto e = core::logprob_check(in.old_logprobs[k], tol))
          core::raise_value(static_cast<error_code>(e), loss_field::old_logprobs, i, c, t,
                            double(in.old_logprobs[k]));
        if (kl)
          if (auto e = core::logprob_check(in.ref_logprobs[k], tol))
            core::raise_value(static_cast<error_code>(e), loss_field::ref_logprobs, i, c, t,
                              double(in.ref_logprobs[k]));
        if (is)
          if (auto e = core::logprob_check(in.rollout_logprobs[k], tol))
            core::raise_value(static_cast<error_code>(e), loss_field::rollout_logprobs, i, c, t,
                              double(in.rollout_logprobs[k]));
        if (per_token && !core::finite_value(in.advantages[k]))
          core::raise_value(error_code::not_finite, loss_field::advantages, i, c, t, double(in.advantages[k]));
      }
    }
    tokens += row_tokens;
    sequences += row_tokens > 0 ? 1 : 0;
  }
  num_tokens = static_cast<double>(tokens);
  num_sequences = static_cast<double>(sequences);
}

/// The fused pass over the rows, for one loss kind fixed at compile time.
template <int Kind, class Real, class Mask>
policy_loss_metrics run_rows(const policy_loss_inputs<Real, Mask>& in, const policy_loss_settings& s,
                             const core::policy_loss_params& p, span<Real> grad_logprobs) {
  const double inv_divisor = p.divisor > 0 ? 1.0 / p.divisor : 0.0;
  const std::size_t n = in.num_samples, t = in.num_tokens;
  const bool per_token = advantages_per_token(in);
  const bool write_grad = !grad_logprobs.empty();
  const bool kl = s.kl != kl_kind::none;
  const bool token_is = s.is_level == rollout_is_level::token;
  const bool seq_is = s.is_level == rollout_is_level::sequence;
  constexpr bool gspo = Kind == static_cast<int>(policy_loss_kind::gspo);
  const Real* logp = in.logprobs.data();
  const Real* old = in.old_logprobs.data();
  const Real* ref = kl ? in.ref_logprobs.data() : nullptr;
  const Real* roll = s.is_level != rollout_is_level::none ? in.rollout_logprobs.data() : nullptr;
  const Mask* mask = in.mask.data();
  const Real* adv = in.advantages.data();
  Real* grad = grad_logprobs.data();

  core::policy_loss_sums total;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t base = i * t;
    core::row_prologue pro;
    for (std::size_t c = 0; c < t; ++c) {
      if (mask[base + c] == Mask(0)) continue;
      pro.tokens += 1;
      if constexpr (gspo) pro.log_ratio_sum += double(logp[base + c] - old[base + c]);
      if (seq_is) pro.rollout_sum += double(old[base + c] - roll[base + c]);
    }
    core::policy_loss_sums row;
    const Real seq_log_ratio = Real(pro.log_ratio_sum / (pro.tokens > 0 ? pro.tokens : 1.0));
    Real seq_w = Real(1), seq_raw = Real(1);
    if (seq_is) seq_w = core::sequence_is_weight<Real>(p, pro.rollout_sum, row, seq_raw);
    const double scale = pro.tokens > 0 ? core::row_weight(p, pro.tokens) * inv_divisor : 0.0;
    const Real row_scale = Real(scale);
    const Real row_adv = per_token ? Real(0) : adv[i];
    for (std::size_t c = 0; c < t; ++c) {
      const std::size_t k = base + c;
      if (mask[k] == Mask(0)) {
        if (write_grad) grad[k] = Real(0);
        continue;
      }
      const Real g = core::token_contribution<Real, Kind>(p, logp[k], old[k], kl ? ref[k] : Real(0),
                                                          token_is ? roll[k] : Real(0), per_token ? adv[k] : row_adv,
                                                          seq_log_ratio, seq_w, seq_raw, row);
      if (write_grad) grad[k] = g * row_scale;
    }
    core::close_row(p, row, pro.tokens, true);
    core::combine(total, row);
  }
  return core::finish_metrics(p, total, static_cast<double>(n));
}

}  // namespace detail

/// The loss, its metrics and (when grad_logprobs is not empty) its gradient
/// d loss / d logprobs, [N x T], 0 at masked tokens. Throws
/// lens::invalid_argument (naming the field and index) before writing anything.
template <class Real, class Mask>
policy_loss_metrics compute_policy_loss(const policy_loss_inputs<Real, Mask>& in, const policy_loss_settings& s,
                                        span<Real> grad_logprobs) {
  core::validate_policy_loss_settings(s);
  core::validate_policy_loss_shapes(in, s, grad_logprobs.size());
  double num_tokens = 0, num_sequences = 0;
  detail::check_policy_loss_values(in, s, num_tokens, num_sequences);

  core::policy_loss_params p = core::make_policy_loss_params(s);
  p.divisor = core::aggregation_divisor(s, num_tokens, num_sequences, in.num_tokens);

  switch (s.kind) {
    case policy_loss_kind::vanilla: return detail::run_rows<static_cast<int>(policy_loss_kind::vanilla)>(in, s, p, grad_logprobs);
    case policy_loss_kind::gspo: return detail::run_rows<static_cast<int>(policy_loss_kind::gspo)>(in, s, p, grad_logprobs);
    case policy_loss_kind::cispo: return detail::run_rows<static_cast<int>(policy_loss_kind::cispo)>(in, s, p, grad_logprobs);
    case policy_loss_kind::sapo: return detail::run_rows<static_cast<int>(policy_loss_kind::sapo)>(in, s, p, grad_logprobs);
    case policy_loss_kind::two_sided: break;
  }
  return detail::run_rows<static_cast<int>(policy_loss_kind::two_sided)>(in, s, p, grad_logprobs);
}

}  // namespace cpu

/// lens::compute_policy_loss: the CPU backend on host buffers.
template <class Real, class Mask>
policy_loss_metrics compute_policy_loss(const policy_loss_inputs<Real, Mask>& in, const policy_loss_settings& s,
                                        span<Real> grad_logprobs) {
  return cpu::compute_policy_loss(in, s, grad_logprobs);
}

}  // namespace lens
