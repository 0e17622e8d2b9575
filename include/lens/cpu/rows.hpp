// lens/cpu/rows.hpp: the token-level inner loops of the CPU backend, one pass
// over a row each. They are what bounds the token path, so float rows with a
// uint8_t mask (the common case) get SSE2 versions; every other type pair, and
// non-x86 targets, use the portable loops. Both give the same results up to the
// order of the double-precision summation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "lens/core/group_math.hpp"

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define LENS_CPU_SSE2 1
#endif

namespace lens {
namespace cpu {
namespace detail {

/// What the validating pass learns from one LENS row.
struct lens_row_scan {
  double sum = 0;           ///< sum of the unmasked log-probabilities, in double
  std::size_t count = 0;    ///< unmasked tokens (valid only when !bad_mask)
  bool bad_mask = false;    ///< some mask value is neither 0 nor 1
  bool unusual = false;     ///< some unmasked log-prob is not <= 0 (positive, NaN or +inf)
};

template <class Mask>
bool is_bad_mask(Mask m) {
  return (m != Mask(0)) & (m != Mask(1));
}

template <class Real, class Mask>
lens_row_scan scan_lens_row_portable(const Real* logprobs, const Mask* mask, std::size_t t) {
  lens_row_scan r;
  bool bad = false, unusual = false;
  for (std::size_t c = 0; c < t; ++c) {
    const bool on = mask[c] != Mask(0);
    const Real v = logprobs[c];
    bad |= is_bad_mask(mask[c]);
    r.count += on;
    unusual |= on & !(v <= Real(0));
    r.sum += on ? static_cast<double>(v) : 0.0;  // select, never multiply: masked junk may be NaN
  }
  r.bad_mask = bad;
  r.unusual = unusual;
  return r;
}

template <class Real>
double sum_row_portable(const Real* values, std::size_t t) {
  double sum = 0;
  for (std::size_t c = 0; c < t; ++c) sum += static_cast<double>(values[c]);
  return sum;
}

template <class Mask>
bool mask_row_ok(const Mask* mask, std::size_t t) {
  unsigned char bad = 0;  // not bool: GCC vectorises the OR reduction only on an integer
  for (std::size_t c = 0; c < t; ++c) bad |= is_bad_mask(mask[c]);
  return bad == 0;
}

#if defined(LENS_CPU_SSE2)
/// 16 tokens a step: the mask byte selects the log-prob (andnot, so NaN junk
/// under a 0 never reaches the sum), which is widened to double and summed in
/// four independent accumulators.
inline lens_row_scan scan_lens_row_sse2(const float* logprobs, const std::uint8_t* mask, std::size_t t) {
  const __m128i zero = _mm_setzero_si128(), one = _mm_set1_epi8(1);
  const __m128 fzero = _mm_setzero_ps();
  __m128i bad = zero, counts = zero;
  __m128 unusual = fzero;
  __m128d sum0 = _mm_setzero_pd(), sum1 = sum0, sum2 = sum0, sum3 = sum0;
  std::size_t c = 0;
  for (; c + 16 <= t; c += 16) {
    const __m128i m = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mask + c));
    bad = _mm_or_si128(bad, _mm_subs_epu8(m, one));    // nonzero where m > 1
    counts = _mm_add_epi64(counts, _mm_sad_epu8(m, zero));  // sum of the bytes
    const __m128i off8 = _mm_cmpeq_epi8(m, zero);
    const __m128i off16_lo = _mm_unpacklo_epi8(off8, off8), off16_hi = _mm_unpackhi_epi8(off8, off8);
    const __m128 off[4] = {_mm_castsi128_ps(_mm_unpacklo_epi16(off16_lo, off16_lo)),
                           _mm_castsi128_ps(_mm_unpackhi_epi16(off16_lo, off16_lo)),
                           _mm_castsi128_ps(_mm_unpacklo_epi16(off16_hi, off16_hi)),
                           _mm_castsi128_ps(_mm_unpackhi_epi16(off16_hi, off16_hi))};
    __m128 v[4];
    for (int q = 0; q < 4; ++q) {
      v[q] = _mm_loadu_ps(logprobs + c + 4 * q);
      unusual = _mm_or_ps(unusual, _mm_andnot_ps(off[q], _mm_cmpnle_ps(v[q], fzero)));
      v[q] = _mm_andnot_ps(off[q], v[q]);
    }
    sum0 = _mm_add_pd(sum0, _mm_cvtps_pd(v[0]));
    sum1 = _mm_add_pd(sum1, _mm_cvtps_pd(_mm_movehl_ps(v[0], v[0])));
    sum2 = _mm_add_pd(sum2, _mm_cvtps_pd(v[1]));
    sum3 = _mm_add_pd(sum3, _mm_cvtps_pd(_mm_movehl_ps(v[1], v[1])));
    sum0 = _mm_add_pd(sum0, _mm_cvtps_pd(v[2]));
    sum1 = _mm_add_pd(sum1, _mm_cvtps_pd(_mm_movehl_ps(v[2], v[2])));
    sum2 = _mm_add_pd(sum2, _mm_cvtps_pd(v[3]));
    sum3 = _mm_add_pd(sum3, _mm_cvtps_pd(_mm_movehl_ps(v[3], v[3])));
  }
  lens_row_scan r = scan_lens_row_portable(logprobs + c, mask + c, t - c);
  alignas(16) double sums[2];
  _mm_store_pd(sums, _mm_add_pd(_mm_add_pd(sum0, sum1), _mm_add_pd(sum2, sum3)));
  alignas(16) std::uint64_t count_lanes[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(count_lanes), counts);
  r.sum += sums[0] + sums[1];
  r.count += static_cast<std::size_t>(count_lanes[0] + count_lanes[1]);
  r.bad_mask |= _mm_movemask_epi8(_mm_cmpeq_epi8(bad, zero)) != 0xFFFF;
  r.unusual |= _mm_movemask_ps(unusual) != 0;
  return r;
}

inline double sum_row_sse2(const float* values, std::size_t t) {
  __m128d sum0 = _mm_setzero_pd(), sum1 = sum0, sum2 = sum0, sum3 = sum0;
  std::size_t c = 0;
  for (; c + 8 <= t; c += 8) {
    const __m128 a = _mm_loadu_ps(values + c), b = _mm_loadu_ps(values + c + 4);
    sum0 = _mm_add_pd(sum0, _mm_cvtps_pd(a));
    sum1 = _mm_add_pd(sum1, _mm_cvtps_pd(_mm_movehl_ps(a, a)));
    sum2 = _mm_add_pd(sum2, _mm_cvtps_pd(b));
    sum3 = _mm_add_pd(sum3, _mm_cvtps_pd(_mm_movehl_ps(b, b)));
  }
  alignas(16) double sums[2];
  _mm_store_pd(sums, _mm_add_pd(_mm_add_pd(sum0, sum1), _mm_add_pd(sum2, sum3)));
  return sums[0] + sums[1] + sum_row_portable(values + c, t - c);
}

/// One row of token advantages, out[c] = mask[c] * a, 16 tokens per step
/// (the mask is 0 or 1, checked at the boundary, so the product is
/// core::token_advantage's). Stream: non-temporal stores, for outputs far
/// larger than the caches, which the caller will not read back soon (they
/// save the read for ownership a normal store costs, a third of the row's
/// memory traffic); otherwise plain ones (GCC leaves the portable loop
/// scalar, a byte mask being free to alias the output: that loop was 60% of
/// a 512 x 4096 call).
template <bool Stream>
inline void broadcast_row_sse2(float* out, const std::uint8_t* mask, std::size_t t, float a) {
  std::size_t c = 0;
  for (; c < t && (reinterpret_cast<std::uintptr_t>(out + c) & 15) != 0; ++c) out[c] = static_cast<float>(mask[c]) * a;
  const __m128 scale = _mm_set1_ps(a);
  const __m128i zero = _mm_setzero_si128();
  auto put = [&](float* p, __m128 v) {
    if (Stream) _mm_stream_ps(p, v);
    else _mm_store_ps(p, v);
  };
  for (; c + 16 <= t; c += 16) {
    const __m128i m = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mask + c));
    const __m128i lo = _mm_unpacklo_epi8(m, zero), hi = _mm_unpackhi_epi8(m, zero);
    put(out + c, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, zero)), scale));
    put(out + c + 4, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, zero)), scale));
    put(out + c + 8, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, zero)), scale));
    put(out + c + 12, _mm_mul_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, zero)), scale));
  }
  for (; c < t; ++c) out[c] = static_cast<float>(mask[c]) * a;
}
#endif

