// lens/torch.hpp: the LibTorch adapter. Takes torch tensors in verl's layout,
// checks each one once (dtype, device, shape, contiguity) with a message that
// names the argument, then hands raw pointers to the CPU backend, or for CUDA
// tensors to the CUDA backend, without copying them. The CUDA path needs this
// header compiled by nvcc with LENS_TORCH_CUDA_BACKEND defined (the CUDA
// backend is nvcc-only); elsewhere CUDA tensors are rejected with a message.
//
//   auto out = lens::torch::compute_lens_advantages(token_level_rewards, response_mask,
//                                                  index, old_log_probs);
//   // out.token_advantages: [N, T], out.advantages: [N], out.summary: batch numbers
//
// Compile only where LibTorch is found (CMake: Torch_FOUND). Nothing else in
// lens includes this header.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "lens/lens.hpp"

#if defined(LENS_TORCH_CUDA_BACKEND)
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "lens/cuda/advantages.cuh"
#endif

namespace lens {
namespace torch {

/// True when this translation unit was built with the CUDA backend, so that
/// CUDA tensors are accepted (otherwise they are rejected with a clear error).
#if defined(LENS_TORCH_CUDA_BACKEND)
inline constexpr bool has_cuda_backend = true;
#else
inline constexpr bool has_cuda_backend = false;
#endif

/// What the adapter returns: fresh tensors on the inputs' device.
struct advantage_tensors {
  at::Tensor advantages;        ///< [N]: one advantage per sample
  at::Tensor token_advantages;  ///< [N, T]: advantages[i] * response_mask[i, t]
  // dtype: the rewards' on the CPU; float32 on CUDA (the CUDA backend writes float).
  batch_summary summary;        ///< negative groups, samples that carry gradient, ...
};

namespace detail {

[[noreturn]] inline void reject(const char* argument, const std::string& what) {
  throw invalid_argument(std::string("lens::torch: ") + argument + " " + what);
}

inline std::string describe_sizes(const at::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

inline void check_defined(const at::Tensor& t, const char* argument, const char* why) {
  if (!t.defined()) reject(argument, std::string("is an undefined tensor; ") + why);
}

inline void check_contiguous(const at::Tensor& t, const char* argument) {
  if (!t.is_contiguous())
    reject(argument, "is not contiguous (sizes " + describe_sizes(t) +
                         "); lens reads it in place without copying: pass tensor.contiguous()");
}

inline void check_same_device(const at::Tensor& t, const char* argument, const at::Tensor& reference,
                              const char* reference_argument) {
  if (t.device() != reference.device())
    reject(argument, "is on " + t.device().str() + " but " + reference_argument + " is on " +
                         reference.device().str() + "; put every tensor on one device");
}

inline void check_floating(const at::Tensor& t, const char* argument) {
  if (t.scalar_type() != at::kFloat && t.scalar_type() != at::kDouble)
    reject(argument, std::string("has dtype ") + c10::toString(t.scalar_type()) +
                         "; lens accepts float32 or float64 (convert with .to(torch::kFloat32))");
}

inline void check_size(const at::Tensor& t, const char* argument, std::int64_t dim, std::int64_t expected,
                       const char* meaning) {
  if (t.size(dim) != expected)
    reject(argument, "has sizes " + describe_sizes(t) + " but its dimension " + std::to_string(dim) +
                         " must be " + std::to_string(expected) + " (" + meaning + ")");
}

/// The checks every entry point runs, once, before touching data. Returns T.
inline std::int64_t validate(const at::Tensor& rewards, const at::Tensor& response_mask,
                             const at::Tensor& group_index, const at::Tensor& old_log_probs, bool need_log_probs) {
  check_defined(rewards, "token_level_rewards", "pass [N, T] token-level rewards or [N] scores");
  check_defined(response_mask, "response_mask", "pass the [N, T] response mask");
  check_defined(group_index, "group_index", "pass [N] int64 group ids (verl's uid per sample)");
  if (need_log_probs) check_defined(old_log_probs, "old_log_probs", "LENS needs the [N, T] behaviour log-probs");

  if (rewards.dim() != 1 && rewards.dim() != 2)
    reject("token_level_rewards", "has sizes " + describe_sizes(rewards) + "; expected [N, T] rewards or [N] scores");
  if (response_mask.dim() != 2) reject("response_mask", "has sizes " + describe_sizes(response_mask) + "; expected [N, T]");
  if (group_index.dim() != 1) reject("group_index", "has sizes " + describe_sizes(group_index) + "; expected [N]");
  const std::int64_t n = response_mask.size(0), t = response_mask.size(1);
  check_size(rewards, "token_level_rewards", 0, n, "N, the rows of response_mask");
  if (rewards.dim() == 2) check_size(rewards, "token_level_rewards", 1, t, "T, the columns of response_mask");
  check_size(group_index, "group_index", 0, n, "N, the rows of response_mask");
  if (need_log_probs) {
    if (old_log_probs.dim() != 2)
      reject("old_log_probs", "has sizes " + describe_sizes(old_log_probs) + "; expected [N, T]");
    check_size(old_log_probs, "old_log_probs", 0, n, "N, the rows of response_mask");
    check_size(old_log_probs, "old_log_probs", 1, t, "T, the columns of response_mask");
  }

  check_floating(rewards, "token_level_rewards");
  if (need_log_probs) {
    check_floating(old_log_probs, "old_log_probs");
    if (old_log_probs.scalar_type() != rewards.scalar_type())
      reject("old_log_probs", std::string("has dtype ") + c10::toString(old_log_probs.scalar_type()) +
                                  " but token_level_rewards has " + c10::toString(rewards.scalar_type()) +
                                  "; pass both as float32 or both as float64");
  }
  switch (response_mask.scalar_type()) {
    case at::kBool: case at::kByte: case at::kInt: case at::kLong: case at::kFloat: case at::kDouble: break;
    default:
      reject("response_mask", std::string("has dtype ") + c10::toString(response_mask.scalar_type()) +
                                  "; lens accepts bool, uint8, int32, int64, float32 or float64 holding 0 or 1");
  }
  if (group_index.scalar_type() != at::kLong)
    reject("group_index", std::string("has dtype ") + c10::toString(group_index.scalar_type()) +
                              "; lens expects int64 ids (convert with .to(torch::kInt64))");

  check_same_device(response_mask, "response_mask", rewards, "token_level_rewards");
  check_same_device(group_index, "group_index", rewards, "token_level_rewards");
  if (need_log_probs) check_same_device(old_log_probs, "old_log_probs", rewards, "token_level_rewards");
  if (!rewards.device().is_cpu() && !rewards.device().is_cuda())
    reject("token_level_rewards", "is on " + rewards.device().str() + "; lens runs on cpu or cuda tensors");
  if (rewards.device().is_cuda() && !has_cuda_backend)
    reject("token_level_rewards",
           "is on " + rewards.device().str() +
               " but this build of lens::torch has no CUDA backend (compile with nvcc and "
               "LENS_TORCH_CUDA_BACKEND), or move the tensors to the CPU first");

  check_contiguous(rewards, "token_level_rewards");
  check_contiguous(response_mask, "response_mask");
  check_contiguous(group_index, "group_index");
  if (need_log_probs) check_contiguous(old_log_probs, "old_log_probs");
  return t;
}

template <class T>
struct type_tag {
  using type = T;
};

/// Calls work(type_tag<Real>{}, type_tag<Mask>{}) with the C++ types of the
/// rewards' and the mask's dtypes (validate() has accepted both).
template <class Work>
batch_summary with_types(const at::Tensor& rewards, const at::Tensor& response_mask, Work&& work) {
  auto with_mask = [&](auto real) -> batch_summary {
    switch (response_mask.scalar_type()) {
      case at::kBool: return work(real, type_tag<bool>{});
      case at::kByte: return work(real, type_tag<std::uint8_t>{});
      case at::kInt: return work(real, type_tag<std::int32_t>{});
      case at::kLong: return work(real, type_tag<std::int64_t>{});
      case at::kFloat: return work(real, type_tag<float>{});
      default: return work(real, type_tag<double>{});  // kDouble
    }
  };
  if (rewards.scalar_type() == at::kDouble) return with_mask(type_tag<double>{});
  return with_mask(type_tag<float>{});
}

/// The backend's view of the tensors: raw pointers, no copies.
template <class Real, class Mask>
token_inputs<Real, Mask> token_view(const at::Tensor& rewards, const at::Tensor& response_mask,
                                    const at::Tensor& old_log_probs, bool need_log_probs) {
  token_inputs<Real, Mask> inputs;
  inputs.num_samples = static_cast<std::size_t>(response_mask.size(0));
  inputs.num_tokens = static_cast<std::size_t>(response_mask.size(1));
  if (rewards.dim() == 1) inputs.scores = rewards.data_ptr<Real>();
  else inputs.token_rewards = rewards.data_ptr<Real>();
  inputs.logprobs = need_log_probs ? old_log_probs.data_ptr<Real>() : nullptr;
  inputs.mask = response_mask.data_ptr<Mask>();
  return inputs;
}

inline id_groups group_view(const at::Tensor& group_index) {
  return id_groups{span<const std::int64_t>(group_index.data_ptr<std::int64_t>(),
                                            static_cast<std::size_t>(group_index.numel()))};
}

}  // namespace detail

/// Advantages for any estimator (settings.kind) from tensors in verl's layout:
/// - token_level_rewards: [N, T] float32/float64 (summed per row, as verl
///   does), or [N] per-sample scores;
/// - response_mask: [N, T], bool/uint8/int32/int64/float32/float64, 0 or 1;
/// - group_index: [N] int64, equal ids form a group (any order);
/// - old_log_probs: [N, T], the rewards' dtype, log pi_old of the sampled
///   tokens; needed by LENS only (pass an undefined at::Tensor() otherwise).
/// All on one device (CPU, or CUDA with the CUDA backend), contiguous. Inputs
/// are read in place; the outputs are new tensors on that device, of the
/// rewards' dtype on the CPU and float32 on CUDA (on the current stream).
/// Throws lens::invalid_argument, naming the argument, before anything is
/// computed (on CUDA, values in device memory are checked by the kernels and
/// reported when the call synchronises, before any output is written).
inline advantage_tensors compute_advantages(const at::Tensor& token_level_rewards, const at::Tensor& response_mask,
                                            const at::Tensor& group_index, const at::Tensor& old_log_probs,
                                            const advantage_settings& settings,
                                            std::vector<group_statistics>* group_stats = nullptr) {
  const bool need_log_probs = settings.kind == estimator::lens;
  detail::validate(token_level_rewards, response_mask, group_index, old_log_probs, need_log_probs);
  const std::int64_t n = response_mask.size(0), t = response_mask.size(1);
  const bool on_cuda = token_level_rewards.device().is_cuda();
  // The CUDA backend writes float; the CPU backend writes the rewards' dtype.
  const auto options = on_cuda ? token_level_rewards.options().dtype(at::kFloat) : token_level_rewards.options();
  advantage_tensors out;
  out.advantages = at::empty({n}, options);
  out.token_advantages = at::empty({n, t}, options);
  out.summary = detail::with_types(token_level_rewards, response_mask, [&](auto real, auto mask) {
    using Real = typename decltype(real)::type;
    using Mask = typename decltype(mask)::type;
    const auto inputs = detail::token_view<Real, Mask>(token_level_rewards, response_mask, old_log_probs, need_log_probs);
#if defined(LENS_TORCH_CUDA_BACKEND)
    if (on_cuda) {
      const c10::cuda::CUDAGuard device_guard(token_level_rewards.device());
      return lens::cuda::compute_advantages(inputs, detail::group_view(group_index),
                                            span<float>(out.advantages.data_ptr<float>(), static_cast<std::size_t>(n)),
                                            span<float>(out.token_advantages.data_ptr<float>(),
                                                        static_cast<std::size_t>(n * t)),
                                            settings, group_stats, at::cuda::getCurrentCUDAStream().stream());
    }
#endif
    return lens::cpu::compute_advantages(inputs, detail::group_view(group_index),
                                         span<Real>(out.advantages.data_ptr<Real>(), static_cast<std::size_t>(n)),
                                         span<Real>(out.token_advantages.data_ptr<Real>(), static_cast<std::size_t>(n * t)),
                                         settings, group_stats);
  });
  return out;
}

/// LENS advantages (settings.kind is set to estimator::lens).
inline advantage_tensors compute_lens_advantages(const at::Tensor& token_level_rewards,
                                                 const at::Tensor& response_mask, const at::Tensor& group_index,
                                                 const at::Tensor& old_log_probs,
                                                 const advantage_settings& settings = presets::lens(),
                                                 std::vector<group_statistics>* group_stats = nullptr) {
  return compute_advantages(token_level_rewards, response_mask, group_index, old_log_probs,
                            lens::with_estimator(settings, estimator::lens), group_stats);
}

/// GRPO advantages (settings.kind is set to estimator::grpo; defaults are
/// verl's). old_log_probs is not read.
inline advantage_tensors compute_grpo_advantages(const at::Tensor& token_level_rewards,
                                                 const at::Tensor& response_mask, const at::Tensor& group_index,
                                                 const advantage_settings& settings = presets::verl_grpo(),
                                                 std::vector<group_statistics>* group_stats = nullptr) {
  return compute_advantages(token_level_rewards, response_mask, group_index, at::Tensor(),
                            lens::with_estimator(settings, estimator::grpo), group_stats);
}

}  // namespace torch
}  // namespace lens
