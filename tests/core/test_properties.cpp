// Properties on thousands of random ragged batches, and agreement with the
// independent scalar reference (tests/reference/scalar_reference.hpp) for
// every estimator and setting.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "lens/lens.hpp"
#include "random_batches.hpp"
#include "reference/scalar_reference.hpp"

namespace {

struct named_settings {
  std::string name;
  lens::advantage_settings settings;
};

std::vector<named_settings> all_settings() {
  std::vector<named_settings> out{
      {"lens", lens::presets::lens()},
      {"verl_grpo", lens::presets::verl_grpo()},
      {"trl_grpo", lens::presets::trl_grpo()},
      {"openrlhf_grpo", lens::presets::openrlhf_grpo()},
      {"dr_grpo", lens::presets::dr_grpo()},
      {"rloo", lens::presets::rloo()},
      {"trl_batch_std", lens::presets::trl_grpo_batch_std()},
  };
  auto add = [&](const std::string& name, auto change) {
    lens::advantage_settings s;
    change(s);
    out.push_back({name, s});
  };
  add("lens_geometric", [](auto& s) { s.difficulty_source = lens::difficulty_probability::geometric_mean; });
  add("lens_negative_only", [](auto& s) { s.scope = lens::lens_scope::negative_groups; });
  add("lens_mixed_only", [](auto& s) { s.scope = lens::lens_scope::mixed_groups; });
  add("lens_no_1_over_G", [](auto& s) { s.divide_penalty_by_group_size = false; });
  add("lens_floor_3_alpha_1", [](auto& s) { s.floor_factor = 3; s.alpha = 1; });
  add("lens_singleton_zero_population", [](auto& s) { s.singleton = lens::singleton_policy::zero; s.unbiased_std = false; });
  add("lens_dr", [](auto& s) { s.normalize_by_std = false; });
  return out;
}

std::vector<double> library(const lens_test::random_batch& b, const lens::advantage_settings& s,
                            const std::string& layout, std::vector<lens::group_statistics>* stats = nullptr) {
  std::vector<double> a(b.size(), -99.0);
  const lens::sequence_inputs<double> in{b.scores, b.logprob_sums, b.lengths};
  if (layout == "ids") lens::compute_advantages(in, lens::id_groups{b.ids}, lens::span<double>(a), s, stats);
  else lens::compute_advantages(in, lens::offset_groups{b.offsets}, lens::span<double>(a), s, stats);
  return a;
}

lens_reference::reference_result reference(const lens_test::random_batch& b, const lens::advantage_settings& s) {
  std::vector<double> lengths(b.lengths.begin(), b.lengths.end());
  return lens_reference::compute(b.scores, b.logprob_sums, lengths, b.ids, s);
}

}  // namespace

TEST_CASE("library matches the scalar reference on random ragged batches, every setting", "[reference][properties]") {
  std::mt19937_64 rng(2024);
  for (const auto& [name, settings] : all_settings()) {
    INFO("settings " << name);
    for (int trial = 0; trial < 300; ++trial) {
      const auto b = lens_test::make_random_batch(rng, 1 + rng() % 12, 1 + rng() % 20);
      std::vector<lens::group_statistics> stats;
      const auto a = library(b, settings, "ids", &stats);
      const auto ref = reference(b, settings);
      for (std::size_t i = 0; i < b.size(); ++i) {
        INFO("trial " << trial << " sample " << i);
        REQUIRE(std::isfinite(a[i]));
        REQUIRE(a[i] == Approx(ref.advantages[i]).epsilon(1e-9).margin(1e-12));
      }
      REQUIRE(stats.size() == ref.groups.size());
      for (std::size_t g = 0; g < stats.size(); ++g) {
        REQUIRE(stats[g].group_id == ref.groups[g].id);
        REQUIRE(stats[g].size == static_cast<std::int64_t>(ref.groups[g].members.size()));
        REQUIRE(stats[g].negative == ref.groups[g].negative);
        REQUIRE(stats[g].zero_variance == ref.groups[g].zero_variance);
        REQUIRE(stats[g].mean == Approx(ref.groups[g].mean).epsilon(1e-9).margin(1e-12));
        REQUIRE(stats[g].std == Approx(ref.groups[g].std).epsilon(1e-9).margin(1e-12));
        REQUIRE(stats[g].difficulty == Approx(ref.groups[g].difficulty).epsilon(1e-9));
      }
    }
  }
}

