// Every documented bad input raises lens::invalid_argument, whose message names
// the field and the first offending index, and leaves the outputs untouched.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "lens/lens.hpp"

using Catch::Matchers::Contains;

namespace {

constexpr double sentinel = 12345.0;
const double nan_value = std::numeric_limits<double>::quiet_NaN();
const double inf_value = std::numeric_limits<double>::infinity();

struct sequence_case {
  std::vector<double> scores{1, 0, 0, 1};
  std::vector<double> logprob_sums{-1, -2, -3, -4};
  std::vector<std::int64_t> lengths{2, 2, 2, 2};
  std::vector<double> advantages = std::vector<double>(4, sentinel);
  lens::sequence_inputs<double> inputs() const { return {scores, logprob_sums, lengths}; }
};

/// Runs call, expects lens::invalid_argument whose message contains every
/// fragment, and checks the outputs still hold the sentinel.
void require_rejected(const std::function<void()>& call, const std::vector<std::string>& fragments,
                      const std::vector<double>& outputs) {
  try {
    call();
    FAIL("no exception");
  } catch (const lens::invalid_argument& e) {
    const std::string message = e.what();
    for (const auto& fragment : fragments) {
      INFO("message: " << message);
      REQUIRE_THAT(message, Contains(fragment));
    }
  }
  for (double v : outputs) REQUIRE(v == sentinel);
}

}  // namespace

TEST_CASE("lens::invalid_argument derives from std::invalid_argument", "[validation]") {
  sequence_case c;
  c.scores[2] = nan_value;
  REQUIRE_THROWS_AS(lens::compute_lens_advantages(c.inputs(), lens::fixed_groups{4}, lens::span<double>(c.advantages)),
                    std::invalid_argument);
}

