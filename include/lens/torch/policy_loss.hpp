// lens/torch/policy_loss.hpp: the policy losses as a torch::autograd::Function
// over LibTorch. The forward pass checks each tensor once (dtype, device,
// shape, contiguity; messages name the argument), runs the fused backend
// (lens/cpu/policy_loss.hpp, or lens/cuda/policy_loss.cuh for CUDA tensors
// when compiled by nvcc with LENS_TORCH_CUDA_BACKEND), and saves the gradient
// d loss / d logprobs it computed; backward only scales it by the incoming
// gradient. No [N x T] temporary besides that gradient.
//
//   lens::policy_loss_settings s;              // verl vanilla PPO clip, token-mean
//   auto out = lens::torch::policy_loss(log_prob, old_log_prob, advantages, response_mask, s);
//   out.loss.backward();                       // log_prob.grad = d loss / d log_prob
//   // out.metrics.pg_clipfrac, out.metrics.ppo_kl, ...
//
// Tensors, verl's layout: log_prob, old_log_prob [N, T] float32/float64 (one
// dtype); advantages [N] (broadcast over the row) or [N, T], that dtype;
// response_mask [N, T] bool/uint8/int32/int64/float32/float64 holding 0/1;
// ref_log_prob (when settings.kl != none) and rollout_log_prob (when
// settings.is_level != none) [N, T], that dtype; undefined tensors otherwise.
// Only log_prob receives a gradient.
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "lens/core/policy_loss.hpp"
#include "lens/cpu/policy_loss.hpp"

#if defined(LENS_TORCH_CUDA_BACKEND)
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "lens/cuda/policy_loss.cuh"
#define LENS_TORCH_POLICY_LOSS_HAS_CUDA 1
#else
#define LENS_TORCH_POLICY_LOSS_HAS_CUDA 0
#endif

