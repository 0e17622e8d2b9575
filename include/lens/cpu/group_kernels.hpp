// lens/cpu/group_kernels.hpp: one group's steps of lens/core/group_math.hpp
// over its members laid out contiguously, four lanes at a time
// (lens/cpu/packet.hpp). The per-sample formulas are core's own
// (calibrated_reward, importance_term, scaled_advantage, instantiated for
// packets); what is written here is the order of the sums:
//   - member k goes to lane k % 4, the lanes are added in packet.hpp's fixed
//     tree, so every layout, instruction set and thread count gives the same bits;
//   - moments are two-pass: the mean from a compensated sum (TwoSum), then
//     M2 = sum(d^2) - (sum d)^2 / n with d = x - mean (the corrected two-pass
//     algorithm), which has no per-sample dependency chain and no cancellation
//     (a one-pass E[x^2] - E[x]^2 loses everything on a near-constant group);
//   - the log-sum-exp of D_imp takes the max first, then sums exp(term - max).
// Every function is always inlined into the pass that calls it, so it takes
// that pass's instruction set (lens/cpu/dispatch.hpp).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "lens/core/group_math.hpp"
#include "lens/cpu/packet.hpp"

namespace lens {
namespace cpu {
namespace detail {

/// A group's score moments and how many scores are above 0.
struct blocked_moments {
  core::score_moments moments;
  std::int64_t num_positive = 0;
};

/// Adds v to the lanes' compensated sums (Knuth's TwoSum, branch-free):
/// total holds the rounded sums, error exactly what each rounding lost, so
/// values of very different sizes that cancel (1e20, -1e20, 5) keep their
/// small parts.
LENS_CPU_INLINE void add_compensated(packet& total, packet& error, const packet& v) {
  const packet t = total + v;
  const packet z = t - total;
  error += (total - (t - z)) + (v - z);
  total = t;
}

/// The compensated sum of four lanes, in the fixed order 0, 2, 1, 3.
LENS_CPU_INLINE double compensated_sum(const packet& total, const packet& error) {
  double s = 0, c = 0;
  for (std::size_t j : {std::size_t{0}, std::size_t{2}, std::size_t{1}, std::size_t{3}}) {
    const double t = s + total.v[j];
    const double z = t - s;
    c += (s - (t - z)) + (total.v[j] - z);
    s = t;
  }
  return s + (c + sum(error));
}

/// Moments of x[0 .. n) (float or double) in the blocked order: the mean
/// from a compensated sum, then M2 from the deviations (corrected two-pass).
template <class S>
LENS_CPU_INLINE blocked_moments measure_scores(const S* x, std::size_t n) {
  blocked_moments r;
  if (n == 0) return r;
  const double x0 = static_cast<double>(x[0]);
  const packet zero = broadcast(0.0);
  packet total = zero, error = zero, low = broadcast(x0), high = low;
  lane_ints positive = {};
  std::size_t k = 0;
  for (; k + lanes <= n; k += lanes) {
    const packet v = load(x + k);
    add_compensated(total, error, v);
    low = min(low, v);
    high = max(high, v);
    count_into(positive, v > zero);
  }
  const std::size_t rest = n - k;
  if (rest) {
    const lane_mask valid = first_lanes(rest);
    const packet v = load_first(x + k, rest, x0);
    add_compensated(total, error, select(valid, v, zero));
    low = min(low, v);
    high = max(high, v);
    count_into(positive, (v > zero) & valid);
  }
  const double count = static_cast<double>(n);
  const double mean = compensated_sum(total, error) / count;
  const packet centre = broadcast(mean);
  packet deviation = zero, square = zero;
  for (k = 0; k + lanes <= n; k += lanes) {
    const packet d = load(x + k) - centre;
    deviation += d;
    square += d * d;
  }
  if (rest) {
    const packet d = load_first(x + k, rest, mean) - centre;  // 0 in the lanes past n
    deviation += d;
    square += d * d;
  }
  const double dsum = sum(deviation);
  const double m2 = sum(square) - dsum * dsum / count;
  r.moments.count = count;
  // A constant group's mean is its value, exactly (the compensated sum of n
  // equal values divided by n can be off by an ulp).
  r.moments.min = smallest(low);
  r.moments.max = largest(high);
  r.moments.mean = r.moments.min == r.moments.max ? r.moments.min : mean;
  r.moments.m2 = m2 > 0 ? m2 : 0.0;
  r.num_positive = total_of(positive);
  return r;
}

/// Step 1 of LENS over a group: scores r, log pbar c and log p (the
/// probability D_imp uses) of n members. terms: n doubles of scratch.
template <class S>
LENS_CPU_INLINE core::confidence_summary measure_confidence(const S* r, const double* c, const double* p,
                                                            std::size_t n, double* terms) {
  core::confidence_summary s;
  s.count = static_cast<double>(n);
  if (n == 0) return s;
  const packet zero = broadcast(0.0), one = broadcast(1.0), none = broadcast(-HUGE_VAL);
  packet top_confidence = none, top_term = none;
  lane_ints correct = {};
  auto step = [&](const packet& reward, const packet& log_conf, const packet& log_prob, const lane_mask& valid,
                  double* out) LENS_CPU_KERNEL {
    const lane_mask is_correct = (reward > zero) & valid;
    top_confidence = max(top_confidence, select(valid, log_conf, none));
    count_into(correct, is_correct);
    // Binary rewards (the common case) need no log: log 1 = 0.
    const packet term = any(is_correct & (reward != one)) ? core::importance_term(reward, log_prob) : zero - log_prob;
    store(out, term);
    top_term = max(top_term, select(is_correct, term, none));
  };
  std::size_t k = 0;
  for (; k + lanes <= n; k += lanes) step(load(r + k), load(c + k), load(p + k), first_lanes(lanes), terms + k);
  const std::size_t rest = n - k;
  double tail[lanes] = {};
  if (rest) step(load_first(r + k, rest, 0.0), load_first(c + k, rest, 0.0), load_first(p + k, rest, 0.0),
                 first_lanes(rest), tail);
  s.num_correct = static_cast<double>(total_of(correct));
  s.max_log_confidence = largest(top_confidence);
  if (s.num_correct == 0) return s;
  const double lse_max = largest(top_term);
  packet total = zero;
  for (k = 0; k + lanes <= n; k += lanes) {
    const lane_mask is_correct = load(r + k) > zero;
    total += select(is_correct, exp(load(terms + k) - lse_max), zero);
  }
  if (rest) {
    const lane_mask is_correct = (load_first(r + k, rest, 0.0) > zero) & first_lanes(rest);
    total += select(is_correct, exp(load(tail) - lse_max), zero);
  }
  s.lse_max = lse_max;
  s.lse_sum = sum(total);
  return s;
}

/// Step 2 of LENS where it calibrates: r~ of n members into out.
template <class S>
LENS_CPU_INLINE void calibrate(const S* r, const double* c, std::size_t n, const core::group_shape& shape,
                               double* out) {
  std::size_t k = 0;
  for (; k + lanes <= n; k += lanes)
    store(out + k, core::calibrated_reward(load(r + k), load(c + k), shape.log_difficulty, shape.weight));
  if (k < n)
    store_first(out + k, n - k,
                core::calibrated_reward(load_first(r + k, n - k, 0.0), load_first(c + k, n - k, 0.0),
                                        shape.log_difficulty, shape.weight));
}

/// Where step 3 writes: advantages of a group's members, contiguous from out.
template <class Out>
struct contiguous_sink {
  Out* out;
  LENS_CPU_INLINE void put(std::size_t k, const packet& a) const { store(out + k, a); }
  LENS_CPU_INLINE void put_first(std::size_t k, std::size_t count, const packet& a) const {
    store_first(out + k, count, a);
  }
  LENS_CPU_INLINE void zero(std::size_t n) const {
    for (std::size_t k = 0; k < n; ++k) out[k] = Out(0);
  }
};

/// ... or scattered: member k is sample order[k] of the caller's buffer.
template <class Out>
struct scatter_sink {
  Out* out;
  const std::int64_t* order;
  LENS_CPU_INLINE void put_first(std::size_t k, std::size_t count, const packet& a) const {
    for (std::size_t j = 0; j < count; ++j) out[order[k + j]] = static_cast<Out>(a.v[j]);
  }
  LENS_CPU_INLINE void put(std::size_t k, const packet& a) const { put_first(k, lanes, a); }
  LENS_CPU_INLINE void zero(std::size_t n) const {
    for (std::size_t k = 0; k < n; ++k) out[order[k]] = Out(0);
  }
};

/// Step 3 over a group: (x - centre) * scale for its n members, or exactly 0.
/// Returns how many advantages are nonzero in Out.
template <class Out, class X, class Sink>
LENS_CPU_INLINE std::int64_t write_group(const X* x, std::size_t n, const core::group_transform& t, const Sink& sink) {
  if (t.zero) {
    sink.zero(n);
    return 0;
  }
  const Out* as_out = nullptr;  // selects the precision of the nonzero test
  lane_ints nonzero = {};
  std::size_t k = 0;
  for (; k + lanes <= n; k += lanes) {
    const packet a = core::scaled_advantage(t, load(x + k));
    sink.put(k, a);
    count_into(nonzero, nonzero_as(a, as_out));
  }
  if (k < n) {
    const packet a = core::scaled_advantage(t, load_first(x + k, n - k, t.centre));
    sink.put_first(k, n - k, a);
    count_into(nonzero, nonzero_as(a, as_out) & first_lanes(n - k));
  }
  return total_of(nonzero);
}

}  // namespace detail
}  // namespace cpu
}  // namespace lens
