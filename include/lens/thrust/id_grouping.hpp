// lens/thrust/id_grouping.hpp: arbitrary per-sample group ids turned into
// contiguous groups on the device with Thrust (a stable sort by id, head flags
// and a scan), without reading anything back: the number of groups stays in
// device memory. Compiles with nvcc and with g++ on Thrust's OpenMP system.
#pragma once

#include <thrust/copy.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/scan.h>
#include <thrust/scatter.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include <cstdint>

#include "lens/core/config.hpp"

namespace lens {
namespace thrust_path {

/// Device buffers group_by_id fills; each holds N entries unless said.
/// Group g is sorted positions [offsets[g], offsets[g+1]); the sample at
/// position k is order[k] (samples of a group keep their original order).
struct id_grouping_buffers {
  std::int64_t* sorted_ids = nullptr;      ///< the ids, sorted (stable)
  std::int64_t* order = nullptr;           ///< sample index at each sorted position
  std::int64_t* position_group = nullptr;  ///< group of each sorted position
  std::int64_t* offsets = nullptr;         ///< [N + 1]; entries past num_groups are unused
  std::int64_t* num_groups = nullptr;      ///< [1] the number of distinct ids
  std::int64_t* group_ids = nullptr;       ///< the id of group g
  std::int64_t* stat_slot = nullptr;       ///< group g's place in order of first appearance
  std::int64_t* scratch = nullptr;         ///< [2 N] temporary
};

namespace detail {

struct head_flag {
  const std::int64_t* sorted;
  LENS_HD std::int64_t operator()(std::int64_t k) const { return k == 0 || sorted[k] != sorted[k - 1] ? 1 : 0; }
};

/// Turns the inclusive scan of head flags into group numbers, offsets and ids.
struct mark_groups {
  id_grouping_buffers b;
  std::int64_t n;
  LENS_HD void operator()(std::int64_t k) const {
    const std::int64_t g = b.position_group[k] - 1;
    b.position_group[k] = g;
    if (k == 0 || b.sorted_ids[k] != b.sorted_ids[k - 1]) {
      b.offsets[g] = k;
      b.group_ids[g] = b.sorted_ids[k];
      b.scratch[g] = b.order[k];  // first appearance: the stable sort keeps the smallest index first
    }
    if (k == n - 1) {
      b.offsets[g + 1] = n;
      *b.num_groups = g + 1;
    }
  }
};

}  // namespace detail

/// Groups n samples by id. Asynchronous under a CUDA stream policy.
template <class Policy>
void group_by_id(Policy&& exec, const std::int64_t* ids, std::int64_t n, const id_grouping_buffers& b) {
  if (n == 0) {
    thrust::fill(exec, b.num_groups, b.num_groups + 1, std::int64_t(0));
    thrust::fill(exec, b.offsets, b.offsets + 1, std::int64_t(0));
    return;
  }
  thrust::copy(exec, ids, ids + n, b.sorted_ids);
  thrust::sequence(exec, b.order, b.order + n);
  thrust::stable_sort_by_key(exec, b.sorted_ids, b.sorted_ids + n, b.order);
  const thrust::counting_iterator<std::int64_t> first(0);
  thrust::transform(exec, first, first + n, b.position_group, detail::head_flag{b.sorted_ids});
  thrust::inclusive_scan(exec, b.position_group, b.position_group + n, b.position_group);
  // Slots past the last group sort after every real group.
  thrust::fill(exec, b.scratch, b.scratch + n, INT64_MAX);
  thrust::for_each(exec, first, first + n, detail::mark_groups{b, n});
  std::int64_t* by_appearance = b.scratch + n;
  thrust::sequence(exec, by_appearance, by_appearance + n);
  thrust::sort_by_key(exec, b.scratch, b.scratch + n, by_appearance);
  thrust::scatter(exec, first, first + n, by_appearance, b.stat_slot);
}

}  // namespace thrust_path
}  // namespace lens
