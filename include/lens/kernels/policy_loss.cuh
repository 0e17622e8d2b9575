// lens/kernels/policy_loss.cuh: the policy-loss kernels. The math is
// lens/core/policy_loss.hpp's (the CPU backend calls the same functions); these
// kernels only move data:
//   policy_loss_check_kernel   one block per row: the value checks (smallest
//                              failing rank wins, the CPU backend's order) and
//                              the token / sequence counts the divisor needs;
//   policy_loss_row_kernel     one block per row: the row's prologue (token
//                              count, gspo's mean log-ratio, the sequence IS
//                              sum), then every token: gradient out, sums into
//                              a per-block partial;
//   policy_loss_finish_kernel  one block: partials -> policy_loss_metrics.
// nvcc only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "lens/core/policy_loss.hpp"

namespace lens {
namespace kernels {

inline constexpr int policy_loss_block = 256;

/// What the check kernel leaves for the host.
struct policy_loss_status {
  unsigned long long rank;       ///< smallest failing check rank; ~0ull when none failed
  unsigned long long tokens;     ///< unmasked tokens
  unsigned long long sequences;  ///< rows with at least one unmasked token
};

/// Raw pointers and sizes the kernels read (device memory), by value.
template <class Real, class Mask>
struct policy_loss_args {
  std::size_t n = 0, t = 0;
  const Real* logp = nullptr;
  const Real* old = nullptr;
  const Real* ref = nullptr;   // null without KL
  const Real* roll = nullptr;  // null without rollout IS
  const Mask* mask = nullptr;
  const Real* adv = nullptr;
  bool adv_per_token = false;
  Real* grad = nullptr;  // null: no gradient
};

/// Check ranks: per-sample advantage i -> i; token k, field f -> N + 6 k + f
/// (f in core::loss_field order). The host decodes the smallest.
__host__ __device__ inline unsigned long long token_rank(std::size_t n, std::size_t k, core::loss_field f) {
  return static_cast<unsigned long long>(n) + 6ull * static_cast<unsigned long long>(k) +
         static_cast<unsigned long long>(f);
}

template <class T>
__device__ inline T block_sum(T value, T* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  const T total = shared[0];
  __syncthreads();
  return total;
}

/// Shared storage for a block's sums (raw bytes: __shared__ objects cannot
/// have the struct's default member initializers run).
struct shared_sums {
  alignas(core::policy_loss_sums) unsigned char bytes[sizeof(core::policy_loss_sums) * policy_loss_block];
  __device__ core::policy_loss_sums* get() { return reinterpret_cast<core::policy_loss_sums*>(bytes); }
};

__device__ inline void block_combine(core::policy_loss_sums& value, core::policy_loss_sums* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) core::combine(shared[threadIdx.x], shared[threadIdx.x + stride]);
    __syncthreads();
  }
  value = shared[0];
  __syncthreads();
}

template <class Real, class Mask>
__global__ void policy_loss_check_kernel(policy_loss_args<Real, Mask> a, bool check_ref, bool check_roll,
                                         double tolerance, policy_loss_status* status) {
  using core::loss_field;
  __shared__ double counts[policy_loss_block];
  for (std::size_t i = blockIdx.x; i < a.n; i += gridDim.x) {
    if (!a.adv_per_token && threadIdx.x == 0 && !core::finite_value(a.adv[i]))
      atomicMin(&status->rank, static_cast<unsigned long long>(i));
    double row_tokens = 0;
    for (std::size_t c = threadIdx.x; c < a.t; c += blockDim.x) {
      const std::size_t k = i * a.t + c;
      const int state = core::mask_state(a.mask[k]);
      if (state < 0) { atomicMin(&status->rank, token_rank(a.n, k, loss_field::mask)); continue; }
      if (state == 0) continue;
      row_tokens += 1;
      if (core::logprob_check(a.logp[k], tolerance)) atomicMin(&status->rank, token_rank(a.n, k, loss_field::logprobs));
      if (core::logprob_check(a.old[k], tolerance))
        atomicMin(&status->rank, token_rank(a.n, k, loss_field::old_logprobs));
      if (check_ref && core::logprob_check(a.ref[k], tolerance))
        atomicMin(&status->rank, token_rank(a.n, k, loss_field::ref_logprobs));
      if (check_roll && core::logprob_check(a.roll[k], tolerance))
        atomicMin(&status->rank, token_rank(a.n, k, loss_field::rollout_logprobs));
      if (a.adv_per_token && !core::finite_value(a.adv[k]))
        atomicMin(&status->rank, token_rank(a.n, k, loss_field::advantages));
    }
    const double total = block_sum(row_tokens, counts);
    if (threadIdx.x == 0 && total > 0) {
      atomicAdd(&status->tokens, static_cast<unsigned long long>(total));
      atomicAdd(&status->sequences, 1ull);
    }
  }
}

