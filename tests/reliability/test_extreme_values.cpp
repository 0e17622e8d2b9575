// Extreme values against the double-precision scalar reference: confidences far
// below float's smallest normal number, underflowing negative groups,
// singletons, G = 65,536, N = 1, T = 1 and T = 1,000,000, all-negative and
// all-correct batches, fractional rewards, sparse 64-bit ids, and garbage in
// masked-out log-probabilities. Every output must be finite and within 1e-5
// relative of the reference.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "reliability_support.hpp"

using reliability::batch;

namespace {

/// A batch of groups of size g with the given mean token log-probabilities
/// (log pbar_i) and lengths; rewards cycle through `rewards`.
batch make_batch(const std::vector<double>& log_pbar, const std::vector<std::int64_t>& lengths,
                 const std::vector<double>& rewards, std::size_t group_size) {
  batch b;
  for (std::size_t i = 0; i < log_pbar.size(); ++i) {
    const std::int64_t length = lengths[i % lengths.size()];
    b.scores.push_back(rewards[i % rewards.size()]);
    b.logprob_sums.push_back(log_pbar[i] * static_cast<double>(length));
    b.lengths.push_back(length);
  }
  b.group_ids = reliability::fixed_ids(b.scores.size(), group_size);
  return b;
}

/// Token-level batch [N x T] in precision Real with mask type Mask.
template <class Real, class Mask>
struct token_batch {
  std::size_t n = 0, t = 0;
  std::vector<Real> token_rewards, logprobs;
  std::vector<Mask> mask;

  lens::token_inputs<Real, Mask> inputs() const {
    lens::token_inputs<Real, Mask> in;
    in.num_samples = n;
    in.num_tokens = t;
    in.token_rewards = token_rewards.data();
    in.logprobs = logprobs.data();
    in.mask = mask.data();
    return in;
  }

  /// What the reference reads: row sums and masked sums, by plain loops in double.
  batch reduced(std::size_t group_size) const {
    batch b;
    for (std::size_t i = 0; i < n; ++i) {
      double score = 0, sum = 0;
      std::int64_t length = 0;
      for (std::size_t c = 0; c < t; ++c) {
        score += static_cast<double>(token_rewards[i * t + c]);
        if (mask[i * t + c] == Mask(0)) continue;
        sum += std::min(static_cast<double>(logprobs[i * t + c]), 0.0);
        ++length;
      }
      b.scores.push_back(score);
      b.logprob_sums.push_back(sum);
      b.lengths.push_back(length);
    }
    b.group_ids = reliability::fixed_ids(n, group_size);
    return b;
  }
};

template <class Real, class Mask>
void require_token_path_matches(const token_batch<Real, Mask>& tb, std::size_t group_size,
                                const lens::advantage_settings& settings) {
  std::vector<Real> advantages(tb.n), token_advantages(tb.n * tb.t);
  lens::compute_advantages(tb.inputs(), lens::fixed_groups{group_size}, lens::span<Real>(advantages),
                           lens::span<Real>(token_advantages), settings);
  reliability::require_matches(std::vector<double>(advantages.begin(), advantages.end()),
                               reliability::reference_advantages(tb.reduced(group_size), settings));
  // Token advantages are A_i * mask_it, exactly.
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < tb.n; ++i)
    for (std::size_t c = 0; c < tb.t; ++c)
      mismatches += token_advantages[i * tb.t + c] != (tb.mask[i * tb.t + c] != Mask(0) ? advantages[i] : Real(0));
  REQUIRE(mismatches == 0);
}

}  // namespace

TEST_CASE("mean token log-probs from 0 down to -1e4 match the reference in every estimator", "[extreme]") {
  // Levels from certain answers to geometric means far below float's smallest
  // normal (e^-87.3) and double's smallest subnormal (e^-744.4).
  const std::vector<double> levels{0.0, -1e-8, -0.5, -20.0, -87.4, -104.0, -745.0, -1000.0, -5000.0, -1e4};
  const std::vector<double> spreads{0.0, -0.1, -1.0, -3.0};
  const std::vector<std::int64_t> lengths{1, 300, 4096, 7};
  for (const auto& named : reliability::all_estimators()) {
    for (double level : levels) {
      std::vector<double> log_pbar;
      for (int group = 0; group < 3; ++group)
        for (double spread : spreads) log_pbar.push_back(std::max(level + spread * (group + 1), -1e4));
      // group 0 negative, group 1 mixed with one correct, group 2 mixed with two
      const std::vector<double> rewards{0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0};
      batch b = make_batch(log_pbar, lengths, {0.0}, 4);
      b.scores = rewards;
      INFO(named.first << ", log pbar level " << level);
      reliability::require_both_precisions_match(b, 4, named.second);
    }
  }
}

