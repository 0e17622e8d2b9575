// lens/cpu/groups.hpp: how the CPU engine walks each layout. The contiguous
// layouts (fixed, offsets) use core's group views (lens/core/groups.hpp); the
// ids layout gets a dense group number per sample (numbered_id_groups).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "lens/core/groups.hpp"
#include "lens/core/views.hpp"
#include "lens/cpu/group_index.hpp"

namespace lens {
namespace cpu {
namespace detail {

/// Groups given by a dense group number per sample (the ids layout). The
/// engine walks these sample by sample, in the caller's order, instead of
/// gathering each group's members: the per-group state is small and stays in
/// cache, while a gather through a permutation misses on every sample.
struct numbered_id_groups {
  const id_numbering* numbering;
  std::size_t count() const { return numbering->num_groups(); }
  std::size_t group_of(std::size_t i) const { return static_cast<std::size_t>(numbering->group[i]); }
  /// Prefetches the entry of state (one per group) that sample i + distance will use.
  template <class T>
  void prefetch_ahead(const T* state, std::size_t i, std::size_t num_samples) const {
    if (i + detail::prefetch_distance < num_samples) detail::prefetch(state + group_of(i + detail::prefetch_distance));
  }
  std::size_t size(std::size_t g) const { return static_cast<std::size_t>(numbering->sizes[g]); }
  std::int64_t id(std::size_t g) const { return numbering->ids[g]; }
};

/// Checks the layout against N (core::group_traits), then calls work(view).
/// Throws before work runs, so a rejected layout writes nothing.
template <class Layout, class Work>
decltype(auto) with_groups(const Layout& layout, std::size_t num_samples, Work&& work) {
  using traits = core::group_traits<Layout>;
  const std::size_t count = traits::check(layout, num_samples);
  return std::forward<Work>(work)(traits::make_view(layout, count));
}

template <class Work>
decltype(auto) with_groups(const id_groups& layout, std::size_t num_samples, Work&& work) {
  core::group_traits<id_groups>::check(layout, num_samples);
  const id_numbering numbering = number_groups(layout.ids.data(), num_samples);
  return std::forward<Work>(work)(numbered_id_groups{&numbering});
}

}  // namespace detail
}  // namespace cpu
}  // namespace lens
