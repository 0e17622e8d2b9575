// lens/cpu/group_index.hpp: turns arbitrary per-sample group ids into
// contiguous groups (offsets plus a permutation), in O(N): an open-addressing
// hash table gives each distinct id a dense number in order of first
// appearance, then a counting sort lays the members of each group together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lens {
namespace cpu {

/// Groups found in a list of ids: group g is samples order[offsets[g]] ..
/// order[offsets[g+1] - 1], in their original order, and has id ids[g].
struct id_grouping {
  std::vector<std::int64_t> offsets;  ///< num_groups + 1
  std::vector<std::int64_t> order;    ///< [N] sample indices, grouped
  std::vector<std::int64_t> ids;      ///< [num_groups] the id of each group
  std::size_t num_groups() const { return ids.size(); }
};

namespace detail {
/// splitmix64's finaliser: spreads sparse or sequential ids over the table.
inline std::uint64_t mix_id(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace detail

inline id_grouping group_by_id(const std::int64_t* ids, std::size_t num_samples) {
  id_grouping result;
  std::vector<std::int64_t> dense(num_samples);   // dense group number of each sample
  std::size_t capacity = 16;
  while (capacity < 2 * num_samples) capacity *= 2;
  const std::uint64_t mask = capacity - 1;
  std::vector<std::int64_t> slot_group(capacity, -1);  // -1: empty slot
  std::vector<std::int64_t> counts;
  for (std::size_t i = 0; i < num_samples; ++i) {
    const std::int64_t id = ids[i];
    std::uint64_t slot = detail::mix_id(static_cast<std::uint64_t>(id)) & mask;
    while (true) {
      const std::int64_t g = slot_group[slot];
      if (g < 0) {
        slot_group[slot] = static_cast<std::int64_t>(result.ids.size());
        dense[i] = static_cast<std::int64_t>(result.ids.size());
        result.ids.push_back(id);
        counts.push_back(1);
        break;
      }
      if (result.ids[static_cast<std::size_t>(g)] == id) {
        dense[i] = g;
        ++counts[static_cast<std::size_t>(g)];
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  const std::size_t num_groups = result.ids.size();
  result.offsets.assign(num_groups + 1, 0);
  for (std::size_t g = 0; g < num_groups; ++g) result.offsets[g + 1] = result.offsets[g] + counts[g];
  std::vector<std::int64_t> cursor(result.offsets.begin(), result.offsets.end() - 1);
  result.order.resize(num_samples);
  for (std::size_t i = 0; i < num_samples; ++i)
    result.order[static_cast<std::size_t>(cursor[static_cast<std::size_t>(dense[i])]++)] = static_cast<std::int64_t>(i);
  return result;
}

}  // namespace cpu
}  // namespace lens
