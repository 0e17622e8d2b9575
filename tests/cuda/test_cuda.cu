// The CUDA backend against the CPU backend: random batches of every layout and
// estimator (sequence and token inputs, float / half / bfloat16 log-probs,
// uint8 / bool / float masks), N up to 1M responses and 64M tokens, extreme
// confidences, bad inputs (same message as the CPU backend, outputs
// untouched), the asynchronous workspace API, and the Thrust path on CUDA.
// Cases tagged [large] are skipped under compute-sanitizer by gpu-check.sh.
#include <catch2/catch.hpp>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda/batches.hpp"
#include "cuda/compare.hpp"
#include "cuda/mutations.hpp"
#include "lens/cuda/advantages.cuh"
#include "lens/thrust/advantages.hpp"
#include "lens/lens.hpp"
#include "reference/token_product.hpp"

namespace {

using lens_test::batch;
using lens_test::layout_kind;

template <class T>
using dvec = thrust::device_vector<T>;

template <class T>
T* raw(dvec<T>& v) {
  return thrust::raw_pointer_cast(v.data());
}
template <class T>
const T* raw(const dvec<T>& v) {
  return thrust::raw_pointer_cast(v.data());
}
template <class T>
std::vector<T> to_host(const dvec<T>& v) {
  std::vector<T> h(v.size());
  thrust::copy(v.begin(), v.end(), h.begin());
  return h;
}

const char* name(layout_kind kind) {
  return kind == layout_kind::fixed ? "fixed" : kind == layout_kind::ragged ? "ragged" : "ids";
}

/// The batch on the device; logprobs converted to Real (and back, for the CPU side).
template <class Real>
struct device_batch {
  dvec<Real> scores, logprobs, logprob_sums, token_rewards;
  dvec<std::uint8_t> mask;
  dvec<std::int64_t> lengths, offsets, ids;
  std::vector<float> rounded_logprobs;  // the Real values as float, for the CPU backend

