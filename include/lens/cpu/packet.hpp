// lens/cpu/packet.hpp: four doubles the CPU engine computes on at once, with
// the exp and log its LENS path needs. The width is part of the algorithm,
// not of the instruction set: a group's sums are split into four lanes
// (member k goes to lane k % 4) and the lanes are added in one fixed tree, so
// SSE2, AVX2 and AVX-512 builds, and the run-time AVX2 path of a default build
// (lens/cpu/dispatch.hpp), give the same bits (up to the fused multiply-adds
// a -march build may contract). Four, not eight: GCC lowers vectors wider
// than the machine's registers badly (an eight-lane packet ran 3x slower
// under AVX2, its compares done lane by lane), and four is one AVX2 register. GCC and Clang vector extensions
// (nvcc's host pass accepts them too); every function is always inlined, so a
// caller compiled for AVX2 gets AVX2 code.
//
// Accuracy (tests/core/test_packet.cpp measures it against libm over the whole
// range): exp within 1 ulp, log within 2 ulp, both with IEEE special values
// (NaN in, NaN out; exp overflows to +inf and underflows to 0; log(0) = -inf,
// log of a negative number is NaN).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if !(defined(__GNUC__) || defined(__clang__))
#error "lens's CPU engine needs GCC or Clang vector extensions (g++, clang++, or nvcc's host pass over one of them)"
#endif

#if !defined(LENS_CPU_PLAIN_INLINE)
#define LENS_CPU_INLINE inline __attribute__((always_inline))
/// Marks a lambda that runs kernels (lens/cpu/dispatch.hpp): always inlined,
/// so it takes the instruction set of the function it is called from.
#define LENS_CPU_KERNEL __attribute__((always_inline))
#else
// LENS_CPU_PLAIN_INLINE, for unoptimised test builds (the sanitizer stage):
// nothing inlined by force, and lens/cpu/dispatch.hpp keeps the build's
// instruction set. At -O0 forced inlining copied every kernel into every
// caller, generic and AVX2, so one test file compiled to 42 MB of code in 7
// minutes. Not the default: an out-of-line packet function takes the vector
// ABI of its translation unit's -m flags, so a program linking translation
// units built with different ones could call a copy of the other ABI.
#define LENS_CPU_INLINE inline
#define LENS_CPU_KERNEL
#endif