template <class Real, class Mask>
__global__ void policy_loss_row_kernel(policy_loss_args<Real, Mask> a, core::policy_loss_params p,
                                       core::policy_loss_sums* partials) {
  __shared__ double reduce[policy_loss_block];
  __shared__ shared_sums sums;
  const bool gspo = p.kind == static_cast<std::int32_t>(policy_loss_kind::gspo);
  const bool token_is = p.is_level == static_cast<std::int32_t>(rollout_is_level::token);
  const bool seq_is = p.is_level == static_cast<std::int32_t>(rollout_is_level::sequence);
  const bool kl = p.kl != static_cast<std::int32_t>(kl_kind::none);
  const double inv_divisor = p.divisor > 0 ? 1.0 / p.divisor : 0.0;
  core::policy_loss_sums mine;
  for (std::size_t i = blockIdx.x; i < a.n; i += gridDim.x) {
    const std::size_t base = i * a.t;
    double tokens = 0, lr_sum = 0, roll_sum = 0;
    for (std::size_t c = threadIdx.x; c < a.t; c += blockDim.x) {
      if (a.mask[base + c] == Mask(0)) continue;
      tokens += 1;
      if (gspo) lr_sum += double(a.logp[base + c] - a.old[base + c]);
      if (seq_is) roll_sum += double(a.old[base + c] - a.roll[base + c]);
    }
    tokens = block_sum(tokens, reduce);
    if (gspo) lr_sum = block_sum(lr_sum, reduce);
    if (seq_is) roll_sum = block_sum(roll_sum, reduce);

    core::policy_loss_sums row;
    const Real seq_log_ratio = Real(lr_sum / (tokens > 0 ? tokens : 1.0));
    Real seq_w = Real(1), seq_raw = Real(1);
    if (seq_is) {
      core::policy_loss_sums scratch;
      seq_w = core::sequence_is_weight<Real>(p, roll_sum, threadIdx.x == 0 ? row : scratch, seq_raw);
    }
    const Real row_scale = Real(tokens > 0 ? core::row_weight(p, tokens) * inv_divisor : 0.0);
    const Real row_adv = a.adv_per_token ? Real(0) : a.adv[i];
    for (std::size_t c = threadIdx.x; c < a.t; c += blockDim.x) {
      const std::size_t k = base + c;
      if (a.mask[k] == Mask(0)) {
        if (a.grad) a.grad[k] = Real(0);
        continue;
      }
      const Real g = core::token_contribution<Real>(p, a.logp[k], a.old[k], kl ? a.ref[k] : Real(0),
                                                    token_is ? a.roll[k] : Real(0),
                                                    a.adv_per_token ? a.adv[k] : row_adv, seq_log_ratio, seq_w,
                                                    seq_raw, row);
      if (a.grad) a.grad[k] = g * row_scale;
    }
    core::close_row(p, row, tokens, threadIdx.x == 0);
    core::combine(mine, row);
  }
  block_combine(mine, sums.get());
  if (threadIdx.x == 0) partials[blockIdx.x] = mine;
}

template <class Sums = core::policy_loss_sums>
__global__ void policy_loss_finish_kernel(const core::policy_loss_sums* partials, int num_partials,
                                                 core::policy_loss_params p, double num_rows,
                                                 policy_loss_metrics* metrics) {
  __shared__ shared_sums sums;
  Sums mine;
  for (int b = threadIdx.x; b < num_partials; b += blockDim.x) core::combine(mine, partials[b]);
  block_combine(mine, sums.get());
  if (threadIdx.x == 0) *metrics = core::finish_metrics(p, mine, num_rows);
}

}  // namespace kernels
}  // namespace lens
