// lens/cuda/host_checks.hpp: the boundary checks the device path can make on
// the host (settings, sizes, null pointers, a fixed group size), with the CPU
// backend's messages. Values in device memory are checked on the device
// (lens/cuda/samples.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lens/core/errors.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/validate.hpp"
#include "lens/core/views.hpp"

namespace lens {
namespace cuda {
namespace detail {

template <class Real, class Out>
void check_sequence_shapes(const sequence_inputs<Real>& in, const advantage_settings& settings, span<Out> advantages) {
  core::validate_settings(settings);
  core::validate_sequence_shapes(in, settings, advantages);
}

template <class Real, class Mask, class Out>
void check_token_shapes(const token_inputs<Real, Mask>& in, const advantage_settings& settings, span<Out> advantages,
                        span<Out> token_advantages) {
  core::validate_settings(settings);
  core::validate_token_shapes(in, settings, advantages, token_advantages);
}

/// What the host knows of a layout before any device work: the number of
/// groups where it is known (fixed, offsets), or none (ids: found on the device).
inline std::size_t check_layout(const fixed_groups& layout, std::size_t num_samples) {
  return core::validate_layout(layout, num_samples);
}

/// Offsets live on the device: only their count is checked here; their values
/// are checked on the device (check_offset).
inline std::size_t check_layout(const offset_groups& layout, std::size_t) {
  if (layout.offsets.empty() || layout.offsets.data() == nullptr)
    raise(error_code::bad_offsets, "groups.offsets", -1, "needs num_groups + 1 >= 1 entries");
  return layout.offsets.size() - 1;
}

inline std::size_t check_layout(const id_groups& layout, std::size_t num_samples) {
  core::validate_layout(layout, num_samples);
  return 0;
}

}  // namespace detail
}  // namespace cuda
}  // namespace lens