TEST_CASE("a negative group whose confidences all underflow is shift invariant and matches a closed form",
          "[extreme]") {
  // D = 2 * max pbar, so u_k = pbar_k / D = exp(-k) / 2 for log pbar = L - k:
  // the advantages do not depend on L, even where pbar underflows to 0.
  const lens::advantage_settings settings;  // LENS defaults, alpha 0.25, 1/G
  std::vector<double> expected(4);
  double mean = 0;
  for (int k = 0; k < 4; ++k) {
    const double u = std::exp(-k) / 2;
    expected[k] = -0.25 * u / (1 - u);  // r~ = -(1/G) * u / (1 - u) with G = 4
    mean += expected[k] / 4;
  }
  for (double& a : expected) a = 0.25 * (a - mean);  // alpha * (r~ - mean)
  for (double level : {0.0, -87.4, -745.0, -1e4}) {
    batch b = make_batch({level, level - 1, level - 2, level - 3}, {1000}, {0.0}, 4);
    INFO("log pbar level " << level);
    reliability::require_matches(reliability::library_advantages<double>(b, lens::fixed_groups{4}, settings), expected);
    reliability::require_matches(reliability::library_advantages<float>(reliability::rounded<float>(b),
                                                                        lens::fixed_groups{4}, settings),
                                 reliability::reference_advantages(reliability::rounded<float>(b), settings));
  }
  // Equal confidences, however small: a constant group, advantages exactly 0.
  batch equal = make_batch({-1e4, -1e4, -1e4}, {5}, {0.0}, 3);
  for (double a : reliability::library_advantages<float>(equal, lens::fixed_groups{3}, settings)) REQUIRE(a == 0.0);
}

TEST_CASE("single-response groups follow the singleton policy in every estimator", "[extreme]") {
  batch b = make_batch({-0.1, -2.0, -1e4, -0.5, -30.0}, {1, 50, 3, 4096, 9}, {0.0, 1.0, 0.5, 0.0, 1e-7}, 1);
  for (auto named : reliability::all_estimators()) {
    for (auto policy : {lens::singleton_policy::verl, lens::singleton_policy::zero}) {
      named.second.singleton = policy;
      INFO(named.first << ", singleton policy " << static_cast<int>(policy));
      reliability::require_both_precisions_match(b, 1, named.second);
    }
  }
  // Worked value (ALGORITHM.md section 7): a LENS negative singleton has u = 1/2 and r~ = -1, and is
  // centred by its own mean, so A = 0 under both policies; a correct singleton keeps verl's 1 / (1 + eps).
  for (auto policy : {lens::singleton_policy::verl, lens::singleton_policy::zero}) {
    lens::advantage_settings settings = lens::presets::lens();
    settings.singleton = policy;
    const auto advantages = reliability::library_advantages<float>(b, lens::fixed_groups{1}, settings);
    REQUIRE(advantages[0] == 0.0);
    REQUIRE(advantages[3] == 0.0);
    REQUIRE(advantages[1] == (policy == lens::singleton_policy::verl ? Approx(1.0 / (1.0 + 1e-6)) : Approx(0.0)));
  }
}

TEST_CASE("one group of G = 65,536 responses", "[extreme][large]") {
  const std::size_t g = 65536;
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> mean_logprob(-12.0, 0.0);
  std::uniform_int_distribution<std::int64_t> length(1, 4096);
  batch b;
  for (std::size_t i = 0; i < g; ++i) {
    const std::int64_t n = length(rng);
    b.scores.push_back(i % 97 == 3 ? 1.0 : 0.0);
    b.logprob_sums.push_back(mean_logprob(rng) * static_cast<double>(n));
    b.lengths.push_back(n);
  }
  b.group_ids = reliability::fixed_ids(g, g);
  for (const auto& named : reliability::all_estimators()) {
    INFO(named.first);
    reliability::require_both_precisions_match(b, g, named.second);
  }
  // Sign invariance of LENS with the 1/G factor: correct > 0 > wrong.
  const auto mixed = reliability::library_advantages<float>(b, lens::fixed_groups{g}, lens::presets::lens());
  std::size_t wrong_signs = 0;
  for (std::size_t i = 0; i < g; ++i) wrong_signs += b.scores[i] > 0 ? !(mixed[i] > 0) : !(mixed[i] < 0);
  REQUIRE(wrong_signs == 0);
  // The same group with every reward 0: a negative group, de-meaned.
  std::fill(b.scores.begin(), b.scores.end(), 0.0);
  reliability::require_both_precisions_match(b, g, lens::presets::lens());
  const auto negative = reliability::library_advantages<double>(b, lens::fixed_groups{g}, lens::presets::lens());
  double sum = 0, magnitude = 0;
  for (double a : negative) sum += a, magnitude += std::abs(a);
  REQUIRE(magnitude > 0);
  REQUIRE(std::abs(sum) <= 1e-12 * magnitude);
}

