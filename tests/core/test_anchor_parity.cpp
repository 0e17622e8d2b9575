// Parity with the anchors' formulas (verl, TRL, OpenRLHF, Dr. GRPO, RLOO, TRL's
// batch std) on cases computed by hand; each expected value's arithmetic is in
// the comment beside it.
#include <catch2/catch.hpp>

#include <vector>

#include "lens/lens.hpp"

namespace {

std::vector<double> run(const std::vector<double>& scores, const lens::advantage_settings& settings,
                        const std::vector<std::int64_t>& offsets) {
  std::vector<double> advantages(scores.size(), -99.0);
  lens::compute_advantages(lens::sequence_inputs<double>{scores}, lens::offset_groups{offsets},
                           lens::span<double>(advantages), settings);
  return advantages;
}

void require_close(const std::vector<double>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    INFO("index " << i);
    REQUIRE(actual[i] == Approx(expected[i]).margin(1e-9));
  }
}

}  // namespace

TEST_CASE("verl GRPO: unbiased std, eps 1e-6 added to std", "[grpo][anchor][verl]") {
  // s = [1, 0, 0]: mean 1/3, unbiased std sqrt(1/3) = 0.5773503;
  // (1 - 1/3) / (0.5773503 + 1e-6) = 1.1546985, (0 - 1/3) / ... = -0.5773493
  require_close(run({1, 0, 0}, lens::presets::verl_grpo(), {0, 3}),
                {1.1546985383827155, -0.5773492691913577, -0.5773492691913577});
}

TEST_CASE("verl singleton groups use mean 0 and std 1; TRL gives 0", "[grpo][anchor][singleton]") {
  // verl: A = s / (1 + eps) = 0.7 / 1.000001
  require_close(run({0.7}, lens::presets::verl_grpo(), {0, 1}), {0.7 / 1.000001});
  require_close(run({0.7}, lens::presets::trl_grpo(), {0, 1}), {0.0});
  // verl's RLOO leaves a singleton's score unchanged (mean 0, no rescaling)
  require_close(run({0.7}, lens::presets::rloo(), {0, 1}), {0.7});
  // a singleton next to a normal group: the normal group is unaffected
  require_close(run({1, 0, 0.25}, lens::presets::verl_grpo(), {0, 2, 3}),
                {0.5 / (0.7071067811865476 + 1e-6), -0.5 / (0.7071067811865476 + 1e-6), 0.25 / 1.000001});
}

TEST_CASE("TRL GRPO: eps 1e-4", "[grpo][anchor][trl]") {
  // s = [1, 0, 0, 1]: mean 0.5, unbiased std 0.5773503; 0.5 / (0.5773503 + 1e-4) = 0.8658754
  require_close(run({1, 0, 0, 1}, lens::presets::trl_grpo(), {0, 4}),
                {0.8658754297607016, -0.8658754297607016, -0.8658754297607016, 0.8658754297607016});
}

TEST_CASE("OpenRLHF GRPO: eps 1e-9", "[grpo][anchor][openrlhf]") {
  // 0.5 / (0.5773503 + 1e-9) = 0.8660254
  require_close(run({1, 0, 0, 1}, lens::presets::openrlhf_grpo(), {0, 4}),
                {0.8660254022844387, -0.8660254022844387, -0.8660254022844387, 0.8660254022844387});
}

TEST_CASE("Dr. GRPO: de-meaning only", "[grpo][anchor][dr-grpo]") {
  // s = [0.2, 0.9, 0.4], mean 0.5
  require_close(run({0.2, 0.9, 0.4}, lens::presets::dr_grpo(), {0, 3}), {-0.3, 0.4, -0.1});
}

TEST_CASE("GRPO with population std", "[grpo][anchor]") {
  // s = [0.2, 0.9, 0.4]: population std sqrt(0.26/3) = 0.2943920; -0.3 / (0.2943920 + 1e-6) = -1.0190459
  lens::advantage_settings settings = lens::presets::verl_grpo();
  settings.unbiased_std = false;
  require_close(run({0.2, 0.9, 0.4}, settings, {0, 3}),
                {-1.0190458692034328, 1.3587278256045772, -0.33968195640114424});
}