template <class Real, class Mask>
lens_row_scan scan_lens_row(const Real* logprobs, const Mask* mask, std::size_t t) {
#if defined(LENS_CPU_SSE2)
  if constexpr (std::is_same<Real, float>::value && std::is_same<Mask, std::uint8_t>::value)
    return scan_lens_row_sse2(logprobs, mask, t);
#endif
  return scan_lens_row_portable(logprobs, mask, t);
}

/// Sum of a row in double (verl's score from token_level_rewards).
template <class Real>
double sum_row(const Real* values, std::size_t t) {
#if defined(LENS_CPU_SSE2)
  if constexpr (std::is_same<Real, float>::value) return sum_row_sse2(values, t);
#endif
  return sum_row_portable(values, t);
}

/// Outputs at least this large are written with non-temporal stores.
constexpr std::size_t streaming_store_bytes = std::size_t{16} << 20;

/// token_advantages = advantage * mask, row by row (core::token_advantage:
/// the product verl computes, -0.0 included; the SSE2 path multiplies too).
template <class Real, class Mask>
void broadcast_rows(Real* out, const Mask* mask, const Real* advantages, std::size_t n, std::size_t t) {
#if defined(LENS_CPU_SSE2)
  if constexpr (std::is_same<Real, float>::value && std::is_same<Mask, std::uint8_t>::value) {
    if (n * t * sizeof(float) >= streaming_store_bytes) {
      for (std::size_t i = 0; i < n; ++i) broadcast_row_sse2<true>(out + i * t, mask + i * t, t, advantages[i]);
      _mm_sfence();  // order the streaming stores before anything the caller does next
    } else {
      for (std::size_t i = 0; i < n; ++i) broadcast_row_sse2<false>(out + i * t, mask + i * t, t, advantages[i]);
    }
  } else  // an else, not a return: nvcc warns of an unreachable loop after one
#endif
  {
    for (std::size_t i = 0; i < n; ++i) {
      Real* row = out + i * t;
      const Mask* m = mask + i * t;
      const Real a = advantages[i];
      for (std::size_t c = 0; c < t; ++c) row[c] = core::token_advantage(a, m[c] != Mask(0));
    }
  }
}

}  // namespace detail
}  // namespace cpu
}  // namespace lens
