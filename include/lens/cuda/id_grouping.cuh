// lens/cuda/id_grouping.cuh: the ids layout grouped on the device with CUB,
// on the call's temporary storage (no allocation of its own): the same steps
// and results as the Thrust path's group_by_id (lens/thrust/id_grouping.hpp):
// a stable radix sort of (id, sample), head flags and an inclusive scan, the
// groups' offsets and ids, then a second stable sort that numbers groups in
// order of first appearance (the statistics slots). The number of groups
// stays in device memory. nvcc only.
#pragma once

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "lens/core/groups.hpp"
#include "lens/kernels/common.cuh"
#include "lens/thrust/id_grouping.hpp"

namespace lens {
namespace cuda {
namespace detail {

/// Device buffers of the CUB grouping: id_grouping_buffers plus the CUB
/// temporary storage and the extra key and value buffers a radix sort needs.
struct cub_id_grouping {
  thrust_path::id_grouping_buffers b;  ///< as the Thrust path fills them
  std::int64_t* iota = nullptr;        ///< [N] 0, 1, ... (sort values in)
  std::int64_t* sorted_slots = nullptr;  ///< [N] second sort: keys out
  void* cub_temp = nullptr;
  std::size_t cub_temp_bytes = 0;
};

/// The int64 entries the grouping needs: 10 N + 2 (sorted ids, order,
/// position groups, offsets N + 1, count 1, group ids, statistics slots,
/// scratch 2 N, iota, sorted slots).
inline std::size_t id_grouping_entries(std::size_t n) { return 10 * n + 2; }

/// CUB's temporary storage for the three device-wide calls (they run one
/// after another on one stream, so they share it).
inline std::size_t id_grouping_cub_bytes(std::size_t n) {
  const int items = static_cast<int>(n);
  std::size_t sort_bytes = 0, scan_bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, static_cast<const std::int64_t*>(nullptr),
                                  static_cast<std::int64_t*>(nullptr), static_cast<const std::int64_t*>(nullptr),
                                  static_cast<std::int64_t*>(nullptr), items);
  cub::DeviceScan::InclusiveSum(nullptr, scan_bytes, static_cast<const std::int64_t*>(nullptr),
                                static_cast<std::int64_t*>(nullptr), items);
  return std::max<std::size_t>(std::max(sort_bytes, scan_bytes), 1);
}

/// Carves the grouping's buffers out of `entries` (id_grouping_entries(n) int64s).
inline cub_id_grouping make_id_grouping(std::int64_t* entries, std::size_t n, void* cub_temp, std::size_t cub_bytes) {
  cub_id_grouping g;
  g.b.sorted_ids = entries;
  g.b.order = entries + n;
  g.b.position_group = entries + 2 * n;
  g.b.offsets = entries + 3 * n;
  g.b.num_groups = entries + 4 * n + 1;
  g.b.group_ids = entries + 4 * n + 2;
  g.b.stat_slot = entries + 5 * n + 2;
  g.b.scratch = entries + 6 * n + 2;
  g.iota = entries + 8 * n + 2;
  g.sorted_slots = entries + 9 * n + 2;
  g.cub_temp = cub_temp;
  g.cub_temp_bytes = cub_bytes;
  return g;
}

}  // namespace detail
}  // namespace cuda

namespace kernels {

/// out[k] = k, and fill[k] = value when fill is set.
template <int Unused = 0>
__global__ void __launch_bounds__(block_threads)
    iota_kernel(std::int64_t* out, std::int64_t n, std::int64_t* fill, std::int64_t value) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    out[k] = k;
    if (fill) fill[k] = value;
  }
}

/// position_group[k] = 1 where sorted position k starts a group, else 0.
template <int Unused = 0>
__global__ void __launch_bounds__(block_threads)
    head_flags_kernel(const std::int64_t* sorted, std::int64_t* flags, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride)
    flags[k] = thrust_path::detail::head_flag{sorted}(k);
}

/// The Thrust path's mark_groups at every sorted position.
template <int Unused = 0>
__global__ void __launch_bounds__(block_threads) mark_groups_kernel(thrust_path::detail::mark_groups mark) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < mark.n; k += stride)
    mark(k);
}

/// stat_slot[by_appearance[j]] = j.
template <int Unused = 0>
__global__ void __launch_bounds__(block_threads)
    scatter_slots_kernel(const std::int64_t* by_appearance, std::int64_t* stat_slot, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += stride)
    stat_slot[by_appearance[j]] = j;
}

/// One empty grouping: no groups, offsets[0] = 0.
template <int Unused = 0>
__global__ void empty_grouping_kernel(std::int64_t* num_groups, std::int64_t* offsets) {
  *num_groups = 0;
  offsets[0] = 0;
}

}  // namespace kernels

namespace cuda {
namespace detail {

inline cudaError_t launch_error(cudaError_t result) { return result != cudaSuccess ? result : cudaGetLastError(); }

/// Groups n samples by id on `stream`; returns the first CUDA error (launches
/// and CUB calls are asynchronous). Grid-stride kernels use `grid` blocks.
inline cudaError_t group_by_id(const std::int64_t* ids, std::int64_t n, const cub_id_grouping& g, unsigned grid,
                               cudaStream_t stream) {
  const thrust_path::id_grouping_buffers& b = g.b;
  constexpr int threads = kernels::block_threads;
  if (n == 0) {
    kernels::empty_grouping_kernel<><<<1, 1, 0, stream>>>(b.num_groups, b.offsets);
    return cudaGetLastError();
  }
  const int items = static_cast<int>(n);
  std::size_t bytes = g.cub_temp_bytes;
  kernels::iota_kernel<><<<grid, threads, 0, stream>>>(g.iota, n, b.scratch, INT64_MAX);  // scratch: past the last group
  cudaError_t e = cub::DeviceRadixSort::SortPairs(g.cub_temp, bytes, ids, b.sorted_ids, g.iota, b.order, items, 0,
                                                  64, stream);
  if ((e = launch_error(e)) != cudaSuccess) return e;
  kernels::head_flags_kernel<><<<grid, threads, 0, stream>>>(b.sorted_ids, g.sorted_slots, n);
  bytes = g.cub_temp_bytes;
  e = cub::DeviceScan::InclusiveSum(g.cub_temp, bytes, g.sorted_slots, b.position_group, items, stream);
  if ((e = launch_error(e)) != cudaSuccess) return e;
  kernels::mark_groups_kernel<><<<grid, threads, 0, stream>>>(thrust_path::detail::mark_groups{b, n});
  // Groups by first appearance: sort (first sample, group) pairs; unused slots hold INT64_MAX and sort last.
  std::int64_t* by_appearance = b.scratch + n;
  bytes = g.cub_temp_bytes;
  e = cub::DeviceRadixSort::SortPairs(g.cub_temp, bytes, b.scratch, g.sorted_slots, g.iota, by_appearance, items, 0,
                                      64, stream);
  if ((e = launch_error(e)) != cudaSuccess) return e;
  kernels::scatter_slots_kernel<><<<grid, threads, 0, stream>>>(by_appearance, b.stat_slot, n);
  return cudaGetLastError();
}

}  // namespace detail
}  // namespace cuda
}  // namespace lens
