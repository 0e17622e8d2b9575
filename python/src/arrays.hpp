// python/src/arrays.hpp: the binding's view of DLPack arrays (torch tensors,
// numpy arrays, anything with __dlpack__). Each argument is checked once,
// here, with a message that names it; what passes is handed to the C++
// backends as raw pointers, never copied.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "lens/core/errors.hpp"
#include "lens/core/half.hpp"
#include "lens/core/outputs.hpp"

namespace lens_python {

namespace nb = nanobind;

/// Inputs are read only; outputs are written in place.
using input_array = nb::ndarray<nb::ro>;
using output_array = nb::ndarray<>;

/// The element types lens reads, as DLPack describes them.
enum class element { f16, bf16, f32, f64, boolean, u8, i32, i64, other };

inline element element_of(nb::dlpack::dtype t) {
  using code = nb::dlpack::dtype_code;
  if (t.lanes != 1) return element::other;
  const auto c = static_cast<code>(t.code);
  if (c == code::Float && t.bits == 16) return element::f16;
  if (c == code::Bfloat && t.bits == 16) return element::bf16;
  if (c == code::Float && t.bits == 32) return element::f32;
  if (c == code::Float && t.bits == 64) return element::f64;
  if (c == code::Bool && t.bits == 8) return element::boolean;
  if (c == code::UInt && t.bits == 8) return element::u8;
  if (c == code::Int && t.bits == 32) return element::i32;
  if (c == code::Int && t.bits == 64) return element::i64;
  return element::other;
}

inline const char* element_name(element e) {
  switch (e) {
    case element::f16: return "float16";
    case element::bf16: return "bfloat16";
    case element::f32: return "float32";
    case element::f64: return "float64";
    case element::boolean: return "bool";
    case element::u8: return "uint8";
    case element::i32: return "int32";
    case element::i64: return "int64";
    case element::other: break;
  }
  return "an unsupported dtype";
}

[[noreturn]] inline void reject(const std::string& argument, const std::string& what) {
  throw lens::invalid_argument("lens: " + argument + " " + what);
}

template <class Array>
std::string describe_shape(const Array& a) {
  std::string s = "(";
  for (std::size_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

/// Row-major contiguity (strides in elements, as DLPack gives them); size-1
/// dimensions may carry any stride.
template <class Array>
bool is_contiguous(const Array& a) {
  std::int64_t expected = 1;
  for (std::size_t d = a.ndim(); d-- > 0;) {
    if (a.shape(d) != 1 && a.stride(d) != expected) return false;
    expected *= static_cast<std::int64_t>(a.shape(d));
  }
  return true;
}

/// The checks every array argument passes: on the CPU, contiguous, the
/// expected number of dimensions, and one of the accepted element types.
template <class Array>
element check_array(const Array& a, const char* argument, std::size_t ndim, const char* accepted,
                    bool (*accepts)(element)) {
  if (a.device_type() != nb::device::cpu::value)
    reject(argument, "is not in host memory (DLPack device type " + std::to_string(a.device_type()) +
                         "); this build of lens runs on the CPU: move it with .cpu()");
  if (a.ndim() != ndim)
    reject(argument, "has shape " + describe_shape(a) + " but must have " + std::to_string(ndim) +
                         (ndim == 1 ? " dimension" : " dimensions"));
  const element e = element_of(a.dtype());
  if (!accepts(e)) reject(argument, std::string("has dtype ") + element_name(e) + "; lens accepts " + accepted);
  if (!is_contiguous(a))
    reject(argument, "has shape " + describe_shape(a) +
                         " but is not contiguous; lens reads it in place without copying: pass .contiguous()");
  return e;
}

template <class Array>
void check_length(const Array& a, const char* argument, std::size_t dim, std::size_t expected, const char* meaning) {
  if (a.shape(dim) != expected)
    reject(argument, "has shape " + describe_shape(a) + " but its dimension " + std::to_string(dim) + " must be " +
                         std::to_string(expected) + " (" + meaning + ")");
}

inline bool is_real(element e) { return e == element::f32 || e == element::f64; }
inline bool is_logprob(element e) {
  return e == element::f32 || e == element::f64 || e == element::f16 || e == element::bf16;
}
inline bool is_mask(element e) {
  return e == element::boolean || e == element::u8 || e == element::i32 || e == element::i64 || e == element::f32 ||
         e == element::f64;
}
inline bool is_int64(element e) { return e == element::i64; }

template <class T>
struct tag {
  using type = T;
};

/// Calls work(tag<T>{}) with the C++ type of a real element (f32 or f64).
template <class Work>
decltype(auto) with_real(element e, Work&& work) {
  if (e == element::f64) return work(tag<double>{});
  return work(tag<float>{});
}

/// Calls work(tag<LogProb>{}) with the C++ type of a log-prob element: the
/// rewards' type, or a 16-bit type (lens/core/half.hpp) a bf16 or fp16 model writes.
template <class Work>
decltype(auto) with_logprob(element e, Work&& work) {
  switch (e) {
    case element::f16: return work(tag<lens::float16>{});
    case element::bf16: return work(tag<lens::bfloat16>{});
    case element::f64: return work(tag<double>{});
    default: return work(tag<float>{});
  }
}

/// Calls work(tag<Mask>{}) with the C++ type of a mask element.
template <class Work>
decltype(auto) with_mask(element e, Work&& work) {
  switch (e) {
    case element::boolean: return work(tag<bool>{});
    case element::u8: return work(tag<std::uint8_t>{});
    case element::i32: return work(tag<std::int32_t>{});
    case element::i64: return work(tag<std::int64_t>{});
    case element::f32: return work(tag<float>{});
    default: return work(tag<double>{});
  }
}

template <class T, class Array>
const T* data_of(const Array& a) {
  return static_cast<const T*>(a.data());
}

template <class T>
T* mutable_data_of(const output_array& a) {
  return static_cast<T*>(a.data());
}

/// The batch summary as 7 float64 numbers, in the order of summary_fields
/// (a numpy array: one allocation, no dict).
inline constexpr const char* summary_fields[7] = {"num_samples",           "num_groups",
                                           "num_negative_groups",   "num_zero_variance_groups",
                                           "num_nonzero_advantages", "negative_group_fraction",
                                           "gradient_sample_fraction"};
inline nb::ndarray<nb::numpy, double, nb::ndim<1>> summary_array(const lens::batch_summary& s) {
  double* values = new double[7]{double(s.num_samples),
                                 double(s.num_groups),
                                 double(s.num_negative_groups),
                                 double(s.num_zero_variance_groups),
                                 double(s.num_nonzero_advantages),
                                 s.negative_group_fraction,
                                 s.gradient_sample_fraction};
  nb::capsule owner(values, [](void* p) noexcept { delete[] static_cast<double*>(p); });
  return nb::ndarray<nb::numpy, double, nb::ndim<1>>(values, {7}, owner);
}

}  // namespace lens_python
