// The shared per-group math (lens/core/group_math.hpp) on its own: the
// mergeable accumulators agree with direct formulas, whatever the split.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "lens/core/group_math.hpp"

using namespace lens::core;

TEST_CASE("score_moments: Welford and Chan's merge match a two-pass computation", "[group_math]") {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> dist(3.0, 2.0);
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t n = 2 + rng() % 50;
    std::vector<double> x(n);
    for (auto& v : x) v = dist(rng);
    double mean = 0;
    for (double v : x) mean += v;
    mean /= static_cast<double>(n);
    double m2 = 0;
    for (double v : x) m2 += (v - mean) * (v - mean);

    const std::size_t split = rng() % (n + 1);
    score_moments left, right, whole;
    for (std::size_t i = 0; i < n; ++i) {
      add(whole, x[i]);
      add(i < split ? left : right, x[i]);
    }
    const score_moments merged = merge(left, right);
    for (const auto& m : {whole, merged}) {
      REQUIRE(m.count == Approx(static_cast<double>(n)));
      REQUIRE(m.mean == Approx(mean).epsilon(1e-12));
      REQUIRE(m.m2 == Approx(m2).epsilon(1e-10));
      REQUIRE(m.min == *std::min_element(x.begin(), x.end()));
      REQUIRE(m.max == *std::max_element(x.begin(), x.end()));
    }
    REQUIRE(standard_deviation(whole, true) == Approx(std::sqrt(m2 / static_cast<double>(n - 1))).epsilon(1e-10));
    REQUIRE(standard_deviation(whole, false) == Approx(std::sqrt(m2 / static_cast<double>(n))).epsilon(1e-10));
  }
}

TEST_CASE("score_moments: a constant group has zero M2 and min == max exactly", "[group_math]") {
  score_moments m;
  for (int i = 0; i < 1000; ++i) add(m, 0.1);
  REQUIRE(m.m2 == 0.0);
  REQUIRE(m.min == m.max);
  REQUIRE(m.mean == 0.1);
}

TEST_CASE("confidence_summary: running log-sum-exp matches the direct sum, merged in any split", "[group_math]") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  lens::advantage_settings settings;
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t n = 1 + rng() % 20;
    std::vector<double> r(n), log_conf(n), log_prob(n);
    double direct = 0, max_conf = -INFINITY;
    bool any = false;
    for (std::size_t i = 0; i < n; ++i) {
      r[i] = unit(rng) < 0.5 ? 0.0 : unit(rng);
      log_conf[i] = -3 * unit(rng);
      log_prob[i] = -40 * unit(rng);
      max_conf = std::max(max_conf, log_conf[i]);
      if (r[i] > 0) {
        direct += r[i] / std::exp(log_prob[i]);
        any = true;
      }
    }
    const std::size_t split = rng() % (n + 1);
    confidence_summary left, right;
    for (std::size_t i = 0; i < n; ++i) add(i < split ? left : right, r[i], log_conf[i], log_prob[i]);
    const confidence_summary s = merge(left, right);
    REQUIRE(s.max_log_confidence == max_conf);
    const double floor = std::log(2.0) + max_conf;
    const double expected = any ? std::max(std::log(static_cast<double>(n) / direct), floor) : floor;
    REQUIRE(log_difficulty(s, settings) == Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("calibrated_reward: correct answers keep 1, wrong ones land in [-1/G, 0)", "[group_math][lens]") {
  const double weight = 1.0 / 8;
  for (double log_conf : {0.0, -0.1, -1.0, -30.0, -1e4}) {
    const double log_diff = std::log(2.0);  // D = F = 2 * max pbar with max pbar = 1
    REQUIRE(calibrated_reward(1.0, log_conf, log_diff, weight) == 1.0);
    const double wrong = calibrated_reward(0.0, log_conf, log_diff, weight);
    REQUIRE(std::isfinite(wrong));
    REQUIRE(wrong >= -weight);
    // pbar / (D - pbar) computed directly, where pbar does not underflow; below
    // double's range the penalty is 0 (never NaN from 0/0)
    const double pbar = std::exp(log_conf);
    if (pbar > 1e-300) {
      REQUIRE(wrong < 0.0);
      REQUIRE(wrong == Approx(-weight * pbar / (2.0 - pbar)).epsilon(1e-12));
    } else {
      REQUIRE(wrong <= 0.0);
    }
  }
}