TEST_CASE("sequence inputs: each bad value is named with its index", "[validation][sequence]") {
  const auto lens_call = [](sequence_case& c, auto layout, lens::advantage_settings s = {}) {
    return [&c, layout, s] { lens::compute_lens_advantages(c.inputs(), layout, lens::span<double>(c.advantages), s); };
  };
  SECTION("NaN score") {
    sequence_case c;
    c.scores[2] = nan_value;
    require_rejected(lens_call(c, lens::fixed_groups{4}), {"scores[2]", "not finite"}, c.advantages);
  }
  SECTION("infinite score, GRPO") {
    sequence_case c;
    c.scores[3] = -inf_value;
    require_rejected([&] { lens::compute_grpo_advantages(c.inputs(), lens::fixed_groups{2}, lens::span<double>(c.advantages)); },
                     {"scores[3]", "not finite"}, c.advantages);
  }
  SECTION("LENS reward outside [0, 1]") {
    sequence_case c;
    c.scores[1] = 1.5;
    require_rejected(lens_call(c, lens::fixed_groups{4}), {"scores[1]", "outside [0, 1]"}, c.advantages);
    c.scores[1] = -0.01;
    require_rejected(lens_call(c, lens::fixed_groups{4}), {"scores[1]", "outside [0, 1]"}, c.advantages);
  }
  SECTION("GRPO accepts rewards outside [0, 1]") {
    sequence_case c;
    c.scores = {-2, 3, 0.5, 7};
    lens::compute_grpo_advantages(c.inputs(), lens::fixed_groups{4}, lens::span<double>(c.advantages));
    REQUIRE(c.advantages[0] < 0);
  }
  SECTION("NaN log-probability sum") {
    sequence_case c;
    c.logprob_sums[3] = nan_value;
    require_rejected(lens_call(c, lens::fixed_groups{4}), {"logprob_sums[3]", "not finite"}, c.advantages);
  }
  SECTION("log-probability above 0 beyond the tolerance") {
    sequence_case c;
    c.logprob_sums[0] = 0.01;
    require_rejected(lens_call(c, lens::fixed_groups{4}), {"logprob_sums[0]", "above 0"}, c.advantages);
  }
  SECTION("log-probability above 0 within the tolerance is read as 0") {
    sequence_case c;
    c.logprob_sums[0] = 1e-5;  // 2 tokens, tolerance 1e-4 per token
    lens::compute_lens_advantages(c.inputs(), lens::fixed_groups{4}, lens::span<double>(c.advantages));
    sequence_case exact;
    exact.logprob_sums[0] = 0;
    lens::compute_lens_advantages(exact.inputs(), lens::fixed_groups{4}, lens::span<double>(exact.advantages));
    REQUIRE(c.advantages == exact.advantages);
  }
  SECTION("response with no token") {
    sequence_case c;
    c.lengths[1] = 0;
    require_rejected(lens_call(c, lens::fixed_groups{4}), {"response_lengths[1]", "no unmasked token"}, c.advantages);
  }
  SECTION("negative response length") {
    sequence_case c;
    c.lengths[2] = -3;
    require_rejected(lens_call(c, lens::fixed_groups{4}), {"response_lengths[2]"}, c.advantages);
  }
  SECTION("mismatched sizes") {
    sequence_case c;
    c.logprob_sums.pop_back();
    require_rejected(lens_call(c, lens::fixed_groups{4}), {"logprob_sums", "3 elements, expected 4"}, c.advantages);
    sequence_case d;
    d.lengths.push_back(1);
    require_rejected(lens_call(d, lens::fixed_groups{4}), {"response_lengths", "expected 4"}, d.advantages);
    sequence_case e;
    std::vector<double> short_output(3, sentinel);
    require_rejected([&] { lens::compute_lens_advantages(e.inputs(), lens::fixed_groups{4}, lens::span<double>(short_output)); },
                     {"advantages", "expected 4"}, short_output);
  }
  SECTION("fixed group size that does not divide N, or 0") {
    sequence_case c;
    require_rejected(lens_call(c, lens::fixed_groups{3}), {"groups.group_size", "does not divide"}, c.advantages);
    require_rejected(lens_call(c, lens::fixed_groups{0}), {"groups.group_size"}, c.advantages);
  }
  SECTION("offsets that do not start at 0, decrease, or do not cover the batch") {
    sequence_case c;
    const std::vector<std::int64_t> not_zero{1, 4}, decreasing{0, 3, 2, 4}, short_cover{0, 2, 3}, long_cover{0, 5},
        empty_offsets{};
    require_rejected(lens_call(c, lens::offset_groups{not_zero}), {"groups.offsets[0]"}, c.advantages);
    require_rejected(lens_call(c, lens::offset_groups{decreasing}), {"groups.offsets[2]", "decreases"}, c.advantages);
    require_rejected(lens_call(c, lens::offset_groups{short_cover}), {"groups.offsets[2]", "does not cover"}, c.advantages);
    require_rejected(lens_call(c, lens::offset_groups{long_cover}), {"groups.offsets[1]"}, c.advantages);
    require_rejected(lens_call(c, lens::offset_groups{empty_offsets}), {"groups.offsets"}, c.advantages);
  }
  SECTION("ids of the wrong length") {
    sequence_case c;
    const std::vector<std::int64_t> ids{1, 1, 2};
    require_rejected(lens_call(c, lens::id_groups{ids}), {"groups.ids", "expected 4"}, c.advantages);
  }
  SECTION("settings out of range") {
    sequence_case c;
    lens::advantage_settings s;
    s.floor_factor = 1.0;
    require_rejected(lens_call(c, lens::fixed_groups{4}, s), {"settings.floor_factor"}, c.advantages);
    s = {};
    s.alpha = nan_value;
    require_rejected(lens_call(c, lens::fixed_groups{4}, s), {"settings.alpha"}, c.advantages);
    s = {};
    s.epsilon = -1e-6;
    require_rejected(lens_call(c, lens::fixed_groups{4}, s), {"settings.epsilon"}, c.advantages);
  }
}

TEST_CASE("group ids may be any 64-bit values, negative and sparse", "[validation][ids]") {
  const std::vector<double> scores{1, 0, 1, 0, 0, 1};
  const std::vector<std::int64_t> ids{std::numeric_limits<std::int64_t>::min(), 0, std::numeric_limits<std::int64_t>::max(),
                                      std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(), 0};
  std::vector<double> a(6);
  std::vector<lens::group_statistics> stats;
  lens::compute_grpo_advantages(lens::sequence_inputs<double>{scores}, lens::id_groups{ids}, lens::span<double>(a),
                                lens::presets::verl_grpo(), &stats);
  REQUIRE(stats.size() == 3);
  CHECK(stats[0].group_id == std::numeric_limits<std::int64_t>::min());
  CHECK(stats[1].group_id == 0);
  CHECK(stats[2].group_id == std::numeric_limits<std::int64_t>::max());
  // every group is [1, 0] in some order: +-0.5 / (sqrt(0.5) + 1e-6)
  const double v = 0.5 / (std::sqrt(0.5) + 1e-6);
  CHECK(a == std::vector<double>{v, -v, v, -v, -v, v});
}