TEST_CASE("advantages sum to zero within each non-singleton group", "[properties]") {
  std::mt19937_64 rng(3);
  for (const auto& [name, settings] : all_settings()) {
    INFO("settings " << name);
    for (int trial = 0; trial < 200; ++trial) {
      const auto b = lens_test::make_random_batch(rng, 1 + rng() % 10, 1 + rng() % 30);
      const auto a = library(b, settings, "offsets");
      for (std::size_t g = 0; g + 1 < b.offsets.size(); ++g) {
        if (b.offsets[g + 1] - b.offsets[g] < 2) continue;
        double sum = 0, scale = 0;
        for (auto i = b.offsets[g]; i < b.offsets[g + 1]; ++i) {
          sum += a[static_cast<std::size_t>(i)];
          scale += std::abs(a[static_cast<std::size_t>(i)]);
        }
        REQUIRE(std::abs(sum) <= 1e-12 * (1 + scale));
      }
    }
  }
}

TEST_CASE("LENS keeps GRPO's signs: in binary mixed groups correct > 0 > wrong", "[properties][lens]") {
  std::mt19937_64 rng(5);
  std::size_t checked = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    const auto b = lens_test::make_random_batch(rng, 1 + rng() % 8, 2 + rng() % 20);
    const auto a = library(b, lens::presets::lens(), "offsets");
    for (std::size_t g = 0; g + 1 < b.offsets.size(); ++g) {
      bool any_correct = false, any_wrong = false, binary = true;
      for (auto i = b.offsets[g]; i < b.offsets[g + 1]; ++i) {
        const double r = b.scores[static_cast<std::size_t>(i)];
        any_correct |= r == 1.0;
        any_wrong |= r == 0.0;
        binary &= r == 0.0 || r == 1.0;
      }
      if (!(binary && any_correct && any_wrong)) continue;
      ++checked;
      for (auto i = b.offsets[g]; i < b.offsets[g + 1]; ++i) {
        const auto k = static_cast<std::size_t>(i);
        if (b.scores[k] == 1.0) REQUIRE(a[k] > 0);
        else REQUIRE(a[k] < 0);
      }
    }
  }
  REQUIRE(checked > 500);
}

TEST_CASE("LENS calibrated rewards of wrong answers lie in [-1/G, 0)", "[properties][lens]") {
  std::mt19937_64 rng(9);
  const lens::advantage_settings settings;
  for (int trial = 0; trial < 2000; ++trial) {
    const auto b = lens_test::make_random_batch(rng, 1, 1 + rng() % 40);
    lens::core::confidence_summary summary;
    std::vector<double> log_conf;
    for (std::size_t i = 0; i < b.size(); ++i) {
      const double n = static_cast<double>(b.lengths[i]);
      log_conf.push_back(lens::core::log_confidence(b.logprob_sums[i], n));
      lens::core::add(summary, b.scores[i], log_conf.back(),
                      lens::core::log_probability(b.logprob_sums[i], n, settings.difficulty_source));
    }
    const auto shape = lens::core::make_shape(summary, settings);
    REQUIRE(shape.calibrate);
    const double group_size = static_cast<double>(b.size());
    for (std::size_t i = 0; i < b.size(); ++i) {
      const double calibrated = lens::core::shaped_score(shape, b.scores[i], log_conf[i]);
      if (b.scores[i] == 0.0) {
        REQUIRE(calibrated < 0.0);
        REQUIRE(calibrated >= -(1.0 + 1e-12) / group_size);  // equality at the most confident answer, up to rounding
      } else if (b.scores[i] == 1.0) {
        REQUIRE(calibrated == 1.0);
      }
    }
  }
}

TEST_CASE("permuting the samples permutes the outputs (id layout)", "[properties][layouts]") {
  std::mt19937_64 rng(13);
  for (const auto& [name, settings] : all_settings()) {
    INFO("settings " << name);
    for (int trial = 0; trial < 100; ++trial) {
      const auto b = lens_test::make_random_batch(rng, 1 + rng() % 10, 1 + rng() % 16);
      const auto a = library(b, settings, "ids");
      const auto p = lens_test::random_permutation(rng, b.size());
      lens_test::random_batch shuffled = b;
      shuffled.scores = lens_test::permuted(b.scores, p);
      shuffled.logprob_sums = lens_test::permuted(b.logprob_sums, p);
      shuffled.lengths = lens_test::permuted(b.lengths, p);
      shuffled.ids = lens_test::permuted(b.ids, p);
      const auto shuffled_a = library(shuffled, settings, "ids");
      for (std::size_t i = 0; i < b.size(); ++i) REQUIRE(shuffled_a[i] == Approx(a[p[i]]).epsilon(1e-12).margin(1e-14));
    }
  }
}

