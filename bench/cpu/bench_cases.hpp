// bench/cpu/bench_cases.hpp: the benchmark cases and their inputs, shared by the
// lens translation unit and the LibTorch baseline's (which is compiled apart,
// because LibTorch headers are slow to compile). No framework headers here.
//
// Every case is named "<level>/<estimator>/<layout>/G<g>/<size>/<impl>", e.g.
// "seq/lens/ids/G16/N1048576/torch" or "tok/grpo/fixed/G16/4096x4096/lens";
// scripts/bench_report.py parses these names, so keep the scheme.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "lens/lens.hpp"

namespace lens_bench {

enum class level { sequence, token };
enum class layout_kind { fixed, offsets, ids };

struct case_spec {
  level lvl = level::sequence;
  lens::estimator kind = lens::estimator::lens;
  layout_kind layout = layout_kind::fixed;
  std::size_t num_samples = 0;  ///< N
  std::size_t num_tokens = 0;   ///< T (token level only)
  std::size_t group_size = 0;   ///< G

  std::size_t items() const { return lvl == level::token ? num_samples * num_tokens : num_samples; }

  /// Bytes the computation must read and write at least (the roofline's budget).
  /// sequence GRPO: score (4) in, advantage (4) out; LENS adds the log-prob
  /// sum (4) and the length (8). token GRPO (verl): token reward (4) and mask
  /// (1) in, token advantage (4) out; token LENS: log-prob (4) and mask (1)
  /// in, token advantage (4) out, plus one score (4) per row. The ids layout
  /// reads 8 B of id per sample, the offsets layout 8 B per group.
  double bytes() const {
    const double n = static_cast<double>(num_samples);
    double total = 0;
    if (lvl == level::sequence) {
      total = n * (kind == lens::estimator::lens ? 4 + 4 + 8 + 4 : 4 + 4);
    } else {
      total = n * static_cast<double>(num_tokens) * 9 + (kind == lens::estimator::lens ? 4 * n : 0);
    }
    if (layout == layout_kind::ids) total += 8 * n;
    if (layout == layout_kind::offsets) total += 8 * (n / static_cast<double>(group_size) + 1);
    return total;
  }

  std::string name(const char* impl) const {
    static const char* layouts[] = {"fixed", "offsets", "ids"};
    std::string s = lvl == level::token ? "tok/" : "seq/";
    s += kind == lens::estimator::lens ? "lens/" : "grpo/";
    s += layouts[static_cast<int>(layout)];
    s += "/G" + std::to_string(group_size) + "/";
    s += lvl == level::token ? std::to_string(num_samples) + "x" + std::to_string(num_tokens)
                             : "N" + std::to_string(num_samples);
    return s + "/" + impl;
  }

  lens::advantage_settings settings() const {
    return kind == lens::estimator::lens ? lens::presets::lens() : lens::presets::verl_grpo();
  }
};

/// Inputs of one case, generated once per case and shared by every
/// implementation of it. Groups all have size G; the ids layout gives each
/// group a random 64-bit uid and shuffles the samples (verl's uid after its
/// shuffle). Scores are binary with a per-group success rate (about 40% of
/// groups negative, some all-correct), response lengths 1..T (LENS), and the
/// token masks right-padded rows of ones as verl's response_mask.
struct case_inputs {
  case_spec spec;
  // layout
  std::vector<std::int64_t> offsets;  // offsets layout
  std::vector<std::int64_t> ids;      // ids layout
  std::vector<std::int64_t> fixed_ids;  // sample -> group number, for every layout (the scalar reference's ids)
  // sequence level
  std::vector<float> scores;          // [N]
  std::vector<float> logprob_sums;    // [N]
  std::vector<std::int64_t> lengths;  // [N]
  // token level
  std::vector<float> token_rewards;   // [N x T] (GRPO, verl's token_level_rewards)
  std::vector<float> logprobs;        // [N x T] (LENS)
  std::vector<std::uint8_t> mask;     // [N x T]
  // outputs, reused by every implementation
  std::vector<float> advantages;       // [N]
  std::vector<float> token_advantages; // [N x T]

