// lens/cpu/eigen_views.hpp: lens::as_span turns a contiguous Eigen object
// (Matrix, Array, Map, Ref, a contiguous block) into a lens::span over the
// same memory, without a copy.
#pragma once

#include <Eigen/Core>
#include <cstddef>

#include "lens/core/errors.hpp"
#include "lens/core/views.hpp"

namespace lens {

template <class Derived>
span<const typename Derived::Scalar> as_span(const Eigen::DenseBase<Derived>& x) {
  const Derived& d = x.derived();
  if (d.size() > 1 && d.innerStride() != 1) raise(error_code::size_mismatch, "as_span", -1, "Eigen object is not contiguous");
  if (d.outerSize() > 1 && d.outerStride() != d.innerSize())
    raise(error_code::size_mismatch, "as_span", -1, "Eigen object is not contiguous");
  return {d.data(), static_cast<std::size_t>(d.size())};
}

template <class Derived>
span<typename Derived::Scalar> as_span(Eigen::DenseBase<Derived>& x) {
  Derived& d = x.derived();
  if (d.size() > 1 && d.innerStride() != 1) raise(error_code::size_mismatch, "as_span", -1, "Eigen object is not contiguous");
  if (d.outerSize() > 1 && d.outerStride() != d.innerSize())
    raise(error_code::size_mismatch, "as_span", -1, "Eigen object is not contiguous");
  return {d.data(), static_cast<std::size_t>(d.size())};
}

}  // namespace lens
