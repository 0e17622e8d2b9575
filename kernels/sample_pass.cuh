// lens/kernels/sample_pass.cuh: the first pass. Reads every input once,
// checks it (reporting the first bad value through device_status), and
// reduces it to one sample_values per response:
//  - token rows: a warp per row, 8-element packed loads several deep, the
//    masked log-probability sum and count in double, and the mask kept as
//    one bit per token for the broadcast of the second pass;
//  - per-sample inputs: a thread per sample;
//  - ragged offsets: a thread per entry.
// Writes only scratch buffers, never an output. nvcc only.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "lens/core/settings.hpp"
#include "lens/cuda/device_status.hpp"
#include "lens/cuda/samples.hpp"
#include "lens/kernels/common.cuh"

namespace lens {
namespace kernels {

struct merge_rows {
  __device__ cuda::row_reduction operator()(const cuda::row_reduction& a, const cuda::row_reduction& b) const {
    return cuda::merge(a, b);
  }
};

/// Token rows, a warp per row. Packed: T % 8 == 0 and every input aligned for
/// pack<.., 8>. bits: [N x bits_row_bytes] mask bits (bit c % 8 of byte c / 8),
/// or null when no token output is asked for.
template <class Real, class Mask, bool Packed>
__global__ void __launch_bounds__(block_threads, 3)  // 3 blocks (24 warps) per SM: loads in flight hide latency
    token_rows_kernel(cuda::token_params<Real, Mask> p, advantage_settings settings, std::uint8_t* bits,
                      std::int64_t bits_row_bytes, cuda::sample_values* samples, cuda::device_status* status) {
  constexpr int depth = 2;  // packs in flight per lane before the first is used
  const int lane = threadIdx.x % warp_threads;
  const std::int64_t first_warp = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / warp_threads;
  const std::int64_t num_warps = static_cast<std::int64_t>(gridDim.x) * blockDim.x / warp_threads;
  const bool is_lens = settings.kind == estimator::lens;
  const bool sum_rewards = p.scores == nullptr;
  const std::int64_t t = p.num_tokens;
  for (std::int64_t r = first_warp; r < p.num_samples; r += num_warps) {
    const std::int64_t base = r * t;
    cuda::row_reduction row;
    if (Packed) {
      constexpr std::int64_t stride = warp_threads * 8;
      for (std::int64_t c0 = lane * 8; c0 < t; c0 += stride * depth) {
        pack<Mask, 8> mask[depth];
        pack<Real, 8> logprobs[depth], rewards[depth];
#pragma unroll
        for (int u = 0; u < depth; ++u) {
          const std::int64_t c = c0 + u * stride;
          if (c >= t) continue;
          if (sum_rewards) rewards[u] = load_pack<Real, 8>(p.token_rewards + base + c);
          if (p.need_mask) mask[u] = load_pack<Mask, 8>(p.mask + base + c);
          if (is_lens) logprobs[u] = load_pack<Real, 8>(p.logprobs + base + c);
        }
#pragma unroll
        for (int u = 0; u < depth; ++u) {
          const std::int64_t c = c0 + u * stride;
          if (c >= t) continue;
          // Bit j of each word flags element c + j; the rare bad element's
          // column is found from the lowest set bit (keeps registers low).
          if (sum_rewards) {
            unsigned bad = 0;
            double sum = 0;
#pragma unroll
            for (int j = 0; j < 8; ++j) {
              const double reward = cuda::to_double(rewards[u].v[j]);
              sum += reward;
              bad |= static_cast<unsigned>(!isfinite(reward)) << j;
            }
            row.reward_sum += sum;
            if (bad) row.bad_reward = cuda::min_index(row.bad_reward, c + __ffs(bad) - 1);
          }
          if (!p.need_mask) continue;
          unsigned on = 0, bad_mask = 0, bad_logprob = 0;
          double sum = 0;
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            const Mask m = mask[u].v[j];
            const bool in_response = m != Mask(0);
            on |= static_cast<unsigned>(in_response) << j;
            bad_mask |= static_cast<unsigned>(!cuda::mask_is_binary(m)) << j;
            if (is_lens) {
              const double v = cuda::to_double(logprobs[u].v[j]);
              bad_logprob |= static_cast<unsigned>(in_response && cuda::is_bad_logprob(v, p.logprob_limit)) << j;
              sum += in_response ? cuda::clamped_logprob(v) : 0.0;
            }
          }
          if (bad_mask) row.bad_mask = cuda::min_index(row.bad_mask, c + __ffs(bad_mask) - 1);
          if (is_lens) {
            row.length += __popc(on);
            row.logprob_sum += sum;
            if (bad_logprob) row.bad_logprob = cuda::min_index(row.bad_logprob, c + __ffs(bad_logprob) - 1);
          }
          if (bits) bits[r * bits_row_bytes + c / 8] = static_cast<std::uint8_t>(on);
        }
      }
    } else {
      for (std::int64_t c0 = 0; c0 < t; c0 += warp_threads) {
        const std::int64_t c = c0 + lane;
        bool on = false;
        if (c < t) {
          if (sum_rewards) cuda::add_reward(row, c, cuda::to_double(p.token_rewards[base + c]));
          if (p.need_mask) {
            on = cuda::add_mask(row, c, p.mask[base + c]);
            if (is_lens && on) cuda::add_logprob(row, c, cuda::to_double(p.logprobs[base + c]), p.logprob_limit);
          }
        }
        const unsigned word = __ballot_sync(full_warp, on);
        if (bits && lane == 0) reinterpret_cast<std::uint32_t*>(bits + r * bits_row_bytes)[c0 / warp_threads] = word;
      }
    }
    row = warp_reduce(row, merge_rows{});
    if (lane == 0) samples[r] = cuda::finish_row(p, r, row, settings, status);
  }
}

template <class Real>
__global__ void __launch_bounds__(block_threads)
    sequence_samples_kernel(cuda::sequence_params<Real> p, advantage_settings settings, cuda::sample_values* samples,
                            cuda::device_status* status) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.num_samples; i += stride)
    samples[i] = cuda::check_sequence_sample(p, i, settings, status);
}

/// A template only so that the header can be included by several translation units.
template <int Unused = 0>
__global__ void __launch_bounds__(block_threads)
    offsets_kernel(const std::int64_t* offsets, std::int64_t num_entries, std::int64_t num_samples,
                   std::uint64_t rank_base, cuda::device_status* status) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t g = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < num_entries; g += stride)
    cuda::check_offset(offsets, g, num_entries, num_samples, rank_base, status);
}

}  // namespace kernels
}  // namespace lens
