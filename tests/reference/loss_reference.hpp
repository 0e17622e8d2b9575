// tests/reference/loss_reference.hpp: a deliberately plain double-precision
// reference of the policy losses, written from verl 0.9.1 core_algos.py
// (compute_policy_loss_vanilla / _gspo / _cispo / _sapo, kl_penalty, agg_loss),
// verl's rollout_corr_helper.py and TRL's GRPOTrainer._compute_loss, one loop
// per torch op, sharing no code with lens's implementation (only the settings
// struct, which is data). The gradient is not derived by hand: the loss takes
// the log-probs twice, `live` and `detached` (what verl's .detach() reads), and
// the gradient is the central finite difference in `live`, which is exactly
// what autograd differentiates.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "lens/core/policy_loss.hpp"  // settings and enums only

namespace lens_reference {

struct loss_batch {
  std::size_t n = 0, t = 0;
  std::vector<double> logp, old, ref, roll, mask, adv;  // adv: [n] or [n * t]
  bool adv_per_token = false;
};

struct loss_result {
  double loss = 0, pg_loss = 0, kl_loss = 0, kl_mean = 0;
  double pg_clipfrac = 0, clipfrac_high = 0, clipfrac_low = 0, clipfrac_dual = 0, ppo_kl = 0;
  double is_mean = 0, is_min = 0, is_max = 0, is_high = 0, is_low = 0;
  double tokens = 0, sequences = 0;
  std::vector<double> grad;
};

namespace ref_detail {

inline double clampd(double x, double lo, double hi) { return std::min(std::max(x, lo), hi); }

inline double masked_mean(const std::vector<double>& v, const std::vector<double>& m) {
  double s = 0, c = 0;
  for (std::size_t k = 0; k < v.size(); ++k) { s += v[k] * m[k]; c += m[k]; }
  return c > 0 ? s / c : 0.0;
}

/// verl agg_loss with lens's global counts (0 = local) and 0 when nothing is left.
inline double agg(const std::vector<double>& mat, const loss_batch& b, const lens::policy_loss_settings& s) {
  using A = lens::loss_aggregation;
  const std::size_t n = b.n, t = b.t;
  if (s.aggregation == A::token_mean) {
    double sum = 0, count = 0;
    for (std::size_t k = 0; k < n * t; ++k) { sum += mat[k] * b.mask[k]; count += b.mask[k]; }
    const double d = s.global_token_count > 0 ? s.global_token_count : count;
    return d > 0 ? sum / d : 0.0;
  }
  double total = 0, seqs = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double row = 0, len = 0;
    for (std::size_t c = 0; c < t; ++c) { row += mat[i * t + c] * b.mask[i * t + c]; len += b.mask[i * t + c]; }
    if (len <= 0) continue;
    seqs += 1;
    total += s.aggregation == A::seq_mean_token_mean ? row / (len + s.row_length_epsilon) : row;
  }
  double d = s.global_sequence_count > 0 ? s.global_sequence_count : seqs;
  if (s.aggregation == A::seq_mean_token_sum_norm)
    d *= s.loss_scale_factor > 0 ? s.loss_scale_factor : static_cast<double>(t);
  return d > 0 ? total / d : 0.0;
}

inline double adv_at(const loss_batch& b, std::size_t i, std::size_t c) {
  return b.adv_per_token ? b.adv[i * b.t + c] : b.adv[i];
}

/// verl kl_penalty_forward on one token.
inline double kl_forward(lens::kl_kind k, double logprob, double ref) {
  using K = lens::kl_kind;
  switch (k) {
    case K::k1: case K::k1_plus: return logprob - ref;
    case K::abs: case K::abs_plus: return std::fabs(logprob - ref);
    case K::k2: return 0.5 * (logprob - ref) * (logprob - ref);
    case K::k3: case K::k3_plus: {
      const double kl = clampd(ref - logprob, -20, 20);
      const double ratio = std::exp(kl);
      return clampd(ratio - kl - 1, -10, 10);
    }
    default: return 0.0;
  }
}

/// The whole loss with metrics, from live and detached log-probs.
inline loss_result evaluate(const loss_batch& b, const lens::policy_loss_settings& s, const std::vector<double>& live,
                            const std::vector<double>& det, std::ptrdiff_t only = -1) {
  using K = lens::policy_loss_kind;
  const std::size_t n = b.n, t = b.t, nt = n * t;
  const double lo = 1 - s.clip_ratio_low, hi = 1 + s.clip_ratio_high;
  loss_result r;
  std::vector<double> pg(nt, 0.0), high(nt, 0.0), low(nt, 0.0), dual(nt, 0.0), negkl(nt, 0.0);

  if (s.kind == K::vanilla) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < t; ++c) {
        const std::size_t k = i * t + c;
        const double a = adv_at(b, i, c);
        const double nak = clampd(live[k] - b.old[k], -20, 20);
        const double ratio = std::exp(nak);
        negkl[k] = -clampd(det[k] - b.old[k], -20, 20);
        const double pg1 = -a * ratio;
        const double pg2 = -a * clampd(ratio, lo, hi);
        const double clip1 = std::max(pg1, pg2);
        const double ratio_det = std::exp(clampd(det[k] - b.old[k], -20, 20));
        if (pg2 > pg1) { if (ratio_det > hi) high[k] = 1; else low[k] = 1; }
        const double pg3 = -a * s.clip_ratio_c;
        const double clip2 = std::min(pg3, clip1);
        if (clip1 > pg3 && a < 0) dual[k] = 1;
        pg[k] = a < 0 ? clip2 : clip1;
      }
  } else if (s.kind == K::gspo) {
    for (std::size_t i = 0; i < n; ++i) {
      double len = 0, sum = 0;
      for (std::size_t c = 0; c < t; ++c) { len += b.mask[i * t + c]; sum += (det[i * t + c] - b.old[i * t + c]) * b.mask[i * t + c]; }
      const double seq = sum / std::max(len, 1.0);
      for (std::size_t c = 0; c < t; ++c) {
        const std::size_t k = i * t + c;
        const double a = adv_at(b, i, c);
        negkl[k] = -(det[k] - b.old[k]);
        const double log_s = std::min(live[k] - det[k] + seq, 10.0);
        const double sr = std::exp(log_s);
        const double pg1 = -a * sr, pg2 = -a * clampd(sr, lo, hi);
        if (pg2 > pg1) { if (std::exp(std::min(seq, 10.0)) > hi) high[k] = 1; else low[k] = 1; }
        pg[k] = std::max(pg1, pg2);
      }
    }
  } else if (s.kind == K::cispo) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < t; ++c) {
        const std::size_t k = i * t + c;
        const double a = adv_at(b, i, c);
        negkl[k] = -clampd(det[k] - b.old[k], -20, 20);
        const double ratio_det = std::exp(clampd(det[k] - b.old[k], -20, 20));
        const double clipped_sg = clampd(ratio_det, lo, hi);
        pg[k] = -clipped_sg * a * live[k];
        if (ratio_det > hi) high[k] = 1;
        if (ratio_det < lo) low[k] = 1;
      }
  } else if (s.kind == K::sapo) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < t; ++c) {
        const std::size_t k = i * t + c;
        const double a = adv_at(b, i, c);
        negkl[k] = -clampd(det[k] - b.old[k], -20, 20);
        const double ratio = std::exp(clampd(live[k] - b.old[k], -20, 20));
        const double tau = a > 0 ? s.tau_pos : s.tau_neg;
        const double gate = 1.0 / (1.0 + std::exp(-tau * (ratio - 1.0))) * (4.0 / tau);
        pg[k] = -gate * a;
      }
  } else {  // two_sided: TRL grpo/dapo
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < t; ++c) {
        const std::size_t k = i * t + c;
        const double a = adv_at(b, i, c);
        negkl[k] = -clampd(det[k] - b.old[k], -20, 20);
        double coef1 = std::exp(clampd(live[k] - b.old[k], -20, 20));
        const double coef2 = clampd(coef1, lo, hi);
        if (s.delta > 0) coef1 = std::min(coef1, s.delta);
        pg[k] = -std::min(coef1 * a, coef2 * a);
        double coef1_det = std::exp(clampd(det[k] - b.old[k], -20, 20));
        if (s.delta > 0) coef1_det = std::min(coef1_det, s.delta);
        if (coef1_det < lo && a < 0) low[k] = 1;
        if (coef1_det > hi && a > 0) high[k] = 1;
      }
  }

  // Rollout IS weights (detached: from old and rollout only).
  std::vector<double> w(nt, 1.0);
  const double lower_metric = s.is_threshold_low > 0 ? s.is_threshold_low : 1.0 / s.is_threshold;
  auto apply = [&](double raw) {
    if (s.is_mode == lens::rollout_is_mode::truncate) {
      double v = std::min(raw, s.is_threshold);
      if (s.is_threshold_low > 0) v = std::max(v, s.is_threshold_low);
      return v;
    }
    return (raw >= s.is_threshold_low && raw <= s.is_threshold) ? raw : 0.0;
  };
  if (s.is_level == lens::rollout_is_level::token) {
    std::vector<double> hi_v(nt), lo_v(nt);
    for (std::size_t k = 0; k < nt; ++k) {
      const double raw = std::exp(clampd(b.old[k] - b.roll[k], -20, 20));
      w[k] = apply(raw);
      hi_v[k] = raw > s.is_threshold ? 1 : 0;
      lo_v[k] = raw < lower_metric ? 1 : 0;
    }
    r.is_high = masked_mean(hi_v, b.mask);
    r.is_low = masked_mean(lo_v, b.mask);
  } else if (s.is_level == lens::rollout_is_level::sequence) {
    double nh = 0, nl = 0;
    for (std::size_t i = 0; i < n; ++i) {
      double sum = 0;
      for (std::size_t c = 0; c < t; ++c) sum += (b.old[i * t + c] - b.roll[i * t + c]) * b.mask[i * t + c];
      const double raw = std::exp(clampd(sum, -20, 20));
      for (std::size_t c = 0; c < t; ++c) w[i * t + c] = apply(raw);
      nh += raw > s.is_threshold ? 1 : 0;
      nl += raw < lower_metric ? 1 : 0;
    }
    r.is_high = n ? nh / static_cast<double>(n) : 0.0;
    r.is_low = n ? nl / static_cast<double>(n) : 0.0;
  }
  if (s.is_level != lens::rollout_is_level::none) {
    r.is_mean = masked_mean(w, b.mask);
    double mn = std::numeric_limits<double>::infinity(), mx = -mn;
    bool any = false;
    for (std::size_t k = 0; k < nt; ++k)
      if (b.mask[k] > 0) { mn = std::min(mn, w[k]); mx = std::max(mx, w[k]); any = true; }
    r.is_min = any ? mn : 0.0;
    r.is_max = any ? mx : 0.0;
  }

  std::vector<double> weighted(nt);
  for (std::size_t k = 0; k < nt; ++k) weighted[k] = pg[k] * w[k];
  // only >= 0: the loss restricted to one token's terms (what its derivative sees;
  // every other term reads detached values only), so a finite difference does not
  // lose digits to the rest of the batch.
  auto restrict_to_only = [&](std::vector<double>& mat) {
    if (only < 0) return;
    for (std::size_t k = 0; k < nt; ++k)
      if (static_cast<std::ptrdiff_t>(k) != only) mat[k] = 0.0;
  };
  restrict_to_only(weighted);
  r.pg_loss = agg(weighted, b, s);

  if (s.kl != lens::kl_kind::none) {
    using KK = lens::kl_kind;
    const bool plus = s.kl == KK::k1_plus || s.kl == KK::abs_plus || s.kl == KK::k3_plus;
    std::vector<double> kld(nt), kl_det(nt);
    for (std::size_t k = 0; k < nt; ++k) {
      if (plus) {  // backward_score - backward_score.detach() + forward_score.detach()
        const double back = 0.5 * (live[k] - b.ref[k]) * (live[k] - b.ref[k]);
        const double back_det = 0.5 * (det[k] - b.ref[k]) * (det[k] - b.ref[k]);
        kld[k] = back - back_det + kl_forward(s.kl, det[k], b.ref[k]);
      } else {
        kld[k] = kl_forward(s.kl, live[k], b.ref[k]);
      }
      kl_det[k] = kl_forward(s.kl, det[k], b.ref[k]);
    }
    restrict_to_only(kld);
    r.kl_loss = agg(kld, b, s);
    r.kl_mean = masked_mean(kl_det, b.mask);
    r.loss = r.pg_loss + r.kl_loss * s.kl_coef;
  } else {
    r.loss = r.pg_loss;
  }

  r.clipfrac_high = masked_mean(high, b.mask);
  r.clipfrac_low = masked_mean(low, b.mask);
  std::vector<double> any_clip(nt);
  for (std::size_t k = 0; k < nt; ++k) any_clip[k] = std::max(high[k], low[k]);
  r.pg_clipfrac = masked_mean(any_clip, b.mask);
  r.clipfrac_dual = masked_mean(dual, b.mask);
  r.ppo_kl = masked_mean(negkl, b.mask);
  for (std::size_t i = 0; i < n; ++i) {
    double len = 0;
    for (std::size_t c = 0; c < t; ++c) len += b.mask[i * t + c];
    r.tokens += len;
    r.sequences += len > 0 ? 1 : 0;
  }
  return r;
}

}  // namespace ref_detail

/// Loss, metrics and the gradient in logp (central differences, step h).
inline loss_result policy_loss(const loss_batch& b, const lens::policy_loss_settings& s, double h = 1e-6) {
  loss_result r = ref_detail::evaluate(b, s, b.logp, b.logp);
  r.grad.assign(b.n * b.t, 0.0);
  std::vector<double> live = b.logp;
  for (std::size_t k = 0; k < live.size(); ++k) {
    if (b.mask[k] == 0) continue;  // a masked token never reaches the loss
    const double x = live[k];
    live[k] = x + h;
    const auto only = static_cast<std::ptrdiff_t>(k);
    const auto up = ref_detail::evaluate(b, s, live, b.logp, only);
    live[k] = x - h;
    const auto down = ref_detail::evaluate(b, s, live, b.logp, only);
    live[k] = x;
    // The two terms apart, so that a large constant policy term (a clamped ratio)
    // does not swallow the KL term's digits.
    r.grad[k] = (up.pg_loss - down.pg_loss) / (2 * h) + s.kl_coef * ((up.kl_loss - down.kl_loss) / (2 * h));
  }
  return r;
}

}  // namespace lens_reference