  explicit device_batch(const batch& b, const std::vector<float>* token_rewards_host = nullptr) {
    std::vector<Real> lp(b.logprobs.size());
    rounded_logprobs.resize(b.logprobs.size());
    for (std::size_t k = 0; k < lp.size(); ++k) {
      lp[k] = static_cast<Real>(b.logprobs[k]);
      rounded_logprobs[k] = static_cast<float>(lp[k]);
    }
    std::vector<Real> s(b.scores.begin(), b.scores.end()), sums(b.logprob_sums.begin(), b.logprob_sums.end());
    scores = dvec<Real>(s.begin(), s.end());
    logprob_sums = dvec<Real>(sums.begin(), sums.end());
    logprobs = dvec<Real>(lp.begin(), lp.end());
    if (token_rewards_host) {
      std::vector<Real> tr(token_rewards_host->begin(), token_rewards_host->end());
      token_rewards = dvec<Real>(tr.begin(), tr.end());
    }
    mask = dvec<std::uint8_t>(b.mask.begin(), b.mask.end());
    lengths = dvec<std::int64_t>(b.lengths.begin(), b.lengths.end());
    offsets = dvec<std::int64_t>(b.offsets.begin(), b.offsets.end());
    ids = dvec<std::int64_t>(b.ids.begin(), b.ids.end());
  }
};

/// Runs fn with the layout object over host data (CPU) or device data (GPU).
template <class Fn>
auto with_layout(layout_kind kind, std::size_t group_size, const std::vector<std::int64_t>& offsets,
                 const std::vector<std::int64_t>& ids, Fn&& fn) {
  if (kind == layout_kind::fixed) return fn(lens::fixed_groups{group_size});
  if (kind == layout_kind::ragged) return fn(lens::offset_groups{lens::span<const std::int64_t>(offsets)});
  return fn(lens::id_groups{lens::span<const std::int64_t>(ids)});
}
template <class Fn>
auto with_device_layout(layout_kind kind, std::size_t group_size, const dvec<std::int64_t>& offsets,
                        const dvec<std::int64_t>& ids, Fn&& fn) {
  if (kind == layout_kind::fixed) return fn(lens::fixed_groups{group_size});
  if (kind == layout_kind::ragged) return fn(lens::offset_groups{lens::span<const std::int64_t>(raw(offsets), offsets.size())});
  return fn(lens::id_groups{lens::span<const std::int64_t>(raw(ids), ids.size())});
}

/// Token inputs: GPU (kernels) against CPU for one batch and settings.
template <class Real>
/// Returns how many tokens are -0.0 (masked under a negative advantage).
std::size_t check_token_parity(const batch& b, layout_kind kind, const lens::advantage_settings& settings, bool use_token_rewards,
                               bool statistics = true) {
  const std::size_t n = b.num_samples, t = b.num_tokens;
  std::vector<float> token_rewards;
  if (use_token_rewards) {
    token_rewards.assign(n * t, 0.0f);
    for (std::size_t i = 0; i < n; ++i) token_rewards[i * t + std::size_t(b.lengths[i]) - 1] = b.scores[i];
  }
  device_batch<Real> d(b, use_token_rewards ? &token_rewards : nullptr);

  lens::token_inputs<float> host;
  host.num_samples = n;
  host.num_tokens = t;
  host.scores = use_token_rewards ? nullptr : b.scores.data();
  host.token_rewards = use_token_rewards ? token_rewards.data() : nullptr;
  host.logprobs = d.rounded_logprobs.data();
  host.mask = b.mask.data();
  std::vector<float> cpu(n), cpu_tokens(n * t);
  std::vector<lens::group_statistics> cpu_stats, gpu_stats;
  const auto cpu_summary = with_layout(kind, b.group_size, b.offsets, b.ids, [&](const auto& layout) {
    return lens::cpu::compute_advantages(host, layout, lens::span<float>(cpu), lens::span<float>(cpu_tokens), settings,
                                         statistics ? &cpu_stats : nullptr);
  });

  lens::token_inputs<Real> in;
  in.num_samples = n;
  in.num_tokens = t;
  in.scores = use_token_rewards ? nullptr : raw(d.scores);
  in.token_rewards = use_token_rewards ? raw(d.token_rewards) : nullptr;
  in.logprobs = raw(d.logprobs);
  in.mask = raw(d.mask);
  dvec<float> adv(n, -7.0f), tokens(n * t, -7.0f);
  const auto gpu_summary = with_device_layout(kind, b.group_size, d.offsets, d.ids, [&](const auto& layout) {
    return lens::cuda::compute_advantages(in, layout, lens::span<float>(raw(adv), n), lens::span<float>(raw(tokens), n * t),
                                          settings, statistics ? &gpu_stats : nullptr);
  });
  REQUIRE(lens_test::max_relative_error(to_host(adv), cpu) <= 1e-6);
  REQUIRE(lens_test::max_relative_error(to_host(tokens), cpu_tokens) <= 1e-6);
  // verl's product bit for bit: a masked token under a negative advantage is -0.0
  const std::size_t negative_zeros = lens_reference::require_verl_token_bits(to_host(tokens), to_host(adv), b.mask.data(), n, t);
  lens_test::require_same_summary(gpu_summary, cpu_summary);
  if (statistics) lens_test::require_same_statistics(gpu_stats, cpu_stats);
  return negative_zeros;
}

void check_sequence_parity(const batch& b, layout_kind kind, const lens::advantage_settings& settings) {
  const std::size_t n = b.num_samples;
  device_batch<float> d(b);
  const lens::sequence_inputs<float> host{b.scores, b.logprob_sums, b.lengths};
  std::vector<float> cpu(n);
  std::vector<lens::group_statistics> cpu_stats, gpu_stats;
  const auto cpu_summary = with_layout(kind, b.group_size, b.offsets, b.ids, [&](const auto& layout) {
    return lens::cpu::compute_advantages(host, layout, lens::span<float>(cpu), settings, &cpu_stats);
  });
  const lens::sequence_inputs<float> in{{raw(d.scores), n}, {raw(d.logprob_sums), n}, {raw(d.lengths), n}};
  dvec<float> adv(n, -7.0f);
  const auto gpu_summary = with_device_layout(kind, b.group_size, d.offsets, d.ids, [&](const auto& layout) {
    return lens::cuda::compute_advantages(in, layout, lens::span<float>(raw(adv), n), settings, &gpu_stats);
  });
  REQUIRE(lens_test::max_relative_error(to_host(adv), cpu) <= 1e-6);
  lens_test::require_same_summary(gpu_summary, cpu_summary);
  lens_test::require_same_statistics(gpu_stats, cpu_stats);
}

}  // namespace

