// lens/kernels/common.cuh: warp and block building blocks of the lens kernels:
// shuffles of the mergeable summaries, tree reductions that give every lane
// the same bits, and packed 8-element loads. nvcc only.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

namespace lens {
namespace kernels {

constexpr int warp_threads = 32;
constexpr unsigned full_warp = 0xffffffffu;
/// Threads per block of every lens kernel (8 warps).
constexpr int block_threads = 256;
constexpr int block_warps = block_threads / warp_threads;

/// Shuffles a struct made of 8-byte words (the summaries of group_math.hpp).
template <class T>
__device__ __forceinline__ T shuffle_down(const T& value, int delta) {
  static_assert(sizeof(T) % 8 == 0, "shuffle_down moves 8-byte words");
  constexpr int words = sizeof(T) / 8;
  unsigned long long w[words];
  memcpy(w, &value, sizeof(T));
#pragma unroll
  for (int i = 0; i < words; ++i) w[i] = __shfl_down_sync(full_warp, w[i], delta);
  T result;
  memcpy(&result, w, sizeof(T));
  return result;
}

template <class T>
__device__ __forceinline__ T shuffle(const T& value, int source_lane) {
  static_assert(sizeof(T) % 8 == 0, "shuffle moves 8-byte words");
  constexpr int words = sizeof(T) / 8;
  unsigned long long w[words];
  memcpy(w, &value, sizeof(T));
#pragma unroll
  for (int i = 0; i < words; ++i) w[i] = __shfl_sync(full_warp, w[i], source_lane);
  T result;
  memcpy(&result, w, sizeof(T));
  return result;
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
