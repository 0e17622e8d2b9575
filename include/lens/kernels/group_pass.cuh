// lens/kernels/group_pass.cuh: the second pass. Runs only when the first pass
// found no bad input (so outputs stay untouched otherwise). Per group, one
// device function (group_step) for every layout and both strategies: the
// confidence summary, the shape, the moments of the shaped scores and the
// transform, all with lens/core/group_math.hpp; then the per-sample
// advantages (also kept in scratch for the broadcast), the group statistics
// and the batch counters. Last, when token advantages are asked for, the
// broadcast A_i * mask_it from the mask bits, a plain streaming kernel over
// the whole [N x T] output. One exception to "untouched": a group whose
// advantages overflow the output type (error_code::advantage_overflow, found
// only here) leaves its own outputs untouched, but other groups' per-sample
// advantages may be written (the broadcast then writes nothing).
//  - warp_per_group_kernel: a warp per group (small groups), lanes striding
//    over the members (lane j holds sample j when G <= 32);
//  - block_per_group_kernel: a block per group (large groups, or a count only
//    the device knows), block-wide reductions;
//  - batch_std_kernel: the batch standard deviation of GRPO batch std, one block.
//    GRPO batch std runs the group step twice over: once storing each group's
//    shape and moments (the reductions), once reading them back (no reduction).
//  - broadcast_kernel: a warp per 512 tokens of a row, full 128-byte lines per
//    store instruction (16-byte stores when T % 4 == 0 and the output is
//    float and aligned).
// Kernels are templates on the group view (lens/core/groups.hpp) and the
// output type (float or double). nvcc only.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "lens/core/group_math.hpp"
#include "lens/core/groups.hpp"
#include "lens/core/samples.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/status.hpp"
#include "lens/core/views.hpp"
#include "lens/kernels/common.cuh"