TEST_CASE("cuda: per-sample inputs match the CPU backend", "[cuda]") {
  std::mt19937_64 rng(11);
  for (layout_kind kind : {layout_kind::fixed, layout_kind::ragged, layout_kind::ids}) {
    for (const auto& settings : lens_test::all_settings()) {
      for (std::size_t g : {std::size_t(1), std::size_t(5), std::size_t(16), std::size_t(32), std::size_t(100)}) {
        for (bool binary : {true, false}) {
          if (settings.kind == lens::estimator::lens && !binary) continue;
          INFO("layout " << name(kind) << ", estimator " << int(settings.kind) << ", G " << g << ", binary " << binary);
          check_sequence_parity(lens_test::make_batch(rng, kind, 50, g, 8, binary), kind, settings);
        }
      }
    }
  }
}

TEST_CASE("cuda: token inputs match the CPU backend", "[cuda]") {
  std::mt19937_64 rng(12);
  std::size_t negative_zeros = 0;
  for (layout_kind kind : {layout_kind::fixed, layout_kind::ragged, layout_kind::ids}) {
    for (const auto& settings : lens_test::all_settings()) {
      for (std::size_t t : {std::size_t(1), std::size_t(37), std::size_t(64), std::size_t(1000)}) {
        for (std::size_t g : {std::size_t(4), std::size_t(16), std::size_t(48)}) {
          INFO("layout " << name(kind) << ", estimator " << int(settings.kind) << ", T " << t << ", G " << g);
          const batch b = lens_test::make_batch(rng, kind, 12, g, t, true);
          negative_zeros += check_token_parity<float>(b, kind, settings, false);
          negative_zeros += check_token_parity<float>(b, kind, settings, true);
        }
      }
    }
  }
  REQUIRE(negative_zeros > 0);  // the sign of zero was checked
}

TEST_CASE("cuda: half and bfloat16 log-probabilities", "[cuda]") {
  std::mt19937_64 rng(13);
  for (layout_kind kind : {layout_kind::fixed, layout_kind::ragged, layout_kind::ids}) {
    for (std::size_t t : {std::size_t(40), std::size_t(256)}) {
      const batch b = lens_test::make_batch(rng, kind, 20, 16, t, true);
      INFO("layout " << name(kind) << ", T " << t);
      check_token_parity<__nv_bfloat16>(b, kind, lens::presets::lens(), false);
      check_token_parity<__half>(b, kind, lens::presets::lens(), false);
      check_token_parity<__nv_bfloat16>(b, kind, lens::presets::verl_grpo(), true);
    }
  }
}

TEST_CASE("cuda: bool and float masks", "[cuda]") {
  std::mt19937_64 rng(14);
  const batch b = lens_test::make_batch(rng, layout_kind::fixed, 10, 8, 48, true);
  const std::size_t n = b.num_samples, t = b.num_tokens;
  std::vector<float> cpu(n), cpu_tokens(n * t);
  const lens::token_inputs<float> host = lens_test::host_token_inputs(b);
  lens::cpu::compute_advantages(host, lens::fixed_groups{8}, lens::span<float>(cpu), lens::span<float>(cpu_tokens));
  dvec<float> scores(b.scores.begin(), b.scores.end()), logprobs(b.logprobs.begin(), b.logprobs.end());
  const std::vector<float> float_mask(b.mask.begin(), b.mask.end());
  dvec<float> d_float_mask(float_mask.begin(), float_mask.end());
  dvec<bool> d_bool_mask(b.mask.begin(), b.mask.end());
  auto run = [&](const auto* d_mask) {
    using Mask = std::remove_cv_t<std::remove_pointer_t<decltype(d_mask)>>;
    lens::token_inputs<float, Mask> in;
    in.num_samples = n;
    in.num_tokens = t;
    in.scores = raw(scores);
    in.logprobs = raw(logprobs);
    in.mask = d_mask;
    dvec<float> adv(n), tokens(n * t);
    lens::cuda::compute_advantages(in, lens::fixed_groups{8}, lens::span<float>(raw(adv), n),
                                   lens::span<float>(raw(tokens), n * t));
    REQUIRE(lens_test::max_relative_error(to_host(adv), cpu) <= 1e-6);
    REQUIRE(lens_test::max_relative_error(to_host(tokens), cpu_tokens) <= 1e-6);
  };
  run(raw(d_float_mask));
  run(raw(d_bool_mask));
}

