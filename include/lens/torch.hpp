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
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

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
    switch (old_log_probs.scalar_type()) {
      case at::kFloat: case at::kDouble: case at::kHalf: case at::kBFloat16: break;
      default:
        reject("old_log_probs", std::string("has dtype ") + c10::toString(old_log_probs.scalar_type()) +
                                    "; lens accepts float32, float64, float16 or bfloat16 log-probs");
    }
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

/// The C++ type of a log-prob dtype on the CPU (c10's half types) and on the
/// GPU (CUDA's, which the kernels read; the same bits).
template <class T, bool OnDevice>
struct device_type {
  using type = T;
};
#if defined(LENS_TORCH_CUDA_BACKEND)
template <>
struct device_type<at::Half, true> {
  using type = __half;
};
template <>
struct device_type<at::BFloat16, true> {
  using type = __nv_bfloat16;
};
#endif

/// Calls work(type_tag<Reward>{}, type_tag<Mask>{}, type_tag<LogProb>{}) with
/// the C++ types of the rewards', the mask's and the log-probs' dtypes
/// (validate() has accepted them; without log-probs, LogProb is Reward).
template <class Work>
batch_summary with_types(const at::Tensor& rewards, const at::Tensor& response_mask, const at::Tensor& old_log_probs,
                         bool need_log_probs, Work&& work) {
  auto with_logprob = [&](auto real, auto mask) -> batch_summary {
    using Reward = typename decltype(real)::type;
    if (!need_log_probs) return work(real, mask, type_tag<Reward>{});
    switch (old_log_probs.scalar_type()) {
      case at::kFloat: return work(real, mask, type_tag<float>{});
      case at::kDouble: return work(real, mask, type_tag<double>{});
      case at::kHalf: return work(real, mask, type_tag<at::Half>{});
      default: return work(real, mask, type_tag<at::BFloat16>{});  // kBFloat16
    }
  };
  auto with_mask = [&](auto real) -> batch_summary {
    switch (response_mask.scalar_type()) {
      case at::kBool: return with_logprob(real, type_tag<bool>{});
      case at::kByte: return with_logprob(real, type_tag<std::uint8_t>{});
      case at::kInt: return with_logprob(real, type_tag<std::int32_t>{});
      case at::kLong: return with_logprob(real, type_tag<std::int64_t>{});
      case at::kFloat: return with_logprob(real, type_tag<float>{});
      default: return with_logprob(real, type_tag<double>{});  // kDouble
    }
  };
  if (rewards.scalar_type() == at::kDouble) return with_mask(type_tag<double>{});
  return with_mask(type_tag<float>{});
}

/// The backend's view of the tensors: raw pointers, no copies. LogProb is the
/// type the backend reads (device_type), TorchLogProb the tensor's.
template <class LogProb, class TorchLogProb, class Mask, class Reward>
token_inputs<LogProb, Mask, Reward> token_view(const at::Tensor& rewards, const at::Tensor& response_mask,
                                               const at::Tensor& old_log_probs, bool need_log_probs) {
  static_assert(sizeof(LogProb) == sizeof(TorchLogProb), "the same bits under another name");
  token_inputs<LogProb, Mask, Reward> inputs;
  inputs.num_samples = static_cast<std::size_t>(response_mask.size(0));
  inputs.num_tokens = static_cast<std::size_t>(response_mask.size(1));
  if (rewards.dim() == 1) inputs.scores = rewards.data_ptr<Reward>();
  else inputs.token_rewards = rewards.data_ptr<Reward>();
  inputs.logprobs =
      need_log_probs ? reinterpret_cast<const LogProb*>(old_log_probs.data_ptr<TorchLogProb>()) : nullptr;
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
/// - old_log_probs: [N, T] float32/float64/float16/bfloat16 (any of them,
///   whatever the rewards' dtype), log pi_old of the sampled tokens; needed by
///   LENS only (pass an undefined at::Tensor() otherwise).
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
  out.summary = detail::with_types(token_level_rewards, response_mask, old_log_probs, need_log_probs,
                                   [&](auto real, auto mask, auto logprob) {
    using Real = typename decltype(real)::type;
    using Mask = typename decltype(mask)::type;
    using TorchLogProb = typename decltype(logprob)::type;
#if defined(LENS_TORCH_CUDA_BACKEND)
    if (on_cuda) {
      using LogProb = typename detail::device_type<TorchLogProb, true>::type;
      const auto inputs = detail::token_view<LogProb, TorchLogProb, Mask, Real>(token_level_rewards, response_mask,
                                                                              old_log_probs, need_log_probs);
      const c10::cuda::CUDAGuard device_guard(token_level_rewards.device());
      // Temporary storage from torch's caching allocator, on the current stream.
      lens::cuda::device_allocator allocator;
      allocator.allocate = [](std::size_t bytes, cudaStream_t stream, void*) -> void* {
        return c10::cuda::CUDACachingAllocator::raw_alloc_with_stream(bytes, stream);
      };
      allocator.deallocate = [](void* p, cudaStream_t, void*) { c10::cuda::CUDACachingAllocator::raw_delete(p); };
      return lens::cuda::compute_advantages(inputs, detail::group_view(group_index),
                                            span<float>(out.advantages.data_ptr<float>(), static_cast<std::size_t>(n)),
                                            span<float>(out.token_advantages.data_ptr<float>(),
                                                        static_cast<std::size_t>(n * t)),
                                            settings, group_stats, at::cuda::getCurrentCUDAStream().stream(), allocator);
    }
#endif
    const auto inputs = detail::token_view<TorchLogProb, TorchLogProb, Mask, Real>(token_level_rewards, response_mask,
                                                                                 old_log_probs, need_log_probs);
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
