// lens/kernels/sample_pass.cuh: the first pass. Reads every input once,
// checks it (reporting the first bad value through device_status), and
// reduces it to one sample_values per response:
//  - token rows: 1 to 8 warps per row, 8-element packed loads four deep, the
//    masked log-probability sum per pack in float with its exact rounding
//    error (TwoSum) and across packs in double, and the mask kept as one bit
//    per token for the broadcast of the second pass;
//  - per-sample inputs: a thread per sample;
//  - ragged offsets: a thread per entry.
// Writes only scratch buffers, never an output. nvcc only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "lens/core/settings.hpp"
#include "lens/core/status.hpp"
#include "lens/core/samples.hpp"
#include "lens/kernels/common.cuh"

namespace lens {
namespace kernels {

/// A token value as float (exact for half, bfloat16 and float).
__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

/// Sum of the log-probabilities of a pack whose mask bits are `on`, each
/// clamped to min(v, 0) (core::clamped_logprob). Float inputs are added in
/// float with the exact error of every addition kept (TwoSum), so the pair
/// (sum, error) carries the pack's sum to within ~1e-13 relative and one
/// conversion to double per pack replaces eight (the CPU sums in double, and
/// per-token values down to -1e4 make a plain float sum wrong by far more than
/// the 1e-6 parity). The rare pack whose float sum overflows (values near
/// FLT_MAX, or infinities, reported later anyway) is summed in double.
template <class Real, int N>
__device__ __forceinline__ double masked_logprob_sum(const pack<Real, N>& logprobs, unsigned on) {
  if constexpr (sizeof(Real) == 8) {
    double sum = 0;
#pragma unroll
    for (int j = 0; j < N; ++j) sum += (on >> j) & 1u ? core::clamped_logprob(core::to_double(logprobs.v[j])) : 0.0;
    return sum;
  } else {
    float sum = 0, error = 0;
#pragma unroll
    for (int j = 0; j < N; ++j) {
      const float v = to_float(logprobs.v[j]);
      const float x = (on >> j) & 1u && v < 0.0f ? v : 0.0f;  // NaN reads as 0, as clamped_logprob does
      const float total = sum + x;
      const float x_part = total - sum;
      error += (sum - (total - x_part)) + (x - x_part);  // TwoSum: sum + x == total + this, exactly
      sum = total;
    }
    if (isfinite(sum) && isfinite(error)) return static_cast<double>(sum) + static_cast<double>(error);
    double exact = 0;
#pragma unroll
    for (int j = 0; j < N; ++j) exact += (on >> j) & 1u ? core::clamped_logprob(core::to_double(logprobs.v[j])) : 0.0;
    return exact;
  }
}

/// Bit j set where an unmasked log-probability of the pack is rejected
/// (core::is_bad_logprob), compared in float when Real converts to float exactly.
template <class Real, int N>
__device__ __forceinline__ unsigned bad_logprobs(const pack<Real, N>& logprobs, unsigned on, double limit) {
  unsigned bad = 0;
  if constexpr (sizeof(Real) == 8) {
#pragma unroll
    for (int j = 0; j < N; ++j) bad |= static_cast<unsigned>(core::is_bad_logprob(core::to_double(logprobs.v[j]), limit)) << j;
  } else {
    const float float_limit = static_cast<float>(limit);  // limit is a Real, so exact
#pragma unroll
    for (int j = 0; j < N; ++j) {
      const float v = to_float(logprobs.v[j]);
      bad |= static_cast<unsigned>(!isfinite(v) || v > float_limit) << j;
    }
  }
  return bad & on;
}

/// One pack of 8 tokens at column c: the mask checks and bits, and (LENS) the
/// count, the log-probability sum and checks. Bit j of each word flags element
/// c + j; the rare bad element's column is found from the lowest set bit.
template <class Real, class Mask>
__device__ __forceinline__ void add_token_pack(core::row_reduction& row, int& length, const pack<Mask, 8>& mask,
                                               const pack<Real, 8>& logprobs, int c, bool is_lens, double limit,
                                               std::uint8_t* bits_row) {
  unsigned on = 0, bad_mask = 0;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    const Mask m = mask.v[j];
    on |= static_cast<unsigned>(m != Mask(0)) << j;
    bad_mask |= static_cast<unsigned>(!core::mask_is_binary(m)) << j;
  }
  if (bad_mask) row.bad_mask = core::min_index(row.bad_mask, c + __ffs(bad_mask) - 1);
  if (is_lens) {
    length += __popc(on);
    row.logprob_sum += masked_logprob_sum(logprobs, on);
    const unsigned bad_logprob = bad_logprobs(logprobs, on, limit);
    if (bad_logprob) row.bad_logprob = core::min_index(row.bad_logprob, c + __ffs(bad_logprob) - 1);
  }
  if (bits_row) bits_row[c / 8] = static_cast<std::uint8_t>(on);
}

/// Warps sharing one row in token_rows_kernel: 1 to 8 (a power of two), at
/// least 2,048 tokens (two rounds of loads) per warp, so that rows split the
/// work finely enough to keep every SM busy to the end (one warp per
/// 4,096-token row left part of the last wave idle) while each warp still
/// overlaps its loads with other warps' reductions.
inline int token_warps_per_row(std::int64_t num_tokens) {
  int warps = 1;
  while (warps < block_warps && num_tokens >= std::int64_t(warps) * policy::row_tokens_per_warp) warps *= 2;
  return warps;
}

/// Token rows: `warps_per_row` warps of a block share a row (block_warps /
/// warps_per_row rows per block and step, grid-stride over steps), warp k of
/// the team taking columns k * 256 + [0, 256) of every 256 * warps_per_row
/// (packed) or 32-column words k, k + warps_per_row, ... (scalar). The team's
/// partial reductions are merged in warp order through shared memory, so the
/// result does not depend on scheduling. Packed: T % 8 == 0, T < 2^30 and
/// every input aligned for pack<.., 8>; each lane keeps `depth` packs of every
/// input in flight (about 100 bytes a lane for bf16 log-probs and a byte mask)
/// before using the first. bits: [N x bits_row_bytes] mask bits (bit c % 8 of
/// byte c / 8), or null when no token output is asked for.
template <class Real, class Mask, bool Packed>
__global__ void __launch_bounds__(block_threads, policy::row_min_blocks_per_sm)
    token_rows_kernel(core::token_params<Real, Mask> p, advantage_settings settings, std::uint8_t* bits,
                      std::int64_t bits_row_bytes, core::sample_values* samples, core::device_status* status,
                      int warps_per_row) {
  constexpr int depth = policy::row_load_depth;  // packs in flight per lane before the first is used
  __shared__ block_scratch<core::row_reduction> scratch;  // a row_reduction per warp (raw: it has initialisers)
  core::row_reduction* partials = reinterpret_cast<core::row_reduction*>(scratch.bytes);
  const int lane = threadIdx.x % warp_threads, warp = threadIdx.x / warp_threads;
  const int member = warp % warps_per_row;  // this warp's place in its row's team
  const int rows_per_block = block_warps / warps_per_row;
  const bool is_lens = settings.kind == estimator::lens;
  const bool sum_rewards = p.scores == nullptr;
  const std::int64_t t = p.num_tokens;
  const std::int64_t steps = (p.num_samples + rows_per_block - 1) / rows_per_block;
  for (std::int64_t step = blockIdx.x; step < steps; step += gridDim.x) {  // uniform over the block
    const std::int64_t r = step * rows_per_block + warp / warps_per_row;
    core::row_reduction row;
    if (r < p.num_samples) {
      const std::int64_t base = r * t;
      if (Packed) {
        // Row pointers and 32-bit columns: fewer registers for addresses.
        constexpr int pack_stride = warp_threads * 8;
        const int stride = pack_stride * warps_per_row;
        const int columns = static_cast<int>(t);
        const Mask* mask_row = p.mask + base;
        const Real* logprob_row = is_lens ? p.logprobs + base : p.logprobs;
        std::uint8_t* bits_row = bits ? bits + r * bits_row_bytes : nullptr;
        int length = 0;  // unmasked tokens of this lane
        for (int c0 = member * pack_stride + lane * 8; c0 < columns; c0 += stride * depth) {
          if (sum_rewards) {  // token rewards (rare): summed in double, a pack at a time
            for (int c = c0; c < columns && c < c0 + stride * depth; c += stride) {
              const pack<Real, 8> rewards = load_pack<Real, 8>(p.token_rewards + base + c);
              unsigned bad = 0;
              double sum = 0;
#pragma unroll
              for (int j = 0; j < 8; ++j) {
                const double reward = core::to_double(rewards.v[j]);
                sum += reward;
                bad |= static_cast<unsigned>(!isfinite(reward)) << j;
              }
              row.reward_sum += sum;
              if (bad) row.bad_reward = core::min_index(row.bad_reward, c + __ffs(bad) - 1);
            }
          }
          if (!p.need_mask) continue;
          if (c0 + (depth - 1) * stride < columns) {  // all `depth` packs in the row: loads first, then the work
            pack<Mask, 8> mask[depth];
            pack<Real, 8> logprobs[depth];
#pragma unroll
            for (int u = 0; u < depth; ++u) {
              mask[u] = load_pack<Mask, 8>(mask_row + c0 + u * stride);
              if (is_lens) logprobs[u] = load_pack<Real, 8>(logprob_row + c0 + u * stride);
            }
#pragma unroll
            for (int u = 0; u < depth; ++u)
              add_token_pack(row, length, mask[u], logprobs[u], c0 + u * stride, is_lens, p.logprob_limit, bits_row);
          } else {  // the row's last packs, one at a time
            for (int c = c0; c < columns; c += stride) {
              const pack<Mask, 8> mask = load_pack<Mask, 8>(mask_row + c);
              pack<Real, 8> logprobs;
              if (is_lens) logprobs = load_pack<Real, 8>(logprob_row + c);
              add_token_pack(row, length, mask, logprobs, c, is_lens, p.logprob_limit, bits_row);
            }
          }
        }
        row.length = length;
      } else {
        for (std::int64_t c0 = std::int64_t(member) * warp_threads; c0 < t; c0 += std::int64_t(warp_threads) * warps_per_row) {
          const std::int64_t c = c0 + lane;
          bool on = false;
          if (c < t) {
            if (sum_rewards) core::add_reward(row, c, core::to_double(p.token_rewards[base + c]));
            if (p.need_mask) {
              on = core::add_mask(row, c, p.mask[base + c]);
              if (is_lens && on) core::add_logprob(row, c, core::to_double(p.logprobs[base + c]), p.logprob_limit);
            }
          }
          const unsigned word = __ballot_sync(full_warp, on);
          if (bits && lane == 0) reinterpret_cast<std::uint32_t*>(bits + r * bits_row_bytes)[c0 / warp_threads] = word;
        }
      }
      row = warp_reduce(row, core::merge_op{});
    }
    if (warps_per_row > 1) {
      if (lane == 0) partials[warp] = row;
      __syncthreads();
      if (member == 0 && lane == 0) {
        for (int k = 1; k < warps_per_row; ++k) row = core::merge(row, partials[warp + k]);
      }
      __syncthreads();  // partials are reused by the next step
    }
    if (r < p.num_samples && member == 0 && lane == 0) samples[r] = core::finish_row(p, r, row, settings, status);
  }
}

template <class Real>
__global__ void __launch_bounds__(block_threads)
    sequence_samples_kernel(core::sequence_params<Real> p, advantage_settings settings, core::sample_values* samples,
                            core::device_status* status) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.num_samples; i += stride)
    samples[i] = core::check_sequence_sample(p, i, settings, status);
}

/// A template only so that the header can be included by several translation units.
template <int Unused = 0>
__global__ void __launch_bounds__(block_threads)
    offsets_kernel(const std::int64_t* offsets, std::int64_t num_entries, std::int64_t num_samples,
                   std::uint64_t rank_base, core::device_status* status) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t g = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < num_entries; g += stride)
    core::check_offset(offsets, g, num_entries, num_samples, rank_base, status);
}

}  // namespace kernels
}  // namespace lens