TEST_CASE("cuda: extreme confidences match the CPU backend", "[cuda]") {
  std::mt19937_64 rng(15);
  for (layout_kind kind : {layout_kind::fixed, layout_kind::ragged, layout_kind::ids}) {
    const batch b = lens_test::make_batch(rng, kind, 30, 8, 64, true, -1e4);
    for (auto source : {lens::difficulty_probability::sequence, lens::difficulty_probability::geometric_mean}) {
      lens::advantage_settings settings;
      settings.difficulty_source = source;
      INFO("layout " << name(kind) << ", source " << int(source));
      check_token_parity<float>(b, kind, settings, false);
    }
  }
}

TEST_CASE("cuda: long rows shared by several warps, odd widths, scattered masks, unaligned outputs", "[cuda]") {
  // T = 4096 and 8200 / 16392: 2 and 4 warps per row, packed loads with a
  // partial last round; 4100: scalar first pass, 16-byte broadcast; 4099:
  // scalar throughout. The masks have holes (tokens switched off inside the
  // response), so every bit position of the broadcast is checked.
  std::mt19937_64 rng(21);
  auto scatter = [&](batch& b) {
    std::bernoulli_distribution off(0.3);
    for (std::size_t i = 0; i < b.num_samples; ++i)
      for (std::int64_t c = 1; c < b.lengths[i]; ++c)
        if (off(rng)) b.mask[i * b.num_tokens + std::size_t(c)] = 0;
  };
  for (std::size_t t : {std::size_t(4096), std::size_t(4100), std::size_t(4099), std::size_t(8200), std::size_t(16392)}) {
    for (layout_kind kind : {layout_kind::fixed, layout_kind::ragged}) {
      INFO("T " << t << ", layout " << name(kind));
      batch b = lens_test::make_batch(rng, kind, 5, 5, t, true, t == 4096 ? -1e4 : -3.0);
      scatter(b);
      check_token_parity<float>(b, kind, lens::presets::lens(), false);
      check_token_parity<__nv_bfloat16>(b, kind, lens::presets::lens(), false);
      check_token_parity<float>(b, kind, lens::presets::verl_grpo(), true);
    }
  }
  SECTION("token advantages at an address that is not 16-byte aligned") {
    batch b = lens_test::make_batch(rng, layout_kind::fixed, 3, 4, 4096, true);
    scatter(b);
    const std::size_t n = b.num_samples, t = b.num_tokens;
    const lens::token_inputs<float> host = lens_test::host_token_inputs(b);
    std::vector<float> cpu(n), cpu_tokens(n * t);
    lens::cpu::compute_advantages(host, lens::fixed_groups{4}, lens::span<float>(cpu), lens::span<float>(cpu_tokens));
    device_batch<float> d(b);
    lens::token_inputs<float> in;
    in.num_samples = n;
    in.num_tokens = t;
    in.scores = raw(d.scores);
    in.logprobs = raw(d.logprobs);
    in.mask = raw(d.mask);
    dvec<float> adv(n), tokens(n * t + 2, -7.0f);
    lens::cuda::compute_advantages(in, lens::fixed_groups{4}, lens::span<float>(raw(adv), n),
                                   lens::span<float>(raw(tokens) + 1, n * t));
    const std::vector<float> all = to_host(tokens);
    REQUIRE(all.front() == -7.0f);
    REQUIRE(all.back() == -7.0f);
    REQUIRE(lens_test::max_relative_error(std::vector<float>(all.begin() + 1, all.end() - 1), cpu_tokens) <= 1e-6);
    REQUIRE(lens_test::max_relative_error(to_host(adv), cpu) <= 1e-6);
  }
}

TEST_CASE("cuda: large batches match the CPU backend", "[cuda][large]") {
  std::mt19937_64 rng(16);
  SECTION("1M responses, per-sample inputs, every layout") {
    for (layout_kind kind : {layout_kind::fixed, layout_kind::ragged, layout_kind::ids}) {
      INFO("layout " << name(kind));
      check_sequence_parity(lens_test::make_batch(rng, kind, (1 << 20) / 16, 16, 1, true), kind, lens::presets::lens());
    }
    check_sequence_parity(lens_test::make_batch(rng, layout_kind::ids, (1 << 20) / 16, 16, 1, false), layout_kind::ids,
                          lens::presets::trl_grpo_batch_std());
  }
  SECTION("64M tokens (16384 x 4096), fixed groups of 16, bfloat16") {
    const batch b = lens_test::make_batch(rng, layout_kind::fixed, 1024, 16, 4096, true);
    check_token_parity<__nv_bfloat16>(b, layout_kind::fixed, lens::presets::lens(), false, false);
  }
  SECTION("8M tokens, ids and ragged layouts") {
    for (layout_kind kind : {layout_kind::ragged, layout_kind::ids}) {
      INFO("layout " << name(kind));
      const batch b = lens_test::make_batch(rng, kind, 128, 16, 4096, true);
      check_token_parity<float>(b, kind, lens::presets::lens(), false);
    }
  }
}

