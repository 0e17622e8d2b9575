// lens/kernels/group_pass.cuh: the second pass. Runs only when the first pass
// found no bad input (so outputs stay untouched otherwise). Per group: the
// confidence summary, the shape, the moments of the shaped scores and the
// transform, all with lens/core/group_math.hpp; then the per-sample
// advantages (also kept in scratch for the broadcast), the group statistics
// and the batch counters. Last, when token advantages are asked for, the
// broadcast A_i * mask_it from the mask bits, a plain streaming kernel over
// the whole [N x T] output. One exception to "untouched": a group whose
// advantages overflow float (error_code::advantage_overflow, found only here)
// leaves its own outputs untouched, but other groups' per-sample advantages
// may be written (the broadcast then writes nothing).
//  - fixed_warp_kernel: fixed groups of G <= 32, one warp per group, lane j
//    holding sample j;
//  - group_block_kernel: any layout (larger fixed groups, offsets, ids), one
//    block per group, block-wide reductions;
//  - batch_std_kernel: the batch standard deviation of GRPO batch std, one block;
//  - broadcast_kernel: a warp per 512 tokens of a row, full 128-byte lines per
//    store instruction (16-byte stores when T % 4 == 0 and the output is aligned).
// nvcc only.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "lens/core/group_math.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/views.hpp"
#include "lens/core/status.hpp"
#include "lens/core/samples.hpp"
#include "lens/kernels/common.cuh"

namespace lens {
namespace kernels {

enum class layout_code : int { fixed, offsets, permuted };

/// Groups as the kernels see them: group g holds positions [begin(g), end(g)),
/// position k is sample member(k).
struct segments {
  layout_code layout = layout_code::fixed;
  std::int64_t group_size = 0;                 ///< fixed
  const std::int64_t* offsets = nullptr;       ///< offsets, permuted: [num_groups + 1]
  const std::int64_t* order = nullptr;         ///< permuted: sample at each position
  const std::int64_t* group_ids = nullptr;     ///< permuted: id of each group
  const std::int64_t* stat_slot = nullptr;     ///< permuted: statistics slot of each group
  const std::int64_t* device_num_groups = nullptr;  ///< permuted: the count found on the device
  std::int64_t num_groups = 0;                 ///< fixed, offsets

