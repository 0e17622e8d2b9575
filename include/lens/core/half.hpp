// lens/core/half.hpp: 16-bit floating-point storage types for the host, so
// float16 and bfloat16 log-probs (a trainer's bf16 model writes them) are read
// in place by the CPU backend without a framework's half type. They only
// convert to float (exactly: every float16 and bfloat16 value is a float) and
// from float (round to nearest even); the arithmetic is done in float/double by
// the code that reads them. On the device the backends use CUDA's __half and
// __nv_bfloat16, which have the same bits.
#pragma once

#include <cstdint>
#include <cstring>

namespace lens {
namespace detail {
inline float float_from_bits(std::uint32_t f) {
  float out;
  std::memcpy(&out, &f, sizeof out);
  return out;
}
inline std::uint32_t bits_from_float(float value) {
  std::uint32_t f;
  std::memcpy(&f, &value, sizeof f);
  return f;
}
}  // namespace detail

/// IEEE 754 binary16.
struct float16 {
  std::uint16_t bits = 0;

  float16() = default;
  explicit float16(float value) : bits(from_float(value)) {}
  operator float() const { return to_float(bits); }

  static float to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exponent = (h >> 10) & 0x1fu;
    std::uint32_t mantissa = h & 0x3ffu;
    std::uint32_t f;
    if (exponent == 0x1fu) {
      f = sign | 0x7f800000u | (mantissa << 13);  // inf or NaN
    } else if (exponent != 0) {
      f = sign | ((exponent + 112u) << 23) | (mantissa << 13);  // normal: rebias 15 -> 127
    } else if (mantissa == 0) {
      f = sign;  // signed zero
    } else {  // subnormal: normalise
      exponent = 113u;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        --exponent;
      }
      f = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
    }
    return detail::float_from_bits(f);
  }

  static std::uint16_t from_float(float value) {
    const std::uint32_t f = detail::bits_from_float(value);
    const std::uint16_t sign = static_cast<std::uint16_t>((f >> 16) & 0x8000u);
    const std::uint32_t exponent = (f >> 23) & 0xffu;
    std::uint32_t mantissa = f & 0x7fffffu;
    if (exponent == 0xffu) return sign | 0x7c00u | (mantissa ? 0x200u : 0u);  // inf, or a quiet NaN
    const int e = static_cast<int>(exponent) - 127 + 15;
    if (e >= 0x1f) return sign | 0x7c00u;  // overflow: inf
    if (e <= 0) {                          // subnormal or zero
      if (e < -10) return sign;
      mantissa |= 0x800000u;
      const int shift = 14 - e;
      std::uint32_t half = mantissa >> shift;
      const std::uint32_t rest = mantissa & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
      if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
      return static_cast<std::uint16_t>(sign | half);
    }
    std::uint32_t half = (static_cast<std::uint32_t>(e) << 10) | (mantissa >> 13);
    const std::uint32_t rest = mantissa & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // may carry into the exponent: correct
    return static_cast<std::uint16_t>(sign | half);
  }
};

/// bfloat16: the upper half of a float.
struct bfloat16 {
  std::uint16_t bits = 0;

  bfloat16() = default;
  explicit bfloat16(float value) : bits(from_float(value)) {}
  operator float() const { return detail::float_from_bits(static_cast<std::uint32_t>(bits) << 16); }

  static std::uint16_t from_float(float value) {
    std::uint32_t f = detail::bits_from_float(value);
    if ((f & 0x7f800000u) == 0x7f800000u && (f & 0x7fffffu)) return static_cast<std::uint16_t>((f >> 16) | 0x40u);
    f += 0x7fffu + ((f >> 16) & 1u);  // round to nearest even
    return static_cast<std::uint16_t>(f >> 16);
  }
};

static_assert(sizeof(float16) == 2 && sizeof(bfloat16) == 2, "16-bit storage");

}  // namespace lens