TEST_CASE("cuda: bad inputs give the CPU backend's message and leave outputs untouched", "[cuda]") {
  std::mt19937_64 rng(17);
  const batch good = lens_test::make_batch(rng, layout_kind::ragged, 6, 4, 40, true);
  const std::size_t t = good.num_tokens;
  for (const auto& m : lens_test::bad_token_inputs(good)) {
    INFO(m.what);
    batch b = good;
    m.apply(b);
    const std::size_t n = b.num_samples;
    const lens::token_inputs<float> host = lens_test::host_token_inputs(b);
    std::vector<float> cpu(n), cpu_tokens(n * t);
    const std::string expected = lens_test::message_of([&] {
      lens::cpu::compute_advantages(host, lens::offset_groups{lens::span<const std::int64_t>(b.offsets)},
                                    lens::span<float>(cpu), lens::span<float>(cpu_tokens));
    });
    device_batch<float> d(b);
    lens::token_inputs<float> in;
    in.num_samples = n;
    in.num_tokens = t;
    in.scores = raw(d.scores);
    in.logprobs = raw(d.logprobs);
    in.mask = raw(d.mask);
    dvec<float> adv(n, -7.0f), tokens(n * t, -7.0f);
    const lens::offset_groups layout{lens::span<const std::int64_t>(raw(d.offsets), d.offsets.size())};
    // The asynchronous API: nothing throws until the checking call.
    lens::cuda::workspace ws;
    lens::cuda::compute_advantages_async(ws, in, layout, lens::span<float>(raw(adv), n), lens::span<float>(raw(tokens), n * t));
    const std::string actual = lens_test::message_of([&] { ws.check(); });
    REQUIRE(!expected.empty());
    REQUIRE(actual == expected);
    REQUIRE(lens_test::message_of([&] { ws.summary(); }) == expected);
    for (float a : to_host(adv)) REQUIRE(a == -7.0f);
    for (float a : to_host(tokens)) REQUIRE(a == -7.0f);
  }

  for (const auto& m : lens_test::bad_sequence_inputs()) {
    INFO(m.what);
    batch b = good;
    m.apply(b);
    const std::size_t n = b.num_samples;
    const lens::sequence_inputs<float> host{b.scores, b.logprob_sums, b.lengths};
    std::vector<float> cpu(n);
    const std::string expected = lens_test::message_of([&] {
      lens::cpu::compute_advantages(host, lens::fixed_groups{1}, lens::span<float>(cpu));
    });
    device_batch<float> d(b);
    const lens::sequence_inputs<float> in{{raw(d.scores), n}, {raw(d.logprob_sums), n}, {raw(d.lengths), n}};
    dvec<float> adv(n, -7.0f);
    const std::string actual = lens_test::message_of([&] {
      lens::cuda::compute_advantages(in, lens::fixed_groups{1}, lens::span<float>(raw(adv), n));
    });
    REQUIRE(!expected.empty());
    REQUIRE(actual == expected);
    for (float a : to_host(adv)) REQUIRE(a == -7.0f);
  }

  SECTION("advantages beyond float: the CPU message; the overflowing group untouched") {
    // Dr. GRPO on scores near 1e38: group 1's advantages reach 4e38 > FLT_MAX.
    const std::vector<float> scores = {0, 1, 2, 3e38f, -3e38f, 3e38f, 5, 6, 7};
    std::vector<float> cpu(9);
    const std::string expected = lens_test::message_of([&] {
      lens::cpu::compute_advantages(lens::sequence_inputs<float>{scores, {}, {}}, lens::fixed_groups{3},
                                    lens::span<float>(cpu), lens::presets::dr_grpo());
    });
    REQUIRE(expected.find("lens: groups[1] gives advantages beyond") == 0);
    dvec<float> d_scores(scores.begin(), scores.end()), adv(9, -7.0f);
    {  // fixed groups of 3: a warp per group
      const lens::sequence_inputs<float> in{{raw(d_scores), 9}, {}, {}};
      REQUIRE(lens_test::message_of([&] {
                lens::cuda::compute_advantages(in, lens::fixed_groups{3}, lens::span<float>(raw(adv), 9),
                                               lens::presets::dr_grpo());
              }) == expected);
      const auto out = to_host(adv);
      for (std::size_t i = 3; i < 6; ++i) REQUIRE(out[i] == -7.0f);
    }
    // The ragged path (a block per group) names the same group.
    const std::vector<std::int64_t> offsets = {0, 3, 6, 9};
    dvec<std::int64_t> d_offsets(offsets.begin(), offsets.end());
    const lens::sequence_inputs<float> in{{raw(d_scores), 9}, {}, {}};
    REQUIRE(lens_test::message_of([&] {
              lens::cuda::compute_advantages(in, lens::offset_groups{{raw(d_offsets), 4}}, lens::span<float>(raw(adv), 9),
                                             lens::presets::dr_grpo());
            }) == expected);
  }

  SECTION("host-side checks throw at once, with the CPU message") {
    dvec<float> adv(4);
    const lens::sequence_inputs<float> in{{raw(adv), 4}, {raw(adv), 4}, {nullptr, 0}};
    const std::string expected = lens_test::message_of([&] {
      std::vector<float> s(4), out(4);
      lens::cpu::compute_advantages(lens::sequence_inputs<float>{s, s, {}}, lens::fixed_groups{3}, lens::span<float>(out));
    });
    REQUIRE(!expected.empty());
    REQUIRE(lens_test::message_of([&] { lens::cuda::compute_advantages(in, lens::fixed_groups{3}, lens::span<float>(raw(adv), 4)); }) ==
            expected);
  }
}