TEST_CASE("N = 1: one sample, sequence and token inputs", "[extreme]") {
  for (auto named : reliability::all_estimators()) {
    for (double reward : {0.0, 1.0, 0.3}) {
      INFO(named.first << ", reward " << reward);
      batch b = make_batch({-3.0}, {12}, {reward}, 1);
      reliability::require_both_precisions_match(b, 1, named.second);
      token_batch<float, std::uint8_t> tb;
      tb.n = 1;
      tb.t = 3;
      tb.token_rewards = std::vector<float>{0.0f, static_cast<float>(reward), 0.0f};
      tb.logprobs = std::vector<float>{-1.0f, -5.0f, std::numeric_limits<float>::quiet_NaN()};
      tb.mask = std::vector<std::uint8_t>{1, 1, 0};
      require_token_path_matches(tb, 1, named.second);
    }
  }
}

TEST_CASE("T = 1: one token per response", "[extreme]") {
  token_batch<float, std::uint8_t> tb;
  tb.n = 8;
  tb.t = 1;
  tb.token_rewards = std::vector<float>{0, 1, 0, 0, 0, 0, 0, 0};
  tb.logprobs = std::vector<float>{-0.01f, -0.5f, -7.0f, -1e4f, -88.0f, -104.0f, 0.0f, -3.0f};
  tb.mask.assign(8, 1);
  for (const auto& named : reliability::all_estimators()) {
    INFO(named.first);
    require_token_path_matches(tb, 4, named.second);
  }
}

TEST_CASE("T = 1,000,000: two very long responses", "[extreme][large]") {
  // Two rows (kept to two so the Debug + ASan build runs it in seconds).
  const std::size_t t = 1000000;
  std::mt19937_64 rng(1000000);
  std::uniform_real_distribution<float> logprob(-20.0f, 0.0f);
  token_batch<float, std::uint8_t> tb;
  tb.n = 2;
  tb.t = t;
  tb.token_rewards.assign(2 * t, 0.0f);
  tb.logprobs.resize(2 * t);
  tb.mask.assign(2 * t, 0);
  for (auto& v : tb.logprobs) v = logprob(rng);
  for (std::size_t c = 0; c < t; ++c) tb.mask[c] = 1;                // row 0: every token
  for (std::size_t c = 0; c < 700000; ++c) tb.mask[t + c] = 1;       // row 1: 700,000 tokens
  for (std::size_t c = 700000; c < t; ++c) tb.logprobs[t + c] = std::numeric_limits<float>::quiet_NaN();
  tb.token_rewards[t + 699999] = 1.0f;  // verl puts the reward on the last response token
  for (const auto& named : reliability::all_estimators()) {
    INFO(named.first);
    require_token_path_matches(tb, 2, named.second);
  }
}

