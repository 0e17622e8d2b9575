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
#include <initializer_list>

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

/// Four groups' moments, group q in lane q (measure_tile). No count of
/// positive scores: a group has one exactly when its max is above 0.
struct tile_moments {
  packet mean, m2, min, max;
};

// Two-source lane shuffles: lane j of the result is lane i_j of (a, b)
// read as one vector of eight. nvcc's front end takes neither builtin, so
// its host pass builds the vector lane by lane (its tests run the engine, not
// its speed).
#if defined(__CUDACC__)
#define LENS_CPU_SHUFFLE(V, a, b, i0, i1, i2, i3) \
  (V{lane_of(a, b, i0), lane_of(a, b, i1), lane_of(a, b, i2), lane_of(a, b, i3)})
template <class V>
LENS_CPU_INLINE auto lane_of(const V& a, const V& b, int i) -> decltype(a[0]) {
  return i < 4 ? a[i] : b[i - 4];
}
#elif defined(__clang__)
#define LENS_CPU_SHUFFLE(V, a, b, i0, i1, i2, i3) __builtin_shufflevector(a, b, i0, i1, i2, i3)
#else
#define LENS_CPU_SHUFFLE(V, a, b, i0, i1, i2, i3) __builtin_shuffle(a, b, shuffle_mask<V>{i0, i1, i2, i3})
#endif

template <class V> struct shuffle_mask_of;
template <> struct shuffle_mask_of<lane_doubles> { typedef std::int64_t type __attribute__((vector_size(32))); };
template <class V> using shuffle_mask = typename shuffle_mask_of<V>::type;

/// Rows r0..r3 (one group each) turned into columns c0..c3 (one member
/// each): lane q of c_j is lane j of r_q. Unpacks within 128-bit halves,
/// then half swaps (AVX's 4 x 4 transpose).
LENS_CPU_INLINE void transpose(const lane_doubles& r0, const lane_doubles& r1, const lane_doubles& r2,
                               const lane_doubles& r3, lane_doubles& c0, lane_doubles& c1, lane_doubles& c2,
                               lane_doubles& c3) {
  const lane_doubles t0 = LENS_CPU_SHUFFLE(lane_doubles, r0, r1, 0, 4, 2, 6);
  const lane_doubles t1 = LENS_CPU_SHUFFLE(lane_doubles, r0, r1, 1, 5, 3, 7);
  const lane_doubles t2 = LENS_CPU_SHUFFLE(lane_doubles, r2, r3, 0, 4, 2, 6);
  const lane_doubles t3 = LENS_CPU_SHUFFLE(lane_doubles, r2, r3, 1, 5, 3, 7);
  c0 = LENS_CPU_SHUFFLE(lane_doubles, t0, t2, 0, 1, 4, 5);
  c1 = LENS_CPU_SHUFFLE(lane_doubles, t1, t3, 0, 1, 4, 5);
  c2 = LENS_CPU_SHUFFLE(lane_doubles, t0, t2, 2, 3, 6, 7);
  c3 = LENS_CPU_SHUFFLE(lane_doubles, t1, t3, 2, 3, 6, 7);
}

/// Members [k, k + lanes) of the four groups x + q n (q = 0..3), one group
/// per lane: c0 holds member k of each group, c1 member k + 1, ... (Floats
/// are widened first: GCC splits a widening of shuffled floats in halves.)
template <class S>
LENS_CPU_INLINE void load_columns(const S* x, std::size_t n, std::size_t k, packet& c0, packet& c1, packet& c2,
                                  packet& c3) {
  transpose(load(x + k).v, load(x + n + k).v, load(x + 2 * n + k).v, load(x + 3 * n + k).v, c0.v, c1.v, c2.v, c3.v);
}

/// ... the last count < lanes members of each group, the lanes past its end 0.
template <class S>
LENS_CPU_INLINE void load_last_columns(const S* x, std::size_t n, std::size_t k, std::size_t count, packet& c0,
                                       packet& c1, packet& c2, packet& c3) {
  transpose(load_first(x + k, count, 0.0).v, load_first(x + n + k, count, 0.0).v,
            load_first(x + 2 * n + k, count, 0.0).v, load_first(x + 3 * n + k, count, 0.0).v, c0.v, c1.v, c2.v, c3.v);
}

