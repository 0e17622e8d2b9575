// lens::as_span views contiguous Eigen objects without copying, and refuses
// strided ones.
#include <catch2/catch.hpp>

#include <Eigen/Core>
#include <cmath>

#include "lens/eigen.hpp"
#include "lens/lens.hpp"

TEST_CASE("Eigen arrays and maps feed the API without copies", "[eigen]") {
  Eigen::ArrayXf rewards(4);
  rewards << 1, 0, 0, 1;
  Eigen::ArrayXf advantages = Eigen::ArrayXf::Constant(4, 5.0f);
  const auto in_view = lens::as_span(rewards);
  REQUIRE(in_view.data() == rewards.data());
  auto out_view = lens::as_span(advantages);
  REQUIRE(out_view.data() == advantages.data());
  lens::compute_grpo_advantages(lens::sequence_inputs<float>{in_view}, lens::fixed_groups{4}, out_view);
  REQUIRE(advantages(0) == Approx(0.8660239f));
  REQUIRE(advantages(1) == Approx(-0.8660239f));

  // a row-major [N x T] matrix through a Map, as token-level log-probs
  Eigen::Matrix<float, 2, 3, Eigen::RowMajor> logprobs;
  logprobs << -0.1f, -0.2f, -0.3f, -1.0f, -1.0f, -1.0f;
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> map(logprobs.data(), 2, 3);
  REQUIRE(lens::as_span(map).size() == 6);
  REQUIRE(lens::as_span(map).data() == logprobs.data());
}

TEST_CASE("as_span refuses a strided Eigen view", "[eigen][validation]") {
  Eigen::MatrixXf m = Eigen::MatrixXf::Zero(4, 4);
  auto row = m.row(1);  // column-major: a row has stride 4
  REQUIRE_THROWS_AS(lens::as_span(row), lens::invalid_argument);
  auto block = m.block(0, 0, 2, 2);  // columns not adjacent
  REQUIRE_THROWS_AS(lens::as_span(block), lens::invalid_argument);
  auto column = m.col(2);  // contiguous
  REQUIRE(lens::as_span(column).data() == m.data() + 8);
}
