// Token-level inputs in verl's layout: [N x T] log-probs, masks of several
// types, token rewards summed per row; token advantages equal the per-sample
// advantage times the mask; padding may hold garbage; bad tokens are named by
// row and column.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "lens/lens.hpp"
#include "random_batches.hpp"
#include "reference/token_product.hpp"

using Catch::Matchers::Contains;

namespace {

template <class Mask>
struct token_batch {
  std::size_t n = 0, t = 0;
  std::vector<float> scores, token_rewards, logprobs;
  // std::vector<bool> has no data(): bool masks live in bytes holding 0 or 1
  std::vector<std::conditional_t<std::is_same<Mask, bool>::value, unsigned char, Mask>> mask;
  std::vector<std::int64_t> ids;
  const Mask* mask_data() const { return reinterpret_cast<const Mask*>(mask.data()); }
};

/// A random token batch with right-padded responses; padding holds garbage.
template <class Mask>
token_batch<Mask> make_token_batch(std::mt19937_64& rng, std::size_t num_groups, std::size_t group_size, std::size_t t) {
  token_batch<Mask> b;
  b.n = num_groups * group_size;
  b.t = t;
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  b.logprobs.resize(b.n * t);
  b.mask.resize(b.n * t);
  b.token_rewards.assign(b.n * t, 0.0f);
  for (std::size_t i = 0; i < b.n; ++i) {
    const bool negative_group = (i / group_size) % 3 == 0;
    const float reward = negative_group ? 0.0f : (unit(rng) < 0.5f ? 1.0f : 0.0f);
    b.scores.push_back(reward);
    b.ids.push_back(static_cast<std::int64_t>(i / group_size) * 1000003);
    const std::size_t length = 1 + rng() % t;
    for (std::size_t c = 0; c < t; ++c) {
      const bool on = c < length;
      b.mask[i * t + c] = on ? 1 : 0;
      b.logprobs[i * t + c] = on ? -3.0f * unit(rng) * unit(rng) : std::numeric_limits<float>::quiet_NaN();
    }
    b.token_rewards[i * t + length - 1] = reward;  // verl puts the outcome reward on the last response token
  }
  return b;
}

template <class Mask>
void check_token_equals_sequence(const lens::advantage_settings& settings) {
  std::mt19937_64 rng(23);
  for (int trial = 0; trial < 50; ++trial) {
    const std::size_t group_size = 1 + rng() % 8;
    auto b = make_token_batch<Mask>(rng, 1 + rng() % 6, group_size, 1 + rng() % 40);
    std::vector<float> per_sample(b.n), token(b.n * b.t, 77.0f);
    lens::token_inputs<float, Mask> in;
    in.num_samples = b.n;
    in.num_tokens = b.t;
    in.token_rewards = b.token_rewards.data();
    in.logprobs = b.logprobs.data();
    in.mask = b.mask_data();
    lens::compute_advantages(in, lens::id_groups{b.ids}, lens::span<float>(per_sample), lens::span<float>(token), settings);

    // the same batch as per-sample inputs, sums taken here in double
    std::vector<double> sums(b.n, 0.0), scores(b.n);
    std::vector<std::int64_t> lengths(b.n, 0);
    for (std::size_t i = 0; i < b.n; ++i) {
      scores[i] = b.scores[i];
      for (std::size_t c = 0; c < b.t; ++c)
        if (b.mask[i * b.t + c] != 0) {
          sums[i] += b.logprobs[i * b.t + c];
          ++lengths[i];
        }
    }
    std::vector<double> expected(b.n);
    lens::compute_advantages(lens::sequence_inputs<double>{scores, sums, lengths}, lens::id_groups{b.ids},
                             lens::span<double>(expected), settings);
    for (std::size_t i = 0; i < b.n; ++i) {
      REQUIRE(per_sample[i] == Approx(expected[i]).epsilon(1e-5).margin(1e-6));
      for (std::size_t c = 0; c < b.t; ++c) {
        const float m = b.mask[i * b.t + c] != 0 ? 1.0f : 0.0f;
        REQUIRE(token[i * b.t + c] == per_sample[i] * m);
      }
    }
  }
}

}  // namespace

TEST_CASE("token advantages equal per-sample advantages times the mask, for each mask type", "[token]") {
  for (auto settings : {lens::presets::lens(), lens::presets::verl_grpo(), lens::presets::rloo()}) {
    check_token_equals_sequence<std::uint8_t>(settings);
    check_token_equals_sequence<bool>(settings);
    check_token_equals_sequence<float>(settings);
    check_token_equals_sequence<std::int64_t>(settings);
  }
}

TEST_CASE("token advantages are verl's product bit for bit: -0.0 under a negative advantage", "[token][bits]") {
  std::mt19937_64 rng(31);
  // a small batch (plain loop) and one whose output exceeds the streaming-store threshold (SSE2 path)
  for (std::size_t t : {std::size_t(40), std::size_t(1024)}) {
    const std::size_t groups = t == 40 ? 8 : 1024;
    auto b = make_token_batch<std::uint8_t>(rng, groups, 4, t);
    lens::token_inputs<float> in;
    in.num_samples = b.n;
    in.num_tokens = b.t;
    in.scores = b.scores.data();
    in.logprobs = b.logprobs.data();
    in.mask = b.mask.data();
    for (auto settings : {lens::presets::lens(), lens::presets::verl_grpo()}) {
      std::vector<float> per_sample(b.n), token(b.n * b.t);
      lens::compute_advantages(in, lens::fixed_groups{4}, lens::span<float>(per_sample), lens::span<float>(token),
                               settings);
      INFO("T " << t << ", estimator " << int(settings.kind));
      REQUIRE(lens_reference::require_verl_token_bits(token, per_sample, b.mask.data(), b.n, b.t) > 0);
    }
  }
  // other mask and value types take the portable loop
  auto b = make_token_batch<float>(rng, 8, 4, 24);
  lens::token_inputs<float, float> in;
  in.num_samples = b.n;
  in.num_tokens = b.t;
  in.scores = b.scores.data();
  in.logprobs = b.logprobs.data();
  in.mask = b.mask.data();
  std::vector<float> per_sample(b.n), token(b.n * b.t);
  lens::compute_lens_advantages(in, lens::fixed_groups{4}, lens::span<float>(per_sample), lens::span<float>(token));
  REQUIRE(lens_reference::require_verl_token_bits(token, per_sample, b.mask.data(), b.n, b.t) > 0);
}