/// Calls step(c0, c1, c2, c3, count) for each block of the four groups x + q n
/// (q = 0..3): count members k .. k + count of each group, in columns, the
/// last block's columns past count holding 0. The full blocks' count is the
/// constant lanes, so their step has no tests left after inlining.
template <class S, class Step>
LENS_CPU_INLINE void for_each_block(const S* x, std::size_t n, Step step) {
  packet c0, c1, c2, c3;
  const std::size_t full = n - n % lanes;
  for (std::size_t k = 0; k < full; k += lanes) {
    load_columns(x, n, k, c0, c1, c2, c3);
    step(c0, c1, c2, c3, lanes);
  }
  if (full < n) {
    load_last_columns(x, n, full, n - full, c0, c1, c2, c3);
    step(c0, c1, c2, c3, n - full);
  }
}

/// The compensated sum of measure_scores for four groups, one per lane:
/// lane j's running sum of a group is t_j here, its error e_j.
LENS_CPU_INLINE packet compensated_sum(const packet& t0, const packet& t1, const packet& t2, const packet& t3,
                                       const packet& e0, const packet& e1, const packet& e2, const packet& e3) {
  packet s = broadcast(0.0), c = s;
  auto step = [&](const packet& t_j) LENS_CPU_KERNEL {
    const packet t = s + t_j;
    const packet z = t - s;
    c += (s - (t - z)) + (t_j - z);
    s = t;
  };
  step(t0);  // lanes in the order 0, 2, 1, 3, as compensated_sum
  step(t2);
  step(t1);
  step(t3);
  return s + (c + ((e0 + e2) + (e1 + e3)));
}

/// measure_tile's first pass: min, max and the compensated mean into r (the
/// mean before a constant group's is set to its value).
template <class S>
LENS_CPU_INLINE void measure_tile_sums(const S* x, std::size_t n, tile_moments& r) {
  const packet zero = broadcast(0.0);
  // Locals, not r's fields: r is the caller's memory, which the loop would
  // load and store at every block.
  packet low, high;
  low.v = lane_doubles{static_cast<double>(x[0]), static_cast<double>(x[n]), static_cast<double>(x[2 * n]),
                       static_cast<double>(x[3 * n])};
  high = low;
  packet t0 = zero, t1 = zero, t2 = zero, t3 = zero, e0 = zero, e1 = zero, e2 = zero, e3 = zero;
  // Member k + j of each group into lane j's sums; a lane past the group's
  // end adds 0, as measure_scores's masked tail does.
  auto add_column = [&](packet& t, packet& e, const packet& v, bool inside) LENS_CPU_KERNEL {
    add_compensated(t, e, inside ? v : zero);
    if (!inside) return;
    low = min(low, v);
    high = max(high, v);
  };
  for_each_block(x, n, [&](const packet& c0, const packet& c1, const packet& c2, const packet& c3,
                           std::size_t count) LENS_CPU_KERNEL {
    add_column(t0, e0, c0, true);
    add_column(t1, e1, c1, count > 1);
    add_column(t2, e2, c2, count > 2);
    add_column(t3, e3, c3, count > 3);
  });
  // Vector assignments, not packet ones: GCC copies a struct in 16-byte
  // pieces, which kept low and high in memory and stalled the next load.
  r.min.v = low.v;
  r.max.v = high.v;
  r.mean.v = (compensated_sum(t0, t1, t2, t3, e0, e1, e2, e3) / static_cast<double>(n)).v;
}

/// ... and its second: M2 from the deviations from that mean, then a
/// constant group's mean set to its value. Two functions, so a caller can
/// run the first over several tiles before the second and their latency
/// chains (the compensated sum, the division) overlap.
template <class S>
LENS_CPU_INLINE void measure_tile_spread(const S* x, std::size_t n, tile_moments& r) {
  const packet zero = broadcast(0.0);
  packet mean;
  mean.v = r.mean.v;  // (as in measure_tile_sums)
  packet d0 = zero, d1 = zero, d2 = zero, d3 = zero, q0 = zero, q1 = zero, q2 = zero, q3 = zero;
  auto add_deviation = [&](packet& d_sum, packet& square, const packet& v, bool inside) LENS_CPU_KERNEL {
    const packet d = inside ? v - mean : zero;  // measure_scores: mean - mean = 0 past the end
    d_sum += d;
    square += d * d;
  };
  for_each_block(x, n, [&](const packet& c0, const packet& c1, const packet& c2, const packet& c3,
                           std::size_t count) LENS_CPU_KERNEL {
    add_deviation(d0, q0, c0, true);
    add_deviation(d1, q1, c1, count > 1);
    add_deviation(d2, q2, c2, count > 2);
    add_deviation(d3, q3, c3, count > 3);
  });
  const double size = static_cast<double>(n);
  const packet dsum = (d0 + d2) + (d1 + d3);
  const packet m2 = ((q0 + q2) + (q1 + q3)) - dsum * dsum / size;
  r.mean.v = select(r.min == r.max, r.min, mean).v;
  r.m2.v = select(m2 > zero, m2, zero).v;
}

