// The README's quick start, kept here so that it cannot rot: the lines between
// the markers are the README's snippet.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include <lens/lens.hpp>

TEST_CASE("README quick start runs and rescues the negative group", "[readme]") {
  // example-begin quick-start
  // 2 problems x G = 4 answers: rewards, summed log-probs under pi_old, lengths
  std::vector<float> rewards{1, 0, 0, 0, /**/ 0, 0, 0, 0};
  std::vector<float> logprob_sums{-3.1f, -2.0f, -9.5f, -4.2f, -1.1f, -6.0f, -2.4f, -8.8f};
  std::vector<std::int64_t> lengths{12, 9, 30, 14, 10, 25, 11, 31};
  std::vector<float> advantages(8);

  lens::batch_summary s = lens::compute_lens_advantages(
      lens::sequence_inputs<float>{rewards, logprob_sums, lengths},
      lens::fixed_groups{4}, lens::span<float>(advantages));
  // advantages of the negative group are non-zero; s.negative_group_fraction == 0.5
  // example-end quick-start
  REQUIRE(s.negative_group_fraction == 0.5);
  for (int i = 4; i < 8; ++i) REQUIRE(advantages[i] != 0.0f);
  REQUIRE(advantages[0] > 0.0f);
  for (int i = 1; i < 4; ++i) REQUIRE(advantages[i] < 0.0f);
  // the most confident wrong answer of the negative group (pbar = exp(-1.1/10)) is pushed down most
  REQUIRE(advantages[4] < advantages[5]);
  REQUIRE(advantages[4] < advantages[6]);
  REQUIRE(advantages[4] < advantages[7]);
}
