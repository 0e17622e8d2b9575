// lens/cpu/segments.hpp: the three group layouts as the engine sees them. The
// contiguous ones (fixed, offsets): group g holds samples [begin(g), end(g)).
// The ids layout: a dense group number per sample (indexed_segments).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "lens/core/validate.hpp"
#include "lens/core/views.hpp"
#include "lens/cpu/group_index.hpp"

namespace lens {
namespace cpu {
namespace detail {

struct fixed_segments {
  std::size_t group_size;
  std::size_t count;
  std::size_t num_groups() const { return count; }
  std::size_t begin(std::size_t g) const { return g * group_size; }
  std::size_t end(std::size_t g) const { return (g + 1) * group_size; }
  std::size_t member(std::size_t k) const { return k; }
  std::int64_t id(std::size_t g) const { return static_cast<std::int64_t>(g); }
};

struct offset_segments {
  const std::int64_t* offsets;
  std::size_t count;
  std::size_t num_groups() const { return count; }
  std::size_t begin(std::size_t g) const { return static_cast<std::size_t>(offsets[g]); }
  std::size_t end(std::size_t g) const { return static_cast<std::size_t>(offsets[g + 1]); }
  std::size_t member(std::size_t k) const { return k; }
  std::int64_t id(std::size_t g) const { return static_cast<std::int64_t>(g); }
};

/// Groups given by a dense group number per sample (the ids layout). The
/// engine walks these sample by sample, in the caller's order, instead of
/// gathering each group's members: the per-group state is small and stays in
/// cache, while a gather through a permutation misses on every sample.
struct indexed_segments {
  const id_numbering* numbering;
  std::size_t num_groups() const { return numbering->num_groups(); }
  std::size_t group_of(std::size_t i) const { return static_cast<std::size_t>(numbering->group[i]); }
  /// Prefetches the entry of state (one per group) that sample i + distance will use.
  template <class T>
  void prefetch_ahead(const T* state, std::size_t i, std::size_t num_samples) const {
    if (i + detail::prefetch_distance < num_samples) detail::prefetch(state + group_of(i + detail::prefetch_distance));
  }
  std::size_t size(std::size_t g) const { return static_cast<std::size_t>(numbering->sizes[g]); }
  std::int64_t id(std::size_t g) const { return numbering->ids[g]; }
};

/// Validates the layout against N, then calls work(segments). Throws before
/// work runs, so a rejected layout writes nothing.
template <class Work>
decltype(auto) with_segments(const fixed_groups& layout, std::size_t num_samples, Work&& work) {
  const std::size_t count = core::validate_layout(layout, num_samples);
  return std::forward<Work>(work)(fixed_segments{layout.group_size, count});
}

template <class Work>
decltype(auto) with_segments(const offset_groups& layout, std::size_t num_samples, Work&& work) {
  const std::size_t count = core::validate_layout(layout, num_samples);
  return std::forward<Work>(work)(offset_segments{layout.offsets.data(), count});
}

template <class Work>
decltype(auto) with_segments(const id_groups& layout, std::size_t num_samples, Work&& work) {
  core::validate_layout(layout, num_samples);
  const id_numbering numbering = number_groups(layout.ids.data(), num_samples);
  return std::forward<Work>(work)(indexed_segments{&numbering});
}

}  // namespace detail
}  // namespace cpu
}  // namespace lens