TEST_CASE("all groups negative, all groups correct", "[extreme]") {
  std::mt19937_64 rng(64);
  std::uniform_real_distribution<double> mean_logprob(-50.0, 0.0);
  std::vector<double> log_pbar(64 * 8);
  for (double& v : log_pbar) v = mean_logprob(rng);
  batch negative = make_batch(log_pbar, {1, 10, 100, 1000}, {0.0}, 8);
  lens::batch_summary summary;
  for (const auto& named : reliability::all_estimators()) {
    INFO(named.first);
    reliability::require_both_precisions_match(negative, 8, named.second);
  }
  reliability::library_advantages<float>(negative, lens::fixed_groups{8}, lens::presets::lens(), &summary);
  REQUIRE(summary.num_negative_groups == 64);
  REQUIRE(summary.negative_group_fraction == 1.0);
  REQUIRE(summary.num_nonzero_advantages == 64 * 8);  // LENS rescues every negative group

  batch correct = make_batch(log_pbar, {1, 10, 100, 1000}, {1.0}, 8);
  for (const auto& named : reliability::all_estimators()) {
    INFO(named.first);
    const auto advantages = reliability::library_advantages<float>(correct, lens::fixed_groups{8}, named.second, &summary);
    std::size_t nonzero = 0;
    for (double a : advantages) nonzero += a != 0.0;
    REQUIRE(nonzero == 0);  // exactly 0, not eps-scaled round-off
    REQUIRE(summary.num_zero_variance_groups == 64);
    REQUIRE(summary.num_negative_groups == 0);
  }
}

TEST_CASE("fractional rewards", "[extreme]") {
  const std::vector<double> rewards{0.0, 0.1, 0.5, 0.9, 1.0, 1e-7, 1e-30, 0.999999, 0.25, 0.0, 0.75, 1e-40};
  std::vector<double> log_pbar;
  for (std::size_t i = 0; i < 48; ++i) log_pbar.push_back(-0.05 * static_cast<double>(i * i % 37) - 1e-3);
  batch b = make_batch(log_pbar, {3, 64, 512}, rewards, 6);
  for (const auto& named : reliability::all_estimators()) {
    INFO(named.first);
    reliability::require_both_precisions_match(b, 6, named.second);
  }
  // The GRPO family takes any finite score: negative, large, tiny.
  batch wide = b;
  const std::vector<double> scores{-3.5, 1e6, 2.0, -1e-20, 0.0, 7.25, 1e20, -1e20, 5.0, 5.0, 5.0, 5.0};
  for (std::size_t i = 0; i < wide.scores.size(); ++i) wide.scores[i] = scores[i % scores.size()];
  for (const auto& named : reliability::all_estimators()) {
    if (named.second.kind == lens::estimator::lens) continue;
    INFO(named.first);
    reliability::require_both_precisions_match(wide, 6, named.second);
  }
}

