// The Thrust path built with g++ on Thrust's OpenMP device system: the same
// advantages as the CPU backend (to 1e-6) on random fixed, ragged and id-layout
// batches, every estimator, sequence and token inputs, extreme values, and the
// same error messages for bad inputs with outputs left untouched.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda/batches.hpp"
#include "cuda/compare.hpp"
#include "cuda/mutations.hpp"
#include <thrust/execution_policy.h>

#include "lens/thrust/advantages.hpp"
#include "lens/lens.hpp"
#include "reference/scalar_reference.hpp"
#include "reference/token_product.hpp"

namespace {

using lens_test::batch;
using lens_test::layout_kind;

/// Runs fn with the batch's layout object.
template <class Fn>
auto with_layout(const batch& b, layout_kind kind, Fn&& fn) {
  if (kind == layout_kind::fixed) return fn(lens::fixed_groups{b.group_size});
  if (kind == layout_kind::ragged) return fn(lens::offset_groups{lens::span<const std::int64_t>(b.offsets)});
  return fn(lens::id_groups{lens::span<const std::int64_t>(b.ids)});
}

const char* name(layout_kind kind) {
  return kind == layout_kind::fixed ? "fixed" : kind == layout_kind::ragged ? "ragged" : "ids";
}

}  // namespace

TEST_CASE("thrust OMP path: sequence inputs match the CPU backend and the scalar reference", "[thrust][omp]") {
  std::mt19937_64 rng(20251);
  for (layout_kind kind : {layout_kind::fixed, layout_kind::ragged, layout_kind::ids}) {
    for (const auto& settings : lens_test::all_settings()) {
      for (bool binary : {true, false}) {
        if (settings.kind == lens::estimator::lens && !binary) continue;
        const batch b = lens_test::make_batch(rng, kind, 60, 8, 24, binary);
        INFO("layout " << name(kind) << ", estimator " << int(settings.kind) << ", binary " << binary);
        const lens::sequence_inputs<float> in{b.scores, b.logprob_sums, b.lengths};
        std::vector<float> cpu(b.num_samples), omp(b.num_samples, -7.0f);
        std::vector<lens::group_statistics> cpu_stats, omp_stats;
        const auto cpu_summary = with_layout(b, kind, [&](const auto& layout) {
          return lens::cpu::compute_advantages(in, layout, lens::span<float>(cpu), settings, &cpu_stats);
        });
        const auto omp_summary = with_layout(b, kind, [&](const auto& layout) {
          return lens::thrust_path::compute_advantages(thrust::device, in, layout, lens::span<float>(omp), settings,
                                                             &omp_stats);
        });
        REQUIRE(lens_test::max_relative_error(omp, cpu) <= 1e-6);
        lens_test::require_same_summary(omp_summary, cpu_summary);
        lens_test::require_same_statistics(omp_stats, cpu_stats);
        REQUIRE(cpu_summary.num_nonzero_advantages > 0);

        // The independent oracle, in double.
        std::vector<double> scores(b.scores.begin(), b.scores.end()), sums(b.logprob_sums.begin(), b.logprob_sums.end());
        std::vector<double> lengths(b.lengths.begin(), b.lengths.end());
        const auto ref = lens_reference::compute(scores, sums, lengths, b.ids, settings);
        const std::vector<float> expected(ref.advantages.begin(), ref.advantages.end());
        REQUIRE(lens_test::max_relative_error(omp, expected) <= 1e-6);
      }
    }
  }
}

