// Pins every worked example of docs/ALGORITHM.md section 7, to 1e-6, through the public
// entry points. The expected values are the document's, not recomputed here.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "lens/lens.hpp"

namespace {

std::vector<double> logs(const std::vector<double>& probabilities, double length) {
  std::vector<double> out;
  for (double p : probabilities) out.push_back(length * std::log(p));
  return out;
}

void require_close(const std::vector<double>& actual, const std::vector<double>& expected, double tolerance = 1e-6) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    INFO("index " << i);
    REQUIRE(actual[i] == Approx(expected[i]).margin(tolerance));
  }
}

}  // namespace

TEST_CASE("LENS negative group of one-token answers (ALGORITHM.md 7)", "[lens][worked]") {
  const std::vector<double> rewards{0, 0, 0, 0};
  const std::vector<double> logprob_sums = logs({0.90, 0.80, 0.85, 0.60}, 1);
  const std::vector<std::int64_t> lengths{1, 1, 1, 1};
  std::vector<double> advantages(4);
  std::vector<lens::group_statistics> groups;
  const auto summary = lens::compute_lens_advantages(lens::sequence_inputs<double>{rewards, logprob_sums, lengths},
                                                     lens::fixed_groups{4}, lens::span<double>(advantages), {}, &groups);
  require_close(advantages, {-0.0125822, -0.0000822, -0.0060033, 0.0186678});
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].difficulty == Approx(1.8));
  CHECK(groups[0].negative);
  CHECK(groups[0].num_correct == 0);
  // calibrated rewards r~ = [-0.25, -0.2, -0.2236842, -0.125]; their mean:
  CHECK(groups[0].mean == Approx((-0.25 - 0.2 - 0.2236842 - 0.125) / 4).margin(1e-6));
  CHECK(summary.negative_group_fraction == 1.0);
  CHECK(summary.gradient_sample_fraction == 1.0);
}

TEST_CASE("LENS mixed group, D from raw sequence probabilities (ALGORITHM.md 7)", "[lens][worked]") {
  const std::vector<double> rewards{1, 0, 0, 0};
  const std::vector<double> logprob_sums = logs({0.90, 0.95, 0.50, 0.70}, 300);
  const std::vector<std::int64_t> lengths{300, 300, 300, 300};
  std::vector<double> advantages(4);
  std::vector<lens::group_statistics> groups;
  lens::compute_lens_advantages(lens::sequence_inputs<double>{rewards, logprob_sums, lengths}, lens::fixed_groups{4},
                                lens::span<double>(advantages), {}, &groups);
  require_close(advantages, {1.4902439, -0.6477662, -0.3728791, -0.4695986});
  CHECK(groups[0].difficulty == Approx(1.9));
  CHECK_FALSE(groups[0].negative);
}

TEST_CASE("LENS mixed group, D from geometric-mean probabilities (ALGORITHM.md 7)", "[lens][worked]") {
  const std::vector<double> rewards{1, 0, 0, 0};
  const std::vector<double> logprob_sums = logs({0.90, 0.95, 0.50, 0.70}, 300);
  const std::vector<std::int64_t> lengths{300, 300, 300, 300};
  std::vector<double> advantages(4);
  std::vector<lens::group_statistics> groups;
  lens::advantage_settings settings;
  settings.difficulty_source = lens::difficulty_probability::geometric_mean;
  lens::compute_lens_advantages(lens::sequence_inputs<double>{rewards, logprob_sums, lengths}, lens::fixed_groups{4},
                                lens::span<double>(advantages), settings, &groups);
  require_close(advantages, {1.4989111, -0.5488619, -0.4562103, -0.4938389});
  CHECK(groups[0].difficulty == Approx(3.6));
}

TEST_CASE("GRPO with verl defaults (ALGORITHM.md 7)", "[grpo][worked]") {
  std::vector<double> advantages(4);
  const std::vector<double> scores{1, 0, 0, 1};
  lens::compute_grpo_advantages(lens::sequence_inputs<double>{scores}, lens::fixed_groups{4},
                                lens::span<double>(advantages));
  require_close(advantages, {0.8660239, -0.8660239, -0.8660239, 0.8660239});

  // A near-constant group: a one-pass float variance gets this badly wrong.
  const std::vector<double> close_scores{1.0, 1.00001};
  std::vector<double> close_advantages(2);
  lens::compute_grpo_advantages(lens::sequence_inputs<double>{close_scores}, lens::fixed_groups{2},
                                lens::span<double>(close_advantages));
  require_close(close_advantages, {-0.6194967, 0.6194967});
}

TEST_CASE("LENS negative singleton gets 0 under every singleton policy (ALGORITHM.md 7)", "[lens][worked][singleton]") {
  // groups of one: wrong (pbar 0.7), correct (pbar 0.4), wrong (pbar 0.01)
  const std::vector<double> rewards{0, 1, 0};
  const std::vector<double> logprob_sums = logs({0.7, 0.4, 0.01}, 3);
  const std::vector<std::int64_t> lengths{3, 3, 3};
  for (auto policy : {lens::singleton_policy::verl, lens::singleton_policy::zero}) {
    lens::advantage_settings settings;
    settings.singleton = policy;
    std::vector<double> advantages(3, 7.0);
    std::vector<lens::group_statistics> stats;
    lens::compute_lens_advantages(lens::sequence_inputs<double>{rewards, logprob_sums, lengths},
                                  lens::fixed_groups{1}, lens::span<double>(advantages), settings, &stats);
    CHECK(advantages[0] == 0.0);
    CHECK(advantages[2] == 0.0);
    CHECK(advantages[1] == Approx(policy == lens::singleton_policy::verl ? 0.999999 : 0.0).margin(1e-6));
    CHECK(stats[0].mean == Approx(-1.0));  // r~ = -pbar / (2 pbar - pbar)
    CHECK(!stats[0].zero_variance);
  }
}

TEST_CASE("float I/O reproduces the worked examples to float precision", "[lens][worked][float]") {
  const std::vector<float> rewards{0, 0, 0, 0};
  std::vector<float> logprob_sums;
  for (double p : {0.90, 0.80, 0.85, 0.60}) logprob_sums.push_back(static_cast<float>(std::log(p)));
  const std::vector<std::int64_t> lengths{1, 1, 1, 1};
  std::vector<float> advantages(4);
  lens::compute_lens_advantages(lens::sequence_inputs<float>{rewards, logprob_sums, lengths}, lens::fixed_groups{4},
                                lens::span<float>(advantages));
  const std::vector<double> expected{-0.0125822, -0.0000822, -0.0060033, 0.0186678};
  for (std::size_t i = 0; i < 4; ++i) CHECK(advantages[i] == Approx(expected[i]).margin(1e-6));
}