  __device__ std::int64_t count() const { return device_num_groups ? *device_num_groups : num_groups; }
  __device__ std::int64_t begin(std::int64_t g) const { return layout == layout_code::fixed ? g * group_size : offsets[g]; }
  __device__ std::int64_t end(std::int64_t g) const {
    return layout == layout_code::fixed ? (g + 1) * group_size : offsets[g + 1];
  }
  __device__ std::int64_t member(std::int64_t k) const { return order ? order[k] : k; }
  __device__ std::int64_t id(std::int64_t g) const { return group_ids ? group_ids[g] : g; }
  __device__ std::int64_t slot(std::int64_t g) const { return stat_slot ? stat_slot[g] : g; }
};

/// Everything the second pass reads and writes; handed to the kernels by value.
struct group_pass_params {
  segments groups;
  const core::sample_values* samples = nullptr;  ///< [N] from the first pass
  advantage_settings settings;
  const double* batch_std = nullptr;             ///< GRPO batch std only
  core::score_moments* moments_out = nullptr;    ///< set: only write each group's moments (for the batch std)
  float* advantages = nullptr;                   ///< [N] or null
  float* row_advantages = nullptr;               ///< [N] scratch for the broadcast, or null
  group_statistics* statistics = nullptr;        ///< [num_groups] or null
  core::device_status* status = nullptr;
};

struct merge_confidence {
  __device__ core::confidence_summary operator()(const core::confidence_summary& a,
                                                 const core::confidence_summary& b) const {
    return core::merge(a, b);
  }
};

struct merge_moments {
  __device__ core::score_moments operator()(const core::score_moments& a, const core::score_moments& b) const {
    return core::merge(a, b);
  }
};

struct add_counts {
  __device__ unsigned long long operator()(unsigned long long a, unsigned long long b) const { return a + b; }
};

/// Per-block batch counters, added to the device status once per block.
struct block_counters {
  unsigned long long negative, zero_variance, nonzero;
};

__device__ __forceinline__ void flush_counters(block_counters* counters, core::device_status* status) {
  __syncthreads();
  if (threadIdx.x == 0) {
    if (counters->negative) core::detail::atomic_add(&status->num_negative_groups, counters->negative);
    if (counters->zero_variance) core::detail::atomic_add(&status->num_zero_variance_groups, counters->zero_variance);
    if (counters->nonzero) core::detail::atomic_add(&status->num_nonzero_advantages, counters->nonzero);
  }
}

/// Fixed groups of G <= 32: a warp per group (grid-stride), lane j holding sample j.
template <int Unused = 0>
__global__ void __launch_bounds__(block_threads) fixed_warp_kernel(group_pass_params p) {
  __shared__ block_counters counters;
  if (core::has_error(p.status)) return;  // uniform: the first pass has finished
  if (threadIdx.x == 0) counters = {0, 0, 0};
  __syncthreads();
  const int lane = threadIdx.x % warp_threads;
  const std::int64_t first_warp = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / warp_threads;
  const std::int64_t num_warps = static_cast<std::int64_t>(gridDim.x) * blockDim.x / warp_threads;
  const std::int64_t group_size = p.groups.group_size;
  const double batch_std = p.batch_std ? *p.batch_std : 0.0;
  for (std::int64_t g = first_warp; g < p.groups.num_groups; g += num_warps) {
    const bool member = lane < group_size;
    const std::int64_t i = g * group_size + lane;
    const core::sample_values v = member ? p.samples[i] : core::sample_values{};
    core::confidence_summary confidence;
    if (member) confidence = core::confidence_of(v);
    confidence = warp_reduce(confidence, merge_confidence{});
    const core::group_shape shape = core::make_shape(confidence, p.settings);
    const double shaped = member ? core::shaped_of(shape, v) : 0.0;
    core::score_moments moments;
    if (member) core::add(moments, shaped);
    moments = warp_reduce(moments, merge_moments{});
    if (p.moments_out) {
      if (lane == 0) p.moments_out[g] = moments;
      continue;
    }
    const core::group_transform transform = core::make_transform(moments, shape, p.settings, batch_std);
    double reach = 0;
    if (!core::advantages_fit(moments, transform, p.settings, batch_std, &reach)) {
      if (lane == 0) core::report_error(p.status, core::overflow_report(g, reach));
      continue;  // this group's outputs stay untouched
    }
    const float a = member ? static_cast<float>(core::advantage(transform, shaped)) : 0.0f;
    if (member && p.advantages) p.advantages[i] = a;
    if (member && p.row_advantages) p.row_advantages[i] = a;
    const unsigned nonzero = __popc(__ballot_sync(full_warp, member && a != 0.0f));
    if (lane == 0) {
      atomicAdd(&counters.nonzero, static_cast<unsigned long long>(nonzero));
      if (shape.negative) atomicAdd(&counters.negative, 1ull);
      if (core::zero_variance(moments)) atomicAdd(&counters.zero_variance, 1ull);
      if (p.statistics) p.statistics[g] = core::make_statistics(g, confidence, shape, moments, p.settings);
    }
  }
  flush_counters(&counters, p.status);
}

/// Any layout: one block per group (grid-stride over groups).
template <int Unused = 0>
__global__ void __launch_bounds__(block_threads) group_block_kernel(group_pass_params p) {
  __shared__ block_scratch<core::score_moments> scratch;
  __shared__ block_counters counters;
  static_assert(sizeof(core::score_moments) >= sizeof(core::confidence_summary), "scratch holds either summary");
  if (core::has_error(p.status)) return;
  if (threadIdx.x == 0) counters = {0, 0, 0};
  __syncthreads();
  const int lane = threadIdx.x % warp_threads;
  const std::int64_t num_groups = p.groups.count();
  const double batch_std = p.batch_std ? *p.batch_std : 0.0;
  for (std::int64_t g = blockIdx.x; g < num_groups; g += gridDim.x) {
    const std::int64_t begin = p.groups.begin(g), end = p.groups.end(g);
    core::confidence_summary confidence;
    for (std::int64_t k = begin + threadIdx.x; k < end; k += blockDim.x) {
      const core::sample_values& v = p.samples[p.groups.member(k)];
      core::add(confidence, v.score, v.log_confidence, v.log_probability);
    }
    confidence = block_reduce(confidence, merge_confidence{}, &scratch);
    const core::group_shape shape = core::make_shape(confidence, p.settings);
    core::score_moments moments;
    for (std::int64_t k = begin + threadIdx.x; k < end; k += blockDim.x)
      core::add(moments, core::shaped_of(shape, p.samples[p.groups.member(k)]));
    moments = block_reduce(moments, merge_moments{}, &scratch);
    if (p.moments_out) {
      if (threadIdx.x == 0) p.moments_out[g] = moments;
      continue;
    }
    const core::group_transform transform = core::make_transform(moments, shape, p.settings, batch_std);
    double reach = 0;
    if (!core::advantages_fit(moments, transform, p.settings, batch_std, &reach)) {
      if (threadIdx.x == 0) core::report_error(p.status, core::overflow_report(p.groups.slot(g), reach));
      continue;  // this group's outputs stay untouched
    }
    unsigned long long nonzero = 0;
    for (std::int64_t k = begin + threadIdx.x; k < end; k += blockDim.x) {
      const std::int64_t i = p.groups.member(k);
      const float a = static_cast<float>(core::advantage(transform, core::shaped_of(shape, p.samples[i])));
      if (p.advantages) p.advantages[i] = a;
      if (p.row_advantages) p.row_advantages[i] = a;
      nonzero += a != 0.0f;
    }
    nonzero = warp_reduce(nonzero, add_counts{});
    if (lane == 0 && nonzero) atomicAdd(&counters.nonzero, nonzero);
    if (threadIdx.x == 0) {
      if (shape.negative) counters.negative += 1;
      if (core::zero_variance(moments)) counters.zero_variance += 1;
      if (p.statistics) p.statistics[p.groups.slot(g)] = core::make_statistics(p.groups.id(g), confidence, shape, moments, p.settings);
    }
  }
  flush_counters(&counters, p.status);
}

/// The batch standard deviation over every group's moments (GRPO batch std), one block.
template <int Unused = 0>
__global__ void __launch_bounds__(block_threads)
    batch_std_kernel(const core::score_moments* moments, segments groups, bool unbiased, double* batch_std,
                     const core::device_status* status) {
  __shared__ block_scratch<core::score_moments> scratch;
  if (core::has_error(status)) return;
  core::score_moments all;
  const std::int64_t num_groups = groups.count();
  for (std::int64_t g = threadIdx.x; g < num_groups; g += blockDim.x) all = core::merge(all, moments[g]);
  all = block_reduce(all, merge_moments{}, &scratch);
  if (threadIdx.x == 0) *batch_std = core::standard_deviation(all, unbiased);
}

/// What the broadcast reads and writes.
struct broadcast_params {
  const float* row_advantages = nullptr;  ///< [N] from the group kernels
  const std::uint8_t* bits = nullptr;     ///< mask bits from the first pass
  std::int64_t bits_row_bytes = 0;
  float* token_advantages = nullptr;      ///< [N x T]
  std::int64_t num_rows = 0;              ///< N
  std::int64_t num_tokens = 0;            ///< T
  bool vector_stores = false;             ///< T % 4 == 0 and token_advantages 16-byte aligned
  const core::device_status* status = nullptr;
};

/// Tokens a warp writes per work item: 4 store instructions of 128 floats.
constexpr std::int64_t broadcast_segment = 4 * warp_threads * 4;

/// token_advantages[r, c] = A_r where the mask bit is set, 0 elsewhere. Work
/// item s (grid-stride) is row s / segments_per_row, tokens [c0, c0 + 512);
/// lane l writes tokens c0 + 128 u + 4 l .. + 3 (u = 0..3) as one float4, so
/// each store instruction covers 512 contiguous bytes (four full lines). The
/// mask bytes of all four are loaded before the first store. Writes nothing
/// when any error was reported (a bad input, or a group beyond float).
template <int Unused = 0>
__global__ void __launch_bounds__(block_threads) broadcast_kernel(broadcast_params p) {
  if (core::has_error(p.status)) return;  // uniform: the group pass has finished
  const int lane = threadIdx.x % warp_threads;
  const std::int64_t first_warp = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / warp_threads;
  const std::int64_t num_warps = static_cast<std::int64_t>(gridDim.x) * blockDim.x / warp_threads;
  const std::int64_t t = p.num_tokens;
  const std::int64_t segments_per_row = (t + broadcast_segment - 1) / broadcast_segment;
  const std::int64_t segments = p.num_rows * segments_per_row;
  for (std::int64_t s = first_warp; s < segments; s += num_warps) {
    const std::int64_t r = s / segments_per_row;
    const std::int64_t c0 = (s - r * segments_per_row) * broadcast_segment;
    const float a = p.row_advantages[r];
    float* out = p.token_advantages + r * t;
    const std::uint8_t* bits = p.bits + r * p.bits_row_bytes;
    if (p.vector_stores) {
      constexpr int steps = 4;
      unsigned nibble[steps];
#pragma unroll
      for (int u = 0; u < steps; ++u) {
        const std::int64_t c = c0 + u * (warp_threads * 4) + lane * 4;  // a multiple of 4
        nibble[u] = c < t ? static_cast<unsigned>(bits[c / 8]) >> (c & 4) : 0u;
      }
#pragma unroll
      for (int u = 0; u < steps; ++u) {
        const std::int64_t c = c0 + u * (warp_threads * 4) + lane * 4;
        if (c >= t) continue;  // T % 4 == 0: c < T means c + 3 < T
        const unsigned n = nibble[u];
        const float4 v = make_float4(core::token_advantage(a, n & 1u), core::token_advantage(a, n & 2u),
                                     core::token_advantage(a, n & 4u), core::token_advantage(a, n & 8u));
        __stcs(reinterpret_cast<float4*>(out + c), v);  // streaming: the output is not read again here
      }
    } else {
      constexpr int steps = static_cast<int>(broadcast_segment / warp_threads);
#pragma unroll 4
      for (int u = 0; u < steps; ++u) {
        const std::int64_t c = c0 + u * warp_threads + lane;
        if (c < t) out[c] = core::token_advantage(a, (bits[c / 8] >> (c % 8)) & 1u);
      }
    }
  }
}

}  // namespace kernels
}  // namespace lens