TEST_CASE("RLOO: s minus the mean of the others", "[rloo][anchor]") {
  // G/(G-1) * (s - mean): s = [1, 0, 0, 0], mean 0.25: 4/3 * 0.75 = 1, 4/3 * -0.25 = -1/3
  require_close(run({1, 0, 0, 0}, lens::presets::rloo(), {0, 4}), {1.0, -1.0 / 3, -1.0 / 3, -1.0 / 3});
  // s = [0.5, 1, 0]: 0.5 - 0.5 = 0, 1 - 0.25 = 0.75, 0 - 0.75 = -0.75
  require_close(run({0.5, 1.0, 0.0}, lens::presets::rloo(), {0, 3}), {0.0, 0.75, -0.75});
}

TEST_CASE("TRL batch std: group mean, batch std", "[grpo][anchor][batch-std]") {
  // groups [1, 0] and [1, 1]; batch [1, 0, 1, 1] has unbiased std 0.5;
  // group 1: (1 - 0.5) / (0.5 + 1e-4) = 0.9998000; group 2 is constant: exactly 0
  require_close(run({1, 0, 1, 1}, lens::presets::trl_grpo_batch_std(), {0, 2, 4}),
                {0.9998000399920016, -0.9998000399920016, 0.0, 0.0});
}

TEST_CASE("constant groups give exactly zero, never eps-scaled round-off", "[grpo][lens][constant]") {
  for (auto settings : {lens::presets::verl_grpo(), lens::presets::trl_grpo(), lens::presets::openrlhf_grpo(),
                        lens::presets::dr_grpo(), lens::presets::rloo(), lens::presets::trl_grpo_batch_std()}) {
    const auto advantages = run({0.3, 0.3, 0.3, 1, 1}, settings, {0, 3, 5});
    for (double a : advantages) {
      REQUIRE(a == 0.0);
      REQUIRE_FALSE(std::signbit(a));
    }
  }
  // LENS: an all-correct group has r~ = 1 everywhere
  const std::vector<double> rewards{1, 1, 1};
  const std::vector<double> logprob_sums{-0.1, -3, -7};
  const std::vector<std::int64_t> lengths{2, 3, 4};
  std::vector<double> advantages(3, -1);
  lens::compute_lens_advantages(lens::sequence_inputs<double>{rewards, logprob_sums, lengths}, lens::fixed_groups{3},
                                lens::span<double>(advantages));
  for (double a : advantages) REQUIRE(a == 0.0);
}

TEST_CASE("the three layouts agree on an anchor case", "[layouts][anchor]") {
  const std::vector<double> scores{1, 0, 0, 1, 0, 1, 1, 1};
  std::vector<double> fixed(8), offsets(8), ids(8);
  const std::vector<std::int64_t> offset_list{0, 4, 8};
  const std::vector<std::int64_t> id_list{-5, -5, -5, -5, 1LL << 62, 1LL << 62, 1LL << 62, 1LL << 62};
  lens::compute_grpo_advantages(lens::sequence_inputs<double>{scores}, lens::fixed_groups{4}, lens::span<double>(fixed));
  lens::compute_grpo_advantages(lens::sequence_inputs<double>{scores}, lens::offset_groups{offset_list},
                                lens::span<double>(offsets));
  lens::compute_grpo_advantages(lens::sequence_inputs<double>{scores}, lens::id_groups{id_list},
                                lens::span<double>(ids));
  // group 1 [1, 0, 0, 1]: +-0.5 / (sqrt(1/3) + 1e-6);
  // group 2 [0, 1, 1, 1]: mean 0.75, unbiased std 0.5: -0.75 / 0.500001, 0.25 / 0.500001
  const double first = 0.5 / (0.5773502691896258 + 1e-6);
  require_close(fixed, {first, -first, -first, first, -0.75 / 0.500001, 0.25 / 0.500001, 0.25 / 0.500001,
                        0.25 / 0.500001});
  REQUIRE(offsets == fixed);
  REQUIRE(ids == fixed);
}
