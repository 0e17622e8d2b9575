// tests/loss/loss_batches.hpp: random [N x T] batches for the policy-loss
// tests (ragged masks with holes, log-prob gaps around the clip range), the
// settings grid every backend is run over, and a comparison with the reference.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "lens/core/policy_loss.hpp"
#include "reference/loss_reference.hpp"

namespace loss_test {

struct batch_shape {
  std::size_t n = 4, t = 8;
  bool per_token_adv = false;
  double gap = 0.3;          // spread of logp - old (0.3 crosses the 0.2 clip bounds often)
  double masked_rows = 0.1;  // chance that a row has no token at all
  double zero_adv = 0.1;     // chance that an advantage is exactly 0
};

inline lens_reference::loss_batch random_batch(std::mt19937_64& rng, const batch_shape& shape) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> g(0.0, 1.0);
  lens_reference::loss_batch b;
  b.n = shape.n;
  b.t = shape.t;
  b.adv_per_token = shape.per_token_adv;
  const std::size_t nt = b.n * b.t;
  b.logp.resize(nt);
  b.old.resize(nt);
  b.ref.resize(nt);
  b.roll.resize(nt);
  b.mask.assign(nt, 0.0);
  for (std::size_t i = 0; i < b.n; ++i) {
    const bool empty = u(rng) < shape.masked_rows;
    const std::size_t len = empty ? 0 : 1 + static_cast<std::size_t>(u(rng) * static_cast<double>(b.t));
    for (std::size_t c = 0; c < b.t; ++c)
      b.mask[i * b.t + c] = (c < len && u(rng) > 0.15) ? 1.0 : 0.0;  // a ragged prefix with holes
  }
  for (std::size_t k = 0; k < nt; ++k) {
    b.logp[k] = -0.02 - 4.0 * u(rng);
    b.old[k] = std::min(0.0, b.logp[k] + shape.gap * g(rng));
    b.ref[k] = std::min(0.0, b.logp[k] + 0.5 * g(rng));
    b.roll[k] = std::min(0.0, b.old[k] + 0.4 * g(rng));
  }
  const std::size_t na = shape.per_token_adv ? nt : b.n;
  b.adv.resize(na);
  for (std::size_t k = 0; k < na; ++k) b.adv[k] = u(rng) < shape.zero_adv ? 0.0 : g(rng);
  return b;
}

/// The typed buffers a backend reads, converted from a reference batch.
template <class Real, class Mask>
struct typed_batch {
  std::size_t n = 0, t = 0;
  std::vector<Real> logp, old, ref, roll, adv;
  std::vector<Mask> mask;

  explicit typed_batch(const lens_reference::loss_batch& b) : n(b.n), t(b.t) {
    for (double x : b.logp) logp.push_back(static_cast<Real>(x));
    for (double x : b.old) old.push_back(static_cast<Real>(x));
    for (double x : b.ref) ref.push_back(static_cast<Real>(x));
    for (double x : b.roll) roll.push_back(static_cast<Real>(x));
    for (double x : b.adv) adv.push_back(static_cast<Real>(x));
    for (double x : b.mask) mask.push_back(static_cast<Mask>(x));
  }

  lens::policy_loss_inputs<Real, Mask> inputs() const {
    lens::policy_loss_inputs<Real, Mask> in;
    in.num_samples = n;
    in.num_tokens = t;
    in.logprobs = {logp.data(), logp.size()};
    in.old_logprobs = {old.data(), old.size()};
    in.ref_logprobs = {ref.data(), ref.size()};
    in.rollout_logprobs = {roll.data(), roll.size()};
    in.mask = {mask.data(), mask.size()};
    in.advantages = {adv.data(), adv.size()};
    return in;
  }
};

inline std::string describe(const lens::policy_loss_settings& s) {
  return "kind " + std::to_string(static_cast<int>(s.kind)) + " kl " + std::to_string(static_cast<int>(s.kl)) +
         " is " + std::to_string(static_cast<int>(s.is_level)) + "/" + std::to_string(static_cast<int>(s.is_mode)) +
         " agg " + std::to_string(static_cast<int>(s.aggregation)) + " delta " + std::to_string(s.delta);
}

/// Every loss kind x KL kind x IS setting x aggregation, with the trainers' bounds.
inline std::vector<lens::policy_loss_settings> settings_grid() {
  using namespace lens;
  std::vector<policy_loss_settings> grid;
  const policy_loss_kind kinds[] = {policy_loss_kind::vanilla, policy_loss_kind::gspo, policy_loss_kind::cispo,
                                    policy_loss_kind::sapo, policy_loss_kind::two_sided};
  const kl_kind kls[] = {kl_kind::none, kl_kind::k1, kl_kind::abs, kl_kind::k2,
                         kl_kind::k3, kl_kind::k1_plus, kl_kind::abs_plus, kl_kind::k3_plus};
  const loss_aggregation aggs[] = {loss_aggregation::token_mean, loss_aggregation::seq_mean_token_sum,
                                   loss_aggregation::seq_mean_token_mean, loss_aggregation::seq_mean_token_sum_norm};
  struct is_case { rollout_is_level level; rollout_is_mode mode; double upper, lower; };
  const is_case iss[] = {{rollout_is_level::none, rollout_is_mode::truncate, 2.0, 0.0},
                         {rollout_is_level::token, rollout_is_mode::truncate, 2.0, 0.0},
                         {rollout_is_level::token, rollout_is_mode::mask, 1.5, 0.5},
                         {rollout_is_level::sequence, rollout_is_mode::truncate, 3.0, 0.2},
                         {rollout_is_level::sequence, rollout_is_mode::mask, 3.0, 0.0}};
  int variant = 0;
  for (auto kind : kinds)
    for (auto kl : kls)
      for (const auto& is : iss)
        for (auto agg : aggs) {
          policy_loss_settings s;
          s.kind = kind;
          s.kl = kl;
          s.kl_coef = 0.1;
          s.is_level = is.level;
          s.is_mode = is.mode;
          s.is_threshold = is.upper;
          s.is_threshold_low = is.lower;
          s.aggregation = agg;
          s.clip_ratio_high = (variant % 2) ? 0.28 : 0.2;  // DAPO clip-higher on every other case
          if (kind == policy_loss_kind::two_sided && (variant % 3) == 0) s.delta = 1.3;
          if (agg == loss_aggregation::seq_mean_token_sum_norm && (variant % 2)) s.loss_scale_factor = 64;
          ++variant;
          grid.push_back(s);
        }
  return grid;
}

inline bool close(double a, double b, double rel, double abs_tol) {
  return std::fabs(a - b) <= abs_tol + rel * std::fabs(b);
}

}  // namespace loss_test