TEST_CASE("thrust OMP path: token inputs match the CPU backend", "[thrust][omp]") {
  std::mt19937_64 rng(77);
  std::size_t negative_zeros = 0;  // masked tokens under a negative advantage: verl's product gives -0.0
  for (layout_kind kind : {layout_kind::fixed, layout_kind::ragged, layout_kind::ids}) {
    for (const auto& settings : lens_test::all_settings()) {
      for (std::size_t t : {std::size_t(1), std::size_t(37), std::size_t(64)}) {
        const batch b = lens_test::make_batch(rng, kind, 40, 6, t, true);
        INFO("layout " << name(kind) << ", estimator " << int(settings.kind) << ", T " << t);
        // Token rewards: the outcome reward on the last response token (verl).
        std::vector<float> token_rewards(b.num_samples * t, 0.0f);
        for (std::size_t i = 0; i < b.num_samples; ++i) token_rewards[i * t + std::size_t(b.lengths[i]) - 1] = b.scores[i];
        for (bool use_token_rewards : {false, true}) {
          lens::token_inputs<float> in;
          in.num_samples = b.num_samples;
          in.num_tokens = t;
          in.scores = use_token_rewards ? nullptr : b.scores.data();
          in.token_rewards = use_token_rewards ? token_rewards.data() : nullptr;
          in.logprobs = b.logprobs.data();
          in.mask = b.mask.data();
          std::vector<float> cpu(b.num_samples), cpu_tokens(b.num_samples * t);
          std::vector<float> omp(b.num_samples, -7.0f), omp_tokens(b.num_samples * t, -7.0f);
          std::vector<lens::group_statistics> cpu_stats, omp_stats;
          const auto cpu_summary = with_layout(b, kind, [&](const auto& layout) {
            return lens::cpu::compute_advantages(in, layout, lens::span<float>(cpu), lens::span<float>(cpu_tokens),
                                                 settings, &cpu_stats);
          });
          const auto omp_summary = with_layout(b, kind, [&](const auto& layout) {
            return lens::thrust_path::compute_advantages(thrust::device, in, layout, lens::span<float>(omp),
                                                               lens::span<float>(omp_tokens), settings, &omp_stats);
          });
          REQUIRE(lens_test::max_relative_error(omp, cpu) <= 1e-6);
          REQUIRE(lens_test::max_relative_error(omp_tokens, cpu_tokens) <= 1e-6);
          negative_zeros += lens_reference::require_verl_token_bits(omp_tokens, omp, b.mask.data(), b.num_samples, t);
          lens_test::require_same_summary(omp_summary, cpu_summary);
          lens_test::require_same_statistics(omp_stats, cpu_stats);
        }
      }
    }
  }
  REQUIRE(negative_zeros > 0);
}

TEST_CASE("thrust OMP path: extreme confidences match the CPU backend", "[thrust][omp]") {
  // Per-token log-probabilities down to -1e4: pbar underflows double, and
  // p = exp(l) underflows by thousands of orders of magnitude.
  std::mt19937_64 rng(5);
  for (layout_kind kind : {layout_kind::fixed, layout_kind::ragged, layout_kind::ids}) {
    const batch b = lens_test::make_batch(rng, kind, 30, 8, 16, true, -1e4);
    const lens::token_inputs<float> in = lens_test::host_token_inputs(b);
    std::vector<float> cpu(b.num_samples), omp(b.num_samples);
    for (auto source : {lens::difficulty_probability::sequence, lens::difficulty_probability::geometric_mean}) {
      lens::advantage_settings settings;
      settings.difficulty_source = source;
      with_layout(b, kind, [&](const auto& layout) {
        return lens::cpu::compute_advantages(in, layout, lens::span<float>(cpu), lens::span<float>(), settings);
      });
      with_layout(b, kind, [&](const auto& layout) {
        return lens::thrust_path::compute_advantages(thrust::device, in, layout, lens::span<float>(omp),
                                                           lens::span<float>(), settings);
      });
      for (float a : omp) REQUIRE(std::isfinite(a));
      REQUIRE(lens_test::max_relative_error(omp, cpu) <= 1e-6);
    }
  }
}

