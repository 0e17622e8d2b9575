// REINFORCE++ and REINFORCE++-baseline (lens/cpu/reinforce.hpp) against a
// plain double-precision statement of verl's functions, written here with
// loops: group means from a std::map, returns by a reverse scan, whitening by
// masked mean and Bessel-corrected masked variance. Plus a hand-computed case
// and the boundary checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "lens/cpu/reinforce.hpp"

using Catch::Matchers::Contains;

namespace {

struct batch {
  std::size_t n, t;
  std::vector<float> rewards;
  std::vector<std::uint8_t> mask;
  std::vector<std::int64_t> ids;
};

batch random_batch(std::mt19937_64& rng, bool dense) {
  std::uniform_int_distribution<std::size_t> rows(2, 60), cols(1, 20);
  batch b{rows(rng), cols(rng), {}, {}, {}};
  std::normal_distribution<float> normal(0.f, 2.f);
  std::uniform_int_distribution<std::int64_t> group(0, 7);
  b.rewards.assign(b.n * b.t, 0.f);
  b.mask.assign(b.n * b.t, 0);
  for (std::size_t i = 0; i < b.n; ++i) {
    const std::size_t len = 1 + rng() % b.t;
    for (std::size_t k = 0; k < len; ++k) b.mask[i * b.t + k] = dense ? (k % 3 != 1 || k == 0) : 1;
    if (dense)
      for (std::size_t k = 0; k < b.t; ++k) b.rewards[i * b.t + k] = normal(rng);
    else
      b.rewards[i * b.t + len - 1] = float(rng() % 2);
    b.ids.push_back(group(rng));
  }
  return b;
}

/// verl's masked_whiten(values, mask) * mask, in double.
std::vector<double> whiten(const std::vector<double>& values, const std::vector<std::uint8_t>& mask) {
  double m = 0, sum = 0;
  for (std::size_t k = 0; k < values.size(); ++k) m += mask[k], sum += values[k] * mask[k];
  const double mean = sum / (m + 1e-8);
  double sq = 0;
  for (std::size_t k = 0; k < values.size(); ++k) sq += (values[k] - mean) * (values[k] - mean) * mask[k];
  const double var = sq / (m + 1e-8) * m / (m - 1);
  std::vector<double> out(values.size());
  for (std::size_t k = 0; k < values.size(); ++k) out[k] = (values[k] - mean) / std::sqrt(var + 1e-8) * mask[k];
  return out;
}

std::vector<double> reference_baseline(const batch& b) {
  std::map<std::int64_t, std::vector<std::size_t>> groups;
  std::vector<double> score(b.n, 0.0);
  for (std::size_t i = 0; i < b.n; ++i) {
    groups[b.ids[i]].push_back(i);
    for (std::size_t k = 0; k < b.t; ++k) score[i] += b.rewards[i * b.t + k];
  }
  std::vector<double> centred(b.n);
  for (const auto& g : groups) {
    double mean = 0;
    if (g.second.size() > 1) {
      for (std::size_t i : g.second) mean += score[i];
      mean /= double(g.second.size());
    }
    for (std::size_t i : g.second) centred[i] = score[i] - mean;
  }
  std::vector<double> values(b.n * b.t);
  for (std::size_t i = 0; i < b.n; ++i)
    for (std::size_t k = 0; k < b.t; ++k) values[i * b.t + k] = centred[i] * b.mask[i * b.t + k];
  return whiten(values, b.mask);
}

std::vector<double> reference_returns(const batch& b, double gamma) {
  std::vector<double> g(b.n * b.t, 0.0);
  for (std::size_t i = 0; i < b.n; ++i) {
    double running = 0;
    for (std::size_t k = b.t; k-- > 0;) {
      const double m = b.mask[i * b.t + k];
      const double next = b.rewards[i * b.t + k] + gamma * running;
      g[i * b.t + k] = next * m;
      running = next * m + running * (1 - m);
    }
  }
  return g;
}

double max_relative_error(const std::vector<float>& got, const std::vector<double>& want) {
  double scale = 1, err = 0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (std::size_t k = 0; k < got.size(); ++k) err = std::max(err, std::fabs(double(got[k]) - want[k]));
  return err / scale;
}

}  // namespace