namespace lens {
namespace kernels {

/// What GRPO batch std keeps of each group between its two group steps.
struct stored_group {
  core::group_shape shape;
  core::score_moments moments;
  double num_correct = 0;
};

/// Everything the second pass reads and writes; handed to the kernels by
/// value. Groups is a view of lens/core/groups.hpp, Out the output type.
template <class Groups, class Out>
struct group_pass_params {
  Groups groups;
  const core::sample_values* samples = nullptr;  ///< [N] from the first pass
  advantage_settings settings;
  const double* batch_std = nullptr;             ///< GRPO batch std only
  stored_group* store = nullptr;                 ///< set: write each group's shape and moments, nothing else
  const stored_group* stored = nullptr;          ///< set: read them instead of reducing again
  Out* advantages = nullptr;                     ///< [N] or null
  Out* row_advantages = nullptr;                 ///< [N] scratch for the broadcast, or null
  group_statistics* statistics = nullptr;        ///< [num_groups] or null
  core::device_status* status = nullptr;
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

/// The threads that share one group: a warp, or the whole block.
struct warp_team {
  __device__ int rank() const { return threadIdx.x % warp_threads; }
  __device__ int size() const { return warp_threads; }
  template <class T, class Op>
  __device__ T reduce(T value, Op op) const { return warp_reduce(value, op); }
};

struct block_team {
  void* scratch;  ///< block_scratch of the largest reduced type
  __device__ int rank() const { return threadIdx.x; }
  __device__ int size() const { return blockDim.x; }
  template <class T, class Op>
  __device__ T reduce(T value, Op op) const { return block_reduce(value, op, scratch); }
};

/// One group by one team: the three steps of group_math.hpp, the writes and
/// the counts. Every thread of the team calls it with the same g.
template <class Team, class Groups, class Out>
__device__ void group_step(const Team& team, const group_pass_params<Groups, Out>& p, std::int64_t g, double batch_std,
                           block_counters* counters) {
  const std::int64_t begin = p.groups.begin(g), end = p.groups.end(g);
  stored_group group;
  if (p.stored) {
    group = p.stored[g];
  } else {
    core::confidence_summary confidence;
    for (std::int64_t k = begin + team.rank(); k < end; k += team.size()) {
      const core::sample_values& v = p.samples[p.groups.member(k)];
      core::add(confidence, v.score, v.log_confidence, v.log_probability);
    }
    confidence = team.reduce(confidence, core::merge_op{});
    group.shape = core::make_shape(confidence, p.settings);
    group.num_correct = confidence.num_correct;
    for (std::int64_t k = begin + team.rank(); k < end; k += team.size())
      core::add(group.moments, core::shaped_of(group.shape, p.samples[p.groups.member(k)]));
    group.moments = team.reduce(group.moments, core::merge_op{});
    if (p.store) {
      if (team.rank() == 0) p.store[g] = group;
      return;
    }
  }
  const core::group_transform transform = core::make_transform(group.moments, group.shape, p.settings, batch_std);
  double reach = 0;
  if (!core::advantages_fit_in<Out>(group.moments, transform, p.settings, batch_std, &reach)) {
    if (team.rank() == 0) core::report_error(p.status, core::overflow_report(p.groups.slot(g), reach));
    return;  // this group's outputs stay untouched
  }
  unsigned long long nonzero = 0;
  for (std::int64_t k = begin + team.rank(); k < end; k += team.size()) {
    const std::int64_t i = p.groups.member(k);
    const Out a = static_cast<Out>(core::advantage(transform, core::shaped_of(group.shape, p.samples[i])));
    if (p.advantages) p.advantages[i] = a;
    if (p.row_advantages) p.row_advantages[i] = a;
    nonzero += a != Out(0);
  }
  nonzero = warp_reduce(nonzero, add_counts{});  // per warp: lane 0 of each adds its warp's count
  if (threadIdx.x % warp_threads == 0 && nonzero) atomicAdd(&counters->nonzero, nonzero);
  if (team.rank() == 0) {
    if (group.shape.negative) atomicAdd(&counters->negative, 1ull);
    if (core::zero_variance(group.moments)) atomicAdd(&counters->zero_variance, 1ull);
    if (p.statistics)
      p.statistics[p.groups.slot(g)] = core::make_statistics(
          p.groups.id(g), static_cast<std::int64_t>(group.num_correct), group.shape, group.moments, p.settings);
  }
}

/// A warp per group (grid-stride over groups).
template <class Groups, class Out>
__global__ void __launch_bounds__(block_threads) warp_per_group_kernel(group_pass_params<Groups, Out> p) {
  __shared__ block_counters counters;
  if (core::has_error(p.status)) return;  // uniform: the first pass has finished
  if (threadIdx.x == 0) counters = {0, 0, 0};
  __syncthreads();
  const std::int64_t first_warp = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / warp_threads;
  const std::int64_t num_warps = static_cast<std::int64_t>(gridDim.x) * blockDim.x / warp_threads;
  const std::int64_t num_groups = p.groups.count();
  const double batch_std = p.batch_std ? *p.batch_std : 0.0;
  for (std::int64_t g = first_warp; g < num_groups; g += num_warps) group_step(warp_team{}, p, g, batch_std, &counters);
  flush_counters(&counters, p.status);
}

/// A block per group (grid-stride over groups).
template <class Groups, class Out>
__global__ void __launch_bounds__(block_threads) block_per_group_kernel(group_pass_params<Groups, Out> p) {
  __shared__ block_scratch<core::score_moments> scratch;
  __shared__ block_counters counters;
  static_assert(sizeof(core::score_moments) >= sizeof(core::confidence_summary), "scratch holds either summary");
  if (core::has_error(p.status)) return;
  if (threadIdx.x == 0) counters = {0, 0, 0};
  __syncthreads();
  const std::int64_t num_groups = p.groups.count();
  const double batch_std = p.batch_std ? *p.batch_std : 0.0;
  for (std::int64_t g = blockIdx.x; g < num_groups; g += gridDim.x)
    group_step(block_team{&scratch}, p, g, batch_std, &counters);
  flush_counters(&counters, p.status);
}

/// The batch standard deviation over every group's stored moments (GRPO batch std), one block.
template <class Groups>
__global__ void __launch_bounds__(block_threads)
    batch_std_kernel(const stored_group* groups_in, Groups groups, bool unbiased, double* batch_std,
                     const core::device_status* status) {
  __shared__ block_scratch<core::score_moments> scratch;
  if (core::has_error(status)) return;
  core::score_moments all;
  const std::int64_t num_groups = groups.count();
  for (std::int64_t g = threadIdx.x; g < num_groups; g += blockDim.x) all = core::merge(all, groups_in[g].moments);
  all = block_reduce(all, core::merge_op{}, &scratch);
  if (threadIdx.x == 0) *batch_std = core::standard_deviation(all, unbiased);
}

/// What the broadcast reads and writes.
template <class Out>
struct broadcast_params {
  const Out* row_advantages = nullptr;    ///< [N] from the group kernels
  const std::uint8_t* bits = nullptr;     ///< mask bits from the first pass
  std::int64_t bits_row_bytes = 0;
  Out* token_advantages = nullptr;        ///< [N x T]
  std::int64_t num_rows = 0;              ///< N
  std::int64_t num_tokens = 0;            ///< T
  bool vector_stores = false;             ///< float, T % 4 == 0 and token_advantages 16-byte aligned
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
template <class Out>
__global__ void __launch_bounds__(block_threads) broadcast_kernel(broadcast_params<Out> p) {
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
    const Out a = p.row_advantages[r];
    Out* out = p.token_advantages + r * t;
    const std::uint8_t* bits = p.bits + r * p.bits_row_bytes;
    if constexpr (std::is_same<Out, float>::value) {
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
        continue;
      }
    }
    {
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
