// lens/eigen.hpp: lens::as_span turns a contiguous Eigen object
// (Matrix, Array, Map, Ref, a contiguous block) into a lens::span over the
// same memory, without a copy. Strided views are refused.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <type_traits>

#include "lens/core/errors.hpp"
#include "lens/core/views.hpp"

namespace lens {
namespace detail {
template <class Derived>
void require_contiguous(const Eigen::DenseBase<Derived>& x) {
  const Derived& d = x.derived();
  const bool strided_inner = d.size() > 1 && d.innerStride() != 1;
  const bool strided_outer = d.outerSize() > 1 && d.outerStride() != d.innerSize();
  if (strided_inner || strided_outer)
    raise(error_code::size_mismatch, "as_span", -1, "the Eigen object is not contiguous; copy it or pass a Map");
}
}  // namespace detail

template <class Derived>
span<const typename Derived::Scalar> as_span(const Eigen::DenseBase<Derived>& x) {
  detail::require_contiguous(x);
  return {x.derived().data(), static_cast<std::size_t>(x.size())};
}

/// Non-const objects give a writable span, unless they map const memory.
template <class Derived>
auto as_span(Eigen::DenseBase<Derived>& x) -> span<std::remove_pointer_t<decltype(x.derived().data())>> {
  detail::require_contiguous(x);
  return {x.derived().data(), static_cast<std::size_t>(x.size())};
}

}  // namespace lens