/// measure_scores of four groups of n members at once, group q being
/// x[q n .. (q + 1) n), one group per lane. Each group's mean and M2 take
/// the same operations in the same order as in measure_scores (its lane j's
/// accumulators are a packet of their own here), so they have its bits; min
/// and max are exact in any order. What measure_scores
/// pays per group in scalar steps (the compensated sum's chain, the lane
/// trees, the divisions) is one packet step per four groups here.
template <class S>
LENS_CPU_INLINE tile_moments measure_tile(const S* x, std::size_t n) {
  tile_moments r;
  measure_tile_sums(x, n, r);
  measure_tile_spread(x, n, r);
  return r;
}

/// total += exp(x) in the live lanes, the exp skipped when every live lane's
/// is 0 (x below its underflow bound): the same bits, as adding +0 changes
/// no sum of non-negative values, and most of D_imp's terms over long
/// responses lie that far below their group's largest.
LENS_CPU_INLINE void add_exp(packet& total, const lane_mask& live, const packet& x) {
  const lane_mask counted = live & ~(x < broadcast(exp_underflow));
  if (any(counted)) total += select(counted, exp(x), broadcast(0.0));
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
    add_exp(total, is_correct, load(terms + k) - lse_max);
  }
  if (rest) {
    const lane_mask is_correct = (load_first(r + k, rest, 0.0) > zero) & first_lanes(rest);
    add_exp(total, is_correct, load(tail) - lse_max);
  }
  s.lse_max = lse_max;
  s.lse_sum = sum(total);
  return s;
}

/// Four groups' step 1 of LENS (measure_confidence_tile), group q in lane q.
struct confidence_tile {
  lane_ints num_correct = {};
  packet max_log_confidence, lse_max, lse_sum;
};