namespace lens {
namespace torch {

/// What policy_loss returns: the scalar loss (differentiable in log_prob, of
/// its dtype) and the metrics of the same pass.
struct policy_loss_output {
  at::Tensor loss;
  policy_loss_metrics metrics;
};

namespace loss_detail {

[[noreturn]] inline void reject(const char* argument, const std::string& what) {
  throw invalid_argument(std::string("lens::torch::policy_loss: ") + argument + " " + what);
}

inline std::string sizes_of(const at::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

inline void check_token_tensor(const at::Tensor& t, const char* argument, const at::Tensor& like, bool is_mask) {
  if (!t.defined()) reject(argument, "is an undefined tensor; pass an [N, T] tensor");
  if (t.dim() != 2 || t.size(0) != like.size(0) || t.size(1) != like.size(1))
    reject(argument, "has sizes " + sizes_of(t) + "; expected [N, T] = " + sizes_of(like) + " like log_prob");
  if (t.device() != like.device())
    reject(argument, "is on " + t.device().str() + " but log_prob is on " + like.device().str());
  if (!t.is_contiguous()) reject(argument, "is not contiguous; pass tensor.contiguous()");
  if (is_mask) {
    switch (t.scalar_type()) {
      case at::kBool: case at::kByte: case at::kInt: case at::kLong: case at::kFloat: case at::kDouble: break;
      default:
        reject(argument, std::string("has dtype ") + c10::toString(t.scalar_type()) +
                             "; lens accepts bool, uint8, int32, int64, float32 or float64 holding 0 or 1");
    }
  } else if (t.scalar_type() != like.scalar_type()) {
    reject(argument, std::string("has dtype ") + c10::toString(t.scalar_type()) + " but log_prob has " +
                         c10::toString(like.scalar_type()) + "; pass one floating dtype");
  }
}

inline void validate(const at::Tensor& logp, const at::Tensor& old, const at::Tensor& adv, const at::Tensor& mask,
                     const at::Tensor& ref, const at::Tensor& roll, const policy_loss_settings& s) {
  if (!logp.defined()) reject("log_prob", "is an undefined tensor; pass the [N, T] current log-probs");
  if (logp.dim() != 2) reject("log_prob", "has sizes " + sizes_of(logp) + "; expected [N, T]");
  if (logp.scalar_type() != at::kFloat && logp.scalar_type() != at::kDouble)
    reject("log_prob", std::string("has dtype ") + c10::toString(logp.scalar_type()) + "; lens accepts float32 or float64");
  if (!logp.device().is_cpu() && !(logp.device().is_cuda() && LENS_TORCH_POLICY_LOSS_HAS_CUDA))
    reject("log_prob", "is on " + logp.device().str() +
                           "; this build runs cpu tensors (cuda needs nvcc and LENS_TORCH_CUDA_BACKEND)");
  if (!logp.is_contiguous()) reject("log_prob", "is not contiguous; pass tensor.contiguous()");
  check_token_tensor(old, "old_log_prob", logp, false);
  check_token_tensor(mask, "response_mask", logp, true);
  if (!adv.defined()) reject("advantages", "is an undefined tensor; pass [N] or [N, T] advantages");
  const bool per_sample = adv.dim() == 1 && adv.size(0) == logp.size(0);
  const bool per_token = adv.dim() == 2 && adv.size(0) == logp.size(0) && adv.size(1) == logp.size(1);
  if (!per_sample && !per_token)
    reject("advantages", "has sizes " + sizes_of(adv) + "; expected [N] or [N, T] with [N, T] = " + sizes_of(logp));
  if (adv.scalar_type() != logp.scalar_type())
    reject("advantages", std::string("has dtype ") + c10::toString(adv.scalar_type()) + " but log_prob has " +
                             c10::toString(logp.scalar_type()));
  if (adv.device() != logp.device()) reject("advantages", "is on " + adv.device().str() + ", not log_prob's device");
  if (!adv.is_contiguous()) reject("advantages", "is not contiguous; pass tensor.contiguous()");
  if (s.kl != kl_kind::none) check_token_tensor(ref, "ref_log_prob", logp, false);
  if (s.is_level != rollout_is_level::none) check_token_tensor(roll, "rollout_log_prob", logp, false);
}

template <class T>
struct tag {
  using type = T;
};

template <class Work>
policy_loss_metrics with_types(const at::Tensor& logp, const at::Tensor& mask, Work&& work) {
  auto with_mask = [&](auto real) -> policy_loss_metrics {
    switch (mask.scalar_type()) {
      case at::kBool: return work(real, tag<bool>{});
      case at::kByte: return work(real, tag<std::uint8_t>{});
      case at::kInt: return work(real, tag<std::int32_t>{});
      case at::kLong: return work(real, tag<std::int64_t>{});
      case at::kFloat: return work(real, tag<float>{});
      default: return work(real, tag<double>{});
    }
  };
  if (logp.scalar_type() == at::kDouble) return with_mask(tag<double>{});
  return with_mask(tag<float>{});
}

template <class Real>
span<const Real> view(const at::Tensor& t) {
  if (!t.defined()) return {};
  return span<const Real>(t.data_ptr<Real>(), static_cast<std::size_t>(t.numel()));
}

/// One fused pass: the metrics, and the gradient into grad (when defined).
inline policy_loss_metrics run(const at::Tensor& logp, const at::Tensor& old, const at::Tensor& adv,
                               const at::Tensor& mask, const at::Tensor& ref, const at::Tensor& roll,
                               const policy_loss_settings& s, at::Tensor& grad) {
  return with_types(logp, mask, [&](auto real, auto mask_tag) {
    using Real = typename decltype(real)::type;
    using Mask = typename decltype(mask_tag)::type;
    policy_loss_inputs<Real, Mask> in;
    in.num_samples = static_cast<std::size_t>(logp.size(0));
    in.num_tokens = static_cast<std::size_t>(logp.size(1));
    in.logprobs = view<Real>(logp);
    in.old_logprobs = view<Real>(old);
    in.ref_logprobs = s.kl != kl_kind::none ? view<Real>(ref) : span<const Real>();
    in.rollout_logprobs = s.is_level != rollout_is_level::none ? view<Real>(roll) : span<const Real>();
    in.mask = span<const Mask>(mask.data_ptr<Mask>(), static_cast<std::size_t>(mask.numel()));
    in.advantages = view<Real>(adv);
    span<Real> g = grad.defined() ? span<Real>(grad.data_ptr<Real>(), static_cast<std::size_t>(grad.numel()))
                                  : span<Real>();
#if defined(LENS_TORCH_CUDA_BACKEND)
    if (logp.device().is_cuda()) {
      const c10::cuda::CUDAGuard guard(logp.device());
      const cudaStream_t stream = at::cuda::getCurrentCUDAStream().stream();
      std::size_t bytes = 0;
      lens::cuda::compute_policy_loss(nullptr, bytes, in, s, g, nullptr, stream);
      at::Tensor temp = at::empty({static_cast<std::int64_t>(bytes + sizeof(policy_loss_metrics))},
                                  logp.options().dtype(at::kByte));
      auto* d_metrics = reinterpret_cast<policy_loss_metrics*>(temp.data_ptr<std::uint8_t>() + bytes);
      lens::cuda::compute_policy_loss(temp.data_ptr<std::uint8_t>(), bytes, in, s, g, d_metrics, stream);
      policy_loss_metrics m;
      if (cudaMemcpyAsync(&m, d_metrics, sizeof(m), cudaMemcpyDeviceToHost, stream) != cudaSuccess ||
          cudaStreamSynchronize(stream) != cudaSuccess)
        throw std::runtime_error("lens::torch::policy_loss: reading the metrics back failed");
      return m;
    }
#endif
    return lens::cpu::compute_policy_loss(in, s, g);
  });
}

}  // namespace loss_detail

/// The autograd function: forward computes loss, metrics and the gradient and
/// saves the gradient; backward returns it times the incoming gradient.
/// `metrics` (may be null) receives the pass's metrics.
class PolicyLossFunction : public ::torch::autograd::Function<PolicyLossFunction> {
 public:
  static at::Tensor forward(::torch::autograd::AutogradContext* ctx, const at::Tensor& log_prob,
                            const at::Tensor& old_log_prob, const at::Tensor& advantages,
                            const at::Tensor& response_mask, const at::Tensor& ref_log_prob,
                            const at::Tensor& rollout_log_prob, const policy_loss_settings& settings,
                            policy_loss_metrics* metrics) {
    loss_detail::validate(log_prob, old_log_prob, advantages, response_mask, ref_log_prob, rollout_log_prob, settings);
    at::Tensor grad = at::empty_like(log_prob);
    const policy_loss_metrics m = loss_detail::run(log_prob, old_log_prob, advantages, response_mask, ref_log_prob,
                                                   rollout_log_prob, settings, grad);
    if (metrics) *metrics = m;
    ctx->save_for_backward({grad});
    return at::scalar_tensor(m.loss, log_prob.options());
  }

