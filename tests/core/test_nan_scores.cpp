// settings.skip_nan_scores (TRL's rule for unscorable completions): a NaN
// score leaves its sample out of its group and gives it advantage 0. Pinned
// against the same call on the batch with those samples removed, for every
// estimator and layout, per-sample and token-level inputs; without the
// setting a NaN is still rejected; the device backends refuse the setting.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "lens/lens.hpp"

using Catch::Matchers::Contains;

namespace {

struct batch {
  std::vector<float> scores, logprob_sums;
  std::vector<std::int64_t> lengths, ids;
};

batch random_batch(std::mt19937_64& rng) {
  batch b;
  std::uniform_int_distribution<int> groups(1, 12), size(1, 9);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  const int g = groups(rng);
  for (int k = 0; k < g; ++k) {
    const int s = size(rng);
    const bool negative = uniform(rng) < 0.3f;
    for (int j = 0; j < s; ++j) {
      const float u = uniform(rng);
      b.scores.push_back(u < 0.2f ? std::numeric_limits<float>::quiet_NaN() : (negative ? 0.f : float(u < 0.6f)));
      b.lengths.push_back(1 + static_cast<std::int64_t>(rng() % 30));
      b.logprob_sums.push_back(-uniform(rng) * float(b.lengths.back()));
      b.ids.push_back(1000 + 7 * k);
    }
  }
  std::shuffle(b.ids.begin(), b.ids.end(), rng);  // any order; group sizes stay random
  return b;
}

batch without_nan(const batch& b) {
  batch out;
  for (std::size_t i = 0; i < b.scores.size(); ++i) {
    if (std::isnan(b.scores[i])) continue;
    out.scores.push_back(b.scores[i]);
    out.logprob_sums.push_back(b.logprob_sums[i]);
    out.lengths.push_back(b.lengths[i]);
    out.ids.push_back(b.ids[i]);
  }
  return out;
}

std::vector<float> run(const batch& b, const lens::advantage_settings& s) {
  std::vector<float> a(b.scores.size(), 7.f);
  lens::compute_advantages(lens::sequence_inputs<float>{b.scores, b.logprob_sums, b.lengths},
                           lens::id_groups{b.ids}, lens::span<float>(a), s);
  return a;
}

}  // namespace

TEST_CASE("skip_nan_scores: NaN samples are in no group and get 0", "[nan]") {
  std::mt19937_64 rng(5);
  std::vector<lens::advantage_settings> all{lens::presets::lens(), lens::presets::verl_grpo(),
                                            lens::presets::trl_grpo(), lens::presets::dr_grpo(),
                                            lens::presets::rloo(), lens::presets::trl_grpo_batch_std()};
  for (auto s : all) {
    s.skip_nan_scores = true;
    for (int trial = 0; trial < 300; ++trial) {
      const batch b = random_batch(rng);
      const batch kept = without_nan(b);
      const std::vector<float> got = run(b, s), expected = run(kept, s);
      std::size_t k = 0;
      for (std::size_t i = 0; i < b.scores.size(); ++i) {
        if (std::isnan(b.scores[i])) {
          REQUIRE(got[i] == 0.0f);
        } else {
          REQUIRE(got[i] == expected[k++]);  // bit for bit: the same members in the same order
        }
      }
    }
  }
}

TEST_CASE("skip_nan_scores: contiguous layouts and token rows agree with ids", "[nan]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // two groups of 4: [1, NaN, 0, 0] and [NaN, NaN, NaN, 1]
  const std::vector<float> scores{1, nan, 0, 0, nan, nan, nan, 1};
  const std::vector<std::int64_t> ids{0, 0, 0, 0, 1, 1, 1, 1}, offsets{0, 4, 8};
  lens::advantage_settings s = lens::presets::trl_grpo();
  s.skip_nan_scores = true;
  std::vector<float> by_ids(8), fixed(8), by_offsets(8);
  const lens::sequence_inputs<float> in{scores, {}, {}};
  std::vector<lens::group_statistics> stats;
  lens::compute_advantages(in, lens::id_groups{ids}, lens::span<float>(by_ids), s, &stats);
  lens::compute_advantages(in, lens::fixed_groups{4}, lens::span<float>(fixed), s);
  lens::compute_advantages(in, lens::offset_groups{offsets}, lens::span<float>(by_offsets), s);
  CHECK(by_ids == fixed);
  CHECK(by_ids == by_offsets);
  // group 0 is {1, 0, 0}: mean 1/3, std sqrt(1/3); group 1 is {1} alone: TRL gives 0
  const double std0 = std::sqrt(1.0 / 3.0);
  CHECK(by_ids[0] == Approx((1 - 1.0 / 3) / (std0 + 1e-4)).epsilon(1e-6));
  CHECK(by_ids[2] == Approx((0 - 1.0 / 3) / (std0 + 1e-4)).epsilon(1e-6));
  CHECK(by_ids[1] == 0.0f);
  CHECK(by_ids[7] == 0.0f);
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].size == 3);
  CHECK(stats[1].size == 1);
  // token rows: a NaN token reward makes the row's score NaN, the same rule
  const std::size_t t = 2;
  std::vector<float> token_rewards(8 * t, 0.f);
  for (std::size_t i = 0; i < 8; ++i) token_rewards[i * t + 1] = scores[i];
  const std::vector<std::uint8_t> mask(8 * t, 1);
  lens::token_inputs<float> tok{8, t, nullptr, token_rewards.data(), nullptr, mask.data()};
  std::vector<float> from_rows(8), token_out(8 * t);
  lens::compute_advantages(tok, lens::fixed_groups{4}, lens::span<float>(from_rows), lens::span<float>(token_out), s);
  CHECK(from_rows == by_ids);
}

TEST_CASE("without skip_nan_scores a NaN score is rejected; the GPU paths refuse the setting", "[nan]") {
  const std::vector<float> scores{1, std::numeric_limits<float>::quiet_NaN()};
  std::vector<float> a(2, 7.f);
  CHECK_THROWS_WITH(lens::compute_advantages(lens::sequence_inputs<float>{scores, {}, {}}, lens::fixed_groups{2},
                                             lens::span<float>(a), lens::presets::trl_grpo()),
                    Contains("lens: scores[1] is not finite"));
  CHECK(a == std::vector<float>(2, 7.f));
  lens::advantage_settings s = lens::presets::trl_grpo();
  s.skip_nan_scores = true;
  CHECK_THROWS_WITH(lens::core::check_device_settings(s), Contains("settings.skip_nan_scores is a setting out of its range"));
}