// Packets are passed by reference and every function is inlined, so no vector
// crosses a call; GCC and Clang still warn (-Wpsabi) that returning one would
// change the ABI between targets. The warning comes when the translation unit
// ends, so it stays off from here on (it concerns nothing but such vectors).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace lens {
namespace cpu {
namespace detail {

constexpr std::size_t lanes = 4;

typedef double lane_doubles __attribute__((vector_size(32)));
typedef std::int64_t lane_ints __attribute__((vector_size(32)));
typedef std::uint64_t lane_words __attribute__((vector_size(32)));
typedef float lane_floats __attribute__((vector_size(16)));

/// Four doubles. Arithmetic is lane by lane, IEEE double, no reassociation.
struct packet {
  lane_doubles v;
};
/// Four lane flags (all bits set or clear), from comparisons.
struct lane_mask {
  lane_ints m;
};

LENS_CPU_INLINE packet broadcast(double x) {
  packet p;
  p.v = lane_doubles{} + x;
  return p;
}
// A C-style cast between vector types of one size reinterprets the bits.
LENS_CPU_INLINE lane_ints bits(const packet& a) { return (lane_ints)a.v; }
LENS_CPU_INLINE packet from_bits(const lane_ints& b) {
  packet p;
  p.v = (lane_doubles)b;
  return p;
}

LENS_CPU_INLINE packet operator+(const packet& a, const packet& b) { return {a.v + b.v}; }
LENS_CPU_INLINE packet operator-(const packet& a, const packet& b) { return {a.v - b.v}; }
LENS_CPU_INLINE packet operator*(const packet& a, const packet& b) { return {a.v * b.v}; }
LENS_CPU_INLINE packet operator/(const packet& a, const packet& b) { return {a.v / b.v}; }
LENS_CPU_INLINE packet operator+(const packet& a, double b) { return {a.v + b}; }
LENS_CPU_INLINE packet operator-(const packet& a, double b) { return {a.v - b}; }
LENS_CPU_INLINE packet operator*(const packet& a, double b) { return {a.v * b}; }
LENS_CPU_INLINE packet operator/(const packet& a, double b) { return {a.v / b}; }
LENS_CPU_INLINE packet operator+(double a, const packet& b) { return {a + b.v}; }
LENS_CPU_INLINE packet operator-(double a, const packet& b) { return {a - b.v}; }
LENS_CPU_INLINE packet operator*(double a, const packet& b) { return {a * b.v}; }
LENS_CPU_INLINE packet operator/(double a, const packet& b) { return {a / b.v}; }
LENS_CPU_INLINE packet& operator+=(packet& a, const packet& b) { return a = a + b; }

LENS_CPU_INLINE lane_mask operator<(const packet& a, const packet& b) { return {a.v < b.v}; }
LENS_CPU_INLINE lane_mask operator>(const packet& a, const packet& b) { return {a.v > b.v}; }
LENS_CPU_INLINE lane_mask operator<=(const packet& a, const packet& b) { return {a.v <= b.v}; }
LENS_CPU_INLINE lane_mask operator>=(const packet& a, const packet& b) { return {a.v >= b.v}; }
LENS_CPU_INLINE lane_mask operator!=(const packet& a, const packet& b) { return {a.v != b.v}; }
LENS_CPU_INLINE lane_mask operator==(const packet& a, const packet& b) { return {a.v == b.v}; }
LENS_CPU_INLINE lane_mask operator&(const lane_mask& a, const lane_mask& b) { return {a.m & b.m}; }
LENS_CPU_INLINE lane_mask operator|(const lane_mask& a, const lane_mask& b) { return {a.m | b.m}; }
LENS_CPU_INLINE lane_mask operator~(const lane_mask& a) { return {~a.m}; }

/// a where the mask is set, b elsewhere.
// The vector ?: is one blend (minpd / maxpd for min and max), where the bit
// operations are three instructions; nvcc's front end does not take it.
#if defined(__CUDACC__)
LENS_CPU_INLINE packet select(const lane_mask& m, const packet& a, const packet& b) { return from_bits((m.m & bits(a)) | (~m.m & bits(b))); }
#else
LENS_CPU_INLINE packet select(const lane_mask& m, const packet& a, const packet& b) { return {m.m ? a.v : b.v}; }
#endif
/// a < b ? a : b and a > b ? a : b per lane, as core's scalar code writes them.
LENS_CPU_INLINE packet min(const packet& a, const packet& b) { return select(a < b, a, b); }
LENS_CPU_INLINE packet max(const packet& a, const packet& b) { return select(a > b, a, b); }
/// core::at_most_zero per lane (found by argument-dependent lookup).
LENS_CPU_INLINE packet at_most_zero(const packet& x) { return select(x < broadcast(0.0), x, broadcast(0.0)); }
/// core::at_least_zero and core::larger per lane.
LENS_CPU_INLINE packet at_least_zero(const packet& x) { return select(x > broadcast(0.0), x, broadcast(0.0)); }
LENS_CPU_INLINE packet larger(const packet& a, const packet& b) { return max(a, b); }
/// |x|: the sign bit cleared, as fabs does.
LENS_CPU_INLINE packet fabs(const packet& x) { return from_bits(bits(x) & (lane_ints{} + INT64_MAX)); }
/// The correctly rounded square root of each lane, as sqrt: two SSE2
/// sqrtpd on x86-64 (part of its base instruction set, so every dispatched
/// pass has it; a libm sqrt per lane checks errno), elsewhere lane by lane.
LENS_CPU_INLINE packet sqrt(const packet& x) {
#if defined(__SSE2__) && !defined(__CUDACC__)
  typedef double pair __attribute__((vector_size(16)));
  const pair low = __builtin_ia32_sqrtpd(pair{x.v[0], x.v[1]});
  const pair high = __builtin_ia32_sqrtpd(pair{x.v[2], x.v[3]});
  return {lane_doubles{low[0], low[1], high[0], high[1]}};
#else
  return {lane_doubles{__builtin_sqrt(x.v[0]), __builtin_sqrt(x.v[1]), __builtin_sqrt(x.v[2]), __builtin_sqrt(x.v[3])}};
#endif
}
/// Lanes that hold neither an infinity nor NaN (x - x is 0 exactly there).
LENS_CPU_INLINE lane_mask finite(const packet& x) { return (x - x) == broadcast(0.0); }

LENS_CPU_INLINE bool any(const lane_mask& m) {
  std::int64_t r = 0;
  for (std::size_t j = 0; j < lanes; ++j) r |= m.m[j];
  return r != 0;
}
/// Adds 1 to count's lanes where m is set.
LENS_CPU_INLINE void count_into(lane_ints& count, const lane_mask& m) { count -= m.m; }
LENS_CPU_INLINE std::int64_t total_of(const lane_ints& c) {
  std::int64_t r = 0;
  for (std::size_t j = 0; j < lanes; ++j) r += c[j];
  return r;
}
/// Every lane where on, none where not (a function, not an expression in a
/// lambda: nvcc's host pass fails on a vector constant there).
LENS_CPU_INLINE lane_mask every_lane(bool on) { return {lane_ints{} - (on ? 1 : 0)}; }
/// The first k lanes.
LENS_CPU_INLINE lane_mask first_lanes(std::size_t k) {
  const lane_ints index = {0, 1, 2, 3};
  return {index < static_cast<std::int64_t>(k)};
}

/// The fixed reduction tree: (0+2) + (1+3).
LENS_CPU_INLINE double sum(const packet& a) { return (a.v[0] + a.v[2]) + (a.v[1] + a.v[3]); }
LENS_CPU_INLINE double smallest(const packet& a) {
  double r = a.v[0];
  for (std::size_t j = 1; j < lanes; ++j) r = a.v[j] < r ? a.v[j] : r;
  return r;
}
LENS_CPU_INLINE double largest(const packet& a) {
  double r = a.v[0];
  for (std::size_t j = 1; j < lanes; ++j) r = a.v[j] > r ? a.v[j] : r;
  return r;
}

// ------------------------------------------------------------------ loads and stores

LENS_CPU_INLINE packet load(const double* p) {
  packet r;
  std::memcpy(&r.v, p, sizeof r.v);
  return r;
}
/// Four floats widened, written lane by lane: GCC 12 lowers
/// __builtin_convertvector(float x 4 -> double x 4) as two halves through the
/// stack even under AVX2, where this is one vcvtps2pd.
LENS_CPU_INLINE packet load(const float* p) {
  lane_floats f;
  std::memcpy(&f, p, sizeof f);
  return {lane_doubles{static_cast<double>(f[0]), static_cast<double>(f[1]), static_cast<double>(f[2]),
                       static_cast<double>(f[3])}};
}
/// Four non-negative integers (sample lengths) as doubles, rounded as a cast
/// rounds them: the high and the low 32 bits become the mantissas of 2^84
/// and of 2^52, and one rounding adds the two (a cast is lane by lane
/// before AVX-512).
LENS_CPU_INLINE packet load(const std::int64_t* p) {
  lane_words u;
  std::memcpy(&u, p, sizeof u);
  const lane_words high = (u >> 32) | 0x4530000000000000ULL;
  const lane_words low = (u & 0xffffffffULL) | 0x4330000000000000ULL;
  return (from_bits((lane_ints)high) - 0x1.00000001p84) + from_bits((lane_ints)low);
}
/// The first k < lanes values, the other lanes set to fill.
template <class T>
LENS_CPU_INLINE packet load_first(const T* p, std::size_t k, double fill) {
  double tmp[lanes];
  for (std::size_t j = 0; j < lanes; ++j) tmp[j] = j < k ? static_cast<double>(p[j]) : fill;
  return load(tmp);
}
LENS_CPU_INLINE void store(double* p, const packet& a) { std::memcpy(p, &a.v, sizeof a.v); }
LENS_CPU_INLINE void store(float* p, const packet& a) {
  const lane_floats f = __builtin_convertvector(a.v, lane_floats);
  std::memcpy(p, &f, sizeof f);
}
template <class T>
LENS_CPU_INLINE void store_first(T* p, std::size_t k, const packet& a) {
  for (std::size_t j = 0; j < k; ++j) p[j] = static_cast<T>(a.v[j]);
}

/// Per-lane counts of a group's nonzero advantages, 32 bits each: a float
/// compare's flags are 32 bits wide, and widening them to 64 at every packet
/// cost a third of the write pass. (A group has far fewer than 2^31 members
/// per lane; its counts are added to 64-bit ones once per group.)
typedef std::int32_t lane_counts __attribute__((vector_size(16)));
LENS_CPU_INLINE void count_nonzero(lane_counts& count, const packet& a, const float*) {
  count -= __builtin_convertvector(a.v, lane_floats) != lane_floats{};
}
LENS_CPU_INLINE void count_nonzero(lane_counts& count, const packet& a, const double*) {
  count -= __builtin_convertvector(a.v != lane_doubles{}, lane_counts);
}
/// (Lane by lane, as load(const float*): GCC 12 splits a widening
/// __builtin_convertvector in halves, where this is one vpmovsxdq.)
LENS_CPU_INLINE lane_ints widen(const lane_counts& count) { return lane_ints{count[0], count[1], count[2], count[3]}; }

/// The lanes a store of Out would write as nonzero: a compare in Out's own
/// precision (a double that rounds to a float 0 is a zero float).
LENS_CPU_INLINE lane_mask nonzero_as(const packet& a, const double*) { return a != broadcast(0.0); }
LENS_CPU_INLINE lane_mask nonzero_as(const packet& a, const float*) {
  const lane_floats f = __builtin_convertvector(a.v, lane_floats);
  return {widen(f != lane_floats{})};
}

// ------------------------------------------------------------------ exp and log

/// e^x: x = k ln2 + r with |r| <= ln2/2 (Cody and Waite's two-part ln2, so
/// k ln2_hi is exact), e^r by its Taylor polynomial of degree 13 (truncation
/// below 5e-18 relative), times 2^k built in the exponent bits, in two
/// factors so k down to -1075 (subnormal results) stays in range.
/// Below this, exp is 0 (half the smallest subnormal rounds to 0).
constexpr double exp_underflow = -745.1332191019412;

LENS_CPU_INLINE packet exp(const packet& x) {
  const double overflow = 709.782712893384, underflow = exp_underflow;
  const double log2e = 1.4426950408889634, ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  // A lane that underflows is computed as exp(0) and set to 0 below: computed
  // at the bound, its subnormal result would cost a microcode assist (about
  // 100 cycles, a third of LENS's time where most D_imp terms underflow).
  const packet xc = select(x < broadcast(underflow), broadcast(0.0), min(x, broadcast(overflow)));
  const packet t = xc * log2e + shifter;
  const packet k = t - shifter;
  const packet r = (xc - k * ln2_hi) - k * ln2_lo;
  // The polynomial in Estrin's form, not Horner's: a chain of about 8 operations
  // instead of 26, so the samples of a loop overlap (Horner's chain was the
  // bound). The 1 is added last, to a sum that is accurate relative to itself.
  const packet r2 = r * r, r4 = r2 * r2;
  const packet c23 = 0.5 + r * (1.0 / 6.0);
  const packet c45 = 1.0 / 24.0 + r * (1.0 / 120.0), c67 = 1.0 / 720.0 + r * (1.0 / 5040.0);
  const packet c89 = 1.0 / 40320.0 + r * (1.0 / 362880.0), c1011 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
  const packet c1213 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
  const packet c4_7 = c45 + r2 * c67, c8_13 = (c89 + r2 * c1011) + r4 * c1213;
  const packet c2_13 = c23 + r2 * (c4_7 + r4 * c8_13);
  const packet p = 1.0 + (r + r2 * c2_13);
  const lane_ints ki = bits(t) - bits(broadcast(shifter));
  const lane_ints k1 = ki >> 1, k2 = ki - k1;
  packet y = p * from_bits((k1 + 1023) << 52) * from_bits((k2 + 1023) << 52);
  y = select(x > broadcast(overflow), broadcast(HUGE_VAL), y);
  y = select(x < broadcast(underflow), broadcast(0.0), y);
  return select(x != x, x, y);
}

/// log x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s) with
/// s = (m - 1)/(m + 1), |s| <= 0.1716, by its series to s^21; e ln2 added in
/// two parts. Subnormal x is scaled by 2^54 first.
LENS_CPU_INLINE packet log(const packet& x) {
  const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  const lane_mask subnormal = x < broadcast(2.2250738585072014e-308);
  const packet xs = select(subnormal, x * 18014398509481984.0, x);  // 2^54
  const lane_ints b = bits(xs);
  const lane_ints e_raw = ((b >> 52) & 0x7ff) - 1023;
  packet m = from_bits((b & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);  // [1, 2)
  const lane_mask high = m > broadcast(1.4142135623730951);
  m = select(high, m * 0.5, m);
  // The exponent as a double through 1.5 * 2^52, exactly (|e_raw| < 2^51):
  // AVX2 has no 64-bit integer to double conversion, so a cast goes lane by lane.
  const packet e = from_bits(e_raw + bits(broadcast(6755399441055744.0))) - 6755399441055744.0;
  const packet exponent = e + select(high, broadcast(1.0), broadcast(0.0)) - select(subnormal, broadcast(54.0), broadcast(0.0));
  const packet f = m - 1.0;
  const packet s = f / (f + 2.0);
  const packet z = s * s;
  // Estrin's form, as in exp: a short dependency chain.
  const packet z2 = z * z, z4 = z2 * z2;
  const packet q01 = 1.0 / 3.0 + z * (1.0 / 5.0), q23 = 1.0 / 7.0 + z * (1.0 / 9.0);
  const packet q45 = 1.0 / 11.0 + z * (1.0 / 13.0), q67 = 1.0 / 15.0 + z * (1.0 / 17.0);
  const packet q89 = 1.0 / 19.0 + z * (1.0 / 21.0);
  const packet q = (q01 + z2 * q23) + z4 * ((q45 + z2 * q67) + z4 * q89);
  const packet two_s = s + s;
  const packet log_m = two_s + two_s * z * q;
  packet y = exponent * ln2_hi + (log_m + exponent * ln2_lo);
  y = select(x == broadcast(HUGE_VAL), x, y);
  y = select(x == broadcast(0.0), broadcast(-HUGE_VAL), y);
  y = select(x < broadcast(0.0), broadcast(__builtin_nan("")), y);
  return select(x != x, x, y);
}

}  // namespace detail
}  // namespace cpu
}  // namespace lens