/// measure_confidence of four groups of n members at once, group q being
/// members [q n, (q + 1) n) of r, c and p, one group per lane; terms: 4 n
/// doubles of scratch. The maxima and the count are exact in any order; the
/// sum of exp(term - max) keeps measure_confidence's lanes and tree, so each
/// lane has its bits. (A term is log r - log p or, where no reward in the
/// packet is fractional, 0 - log p: the same bits, as the packet log of 1 is 0.)
template <class S>
LENS_CPU_INLINE confidence_tile measure_confidence_tile(const S* r, const double* c, const double* p, std::size_t n,
                                                        double* terms) {
  const packet zero = broadcast(0.0), one = broadcast(1.0), none = broadcast(-HUGE_VAL);
  confidence_tile t;
  packet top_confidence = none, top_term = none;
  packet r0, r1, r2, r3, c0, c1, c2, c3, p0, p1, p2, p3;
  const std::size_t full = n - n % lanes, rest = n % lanes;
  // Member j of the block in each group: its term into terms, its maxima.
  auto add_column = [&](const packet& reward, const packet& log_conf, const packet& log_prob, double* out)
                        LENS_CPU_KERNEL {
    const lane_mask is_correct = reward > zero;
    top_confidence = max(top_confidence, log_conf);
    count_into(t.num_correct, is_correct);
    const packet term = any(is_correct & (reward != one)) ? core::importance_term(reward, log_prob) : zero - log_prob;
    store(out, term);
    top_term = max(top_term, select(is_correct, term, none));
  };
  auto load_block = [&](std::size_t k, std::size_t count) LENS_CPU_KERNEL {
    if (count == lanes) {
      load_columns(r + k, n, 0, r0, r1, r2, r3);
      load_columns(c + k, n, 0, c0, c1, c2, c3);
      load_columns(p + k, n, 0, p0, p1, p2, p3);
    } else {
      load_last_columns(r + k, n, 0, count, r0, r1, r2, r3);
      load_last_columns(c + k, n, 0, count, c0, c1, c2, c3);
      load_last_columns(p + k, n, 0, count, p0, p1, p2, p3);
    }
  };
  // terms holds block k's columns at terms + 4 k, in member order.
  for (std::size_t k = 0; k < n; k += lanes) {
    const std::size_t count = k < full ? lanes : rest;
    load_block(k, count);
    add_column(r0, c0, p0, terms + 4 * k);
    if (count > 1) add_column(r1, c1, p1, terms + 4 * k + 4);
    if (count > 2) add_column(r2, c2, p2, terms + 4 * k + 8);
    if (count > 3) add_column(r3, c3, p3, terms + 4 * k + 12);
  }
  t.max_log_confidence = top_confidence;
  const lane_mask mixed = {t.num_correct != lane_ints{}};
  t.lse_max = select(mixed, top_term, none);
  // lse_max of a negative lane is -inf: its terms minus it are +inf, all
  // masked out below, and its sum stays 0.
  packet s0 = zero, s1 = zero, s2 = zero, s3 = zero;
  auto add_term = [&](packet& total, const packet& reward, const double* term) LENS_CPU_KERNEL {
    add_exp(total, reward > zero, load(term) - t.lse_max);
  };
  for (std::size_t k = 0; k < n; k += lanes) {
    const std::size_t count = k < full ? lanes : rest;
    if (count == lanes) load_columns(r + k, n, 0, r0, r1, r2, r3);
    else load_last_columns(r + k, n, 0, count, r0, r1, r2, r3);
    add_term(s0, r0, terms + 4 * k);
    if (count > 1) add_term(s1, r1, terms + 4 * k + 4);
    if (count > 2) add_term(s2, r2, terms + 4 * k + 8);
    if (count > 3) add_term(s3, r3, terms + 4 * k + 12);
  }
  t.lse_sum = (s0 + s2) + (s1 + s3);
  return t;
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

/// Step 2 of LENS over the four groups of a tile (group q: members
/// [q n, (q + 1) n) of r and c, shape q), block by block across the groups so
/// their exp chains overlap (one group at a time, each chain waited on the
/// last at G = 4). A group LENS does not calibrate keeps its scores. Each
/// member's value is calibrate's, or the score's, bit for bit.
template <class S>
LENS_CPU_INLINE void calibrate_tile(const S* r, const double* c, std::size_t n, const core::group_shape* shapes,
                                    double* out) {
  for (std::size_t k = 0; k < n; k += lanes) {
    const std::size_t count = n - k < lanes ? n - k : lanes;
    for (std::size_t q = 0; q < lanes; ++q) {
      const std::size_t at = q * n + k;
      const packet score = count == lanes ? load(r + at) : load_first(r + at, count, 0.0);
      const packet log_conf = count == lanes ? load(c + at) : load_first(c + at, count, 0.0);
      const core::group_shape& shape = shapes[q];
      const packet shaped = select(every_lane(shape.calibrate),
                                   core::calibrated_reward(score, log_conf, shape.log_difficulty, shape.weight), score);
      if (count == lanes) store(out + at, shaped);
      else store_first(out + at, count, shaped);
    }
  }
}

/// Where step 3 writes: advantages of a group's members, contiguous from out.
template <class Out>
struct contiguous_sink {
  Out* out;
  LENS_CPU_INLINE void put(std::size_t k, const packet& a) const { store(out + k, a); }
  LENS_CPU_INLINE void put_first(std::size_t k, std::size_t count, const packet& a) const {
    store_first(out + k, count, a);
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
};

/// Step 3 over a group: (x - centre) * scale for its n members, or exactly 0
/// (+0, blended in: whether a group's advantages are 0 is data, and a branch
/// on it was mispredicted as often as it was taken).
/// Adds to nonzero's lanes how many advantages are nonzero in Out.
template <class Out, class X, class Sink>
LENS_CPU_INLINE void write_group(const X* x, std::size_t n, const core::group_transform& t, const Sink& sink,
                                 lane_ints& nonzero) {
  const Out* as_out = nullptr;  // selects the precision of the nonzero test
  const lane_mask keep = every_lane(!t.zero);
  const packet none = broadcast(0.0);
  std::size_t k = 0;
  lane_counts counted = {};
  for (; k + lanes <= n; k += lanes) {
    const packet a = select(keep, core::scaled_advantage(t, load(x + k)), none);
    sink.put(k, a);
    count_nonzero(counted, a, as_out);
  }
  nonzero += widen(counted);
  if (k < n) {
    const packet a = select(keep, core::scaled_advantage(t, load_first(x + k, n - k, t.centre)), none);
    sink.put_first(k, n - k, a);
    count_into(nonzero, nonzero_as(a, as_out) & first_lanes(n - k));
  }
}

}  // namespace detail
}  // namespace cpu
}  // namespace lens