TEST_CASE("REINFORCE++-baseline matches verl's statement in double", "[reinforce]") {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const batch b = random_batch(rng, trial % 2 == 1);
    std::vector<float> adv(b.n), tok(b.n * b.t);
    lens::token_inputs<float, std::uint8_t> in;
    in.num_samples = b.n;
    in.num_tokens = b.t;
    in.token_rewards = b.rewards.data();
    in.mask = b.mask.data();
    lens::cpu::compute_reinforce_pp_baseline_advantages(in, lens::id_groups{b.ids}, lens::span<float>(adv),
                                                        lens::span<float>(tok));
    REQUIRE(max_relative_error(tok, reference_baseline(b)) < 1e-6);
    for (std::size_t i = 0; i < b.n; ++i)
      for (std::size_t k = 0; k < b.t; ++k) REQUIRE(tok[i * b.t + k] == adv[i] * float(b.mask[i * b.t + k]));
  }
}

TEST_CASE("REINFORCE++ returns and advantages match verl's statement in double", "[reinforce]") {
  std::mt19937_64 rng(12);
  for (double gamma : {1.0, 0.97, 0.0}) {
    for (int trial = 0; trial < 100; ++trial) {
      const batch b = random_batch(rng, true);
      std::vector<float> adv(b.n * b.t), ret(b.n * b.t);
      lens::cpu::compute_reinforce_pp_advantages(b.n, b.t, b.rewards.data(), b.mask.data(), gamma,
                                                 lens::span<float>(adv), lens::span<float>(ret));
      const std::vector<double> g = reference_returns(b, gamma);
      REQUIRE(max_relative_error(ret, g) < 1e-6);
      REQUIRE(max_relative_error(adv, whiten(g, b.mask)) < 1e-6);
    }
  }
}

TEST_CASE("REINFORCE++ by hand: two rows, gamma 0.5", "[reinforce]") {
  // row 0: rewards [1, 2] mask [1, 1] -> returns [1 + 0.5 * 2, 2] = [2, 2]
  // row 1: rewards [4, 0] mask [1, 0] -> returns [4, 0]
  // unmasked returns {2, 2, 4}: mean 8/3, unbiased var ((2/3)^2 * 2 + (4/3)^2) / 2 = 4/3
  const std::vector<float> rewards{1, 2, 4, 0};
  const std::vector<std::uint8_t> mask{1, 1, 1, 0};
  std::vector<float> adv(4), ret(4);
  lens::cpu::compute_reinforce_pp_advantages(2, 2, rewards.data(), mask.data(), 0.5, lens::span<float>(adv),
                                             lens::span<float>(ret));
  CHECK(ret == std::vector<float>{2, 2, 4, 0});
  const double scale = 1 / std::sqrt(4.0 / 3.0 + 1e-8);
  CHECK(adv[0] == Approx((2 - 8.0 / 3.0) * scale).epsilon(1e-6));
  CHECK(adv[2] == Approx((4 - 8.0 / 3.0) * scale).epsilon(1e-6));
  CHECK(adv[3] == 0.0f);
}

TEST_CASE("REINFORCE++ rejects bad input before writing", "[reinforce][validation]") {
  const std::vector<std::uint8_t> mask{1, 1, 1, 0};
  std::vector<float> adv(4, 7.f), ret(4, 7.f);
  auto run = [&](const std::vector<float>& rewards, const std::vector<std::uint8_t>& m, double gamma) {
    lens::cpu::compute_reinforce_pp_advantages(2, 2, rewards.data(), m.data(), gamma, lens::span<float>(adv),
                                               lens::span<float>(ret));
  };
  CHECK_THROWS_WITH(run({1, NAN, 0, 0}, mask, 1.0), Contains("lens: token_rewards[1] is not finite") &&
                                                        Contains("row 0, column 1"));
  CHECK_THROWS_WITH(run({1, 0, 0, 0}, {1, 2, 1, 0}, 1.0), Contains("lens: mask[1] is a mask value other than 0 or 1"));
  CHECK_THROWS_WITH(run({1, 0, 0, 0}, mask, 1.5), Contains("lens: gamma is a setting out of its range"));
  CHECK_THROWS_WITH(run({1, 0, 0, 0}, {1, 0, 0, 0}, 1.0), Contains("needs at least 2, found 1"));
  CHECK(adv == std::vector<float>(4, 7.f));
  CHECK(ret == std::vector<float>(4, 7.f));
}
