// lens/core/partials.hpp: what one rank knows of a group whose samples live on
// several processes, how two ranks' knowledge combines, and how the merged
// statistics become the local samples' advantages. Nothing here is new math:
// a partial is the confidence_summary and score_moments of group_math.hpp over
// the rank's own samples, merged with their merge() (Chan's rule, the
// log-sum-exp rescale); each rank measures its part of a group with the
// single-process engine's kernels (lens/cpu/group_kernels.hpp), and the finish
// step is make_shape, make_transform and the engine's write pass.
//
// A distributed call is one or two exchanges of fixed-size records:
//   GRPO, Dr. GRPO, RLOO, batch std: one exchange of {id, check, num_correct,
//     moments of the scores} per local group;
//   LENS: first {id, check, confidence_summary}, whose merge gives D(q); then
//     the moments of the shaped scores r~, which depend on D.
// Records are merged in rank order, and within a rank in order of first
// appearance, so every rank computes bitwise the same merged statistics, and
// the groups are numbered as the single-process call numbers them on the
// concatenated batch (rank 0's samples, then rank 1's, ...).
#pragma once

#include <cstdint>
#include <cstring>

#include "lens/core/config.hpp"
#include "lens/core/group_math.hpp"
#include "lens/core/settings.hpp"

namespace lens {
namespace core {

/// What one rank knows of one group: its id, a second hash of the caller's
/// group key (collision check; 0 for int64 ids), the confidence summary
/// (count and num_correct for every estimator, the LENS terms for LENS) and
/// the moments of the shaped scores.
struct group_partial {
  std::int64_t id = 0;
  std::int64_t check = 0;
  confidence_summary confidence;
  score_moments moments;
};

/// Merges the count and num_correct (every estimator) or the whole
/// confidence summary (LENS).
LENS_HD confidence_summary merge_confidence(const confidence_summary& a, const confidence_summary& b, bool is_lens) {
  if (is_lens) return merge(a, b);
  confidence_summary r;
  r.count = a.count + b.count;
  r.num_correct = a.num_correct + b.num_correct;
  return r;
}

/// Two partials of the same group (a.id == b.id): associative up to rounding,
/// exact for counts, num_correct, min and max; a partial with count 0 is the
/// identity, so a group wholly on one rank keeps that rank's bits.
LENS_HD group_partial merge(const group_partial& a, const group_partial& b, bool is_lens) {
  group_partial r;
  r.id = a.confidence.count > 0 ? a.id : b.id;
  r.check = a.confidence.count > 0 ? a.check : b.check;
  r.confidence = merge_confidence(a.confidence, b.confidence, is_lens);
  r.moments = merge(a.moments, b.moments);
  return r;
}

// ------------------------------------------------------------------ records

/// The records each exchange carries, in 8-byte words (doubles bit-cast).
enum class exchange_record {
  counts_and_moments,  ///< id, check, num_correct, count, mean, m2, min, max (one-exchange estimators)
  confidence,          ///< id, check, count, num_correct, max log pbar, lse max, lse sum (LENS, first)
  moments,             ///< count, mean, m2, min, max (LENS, second; same group order as the first)
};

inline std::size_t record_words(exchange_record kind) {
  switch (kind) {
    case exchange_record::counts_and_moments: return 8;
    case exchange_record::confidence: return 7;
    case exchange_record::moments: return 5;
  }
  return 0;
}

inline std::uint64_t to_word(double x) {
  std::uint64_t w;
  std::memcpy(&w, &x, sizeof w);
  return w;
}
inline double from_word(std::uint64_t w) {
  double x;
  std::memcpy(&x, &w, sizeof x);
  return x;
}

inline void write_moments(const score_moments& m, std::uint64_t* out) {
  out[0] = to_word(m.count);
  out[1] = to_word(m.mean);
  out[2] = to_word(m.m2);
  out[3] = to_word(m.min);
  out[4] = to_word(m.max);
}
inline score_moments read_moments(const std::uint64_t* in) {
  score_moments m;
  m.count = from_word(in[0]);
  m.mean = from_word(in[1]);
  m.m2 = from_word(in[2]);
  m.min = from_word(in[3]);
  m.max = from_word(in[4]);
  return m;
}

/// One group's record of an exchange into record_words(kind) words.
inline void write_record(const group_partial& p, exchange_record kind, std::uint64_t* out) {
  switch (kind) {
    case exchange_record::counts_and_moments:
      out[0] = static_cast<std::uint64_t>(p.id);
      out[1] = static_cast<std::uint64_t>(p.check);
      out[2] = to_word(p.confidence.num_correct);
      write_moments(p.moments, out + 3);
      return;
    case exchange_record::confidence:
      out[0] = static_cast<std::uint64_t>(p.id);
      out[1] = static_cast<std::uint64_t>(p.check);
      out[2] = to_word(p.confidence.count);
      out[3] = to_word(p.confidence.num_correct);
      out[4] = to_word(p.confidence.max_log_confidence);
      out[5] = to_word(p.confidence.lse_max);
      out[6] = to_word(p.confidence.lse_sum);
      return;
    case exchange_record::moments:
      write_moments(p.moments, out);
      return;
  }
}

/// Reads a record into p (the fields that exchange carries).
inline void read_record(const std::uint64_t* in, exchange_record kind, group_partial& p) {
  switch (kind) {
    case exchange_record::counts_and_moments:
      p.id = static_cast<std::int64_t>(in[0]);
      p.check = static_cast<std::int64_t>(in[1]);
      p.confidence.num_correct = from_word(in[2]);
      p.moments = read_moments(in + 3);
      p.confidence.count = p.moments.count;
      return;
    case exchange_record::confidence:
      p.id = static_cast<std::int64_t>(in[0]);
      p.check = static_cast<std::int64_t>(in[1]);
      p.confidence.count = from_word(in[2]);
      p.confidence.num_correct = from_word(in[3]);
      p.confidence.max_log_confidence = from_word(in[4]);
      p.confidence.lse_max = from_word(in[5]);
      p.confidence.lse_sum = from_word(in[6]);
      return;
    case exchange_record::moments:
      p.moments = read_moments(in);
      return;
  }
}

// ------------------------------------------------------------------ settings hash

/// FNV-1a over 64-bit words, then splitmix64's finaliser.
inline std::uint64_t hash_word(std::uint64_t h, std::uint64_t word) {
  for (int b = 0; b < 8; ++b) {
    h ^= (word >> (8 * b)) & 0xffu;
    h *= 0x100000001b3ULL;
  }
  return h;
}

/// A hash of every field of the settings, field by field (no padding bytes):
/// ranks whose settings differ in any field get different hashes (up to a
/// 2^-64 chance). Never 0, which marks a rank that failed before it had settings.
inline std::uint64_t settings_hash(const advantage_settings& s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  h = hash_word(h, static_cast<std::uint64_t>(s.kind));
  h = hash_word(h, to_word(s.epsilon));
  h = hash_word(h, s.unbiased_std);
  h = hash_word(h, s.normalize_by_std);
  h = hash_word(h, static_cast<std::uint64_t>(s.singleton));
  h = hash_word(h, to_word(s.alpha));
  h = hash_word(h, to_word(s.floor_factor));
  h = hash_word(h, static_cast<std::uint64_t>(s.difficulty_source));
  h = hash_word(h, s.divide_penalty_by_group_size);
  h = hash_word(h, static_cast<std::uint64_t>(s.scope));
  h = hash_word(h, to_word(s.logprob_tolerance));
  h ^= h >> 31;
  return h ? h : 1;
}

}  // namespace core
}  // namespace lens
