// lens/cpu/segments.hpp: the three group layouts seen through one interface:
// group g holds positions [begin(g), end(g)), and member(k) maps a position to
// a sample index (the identity for contiguous layouts).
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

struct permuted_segments {
  const id_grouping* grouping;
  std::size_t num_groups() const { return grouping->num_groups(); }
  std::size_t begin(std::size_t g) const { return static_cast<std::size_t>(grouping->offsets[g]); }
  std::size_t end(std::size_t g) const { return static_cast<std::size_t>(grouping->offsets[g + 1]); }
  std::size_t member(std::size_t k) const { return static_cast<std::size_t>(grouping->order[k]); }
  std::int64_t id(std::size_t g) const { return grouping->ids[g]; }
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
  const id_grouping grouping = group_by_id(layout.ids.data(), num_samples);
  return std::forward<Work>(work)(permuted_segments{&grouping});
}

}  // namespace detail
}  // namespace cpu
}  // namespace lens