TEST_CASE("cuda: the workspace is reused across calls of different sizes", "[cuda]") {
  std::mt19937_64 rng(18);
  lens::cuda::workspace ws;
  for (std::size_t groups : {std::size_t(3), std::size_t(200), std::size_t(7)}) {
    const batch b = lens_test::make_batch(rng, layout_kind::ids, groups, 8, 1, true);
    const std::size_t n = b.num_samples;
    device_batch<float> d(b);
    const lens::sequence_inputs<float> in{{raw(d.scores), n}, {raw(d.logprob_sums), n}, {raw(d.lengths), n}};
    dvec<float> adv(n);
    lens::cuda::compute_lens_advantages_async(ws, in, lens::id_groups{{raw(d.ids), n}}, lens::span<float>(raw(adv), n), {},
                                              true);
    std::vector<float> cpu(n);
    std::vector<lens::group_statistics> cpu_stats;
    const auto cpu_summary = lens::compute_lens_advantages(lens::sequence_inputs<float>{b.scores, b.logprob_sums, b.lengths},
                                                           lens::id_groups{b.ids}, lens::span<float>(cpu), {}, &cpu_stats);
    lens_test::require_same_summary(ws.summary(), cpu_summary);
    lens_test::require_same_statistics(ws.statistics(), cpu_stats);
    REQUIRE(lens_test::max_relative_error(to_host(adv), cpu) <= 1e-6);
  }
}

