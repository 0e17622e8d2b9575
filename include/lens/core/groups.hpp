// lens/core/groups.hpp: the group layouts, each in one place. A layout is a
// plain struct the caller fills (fixed_groups, offset_groups, id_groups) and a
// group_traits<Layout> specialisation with all a backend asks of it:
//   check(layout, n)        the full check where the layout's arrays are in host
//                           memory (the CPU backend); returns the number of groups
//   check_shape(layout, n)  what the host can check where they are in device
//                           memory (GPU, Thrust path); returns the number of
//                           groups the host knows, 0 where the device finds it
//   bound(num_groups, n)    the most groups there can be (scratch sizing)
//   device_checks           whether the device checks entries (check_entry)
// and a group view (begin, end, member, id, slot: LENS_HD) that the CPU engine
// and the kernels walk. "Groups" is the one word for the concept: a layout is
// how groups are given, a view is how a backend walks them.
// Adding a layout: its struct, a group_traits specialisation and, if it is not
// contiguous, a view here; the backends dispatch on group_traits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "lens/core/config.hpp"
#include "lens/core/errors.hpp"
#include "lens/core/span.hpp"
#include "lens/core/status.hpp"

namespace lens {

/// Groups of one fixed size G, stored one after the other (TRL, OpenRLHF):
/// samples [g*G, (g+1)*G) form group g; N must be a multiple of G.
struct fixed_groups {
  std::size_t group_size = 0;
};

/// Contiguous groups of any size (CSR style): group g is samples
/// [offsets[g], offsets[g+1]). num_groups + 1 entries, offsets[0] == 0,
/// non-decreasing, offsets[num_groups] == N. Empty groups are allowed.
struct offset_groups {
  span<const std::int64_t> offsets;
};

/// Any 64-bit id per sample, in any order (verl's uid after its shuffle).
/// Samples with equal ids form a group; groups are numbered in order of first
/// appearance, which is the order of the per-group statistics.
struct id_groups {
  span<const std::int64_t> ids;
};

namespace core {

// ------------------------------------------------------------------ views

/// Group g holds positions [begin(g), end(g)); position k is sample member(k);
/// id(g) is what group_statistics::group_id reports, slot(g) where group g's
/// statistics go (the order of first appearance for ids).
struct fixed_group_view {
  std::int64_t group_size = 0;
  std::int64_t num_groups = 0;
  LENS_HD std::int64_t count() const { return num_groups; }
  LENS_HD std::int64_t begin(std::int64_t g) const { return g * group_size; }
  LENS_HD std::int64_t end(std::int64_t g) const { return (g + 1) * group_size; }
  LENS_HD std::int64_t member(std::int64_t k) const { return k; }
  LENS_HD std::int64_t id(std::int64_t g) const { return g; }
  LENS_HD std::int64_t slot(std::int64_t g) const { return g; }
};

struct offset_group_view {
  const std::int64_t* offsets = nullptr;  ///< [num_groups + 1]
  std::int64_t num_groups = 0;
  LENS_HD std::int64_t count() const { return num_groups; }
  LENS_HD std::int64_t begin(std::int64_t g) const { return offsets[g]; }
  LENS_HD std::int64_t end(std::int64_t g) const { return offsets[g + 1]; }
  LENS_HD std::int64_t member(std::int64_t k) const { return k; }
  LENS_HD std::int64_t id(std::int64_t g) const { return g; }
  LENS_HD std::int64_t slot(std::int64_t g) const { return g; }
};

/// The ids layout after a device-side stable sort by id (lens/thrust/id_grouping.hpp):
/// contiguous in sorted positions, with the sample, the id and the
/// statistics slot of each; the number of groups stays in device memory.
struct sorted_id_group_view {
  const std::int64_t* offsets = nullptr;     ///< [num_groups + 1] in sorted positions
  const std::int64_t* order = nullptr;       ///< sample at each sorted position
  const std::int64_t* group_ids = nullptr;   ///< id of each group
  const std::int64_t* stat_slot = nullptr;   ///< statistics slot of each group
  const std::int64_t* device_num_groups = nullptr;  ///< [1] found on the device
  LENS_HD std::int64_t count() const { return *device_num_groups; }
  LENS_HD std::int64_t begin(std::int64_t g) const { return offsets[g]; }
  LENS_HD std::int64_t end(std::int64_t g) const { return offsets[g + 1]; }
  LENS_HD std::int64_t member(std::int64_t k) const { return order[k]; }
  LENS_HD std::int64_t id(std::int64_t g) const { return group_ids[g]; }
  LENS_HD std::int64_t slot(std::int64_t g) const { return stat_slot[g]; }
};

// ------------------------------------------------------------------ offsets rule

/// Checks offsets entry g of num_entries (num_groups + 1) against N, ranked
/// from rank_base on: offsets[0] == 0, then the first decrease, then the last
/// entry == N. The one statement of the rule: the CPU runs it on the host, the
/// Thrust path and the kernels on the device.
LENS_HD void check_offset(const std::int64_t* offsets, std::int64_t g, std::int64_t num_entries,
                          std::int64_t num_samples, std::uint64_t rank_base, device_status* status) {
  if (g == 0 && offsets[0] != 0)
    report_error(status, make_report(rank_base, error_code::bad_offsets, error_field::offsets, 0, error_detail::offsets_first));
  if (g > 0 && offsets[g] < offsets[g - 1])
    report_error(status, make_report(rank_base + static_cast<std::uint64_t>(g), error_code::bad_offsets,
                                     error_field::offsets, g, error_detail::offsets_decrease));
  if (g == num_entries - 1 && offsets[g] != num_samples) {
    error_report e = make_report(rank_base + static_cast<std::uint64_t>(num_entries), error_code::bad_offsets,
                                 error_field::offsets, g, error_detail::offsets_last);
    e.number = offsets[g];
    e.count = num_samples;
    report_error(status, e);
  }
}

// ------------------------------------------------------------------ traits

template <class Layout>
struct group_traits;

template <>
struct group_traits<fixed_groups> {
  using view = fixed_group_view;
  static constexpr bool device_checks = false;
  static std::size_t check(const fixed_groups& layout, std::size_t num_samples) {
    if (layout.group_size == 0 || num_samples % layout.group_size != 0)
      raise(error_code::group_size_mismatch, "groups.group_size", -1,
            "group_size " + std::to_string(layout.group_size) + ", N " + std::to_string(num_samples));
    return num_samples / layout.group_size;
  }
  static std::size_t check_shape(const fixed_groups& layout, std::size_t num_samples) { return check(layout, num_samples); }
  static std::size_t bound(std::size_t num_groups, std::size_t) { return num_groups; }
  static view make_view(const fixed_groups& layout, std::size_t num_groups) {
    return {static_cast<std::int64_t>(layout.group_size), static_cast<std::int64_t>(num_groups)};
  }
};

template <>
struct group_traits<offset_groups> {
  using view = offset_group_view;
  static constexpr bool device_checks = true;
  static std::size_t check_shape(const offset_groups& layout, std::size_t) {
    if (layout.offsets.empty() || layout.offsets.data() == nullptr)
      raise(error_code::bad_offsets, "groups.offsets", -1, "needs num_groups + 1 >= 1 entries");
    return layout.offsets.size() - 1;
  }
  /// Host memory: the shape, then check_offset over every entry on the host.
  static std::size_t check(const offset_groups& layout, std::size_t num_samples) {
    const std::size_t num_groups = check_shape(layout, num_samples);
    const auto entries = static_cast<std::int64_t>(layout.offsets.size());
    device_status status;
    for (std::int64_t g = 0; g < entries && !has_error(&status); ++g)
      check_offset(layout.offsets.data(), g, entries, static_cast<std::int64_t>(num_samples), 0, &status);
    throw_if_error(status);
    return num_groups;
  }
  static std::size_t bound(std::size_t num_groups, std::size_t) { return num_groups; }
  static std::int64_t num_entries(const offset_groups& layout) { return static_cast<std::int64_t>(layout.offsets.size()); }
  static view make_view(const offset_groups& layout, std::size_t num_groups) {
    return {layout.offsets.data(), static_cast<std::int64_t>(num_groups)};
  }
};

template <>
struct group_traits<id_groups> {
  using view = sorted_id_group_view;  ///< on the device, after the sort; the CPU numbers ids instead
  static constexpr bool device_checks = false;
  /// Any value is allowed; only the size and the pointer are checked.
  static std::size_t check(const id_groups& layout, std::size_t num_samples) {
    check_size("groups.ids", layout.ids.size(), num_samples);
    if (num_samples > 0 && layout.ids.data() == nullptr) raise(error_code::size_mismatch, "groups.ids", -1, "is null");
    return 0;
  }
  static std::size_t check_shape(const id_groups& layout, std::size_t num_samples) { return check(layout, num_samples); }
  static std::size_t bound(std::size_t, std::size_t num_samples) { return num_samples; }
};

}  // namespace core
}  // namespace lens
