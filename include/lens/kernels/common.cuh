// lens/kernels/common.cuh: warp and block building blocks of the lens kernels:
// shuffles of the mergeable summaries, tree reductions that give every lane
// the same bits, and packed 8-element loads. nvcc only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lens {
namespace kernels {

constexpr int warp_threads = 32;
constexpr unsigned full_warp = 0xffffffffu;

/// Every tuning constant of the lens kernels and of their launches, in one
/// place (CUB keeps its launch constants in a policy struct the same way).
/// The figures behind them are in docs/GPU_RESULTS.md.
struct policy {
  /// Threads per block of every lens kernel (8 warps).
  static constexpr int block_threads = 256;
  /// token_rows_kernel's launch bounds: 2 blocks (16 warps) per SM, so 128 registers and no spills.
  static constexpr int row_min_blocks_per_sm = 2;
  /// Packs of 8 tokens each lane of the row pass keeps in flight before using the first.
  static constexpr int row_load_depth = 4;
  /// A row is shared by 1 to 8 warps (a power of two), each with at least this many tokens.
  static constexpr std::int64_t row_tokens_per_warp = 2 * 2048;
  /// The group pass takes a warp per group when the mean group size is at most
  /// this (fixed and offsets layouts), a block per group otherwise or when the
  /// number of groups is known only on the device (ids).
  static constexpr std::int64_t warp_group_max_mean_size = 32;
  /// Grid-stride kernels whose work is large or counted on the device: blocks per SM.
  static constexpr int grid_blocks_per_sm = 16;
  /// Largest grid any launch asks for.
  static constexpr std::int64_t grid_max_blocks = std::int64_t(1) << 20;
  /// Alignment of every piece of the temporary storage (bytes).
  static constexpr std::size_t temp_alignment = 256;
};

constexpr int block_threads = policy::block_threads;
constexpr int block_warps = block_threads / warp_threads;

/// Moves a struct made of 8-byte words (the summaries of group_math.hpp)
/// across the warp, one 64-bit shuffle (shuffle_word) per word.
template <class T, class ShuffleWord>
__device__ __forceinline__ T shuffle_words(const T& value, ShuffleWord shuffle_word) {
  static_assert(sizeof(T) % 8 == 0, "warp shuffles move 8-byte words");
  constexpr int words = sizeof(T) / 8;
  unsigned long long w[words];
  memcpy(w, &value, sizeof(T));
#pragma unroll
  for (int i = 0; i < words; ++i) w[i] = shuffle_word(w[i]);
  T result;
  memcpy(&result, w, sizeof(T));
  return result;
}

template <class T>
__device__ __forceinline__ T shuffle_down(const T& value, int delta) {
  return shuffle_words(value, [delta](unsigned long long w) { return __shfl_down_sync(full_warp, w, delta); });
}

template <class T>
__device__ __forceinline__ T shuffle(const T& value, int source_lane) {
  return shuffle_words(value, [source_lane](unsigned long long w) { return __shfl_sync(full_warp, w, source_lane); });
}

/// Tree reduction over the warp; lane 0's result is broadcast, so every lane
/// holds the same bits (a merge is associative only up to rounding).
template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T value, Op op) {
#pragma unroll
  for (int delta = warp_threads / 2; delta > 0; delta /= 2) value = op(value, shuffle_down(value, delta));
  return shuffle(value, 0);
}

/// Shared memory a block_reduce over T needs.
template <class T>
struct block_scratch {
  alignas(16) unsigned char bytes[(block_warps + 1) * sizeof(T)];
};

/// Reduction over the block (blockDim.x == block_threads); every thread gets
/// the result. Every thread of the block must call it.
template <class T, class Op>
__device__ T block_reduce(T value, Op op, void* scratch) {
  T* partial = static_cast<T*>(scratch);
  const int lane = threadIdx.x % warp_threads, warp = threadIdx.x / warp_threads;
  value = warp_reduce(value, op);
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  if (warp == 0) {
    T w = lane < block_warps ? partial[lane] : T{};
    w = warp_reduce(w, op);
    if (lane == 0) partial[block_warps] = w;
  }
  __syncthreads();
  const T result = partial[block_warps];
  __syncthreads();
  return result;
}

/// N consecutive elements loaded as one or two 16-byte (or one 8-byte) access.
template <class T, int N>
struct alignas(sizeof(T) * N >= 16 ? 16 : sizeof(T) * N) pack {
  T v[N];
};

template <class T, int N>
__device__ __forceinline__ pack<T, N> load_pack(const T* address) {
  return *reinterpret_cast<const pack<T, N>*>(address);
}

/// Whether a pointer can be read as pack<T, 8> at every multiple of 8 elements.
template <class T>
inline bool pack_aligned(const T* address) {
  constexpr std::size_t alignment = alignof(pack<T, 8>);
  return reinterpret_cast<std::uintptr_t>(address) % alignment == 0;
}

}  // namespace kernels
}  // namespace lens