TEST_CASE("token inputs: per-sample scores instead of token rewards, and only one output", "[token]") {
  std::mt19937_64 rng(29);
  auto b = make_token_batch<std::uint8_t>(rng, 4, 4, 16);
  lens::token_inputs<float> in;
  in.num_samples = b.n;
  in.num_tokens = b.t;
  in.scores = b.scores.data();
  in.logprobs = b.logprobs.data();
  in.mask = b.mask.data();
  std::vector<float> per_sample(b.n), token(b.n * b.t), token_only(b.n * b.t);
  lens::compute_lens_advantages(in, lens::fixed_groups{4}, lens::span<float>(per_sample), lens::span<float>(token));
  lens::compute_lens_advantages(in, lens::fixed_groups{4}, lens::span<float>(), lens::span<float>(token_only));
  REQUIRE(token == token_only);
  std::vector<float> per_sample_only(b.n);
  lens::compute_lens_advantages(in, lens::fixed_groups{4}, lens::span<float>(per_sample_only), lens::span<float>());
  REQUIRE(per_sample == per_sample_only);
}

TEST_CASE("token inputs: bad values are named by row and column, outputs untouched", "[token][validation]") {
  std::mt19937_64 rng(31);
  auto b = make_token_batch<std::uint8_t>(rng, 2, 4, 8);
  for (std::size_t c = 0; c < b.t; ++c) b.mask[5 * b.t + c] = 1;  // row 5 fully unmasked
  for (std::size_t c = 0; c < b.t; ++c) b.logprobs[5 * b.t + c] = -0.5f;
  lens::token_inputs<float> in;
  in.num_samples = b.n;
  in.num_tokens = b.t;
  in.token_rewards = b.token_rewards.data();
  in.logprobs = b.logprobs.data();
  in.mask = b.mask.data();
  std::vector<float> per_sample(b.n, 9.0f), token(b.n * b.t, 9.0f);
  auto call = [&] {
    lens::compute_lens_advantages(in, lens::fixed_groups{4}, lens::span<float>(per_sample), lens::span<float>(token));
  };
  auto untouched = [&] {
    for (float v : per_sample) REQUIRE(v == 9.0f);
    for (float v : token) REQUIRE(v == 9.0f);
  };
  REQUIRE_NOTHROW(call());  // NaN padding is ignored
  std::fill(per_sample.begin(), per_sample.end(), 9.0f);
  std::fill(token.begin(), token.end(), 9.0f);

  b.logprobs[5 * b.t + 3] = std::numeric_limits<float>::quiet_NaN();
  REQUIRE_THROWS_WITH(call(), Contains("logprobs[43]") && Contains("row 5, column 3") && Contains("not finite"));
  untouched();
  b.logprobs[5 * b.t + 3] = 0.5f;
  REQUIRE_THROWS_WITH(call(), Contains("logprobs[43]") && Contains("above 0"));
  untouched();
  b.logprobs[5 * b.t + 3] = -0.5f;

  b.mask[5 * b.t + 6] = 2;
  REQUIRE_THROWS_WITH(call(), Contains("mask[46]") && Contains("other than 0 or 1"));
  untouched();
  b.mask[5 * b.t + 6] = 1;

  for (std::size_t c = 0; c < b.t; ++c) b.mask[2 * b.t + c] = 0;
  REQUIRE_THROWS_WITH(call(), Contains("mask[2]") && Contains("no unmasked token"));
  untouched();
  b.mask[2 * b.t] = 1;

  b.token_rewards[6 * b.t + 1] = std::numeric_limits<float>::infinity();
  REQUIRE_THROWS_WITH(call(), Contains("token_rewards[49]") && Contains("row 6, column 1"));
  untouched();
  b.token_rewards[6 * b.t + 1] = 0;

  b.token_rewards[7 * b.t] = 2.0f;  // row sum outside [0, 1]
  REQUIRE_THROWS_WITH(call(), Contains("token_rewards (row sum)[7]") && Contains("outside [0, 1]"));
  untouched();
  b.token_rewards[7 * b.t] = 0;

  in.scores = b.scores.data();  // both scores and token rewards
  REQUIRE_THROWS_WITH(call(), Contains("exactly one"));
  untouched();
  in.scores = nullptr;

  std::vector<float> short_token(b.n * b.t - 1, 9.0f);
  REQUIRE_THROWS_WITH(lens::compute_lens_advantages(in, lens::fixed_groups{4}, lens::span<float>(per_sample),
                                                    lens::span<float>(short_token)),
                      Contains("token_advantages") && Contains("expected 64"));
  untouched();
  REQUIRE_NOTHROW(call());
}
