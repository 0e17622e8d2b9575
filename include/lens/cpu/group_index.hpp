// lens/cpu/group_index.hpp: turns arbitrary per-sample group ids into dense
// group numbers, in O(N): an open-addressing hash table, sized by the number of
// distinct ids (not by N, so it stays in cache), gives each id a number in
// order of first appearance. The engine's gather_groups (lens/cpu/engine.hpp)
// then lays each group's members together with a counting sort.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace lens {
namespace cpu {

namespace detail {
/// splitmix64's finaliser: spreads sparse or sequential ids over the table.
inline std::uint64_t mix_id(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// A hint to fetch the cache line at p; the ids layout's random accesses to
/// per-group state are issued this many samples ahead so they overlap.
constexpr std::size_t prefetch_distance = 16;
inline void prefetch(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p);
#else
  (void)p;
#endif
}
}  // namespace detail

/// Each sample's dense group number and each group's id and size.
struct id_numbering {
  std::vector<std::int64_t> group;  ///< [N] dense group number of each sample
  std::vector<std::int64_t> ids;    ///< [num_groups] the id of each group
  std::vector<std::int64_t> sizes;  ///< [num_groups] samples in each group
  std::size_t num_groups() const { return ids.size(); }
};

inline id_numbering number_groups(const std::int64_t* ids, std::size_t num_samples) {
  // One slot holds the id beside its group number, so a probe touches one cache line.
  struct slot {
    std::int64_t id;
    std::int64_t group;  // -1: empty
  };
  id_numbering result;
  result.group.resize(num_samples);
  std::size_t capacity = 64;
  std::vector<slot> table(capacity, slot{0, -1});
  auto find = [&](std::int64_t id) -> slot& {
    std::uint64_t index = detail::mix_id(static_cast<std::uint64_t>(id)) & (capacity - 1);
    while (table[index].group >= 0 && table[index].id != id) index = (index + 1) & (capacity - 1);
    return table[index];
  };
  for (std::size_t i = 0; i < num_samples; ++i) {
    if (i + detail::prefetch_distance < num_samples)
      detail::prefetch(&table[detail::mix_id(static_cast<std::uint64_t>(ids[i + detail::prefetch_distance])) &
                              (capacity - 1)]);
    const std::int64_t id = ids[i];
    slot& s = find(id);
    std::int64_t g = s.group;
    if (g < 0) {
      g = static_cast<std::int64_t>(result.ids.size());
      s = slot{id, g};  // s is not used past a rehash
      result.ids.push_back(id);
      result.sizes.push_back(0);
      if (2 * result.ids.size() > capacity) {  // keep the load at most 1/2
        capacity *= 2;
        table.assign(capacity, slot{0, -1});
        for (std::size_t k = 0; k < result.ids.size(); ++k)
          find(result.ids[k]) = slot{result.ids[k], static_cast<std::int64_t>(k)};
      }
    }
    result.group[i] = g;
    ++result.sizes[static_cast<std::size_t>(g)];
  }
  return result;
}

}  // namespace cpu
}  // namespace lens
