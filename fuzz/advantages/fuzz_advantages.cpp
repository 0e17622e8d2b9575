// libFuzzer target for the advantage API. The bytes decide the path (per-sample
// or token), the precision (float or double), the settings, the layout (fixed,
// offsets, ids), the sizes and every value, drawn mostly from tables of values
// that matter (0 and 1 rewards, log-probs down to -1e4, NaN, inf, subnormals,
// extreme 64-bit ids) so that most inputs are accepted and reach the math.
//
// Beyond crashes and sanitizer reports, each input checks invariants:
//   - the call is accepted exactly when an independent statement of the
//     documented rules says the input is valid;
//   - a rejected call throws lens::invalid_argument ("lens: ..."), and leaves
//     every output untouched;
//   - an accepted call writes only finite advantages, within tolerance of the
//     scalar reference (on well-conditioned groups), summing to ~0 in every
//     group of two or more, with token advantages equal to A_i * mask_it,
//     the batch summary consistent, and LENS's sign and order guarantees.
// A broken invariant prints the case and aborts, which libFuzzer records.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "lens/lens.hpp"
#include "reference/scalar_reference.hpp"

namespace {

const double nan_value = std::numeric_limits<double>::quiet_NaN();
const double inf_value = std::numeric_limits<double>::infinity();
const std::int64_t lowest_id = std::numeric_limits<std::int64_t>::min();
const std::int64_t highest_id = std::numeric_limits<std::int64_t>::max();

// ------------------------------------------------------------------ value tables
// Each table starts with its common values; `pick` draws from those most of
// the time and from the whole table otherwise.

const double reward_values[] = {0, 1, 0.5, 0.25, 1e-7, 0.999999, 1e-30, 1e-40};
const double score_values[] = {0,     1,     0.5,  -1,    2,     3.5,   -0.5,      100,       1e-7,
                               1e6,   -1e6,  1e20, -1e20, 1e-30, 1e30,  5e-324,    1e-310,    1e37,
                               -1e37, 3e38,  1e100, 1e300, -1e300, nan_value, inf_value, -inf_value};
const double mean_logprob_values[] = {-0.5, -3,   0,    -1e-8, -0.01, -1,   -10,  -87.4, -103.9, -200,
                                      -745, -1000, -1e4, 1e-5, 1e-3,  1,    0.02, nan_value, -inf_value};
const std::int64_t length_values[] = {1, 2, 3, 7, 16, 100, 1000, 4096, 1000000, 0, -1, highest_id};
const double garbage_values[] = {nan_value, inf_value, -inf_value, 1e30, 5, -1e30, 0};
const std::int64_t sparse_ids[] = {0, 1, 2, 3, -1, lowest_id, highest_id, std::int64_t(1) << 40, std::int64_t(2) << 40,
                                   std::int64_t(3) << 40, -(std::int64_t(1) << 62), std::int64_t(1) << 32};
const double epsilon_values[] = {1e-6, 1e-4, 1e-9, 0, 1, 1e-300, nan_value, -1, inf_value};
const double alpha_values[] = {0.25, 0, 1, 10, 1e6, 1e300, -1, inf_value, nan_value};
const double floor_values[] = {2, 1.0001, 10, 1e6, 1e300, 1, 0.5, nan_value, inf_value};
const double tolerance_values[] = {1e-4, 0, 1e-2, 1, -1, nan_value};

template <class T, std::size_t size>
T pick(FuzzedDataProvider& data, const T (&table)[size], std::size_t common) {
  const bool rare = data.ConsumeIntegralInRange<int>(0, 7) == 0;
  const std::size_t limit = rare ? size : std::min(common, size);
  return table[data.ConsumeIntegralInRange<std::size_t>(0, limit - 1)];
}

/// A double that Real holds, with out-of-range magnitudes as infinities
/// (converting them directly would be undefined behaviour).
template <class Real>
Real to_real(double x) {
  if (std::isfinite(x) && std::abs(x) > static_cast<double>(std::numeric_limits<Real>::max()))
    return x > 0 ? std::numeric_limits<Real>::infinity() : -std::numeric_limits<Real>::infinity();
  return static_cast<Real>(x);
}

/// With LENS_FUZZ_STATS set, how the inputs fared is printed at exit (for
/// docs/RELIABILITY.md); the counters are the fuzzer's, not the library's.
struct outcome_counts {
  long accepted = 0, rejected = 0, overflow = 0, compared = 0;
  ~outcome_counts() {
    if (std::getenv("LENS_FUZZ_STATS"))
      std::fprintf(stderr, "lens fuzz stats: %ld accepted (%ld compared with the reference), %ld rejected, %ld advantage_overflow\n",
                   accepted, compared, rejected, overflow);
  }
};
outcome_counts counts;

// ------------------------------------------------------------------ the decoded case

enum layout_kind { fixed_layout, offset_layout, id_layout };

struct fuzz_case {
  bool token_path = false;
  bool use_double = false;
  bool float_mask = false;
  lens::advantage_settings settings;
  layout_kind layout = fixed_layout;
  std::size_t group_size = 1;
  std::vector<std::int64_t> offsets, ids;
  std::size_t n = 0, t = 0;
  // per-sample path
  std::vector<double> scores, logprob_sums;
  std::vector<std::int64_t> lengths;
  // token path ([n x t]); scores above are used when give_scores
  bool give_scores = false, give_token_rewards = true, give_logprobs = true, give_mask = true;
  std::vector<double> token_rewards, logprobs, mask;
  // output sizes (normally n and n * t)
  std::size_t num_outputs = 0, num_token_outputs = 0;
};

lens::advantage_settings decode_settings(FuzzedDataProvider& data) {
  lens::advantage_settings s;
  const int kind = data.ConsumeIntegralInRange<int>(0, 40);
  s.kind = kind < 16 ? lens::estimator::lens : static_cast<lens::estimator>(kind == 40 ? 4 : kind % 4);
  s.epsilon = pick(data, epsilon_values, 6);
  s.alpha = pick(data, alpha_values, 5);
  s.floor_factor = pick(data, floor_values, 5);
  s.logprob_tolerance = pick(data, tolerance_values, 4);
  const auto bits = data.ConsumeIntegral<std::uint8_t>();
  s.unbiased_std = !(bits & 1);
  s.normalize_by_std = !(bits & 2);
  s.singleton = (bits & 4) ? lens::singleton_policy::zero : lens::singleton_policy::verl;
  s.difficulty_source = (bits & 8) ? lens::difficulty_probability::geometric_mean : lens::difficulty_probability::sequence;
  s.divide_penalty_by_group_size = !(bits & 16);
  s.scope = static_cast<lens::lens_scope>((bits >> 5) % 3);
  return s;
}

/// Sizes and the layout: N samples in groups, and the layout the library is given.
void decode_layout(FuzzedDataProvider& data, fuzz_case& c) {
  c.layout = static_cast<layout_kind>(data.ConsumeIntegralInRange<int>(0, 2));
  const bool fault = data.ConsumeIntegralInRange<int>(0, 15) == 0;
  if (c.layout == fixed_layout) {
    c.group_size = data.ConsumeIntegralInRange<std::size_t>(1, 9);
    c.n = c.group_size * data.ConsumeIntegralInRange<std::size_t>(0, 8);
    if (fault) c.group_size = data.ConsumeBool() ? 0 : c.group_size + 1;
  } else if (c.layout == offset_layout) {
    const std::size_t groups = data.ConsumeIntegralInRange<std::size_t>(0, 10);
    c.offsets.push_back(0);
    for (std::size_t g = 0; g < groups; ++g)
      c.offsets.push_back(c.offsets.back() + data.ConsumeIntegralInRange<std::int64_t>(0, 9));
    c.n = static_cast<std::size_t>(c.offsets.back());
    if (fault) {
      const std::size_t at = data.ConsumeIntegralInRange<std::size_t>(0, c.offsets.size() - 1);
      c.offsets[at] += data.ConsumeIntegralInRange<std::int64_t>(-3, 3);
      if (data.ConsumeIntegralInRange<int>(0, 3) == 0) c.offsets.clear();
    }
  } else {
    c.n = data.ConsumeIntegralInRange<std::size_t>(0, 64);
    const bool sparse = data.ConsumeBool();
    for (std::size_t i = 0; i < c.n; ++i)
      c.ids.push_back(sparse ? pick(data, sparse_ids, 12) : data.ConsumeIntegralInRange<std::int64_t>(0, 7));
    if (fault && !c.ids.empty()) c.ids.pop_back();
  }
}

fuzz_case decode(const std::uint8_t* bytes, std::size_t size) {
  FuzzedDataProvider data(bytes, size);
  fuzz_case c;
  c.token_path = data.ConsumeBool();
  c.use_double = data.ConsumeBool();
  c.float_mask = data.ConsumeBool();
  c.settings = decode_settings(data);
  decode_layout(data, c);
  const bool lens = c.settings.kind == lens::estimator::lens;
  // Binary rewards most of the time, fractional or arbitrary scores otherwise.
  auto next_score = [&] {
    if (data.ConsumeIntegralInRange<int>(0, 3) != 0) return double(data.ConsumeBool());
    return lens ? pick(data, reward_values, 8) : pick(data, score_values, 12);
  };
  const bool value_fault = data.ConsumeIntegralInRange<int>(0, 7) == 0;
  if (!c.token_path) {
    for (std::size_t i = 0; i < c.n; ++i) {
      c.scores.push_back(next_score());
      const std::int64_t length = pick(data, length_values, 9);
      c.lengths.push_back(length);
      c.logprob_sums.push_back(pick(data, mean_logprob_values, 13) * static_cast<double>(length));
    }
    c.num_outputs = c.n;
    if (value_fault && c.n > 0) {
      switch (data.ConsumeIntegralInRange<int>(0, 4)) {
        case 0: c.num_outputs += data.ConsumeBool() ? 1 : -1; break;
        case 1: c.logprob_sums.pop_back(); break;
        case 2: c.lengths.push_back(1); break;
        case 3: c.scores[data.ConsumeIntegralInRange<std::size_t>(0, c.n - 1)] = pick(data, score_values, 26); break;
        default: c.lengths[data.ConsumeIntegralInRange<std::size_t>(0, c.n - 1)] = -data.ConsumeIntegralInRange<int>(0, 2);
      }
    }
    return c;
  }
  c.t = data.ConsumeIntegralInRange<std::size_t>(0, 12);
  c.give_scores = data.ConsumeIntegralInRange<int>(0, 3) == 0;
  c.give_token_rewards = !c.give_scores;
  c.token_rewards.assign(c.n * c.t, 0.0);
  c.logprobs.assign(c.n * c.t, 0.0);
  c.mask.assign(c.n * c.t, 0.0);
  for (std::size_t i = 0; i < c.n; ++i) {
    const double score = next_score();
    c.scores.push_back(score);
    std::size_t length = c.t == 0 ? 0 : data.ConsumeIntegralInRange<std::size_t>(0, c.t);
    if (length == 0 && c.t > 0 && data.ConsumeIntegralInRange<int>(0, 7) != 0) length = 1;
    const double mean = pick(data, mean_logprob_values, 13);
    for (std::size_t k = 0; k < c.t; ++k) {
      const std::size_t j = i * c.t + k;
      c.mask[j] = k < length ? 1.0 : 0.0;
      // The masked-in log-probs vary around the row's mean; padding holds garbage.
      c.logprobs[j] = k < length ? mean * (1.0 + 0.25 * data.ConsumeIntegralInRange<int>(-2, 2))
                                 : pick(data, garbage_values, 7);
    }
    // verl's layout: the reward on the last response token, zeros elsewhere.
    if (c.t > 0) c.token_rewards[i * c.t + (length > 0 ? length - 1 : 0)] = score;
  }
  c.num_outputs = data.ConsumeIntegralInRange<int>(0, 4) == 0 ? 0 : c.n;  // empty span: skip
  c.num_token_outputs = data.ConsumeIntegralInRange<int>(0, 3) == 0 ? 0 : c.n * c.t;
  if (value_fault) {
    switch (data.ConsumeIntegralInRange<int>(0, 7)) {
      case 0: c.give_scores = c.give_token_rewards = data.ConsumeBool(); break;
      case 1: c.give_logprobs = false; break;
      case 2: c.give_mask = false; break;
      case 3: c.num_token_outputs = c.n * c.t + 1; break;
      case 4: c.num_outputs = c.n + 1; break;
      default:
        if (c.n * c.t > 0) {
          const std::size_t j = data.ConsumeIntegralInRange<std::size_t>(0, c.n * c.t - 1);
          const int which = data.ConsumeIntegralInRange<int>(0, 2);
          if (which == 0) c.mask[j] = data.ConsumeBool() ? 2.0 : 0.5;
          if (which == 1) c.token_rewards[j] = pick(data, score_values, 26);
          if (which == 2) c.logprobs[j] = pick(data, garbage_values, 7);
        }
    }
  }
  return c;
}

// ------------------------------------------------------------------ reporting

[[noreturn]] void broken(const fuzz_case& c, const std::string& what) {
  std::fprintf(stderr, "\n*** invariant broken: %s\n", what.c_str());
  std::fprintf(stderr, "path %s, %s, kind %d, eps %g, alpha %g, floor %g, tol %g, layout %d, G %zu, N %zu, T %zu\n",
               c.token_path ? "token" : "sequence", c.use_double ? "double" : "float", static_cast<int>(c.settings.kind),
               c.settings.epsilon, c.settings.alpha, c.settings.floor_factor, c.settings.logprob_tolerance,
               static_cast<int>(c.layout), c.group_size, c.n, c.t);
  std::fprintf(stderr, "outputs %zu, token outputs %zu, given: scores %d token_rewards %d logprobs %d mask %d (%s)\n",
               c.num_outputs, c.num_token_outputs, c.give_scores, c.give_token_rewards, c.give_logprobs, c.give_mask,
               c.float_mask ? "float" : "uint8");
  for (std::size_t i = 0; i < c.n * c.t; ++i)
    std::fprintf(stderr, "  token %zu: reward %.17g logprob %.17g mask %g\n", i, c.token_rewards[i], c.logprobs[i], c.mask[i]);
  for (std::size_t i = 0; i < c.scores.size(); ++i)
    std::fprintf(stderr, "  sample %zu: score %.17g%s\n", i, c.scores[i],
                 c.token_path ? "" : (" logprob_sum " + std::to_string(c.logprob_sums.size() > i ? c.logprob_sums[i] : 0) +
                                      " length " + std::to_string(c.lengths.size() > i ? c.lengths[i] : 0))
                                         .c_str());
  std::abort();
}

// ------------------------------------------------------------------ the rules, stated independently

/// The values the library reads, in the precision it reads them.
template <class Real>
double as_read(double x) {
  return static_cast<double>(to_real<Real>(x));
}

/// Whether the documented rules accept this input (lens/core/errors.hpp,
/// validate.hpp, the comments in views.hpp), written without the library's code.
template <class Real>
bool valid(const fuzz_case& c) {
  const lens::advantage_settings& s = c.settings;
  const bool lens = s.kind == lens::estimator::lens;
  auto finite_at_least = [](double x, double low) { return std::isfinite(x) && x >= low; };
  if (!finite_at_least(s.epsilon, 0) || !finite_at_least(s.alpha, 0) || !finite_at_least(s.logprob_tolerance, 0))
    return false;
  if (!(std::isfinite(s.floor_factor) && s.floor_factor > 1)) return false;
  const int kind = static_cast<int>(s.kind);
  if (kind < 0 || kind > 3) return false;

  if (c.layout == fixed_layout && (c.group_size == 0 || c.n % c.group_size != 0)) return false;
  if (c.layout == offset_layout) {
    if (c.offsets.empty() || c.offsets[0] != 0 || c.offsets.back() != static_cast<std::int64_t>(c.n)) return false;
    for (std::size_t g = 1; g < c.offsets.size(); ++g)
      if (c.offsets[g] < c.offsets[g - 1]) return false;
  }
  if (c.layout == id_layout && c.ids.size() != c.n) return false;

  if (!c.token_path) {
    if (c.num_outputs != c.n) return false;
    for (double r : c.scores) {
      const double v = as_read<Real>(r);
      if (!std::isfinite(v) || (lens && (v < 0 || v > 1))) return false;
    }
    if (!lens) return true;
    if (c.logprob_sums.size() != c.n || c.lengths.size() != c.n) return false;
    for (std::size_t i = 0; i < c.n; ++i) {
      const double l = as_read<Real>(c.logprob_sums[i]);
      if (c.lengths[i] < 1 || !std::isfinite(l) || l > s.logprob_tolerance * static_cast<double>(c.lengths[i]))
        return false;
    }
    return true;
  }

  if (c.num_outputs != 0 && c.num_outputs != c.n) return false;
  if (c.num_token_outputs != 0 && c.num_token_outputs != c.n * c.t) return false;
  if (c.n == 0) return true;
  if (c.give_scores == c.give_token_rewards) return false;
  if (c.give_token_rewards && c.t == 0) return false;
  const bool need_mask = lens || c.num_token_outputs != 0;
  if (need_mask && !c.give_mask) return false;
  if (lens && (!c.give_logprobs || c.t == 0)) return false;
  const Real tolerance = static_cast<Real>(s.logprob_tolerance);
  for (std::size_t i = 0; i < c.n; ++i) {
    double score = 0;
    if (c.give_scores) {
      score = as_read<Real>(c.scores[i]);
    } else {
      for (std::size_t k = 0; k < c.t; ++k) score += as_read<Real>(c.token_rewards[i * c.t + k]);
    }
    if (!std::isfinite(score) || (lens && (score < 0 || score > 1))) return false;
    if (!need_mask) continue;
    std::size_t length = 0;
    for (std::size_t k = 0; k < c.t; ++k) {
      const std::size_t j = i * c.t + k;
      const double m = c.float_mask ? static_cast<double>(static_cast<float>(c.mask[j])) : double(std::uint8_t(c.mask[j]));
      if (m != 0 && m != 1) return false;
      if (m == 0 || !lens) continue;
      ++length;
      const Real v = to_real<Real>(c.logprobs[j]);
      if (!std::isfinite(static_cast<double>(v)) || v > tolerance) return false;
    }
    if (lens && length == 0) return false;
  }
  return true;
}

// ------------------------------------------------------------------ running and checking

struct library_run {
  bool accepted = false;
  std::string message;
  bool untouched = true;
  std::vector<double> advantages, token_advantages;  // as read back
  lens::batch_summary summary;
  std::vector<lens::group_statistics> stats;
  // what the reference reads, per sample
  std::vector<double> scores, logprob_sums, lengths;
};

template <class Real>
constexpr Real sentinel() {
  return Real(-8191.5);
}

template <class Real, class Layout>
void call_sequence(const fuzz_case& c, const Layout& layout, library_run& run) {
  std::vector<Real> scores, sums;
  for (double x : c.scores) scores.push_back(to_real<Real>(x));
  for (double x : c.logprob_sums) sums.push_back(to_real<Real>(x));
  std::vector<Real> out(c.num_outputs, sentinel<Real>());
  const lens::sequence_inputs<Real> in{scores, sums, c.lengths};
  try {
    run.summary = lens::compute_advantages(in, layout, lens::span<Real>(out), c.settings, &run.stats);
    run.accepted = true;
  } catch (const lens::invalid_argument& e) {
    run.message = e.what();
    for (Real a : out) run.untouched = run.untouched && a == sentinel<Real>();
  }
  run.advantages.assign(out.begin(), out.end());
  for (std::size_t i = 0; valid<Real>(c) && i < c.n; ++i) {
    run.scores.push_back(static_cast<double>(scores[i]));
    // The GRPO family reads neither, so they may be short or hold anything.
    run.logprob_sums.push_back(i < sums.size() ? static_cast<double>(sums[i]) : 0.0);
    run.lengths.push_back(i < c.lengths.size() && c.lengths[i] > 0 ? static_cast<double>(c.lengths[i]) : 1.0);
  }
}

template <class Real, class Mask, class Layout>
void call_tokens(const fuzz_case& c, const Layout& layout, library_run& run) {
  std::vector<Real> scores, rewards, logprobs;
  std::vector<Mask> mask;
  // A given buffer is never null, even when empty (T = 0).
  scores.reserve(c.scores.size() + 1);
  rewards.reserve(c.token_rewards.size() + 1);
  logprobs.reserve(c.logprobs.size() + 1);
  mask.reserve(c.mask.size() + 1);
  for (double x : c.scores) scores.push_back(to_real<Real>(x));
  for (double x : c.token_rewards) rewards.push_back(to_real<Real>(x));
  for (double x : c.logprobs) logprobs.push_back(to_real<Real>(x));
  for (double x : c.mask) mask.push_back(static_cast<Mask>(x));
  lens::token_inputs<Real, Mask> in;
  in.num_samples = c.n;
  in.num_tokens = c.t;
  in.scores = c.give_scores ? scores.data() : nullptr;
  in.token_rewards = c.give_token_rewards ? rewards.data() : nullptr;
  in.logprobs = c.give_logprobs ? logprobs.data() : nullptr;
  in.mask = c.give_mask ? mask.data() : nullptr;
  std::vector<Real> out(c.num_outputs, sentinel<Real>()), token_out(c.num_token_outputs, sentinel<Real>());
  try {
    run.summary = lens::compute_advantages(in, layout, lens::span<Real>(out), lens::span<Real>(token_out), c.settings,
                                           &run.stats);
    run.accepted = true;
  } catch (const lens::invalid_argument& e) {
    run.message = e.what();
    for (Real a : out) run.untouched = run.untouched && a == sentinel<Real>();
    for (Real a : token_out) run.untouched = run.untouched && a == sentinel<Real>();
  }
  run.advantages.assign(out.begin(), out.end());
  run.token_advantages.assign(token_out.begin(), token_out.end());
  // Token advantages are A_i * mask_it, exactly.
  for (std::size_t i = 0; run.accepted && i < c.num_token_outputs / std::max<std::size_t>(c.t, 1) && !out.empty(); ++i)
    for (std::size_t k = 0; k < c.t; ++k)
      if (token_out[i * c.t + k] != (mask[i * c.t + k] != Mask(0) ? out[i] : Real(0))) broken(c, "token advantage != A_i * mask");
  if (!valid<Real>(c)) return;
  // The reduction the reference reads: plain loops in double.
  for (std::size_t i = 0; i < c.n; ++i) {
    double score = 0, sum = 0, length = 0;
    if (c.give_scores) score = static_cast<double>(scores[i]);
    for (std::size_t k = 0; k < c.t; ++k) {
      const std::size_t j = i * c.t + k;
      if (!c.give_scores) score += static_cast<double>(rewards[j]);
      if (c.give_mask && mask[j] != Mask(0) && c.give_logprobs) {
        sum += std::min(static_cast<double>(logprobs[j]), 0.0);
        length += 1;
      }
    }
    run.scores.push_back(score);
    run.logprob_sums.push_back(sum);
    run.lengths.push_back(std::max(length, 1.0));
  }
}

template <class Real, class Layout>
void call(const fuzz_case& c, const Layout& layout, library_run& run) {
  if (!c.token_path) return call_sequence<Real>(c, layout, run);
  if (c.float_mask) return call_tokens<Real, float>(c, layout, run);
  call_tokens<Real, std::uint8_t>(c, layout, run);
}

/// Per-sample group ids as the reference sees the layout.
std::vector<std::int64_t> reference_ids(const fuzz_case& c) {
  std::vector<std::int64_t> ids(c.n);
  for (std::size_t i = 0; i < c.n; ++i) {
    if (c.layout == fixed_layout) ids[i] = static_cast<std::int64_t>(i / c.group_size);
    if (c.layout == id_layout) ids[i] = c.ids[i];
  }
  if (c.layout == offset_layout)
    for (std::size_t g = 0; g + 1 < c.offsets.size(); ++g)
      for (std::int64_t i = c.offsets[g]; i < c.offsets[g + 1]; ++i) ids[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(g);
  return ids;
}

template <class Real>
void check_accepted(const fuzz_case& c, const library_run& run) {
  const bool lens = c.settings.kind == lens::estimator::lens;
  const std::vector<double>& a = run.advantages;
  if (a.empty()) return;  // token path without per-sample outputs: token checks ran already
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!std::isfinite(a[i])) broken(c, "advantage " + std::to_string(i) + " is not finite");
  std::size_t nonzero = 0;
  for (double x : a) nonzero += x != 0.0;
  if (run.summary.num_samples != c.n || run.summary.num_nonzero_advantages != nonzero) broken(c, "batch summary");

  const std::vector<std::int64_t> ids = reference_ids(c);
  const auto reference = lens_reference::compute(run.scores, run.logprob_sums, run.lengths, ids, c.settings);
  if (c.layout != offset_layout && run.summary.num_groups != reference.groups.size()) broken(c, "number of groups");

  double largest_score = 0, lowest = inf_value, highest = -inf_value;
  for (double s : run.scores) largest_score = std::max(largest_score, std::abs(s)), lowest = std::min(lowest, s), highest = std::max(highest, s);
  // The batch-std estimator divides by the spread of the whole batch: where
  // that is at double rounding (equal scores of 1e30: the library's merged
  // moments give exactly 0, a two-pass mean of 6e30 / 6 does not), rounding
  // decides the answer.
  const bool batch_conditioned = c.settings.kind != lens::estimator::grpo_batch_std ||
                                 highest - lowest > 1e-9 * largest_score;
  for (const auto& group : reference.groups) {
    // Where the group's spread is near double rounding of its values (scores
    // equal but for their last bits, or subnormal), rounding decides the
    // answer: any double implementation, the reference included, gets
    // different digits. Only finiteness is promised there.
    const bool conditioned = group.zero_variance || group.members.size() == 1 ||
                             group.std > 1e-9 * (std::abs(group.mean) + largest_score * 1e-6) + 1e-300;
    double sum = 0, magnitude = 0;
    for (std::size_t i : group.members) sum += a[i], magnitude += std::abs(a[i]);
    // (a floor of a few smallest normals: advantages rounded to Real's subnormals lose their relative precision)
    const double sum_floor = 4.0 * static_cast<double>(group.members.size()) * static_cast<double>(std::numeric_limits<Real>::min());
    if (conditioned && group.members.size() >= 2 && !(std::abs(sum) <= 1e-5 * magnitude + sum_floor)) {
      std::string values;
      char buffer[64];
      for (std::size_t i : group.members) std::snprintf(buffer, sizeof buffer, " %.9g", a[i]), values += buffer;
      broken(c, "group " + std::to_string(group.id) + " advantages do not sum to 0:" + values);
    }

    const bool moderate = largest_score <= 1e30 && c.settings.alpha <= 1e6 && (c.settings.epsilon == 0 || c.settings.epsilon >= 1e-12);
    if (conditioned && batch_conditioned && moderate) {
      ++counts.compared;
      // Absolute slack for members near the mean: double rounding of the
      // group's values (up to |mean| + sqrt(G) std) relative to its spread,
      // times the group's largest advantage. 1e20, -1e20 and 1e6 in one group
      // put the mean off by ulp(1e20) in any double implementation.
      double widest = 0;
      for (std::size_t i : group.members) widest = std::max(widest, std::abs(reference.advantages[i]));
      const double size = static_cast<double>(group.members.size());
      const double spread_ratio = group.std > 0 ? (std::abs(group.mean) / group.std + std::sqrt(size)) : 1.0;
      double slack = 1e-12 * size * (1.0 + spread_ratio) * widest;
      // LENS: u = exp(log pbar - log D) is computed from logs with absolute
      // rounding ulp(|log pbar|), ~2e-12 at -1e4, so a calibrated reward that
      // cancels to ~0 (r = 0.25 with u = 1/4) carries that much noise, times
      // the transform's scale (at most max(alpha, 2, 1 / (std + eps))).
      if (lens) {
        double largest_log = 0;
        for (std::size_t i : group.members) largest_log = std::max(largest_log, std::abs(run.logprob_sums[i] / run.lengths[i]));
        const double scale = std::max({c.settings.alpha, 2.0, 1.0 / (group.std + c.settings.epsilon)});
        slack += 1e-15 * (1.0 + largest_log) * scale;
      }
      for (std::size_t i : group.members) {
        const double expected = reference.advantages[i];
        // (Real's smallest normal as a floor: below it the output is subnormal, with few digits)
        const double floor = static_cast<double>(std::numeric_limits<Real>::min());
        if (!(std::abs(a[i] - expected) <= 1e-5 * std::abs(expected) + slack + floor)) {
          char buffer[128];
          std::snprintf(buffer, sizeof buffer, "sample %zu: library %.17g, reference %.17g; group", i, a[i], expected);
          std::string message = buffer;
          for (std::size_t j : group.members)
            std::snprintf(buffer, sizeof buffer, " [%zu: %.6g vs %.6g]", j, a[j], reference.advantages[j]), message += buffer;
          std::snprintf(buffer, sizeof buffer, "; mean %.17g std %.6g", group.mean, group.std);
          broken(c, message + buffer);
        }
      }
    }

    // LENS with binary rewards, the 1/G factor and floor_factor >= 2: every correct answer above
    // 0, every wrong one below, in mixed groups of two or more; in negative
    // groups a more confident wrong answer never gets a larger advantage.
    if (!lens || group.members.size() < 2 || group.zero_variance) continue;
    bool binary = true;
    for (std::size_t i : group.members) binary = binary && (run.scores[i] == 0 || run.scores[i] == 1);
    if (!binary) continue;
    // (floor_factor >= 2 bounds the penalty ratio by 1, so wrong answers land in
    // [-1/G, 0); a smaller floor lets a confident mistake drag the mean below
    // an unsure one.)
    if (!group.negative && c.settings.divide_penalty_by_group_size && c.settings.normalize_by_std &&
        c.settings.floor_factor >= 2 &&
        c.settings.scope != lens::lens_scope::negative_groups) {
      for (std::size_t i : group.members)
        if (run.scores[i] == 1 ? !(a[i] > 0) : !(a[i] < 0)) broken(c, "LENS sign invariance, sample " + std::to_string(i));
    }
    if (group.negative && c.settings.scope != lens::lens_scope::mixed_groups) {
      for (std::size_t i : group.members)
        for (std::size_t j : group.members) {
          const double conf_i = run.logprob_sums[i] / run.lengths[i], conf_j = run.logprob_sums[j] / run.lengths[j];
          // (a margin: the token path's sums may differ from these in the last bit)
          if (conf_i > conf_j + 1e-12 * std::abs(conf_j) && a[i] > a[j]) broken(c, "LENS negative-group order");
        }
    }
  }
}

/// The reference agrees the advantages leave Real's range: one is within 1% of
/// Real's largest value or not finite, or the scores are so large (~1e150)
/// that their squared spread overflows double.
template <class Real>
void confirm_overflow(const fuzz_case& c, const library_run& run) {
  const auto reference = lens_reference::compute(run.scores, run.logprob_sums, run.lengths, reference_ids(c), c.settings);
  const double largest = static_cast<double>(std::numeric_limits<Real>::max());
  bool confirmed = false;
  for (double a : reference.advantages) confirmed = confirmed || !(std::abs(a) < 0.01 * largest);
  for (const auto& group : reference.groups) confirmed = confirmed || !std::isfinite(group.std);
  double largest_score = 0, lowest = inf_value, highest = -inf_value;
  for (double score : run.scores) {
    confirmed = confirmed || std::abs(score) > 1e150;
    largest_score = std::max(largest_score, std::abs(score)), lowest = std::min(lowest, score), highest = std::max(highest, score);
  }
  // Equal scores make the exact batch std 0 (the library's merged moments give
  // 0; the two-pass reference a rounding residue), so epsilon alone divides.
  if (c.settings.kind == lens::estimator::grpo_batch_std && highest - lowest <= 1e-9 * largest_score) confirmed = true;
  if (!confirmed) broken(c, "advantage_overflow the reference does not confirm: " + run.message);
}

template <class Real>
void run_case(const fuzz_case& c) {
  library_run run;
  if (c.layout == fixed_layout) call<Real>(c, lens::fixed_groups{c.group_size}, run);
  if (c.layout == offset_layout) call<Real>(c, lens::offset_groups{c.offsets}, run);
  if (c.layout == id_layout) call<Real>(c, lens::id_groups{c.ids}, run);

  const bool expected = valid<Real>(c);
  // Advantages beyond Real's range are the one rejection the value rules above
  // cannot foresee: the reference must confirm it.
  if (!run.accepted && run.message.find(lens::detail::error_text(lens::error_code::advantage_overflow)) != std::string::npos) {
    if (!expected) broken(c, "advantage_overflow for an input the rules reject: " + run.message);
    if (!run.untouched) broken(c, "a rejected call wrote an output: " + run.message);
    confirm_overflow<Real>(c, run);
    ++counts.overflow;
    return;
  }
  if (run.accepted != expected)
    broken(c, std::string(run.accepted ? "accepted an invalid input" : "rejected a valid input: ") + run.message);
  if (!run.accepted) {
    if (run.message.rfind("lens: ", 0) != 0) broken(c, "message without the lens: prefix: " + run.message);
    if (!run.untouched) broken(c, "a rejected call wrote an output: " + run.message);
    ++counts.rejected;
    return;
  }
  ++counts.accepted;
  check_accepted<Real>(c, run);
}


}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const fuzz_case c = decode(bytes, size);
  if (c.use_double) {
    run_case<double>(c);
  } else {
    run_case<float>(c);
  }
  return 0;
}