TEST_CASE("cuda: two-phase calls on caller memory, double outputs and a caller allocator", "[cuda][two-phase]") {
  std::mt19937_64 rng(21);
  for (layout_kind kind : {layout_kind::fixed, layout_kind::ragged, layout_kind::ids}) {
    for (const auto& settings : lens_test::all_settings()) {
      const batch b = lens_test::make_batch(rng, kind, 30, 8, 40, true);
      INFO("layout " << name(kind) << ", estimator " << int(settings.kind));
      const std::size_t n = b.num_samples, t = b.num_tokens;
      const lens::token_inputs<float> host = lens_test::host_token_inputs(b);
      std::vector<float> cpu(n), cpu_tokens(n * t);
      std::vector<lens::group_statistics> cpu_stats;
      const auto cpu_summary = with_layout(kind, b.group_size, b.offsets, b.ids, [&](const auto& layout) {
        return lens::cpu::compute_advantages(host, layout, lens::span<float>(cpu), lens::span<float>(cpu_tokens), settings,
                                             &cpu_stats);
      });
      device_batch<float> d(b);
      lens::token_inputs<float> in = host;
      in.scores = raw(d.scores);
      in.logprobs = raw(d.logprobs);
      in.mask = raw(d.mask);
      // Two phases: the query, then the run on memory this test owns.
      dvec<float> adv(n, -7.0f), tokens(n * t, -7.0f);
      std::vector<lens::group_statistics> gpu_stats;
      const auto gpu_summary = with_device_layout(kind, b.group_size, d.offsets, d.ids, [&](const auto& layout) {
        std::size_t bytes = 0;
        lens::cuda::compute_advantages(nullptr, bytes, in, layout, lens::span<float>(raw(adv), n),
                                       lens::span<float>(raw(tokens), n * t), settings, true);
        REQUIRE(bytes > 0);
        dvec<unsigned char> temp(bytes);
        const lens::cuda::call_info info = lens::cuda::compute_advantages(
            raw(temp), bytes, in, layout, lens::span<float>(raw(adv), n), lens::span<float>(raw(tokens), n * t), settings,
            true);
        return lens::cuda::read_results(raw(temp), info, nullptr, &gpu_stats);
      });
      REQUIRE(lens_test::max_relative_error(to_host(adv), cpu) <= 1e-6);
      REQUIRE(lens_test::max_relative_error(to_host(tokens), cpu_tokens) <= 1e-6);
      lens_test::require_same_summary(gpu_summary, cpu_summary);
      lens_test::require_same_statistics(gpu_stats, cpu_stats);
      // Double outputs through the synchronous call, with a counting allocator.
      struct counting {
        int allocations = 0, frees = 0;
      } count;
      lens::cuda::device_allocator allocator;
      allocator.context = &count;
      allocator.allocate = [](std::size_t bytes, cudaStream_t, void* context) -> void* {
        void* p = nullptr;
        if (cudaMalloc(&p, bytes) != cudaSuccess) return nullptr;
        ++static_cast<counting*>(context)->allocations;
        return p;
      };
      allocator.deallocate = [](void* p, cudaStream_t, void* context) {
        cudaFree(p);
        ++static_cast<counting*>(context)->frees;
      };
      dvec<double> adv64(n), tokens64(n * t);
      with_device_layout(kind, b.group_size, d.offsets, d.ids, [&](const auto& layout) {
        return lens::cuda::compute_advantages(in, layout, lens::span<double>(raw(adv64), n),
                                              lens::span<double>(raw(tokens64), n * t), settings, nullptr, nullptr,
                                              allocator);
      });
      REQUIRE(count.allocations == 1);
      REQUIRE(count.frees == 1);
      const std::vector<double> a64 = to_host(adv64);
      for (std::size_t i = 0; i < n; ++i) REQUIRE(a64[i] == Approx(double(cpu[i])).margin(1e-5).epsilon(1e-5));
    }
  }
}

TEST_CASE("cuda: the Thrust path on the CUDA system matches the CPU backend", "[cuda][thrust]") {
  std::mt19937_64 rng(19);
  for (layout_kind kind : {layout_kind::fixed, layout_kind::ragged, layout_kind::ids}) {
    const batch b = lens_test::make_batch(rng, kind, 40, 8, 24, true);
    const std::size_t n = b.num_samples, t = b.num_tokens;
    device_batch<float> d(b);
    const lens::token_inputs<float> host = lens_test::host_token_inputs(b);
    std::vector<float> cpu(n), cpu_tokens(n * t);
    with_layout(kind, b.group_size, b.offsets, b.ids, [&](const auto& layout) {
      return lens::cpu::compute_advantages(host, layout, lens::span<float>(cpu), lens::span<float>(cpu_tokens));
    });
    lens::token_inputs<float> in = host;
    in.scores = raw(d.scores);
    in.logprobs = raw(d.logprobs);
    in.mask = raw(d.mask);
    dvec<float> adv(n), tokens(n * t);
    with_device_layout(kind, b.group_size, d.offsets, d.ids, [&](const auto& layout) {
      return lens::thrust_path::compute_advantages(thrust::cuda::par, in, layout, lens::span<float>(raw(adv), n),
                                                         lens::span<float>(raw(tokens), n * t));
    });
    REQUIRE(lens_test::max_relative_error(to_host(adv), cpu) <= 1e-6);
    REQUIRE(lens_test::max_relative_error(to_host(tokens), cpu_tokens) <= 1e-6);
  }
}
