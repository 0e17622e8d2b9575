// lens/lens.hpp: the one header a trainer includes. GRPO-family, LENS and
// REINFORCE++ advantages and the policy losses on the CPU, with no dependency; the CUDA backend lives in
// lens/cuda/, the Thrust path in lens/thrust/, the LibTorch adapter in
// lens/torch.hpp, the MATH reward in lens/math.hpp, lens::as_span of Eigen
// objects in lens/eigen.hpp (needs Eigen).
//
//   lens::sequence_inputs<float> in{scores, logprob_sums, lengths};
//   lens::compute_lens_advantages(in, lens::fixed_groups{16}, advantages);
#pragma once

#include "lens/core/errors.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/views.hpp"
#include "lens/cpu/advantages.hpp"
#include "lens/cpu/policy_loss.hpp"  // lens::compute_policy_loss
#include "lens/cpu/reinforce.hpp"    // REINFORCE++ (verl)
#include "lens/version.hpp"

namespace lens {

/// Any estimator (settings.kind), per-sample inputs, host buffers.
template <class Real, class Layout, class Out>
batch_summary compute_advantages(const sequence_inputs<Real>& inputs, const Layout& groups, span<Out> advantages,
                                 const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr) {
  return cpu::compute_advantages(inputs, groups, advantages, settings, group_stats);
}

/// Any estimator (settings.kind), token-level inputs [N x T], host buffers.
template <class Real, class Mask, class Reward, class Layout, class Out>
batch_summary compute_advantages(const token_inputs<Real, Mask, Reward>& inputs, const Layout& groups, span<Out> advantages,
                                 span<Out> token_advantages, const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr) {
  return cpu::compute_advantages(inputs, groups, advantages, token_advantages, settings, group_stats);
}

/// LENS advantages (settings.kind is set to estimator::lens; every other field
/// is used as given, defaults as in docs/ALGORITHM.md).
template <class Real, class Layout, class Out>
batch_summary compute_lens_advantages(const sequence_inputs<Real>& inputs, const Layout& groups,
                                      span<Out> advantages, const advantage_settings& settings = {},
                                      std::vector<group_statistics>* group_stats = nullptr) {
  return cpu::compute_advantages(inputs, groups, advantages, with_estimator(settings, estimator::lens), group_stats);
}

template <class Real, class Mask, class Reward, class Layout, class Out>
batch_summary compute_lens_advantages(const token_inputs<Real, Mask, Reward>& inputs, const Layout& groups,
                                      span<Out> advantages, span<Out> token_advantages,
                                      const advantage_settings& settings = {},
                                      std::vector<group_statistics>* group_stats = nullptr) {
  return cpu::compute_advantages(inputs, groups, advantages, token_advantages,
                                 with_estimator(settings, estimator::lens), group_stats);
}

/// GRPO advantages (settings.kind is set to estimator::grpo; defaults are
/// verl's; see lens::presets for TRL, OpenRLHF and Dr. GRPO).
template <class Real, class Layout, class Out>
batch_summary compute_grpo_advantages(const sequence_inputs<Real>& inputs, const Layout& groups,
                                      span<Out> advantages, const advantage_settings& settings = presets::verl_grpo(),
                                      std::vector<group_statistics>* group_stats = nullptr) {
  return cpu::compute_advantages(inputs, groups, advantages, with_estimator(settings, estimator::grpo), group_stats);
}

template <class Real, class Mask, class Reward, class Layout, class Out>
batch_summary compute_grpo_advantages(const token_inputs<Real, Mask, Reward>& inputs, const Layout& groups,
                                      span<Out> advantages, span<Out> token_advantages,
                                      const advantage_settings& settings = presets::verl_grpo(),
                                      std::vector<group_statistics>* group_stats = nullptr) {
  return cpu::compute_advantages(inputs, groups, advantages, token_advantages,
                                 with_estimator(settings, estimator::grpo), group_stats);
}

}  // namespace lens