  static ::torch::autograd::variable_list backward(::torch::autograd::AutogradContext* ctx,
                                                   ::torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    at::Tensor grad_log_prob = saved[0] * grad_outputs[0];
    return {grad_log_prob, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

/// The loss (differentiable in log_prob) and its metrics. Under no_grad, or
/// when log_prob does not require a gradient, no gradient is computed.
inline policy_loss_output policy_loss(const at::Tensor& log_prob, const at::Tensor& old_log_prob,
                                      const at::Tensor& advantages, const at::Tensor& response_mask,
                                      const policy_loss_settings& settings = {},
                                      const at::Tensor& ref_log_prob = at::Tensor(),
                                      const at::Tensor& rollout_log_prob = at::Tensor()) {
  policy_loss_output out;
  if (log_prob.defined() && log_prob.requires_grad() && at::GradMode::is_enabled()) {
    // autograd records every tensor argument; an unused optional one travels as an empty tensor.
    const at::Tensor none = at::empty({0}, log_prob.options());
    out.loss = PolicyLossFunction::apply(log_prob, old_log_prob, advantages, response_mask,
                                         ref_log_prob.defined() ? ref_log_prob : none,
                                         rollout_log_prob.defined() ? rollout_log_prob : none, settings, &out.metrics);
    return out;
  }
  loss_detail::validate(log_prob, old_log_prob, advantages, response_mask, ref_log_prob, rollout_log_prob, settings);
  at::Tensor no_grad;
  out.metrics = loss_detail::run(log_prob, old_log_prob, advantages, response_mask, ref_log_prob, rollout_log_prob,
                                 settings, no_grad);
  out.loss = at::scalar_tensor(out.metrics.loss, log_prob.options());
  return out;
}

}  // namespace torch
}  // namespace lens