TEST_CASE("fixed, offset and id layouts give identical results", "[properties][layouts]") {
  std::mt19937_64 rng(17);
  for (const auto& [name, settings] : all_settings()) {
    INFO("settings " << name);
    for (int trial = 0; trial < 100; ++trial) {
      const std::size_t group_size = 1 + rng() % 16, num_groups = 1 + rng() % 10;
      // a random batch whose groups all have group_size samples
      auto b = lens_test::make_random_batch(rng, num_groups * group_size, 1);
      b.offsets.clear();
      for (std::size_t g = 0; g <= num_groups; ++g) b.offsets.push_back(static_cast<std::int64_t>(g * group_size));
      for (std::size_t i = 0; i < b.size(); ++i) b.ids[i] = static_cast<std::int64_t>(i / group_size) * 7919 - 100;
      std::vector<double> fixed(b.size());
      lens::compute_advantages(lens::sequence_inputs<double>{b.scores, b.logprob_sums, b.lengths},
                               lens::fixed_groups{group_size}, lens::span<double>(fixed), settings);
      REQUIRE(library(b, settings, "offsets") == fixed);
      REQUIRE(library(b, settings, "ids") == fixed);
    }
  }
}

TEST_CASE("float and double inputs agree to 1e-5", "[properties][float]") {
  std::mt19937_64 rng(19);
  for (const auto& [name, settings] : all_settings()) {
    INFO("settings " << name);
    for (int trial = 0; trial < 200; ++trial) {
      const auto b = lens_test::make_random_batch(rng, 1 + rng() % 10, 1 + rng() % 16);
      const std::vector<float> scores(b.scores.begin(), b.scores.end());
      const std::vector<float> sums(b.logprob_sums.begin(), b.logprob_sums.end());
      std::vector<float> a(b.size());
      lens::compute_advantages(lens::sequence_inputs<float>{scores, sums, b.lengths}, lens::id_groups{b.ids},
                               lens::span<float>(a), settings);
      // the double run sees exactly the float-rounded inputs
      lens_test::random_batch rounded = b;
      rounded.scores.assign(scores.begin(), scores.end());
      rounded.logprob_sums.assign(sums.begin(), sums.end());
      const auto d = library(rounded, settings, "ids");
      for (std::size_t i = 0; i < b.size(); ++i) REQUIRE(a[i] == Approx(d[i]).epsilon(1e-5).margin(1e-5));
    }
  }
}

TEST_CASE("batch summary counts negative groups and samples that carry gradient", "[properties][summary]") {
  // groups: [0,0] negative, [1,0] mixed, [1,1] all correct, [0] negative singleton
  const std::vector<double> scores{0, 0, 1, 0, 1, 1, 0};
  const std::vector<double> logprob_sums{-1, -2, -1, -3, -1, -1, -2};
  const std::vector<std::int64_t> lengths{2, 2, 2, 2, 2, 2, 2};
  const std::vector<std::int64_t> offsets{0, 2, 4, 6, 7};
  std::vector<double> a(7);
  const lens::sequence_inputs<double> in{scores, logprob_sums, lengths};

  auto lens_summary = lens::compute_lens_advantages(in, lens::offset_groups{offsets}, lens::span<double>(a));
  CHECK(lens_summary.num_groups == 4);
  CHECK(lens_summary.num_negative_groups == 2);
  CHECK(lens_summary.negative_group_fraction == 0.5);
  // LENS: the negative pair (different confidences) and the mixed pair carry gradient;
  // the all-correct pair does not; the negative singleton is centred by its own mean: 0 (ALGORITHM.md section 3)
  CHECK(lens_summary.num_nonzero_advantages == 4);
  CHECK(lens_summary.gradient_sample_fraction == Approx(4.0 / 7));
  CHECK(a[6] == 0.0);

  auto grpo_summary = lens::compute_grpo_advantages(in, lens::offset_groups{offsets}, lens::span<double>(a));
  CHECK(grpo_summary.num_negative_groups == 2);
  CHECK(grpo_summary.num_zero_variance_groups == 2);  // [0,0] and [1,1]; a singleton is not counted
  CHECK(grpo_summary.num_nonzero_advantages == 2);    // only the mixed pair; the singleton's 0 / (1 + eps) is 0
}

TEST_CASE("an empty batch is valid and returns empty outputs", "[properties][empty]") {
  const std::vector<double> none;
  const std::vector<std::int64_t> no_lengths, no_ids, offsets{0};
  std::vector<double> a;
  const lens::sequence_inputs<double> in{none, none, no_lengths};
  auto s1 = lens::compute_lens_advantages(in, lens::fixed_groups{4}, lens::span<double>(a));
  auto s2 = lens::compute_lens_advantages(in, lens::offset_groups{offsets}, lens::span<double>(a));
  auto s3 = lens::compute_lens_advantages(in, lens::id_groups{no_ids}, lens::span<double>(a));
  for (const auto& s : {s1, s2, s3}) {
    CHECK(s.num_samples == 0);
    CHECK(s.num_groups == 0);
    CHECK(s.negative_group_fraction == 0);
    CHECK(s.gradient_sample_fraction == 0);
  }
}