  lens::sequence_inputs<float> sequence() const { return {scores, logprob_sums, lengths}; }
  lens::token_inputs<float, std::uint8_t> tokens() const {
    lens::token_inputs<float, std::uint8_t> in;
    in.num_samples = spec.num_samples;
    in.num_tokens = spec.num_tokens;
    if (spec.kind == lens::estimator::lens) {
      in.scores = scores.data();
      in.logprobs = logprobs.data();
    } else {
      in.token_rewards = token_rewards.data();
    }
    in.mask = mask.data();
    return in;
  }
};

inline bool same_inputs(const case_spec& a, const case_spec& b) {
  return a.lvl == b.lvl && a.kind == b.kind && a.layout == b.layout && a.num_samples == b.num_samples &&
         a.num_tokens == b.num_tokens && a.group_size == b.group_size;
}

/// The inputs of `spec`; the previous case's inputs are dropped first, so at
/// most one case (up to about 1 GB at 64M tokens) is held at a time.
inline case_inputs& inputs_for(const case_spec& spec) {
  static std::unique_ptr<case_inputs> current;
  if (current && same_inputs(current->spec, spec)) return *current;
  current.reset();
  auto in = std::make_unique<case_inputs>();
  in->spec = spec;
  const std::size_t n = spec.num_samples, t = spec.num_tokens, g = spec.group_size;
  const std::size_t num_groups = n / g;
  std::mt19937_64 rng(0x5eed ^ (n * 1315423911u) ^ (t << 7) ^ g);
  std::uniform_real_distribution<double> unit(0.0, 1.0);

  std::vector<double> success(num_groups);
  for (auto& p : success) {
    const double u = unit(rng);
    p = u < 0.4 ? 0.0 : (u < 0.5 ? 1.0 : unit(rng));  // 40% negative, 10% all correct
  }
  // Samples in group order first; the ids layout permutes them below.
  std::vector<std::int64_t> group_of(n);
  for (std::size_t i = 0; i < n; ++i) group_of[i] = static_cast<std::int64_t>(i / g);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (spec.layout == layout_kind::ids) std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::int64_t> uid(num_groups);
  for (auto& u : uid) u = static_cast<std::int64_t>(rng());

  in->fixed_ids.resize(n);
  if (spec.layout == layout_kind::ids) in->ids.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t grp = group_of[order[i]];
    in->fixed_ids[i] = grp;
    if (spec.layout == layout_kind::ids) in->ids[i] = uid[static_cast<std::size_t>(grp)];
  }
  if (spec.layout == layout_kind::offsets) {
    in->offsets.resize(num_groups + 1);
    for (std::size_t k = 0; k <= num_groups; ++k) in->offsets[k] = static_cast<std::int64_t>(k * g);
  }

  in->scores.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    in->scores[i] = unit(rng) < success[static_cast<std::size_t>(in->fixed_ids[i])] ? 1.0f : 0.0f;

  if (spec.lvl == level::sequence) {
    if (spec.kind == lens::estimator::lens) {
      in->logprob_sums.resize(n);
      in->lengths.resize(n);
      std::uniform_int_distribution<std::int64_t> length(1, 4096);
      for (std::size_t i = 0; i < n; ++i) {
        in->lengths[i] = length(rng);
        // mean token log-prob between -1.5 and -0.02
        in->logprob_sums[i] = static_cast<float>(-static_cast<double>(in->lengths[i]) * (0.02 + 1.48 * unit(rng)));
      }
    }
    in->advantages.resize(n);
  } else {
    in->mask.assign(n * t, 0);
    if (spec.kind == lens::estimator::lens) in->logprobs.resize(n * t);
    else in->token_rewards.assign(n * t, 0.0f);
    std::uniform_int_distribution<std::size_t> length(1, t);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t len = length(rng);
      std::fill_n(in->mask.begin() + static_cast<std::ptrdiff_t>(i * t), len, std::uint8_t{1});
      if (spec.kind == lens::estimator::lens) {
        const double mean = 0.02 + 1.48 * unit(rng);
        // Masked-out positions hold finite junk, as padded rows of a trainer do.
        for (std::size_t c = 0; c < t; ++c)
          in->logprobs[i * t + c] = static_cast<float>(-mean * 2.0 * unit(rng));
      } else {
        in->token_rewards[i * t + len - 1] = in->scores[i];  // verl: the reward sits on the last response token
      }
    }
    in->advantages.resize(n);
    in->token_advantages.resize(n * t);
  }
  current = std::move(in);
  return *current;
}