TEST_CASE("group ids that are sparse 64-bit values, shuffled", "[extreme]") {
  const std::int64_t lowest = std::numeric_limits<std::int64_t>::min();
  const std::int64_t highest = std::numeric_limits<std::int64_t>::max();
  // Extremes, and ids equal in their low 32 or 40 bits to stress the hash table.
  std::vector<std::int64_t> distinct{lowest, highest, -1, 0, 1, std::int64_t(1) << 62, -(std::int64_t(1) << 62)};
  for (std::int64_t k = 1; k <= 40; ++k) distinct.push_back(k << 40);
  for (std::int64_t k = 1; k <= 40; ++k) distinct.push_back(-(k << 32));
  std::mt19937_64 rng(42);
  batch b;
  std::uniform_int_distribution<int> size(1, 9);
  std::uniform_real_distribution<double> mean_logprob(-8.0, 0.0);
  for (std::int64_t id : distinct) {
    const int members = size(rng);
    for (int k = 0; k < members; ++k) {
      b.group_ids.push_back(id);
      b.scores.push_back((rng() % 3 == 0) ? 1.0 : 0.0);
      b.lengths.push_back(1 + static_cast<std::int64_t>(rng() % 200));
      b.logprob_sums.push_back(mean_logprob(rng) * static_cast<double>(b.lengths.back()));
    }
  }
  // One permutation applied to every per-sample vector, as verl's shuffle does.
  std::vector<std::size_t> order(b.scores.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  batch shuffled;
  for (std::size_t i : order) {
    shuffled.group_ids.push_back(b.group_ids[i]);
    shuffled.scores.push_back(b.scores[i]);
    shuffled.lengths.push_back(b.lengths[i]);
    shuffled.logprob_sums.push_back(b.logprob_sums[i]);
  }
  const lens::id_groups layout{shuffled.group_ids};
  for (const auto& named : reliability::all_estimators()) {
    INFO(named.first);
    const batch as_float = reliability::rounded<float>(shuffled);
    const auto reference = lens_reference::compute(as_float.scores, as_float.logprob_sums,
                                                   std::vector<double>(as_float.lengths.begin(), as_float.lengths.end()),
                                                   as_float.group_ids, named.second);
    reliability::require_matches(reliability::library_advantages<float>(as_float, layout, named.second),
                                 reference.advantages);
    reliability::require_matches(reliability::library_advantages<double>(shuffled, layout, named.second),
                                 reliability::reference_advantages(shuffled, named.second));
    // Statistics come in order of first appearance, with the caller's ids.
    const std::vector<float> scores(as_float.scores.begin(), as_float.scores.end());
    const std::vector<float> sums(as_float.logprob_sums.begin(), as_float.logprob_sums.end());
    std::vector<float> out(scores.size());
    std::vector<lens::group_statistics> stats;
    lens::compute_advantages(lens::sequence_inputs<float>{scores, sums, as_float.lengths}, layout,
                             lens::span<float>(out), named.second, &stats);
    REQUIRE(stats.size() == distinct.size());
    REQUIRE(reference.groups.size() == distinct.size());
    for (std::size_t g = 0; g < stats.size(); ++g) {
      REQUIRE(stats[g].group_id == reference.groups[g].id);
      REQUIRE(stats[g].size == static_cast<std::int64_t>(reference.groups[g].members.size()));
    }
  }
}

TEST_CASE("garbage in masked-out log-probabilities is ignored, NaN included", "[extreme]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  token_batch<float, std::uint8_t> clean;
  clean.n = 4;
  clean.t = 5;
  clean.token_rewards = std::vector<float>{0, 0, 1, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ 0, 0.5f, 0, 0, 0};
  clean.logprobs = std::vector<float>{-0.1f, -0.2f, -0.3f, 0, 0, /**/ -5, -4, 0, 0, 0, /**/ -1e4f, 0, 0, 0, 0, /**/ -1, -2, -3, -4, -5};
  clean.mask = std::vector<std::uint8_t>{1, 1, 1, 0, 0, /**/ 1, 1, 0, 0, 0, /**/ 1, 0, 0, 0, 0, /**/ 1, 1, 1, 1, 1};
  token_batch<float, std::uint8_t> dirty = clean;
  const std::vector<float> garbage{nan, inf, -inf, 1e30f, 5.0f, -nan};
  std::size_t k = 0;
  for (std::size_t j = 0; j < dirty.mask.size(); ++j)
    if (dirty.mask[j] == 0) dirty.logprobs[j] = garbage[k++ % garbage.size()];

  for (const auto& named : reliability::all_estimators()) {
    INFO(named.first);
    require_token_path_matches(dirty, 4, named.second);
    std::vector<float> a_clean(4), a_dirty(4), t_clean(20), t_dirty(20);
    lens::compute_advantages(clean.inputs(), lens::fixed_groups{4}, lens::span<float>(a_clean),
                             lens::span<float>(t_clean), named.second);
    lens::compute_advantages(dirty.inputs(), lens::fixed_groups{4}, lens::span<float>(a_dirty),
                             lens::span<float>(t_dirty), named.second);
    REQUIRE(a_clean == a_dirty);  // bit for bit
    REQUIRE(t_clean == t_dirty);
  }

  // The same with a float mask and double log-probabilities.
  token_batch<double, float> float_mask;
  float_mask.n = dirty.n;
  float_mask.t = dirty.t;
  float_mask.token_rewards.assign(dirty.token_rewards.begin(), dirty.token_rewards.end());
  float_mask.logprobs.assign(dirty.logprobs.begin(), dirty.logprobs.end());
  float_mask.mask.assign(dirty.mask.begin(), dirty.mask.end());
  for (const auto& named : reliability::all_estimators()) {
    INFO(named.first);
    require_token_path_matches(float_mask, 4, named.second);
  }

  // And a bool mask (std::vector<bool> has no data(), so a plain array).
  bool bool_mask[20];
  for (std::size_t j = 0; j < 20; ++j) bool_mask[j] = dirty.mask[j] != 0;
  lens::token_inputs<float, bool> with_bools;
  with_bools.num_samples = 4;
  with_bools.num_tokens = 5;
  with_bools.token_rewards = dirty.token_rewards.data();
  with_bools.logprobs = dirty.logprobs.data();
  with_bools.mask = bool_mask;
  std::vector<float> a_bool(4), a_bytes(4);
  lens::compute_advantages(with_bools, lens::fixed_groups{4}, lens::span<float>(a_bool), lens::span<float>());
  lens::compute_advantages(dirty.inputs(), lens::fixed_groups{4}, lens::span<float>(a_bytes), lens::span<float>());
  REQUIRE(a_bool == a_bytes);
}