TEST_CASE("thrust OMP path: bad inputs give the CPU backend's message and leave outputs untouched", "[thrust][omp]") {
  std::mt19937_64 rng(9);
  const batch good = lens_test::make_batch(rng, layout_kind::ragged, 6, 4, 8, true);
  const std::size_t t = good.num_tokens;
  for (const auto& m : lens_test::bad_token_inputs(good)) {
    INFO(m.what);
    batch b = good;
    m.apply(b);
    const lens::token_inputs<float> in = lens_test::host_token_inputs(b);
    const lens::offset_groups layout{lens::span<const std::int64_t>(b.offsets)};
    std::vector<float> cpu(b.num_samples), cpu_tokens(b.num_samples * t);
    std::vector<float> omp(b.num_samples, -7.0f), omp_tokens(b.num_samples * t, -7.0f);
    const std::string expected = lens_test::message_of([&] {
      lens::cpu::compute_advantages(in, layout, lens::span<float>(cpu), lens::span<float>(cpu_tokens));
    });
    const std::string actual = lens_test::message_of([&] {
      lens::thrust_path::compute_advantages(thrust::device, in, layout, lens::span<float>(omp),
                                                  lens::span<float>(omp_tokens));
    });
    REQUIRE(!expected.empty());
    REQUIRE(actual == expected);
    for (float a : omp) REQUIRE(a == -7.0f);
    for (float a : omp_tokens) REQUIRE(a == -7.0f);
  }

  for (const auto& m : lens_test::bad_sequence_inputs()) {
    INFO(m.what);
    batch b = good;
    m.apply(b);
    const lens::sequence_inputs<float> in{b.scores, b.logprob_sums, b.lengths};
    const lens::offset_groups layout{lens::span<const std::int64_t>(b.offsets)};
    std::vector<float> cpu(b.num_samples), omp(b.num_samples, -7.0f);
    const std::string expected = lens_test::message_of([&] { lens::cpu::compute_advantages(in, layout, lens::span<float>(cpu)); });
    const std::string actual = lens_test::message_of([&] {
      lens::thrust_path::compute_advantages(thrust::device, in, layout, lens::span<float>(omp));
    });
    REQUIRE(!expected.empty());
    REQUIRE(actual == expected);
    for (float a : omp) REQUIRE(a == -7.0f);
  }
}

TEST_CASE("thrust OMP path: advantages beyond float are rejected as on the CPU", "[thrust][omp]") {
  // Dr. GRPO on scores near 1e38: group 1's advantages reach 4e38 > FLT_MAX.
  const std::vector<float> scores = {0, 1, 2, 3e38f, -3e38f, 3e38f, 5, 6, 7};
  const lens::sequence_inputs<float> in{scores, {}, {}};
  std::vector<float> cpu(9), omp(9, -7.0f);
  const std::string expected = lens_test::message_of([&] {
    lens::cpu::compute_advantages(in, lens::fixed_groups{3}, lens::span<float>(cpu), lens::presets::dr_grpo());
  });
  const std::string actual = lens_test::message_of([&] {
    lens::thrust_path::compute_advantages(thrust::device, in, lens::fixed_groups{3}, lens::span<float>(omp),
                                                lens::presets::dr_grpo());
  });
  REQUIRE(expected.find("lens: groups[1] gives advantages beyond") == 0);
  REQUIRE(actual == expected);
  for (float a : omp) REQUIRE(a == -7.0f);
}

TEST_CASE("thrust OMP path: empty batches and empty groups", "[thrust][omp]") {
  // offsets {0, 0, 2, 2, 3}: two empty groups (negative, as on the CPU).
  const std::vector<std::int64_t> offsets = {0, 0, 2, 2, 3};
  const std::vector<float> scores = {1, 0, 0}, sums = {-1, -2, -3};
  const std::vector<std::int64_t> lengths = {1, 2, 3};
  const lens::sequence_inputs<float> in{scores, sums, lengths};
  std::vector<float> cpu(3), omp(3);
  std::vector<lens::group_statistics> cpu_stats, omp_stats;
  const lens::offset_groups layout{lens::span<const std::int64_t>(offsets)};
  const auto a = lens::cpu::compute_advantages(in, layout, lens::span<float>(cpu), {}, &cpu_stats);
  const auto b = lens::thrust_path::compute_advantages(thrust::device, in, layout, lens::span<float>(omp), {}, &omp_stats);
  REQUIRE(lens_test::max_relative_error(omp, cpu) <= 1e-6);
  lens_test::require_same_summary(b, a);
  lens_test::require_same_statistics(omp_stats, cpu_stats);
  REQUIRE(b.num_negative_groups == 3);

  const lens::sequence_inputs<float> none{};
  std::vector<float> out;
  const std::vector<std::int64_t> ids;
  const auto s = lens::thrust_path::compute_advantages(thrust::device, none, lens::id_groups{ids}, lens::span<float>(out));
  REQUIRE(s.num_groups == 0);
  REQUIRE(s.num_samples == 0);
}