/// Runs lens on the case (the implementation the baselines are checked against).
inline void run_lens(case_inputs& in) {
  const auto& s = in.spec;
  const auto settings = s.settings();
  const lens::span<float> adv(in.advantages);
  auto run = [&](const auto& layout) {
    if (s.lvl == level::sequence) {
      benchmark::DoNotOptimize(lens::compute_advantages(in.sequence(), layout, adv, settings));
    } else {
      benchmark::DoNotOptimize(lens::compute_advantages(in.tokens(), layout, adv,
                                                        lens::span<float>(in.token_advantages), settings));
    }
  };
  switch (s.layout) {
    case layout_kind::fixed: run(lens::fixed_groups{s.group_size}); break;
    case layout_kind::offsets: run(lens::offset_groups{in.offsets}); break;
    case layout_kind::ids: run(lens::id_groups{in.ids}); break;
  }
}

/// |a - b| <= atol + rtol |b| everywhere, or the benchmark run is aborted:
/// a baseline that computes something else would make its timing meaningless.
inline void require_close(const char* what, const case_spec& spec, const float* actual, const float* expected,
                          std::size_t count, double atol, double rtol) {
  for (std::size_t i = 0; i < count; ++i) {
    const double a = actual[i], b = expected[i];
    if (!(std::fabs(a - b) <= atol + rtol * std::fabs(b))) {
      std::fprintf(stderr, "bench: %s disagrees with lens on %s at %zu: %.9g vs %.9g\n", what,
                   spec.name("check").c_str(), i, a, b);
      std::abort();
    }
  }
}

/// The thread count every implementation runs with (lens, the copy, LibTorch).
int bench_threads();

/// Implemented in torch_baseline.cpp when LibTorch is found.
void register_torch_case(const case_spec& spec);
bool torch_available();

/// The cases the targets are stated on: token-level LENS from
/// 512 x 4096 up, and sequence level with shuffled ids at N = 2^20.
inline bool is_target_case(const case_spec& spec) {
  if (spec.lvl == level::token) return spec.kind == lens::estimator::lens && spec.items() >= 512u * 4096u;
  return spec.layout == layout_kind::ids && spec.group_size == 16 && spec.num_samples == (1u << 20);
}

/// Timing options shared by every registration. Target cases are repeated
/// three times and reported as the median, which a busy shared machine
/// disturbs less than a single run.
inline benchmark::internal::Benchmark* configure(benchmark::internal::Benchmark* b, const case_spec& spec) {
  b->UseRealTime()->Unit(spec.items() >= (1u << 20) ? benchmark::kMillisecond : benchmark::kMicrosecond);
  if (is_target_case(spec)) b->Repetitions(3)->ReportAggregatesOnly(true);
  return b;
}

/// Items per second and GB/s (of the case's byte budget) as counters.
inline void set_counters(benchmark::State& state, const case_spec& spec) {
  const double iterations = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(iterations * static_cast<double>(spec.items())));
  state.SetBytesProcessed(static_cast<std::int64_t>(iterations * spec.bytes()));
  state.counters["GB/s"] = benchmark::Counter(iterations * spec.bytes() / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = bench_threads();
}

}  // namespace lens_bench
