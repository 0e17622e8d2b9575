// bench/cpu/bench_cpu.cpp: the CPU microbenchmarks. For every case it registers
// lens, the roofline copy, the scalar reference (tests/reference) and, when
// LibTorch is found, the LibTorch baseline (torch_baseline.cpp), one after the
// other on the same inputs, so every ratio comes from one run.
//
//   build-bench/bench/cpu/lens_bench_cpu --benchmark_min_time=0.1
//   LENS_BENCH_QUICK=1 ...   a few small cases only (smoke test)
//   LENS_BENCH_THREADS=n ... thread count for lens (OpenMP builds) and LibTorch
#include <cstdio>
#include <cstring>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "bench_cases.hpp"
#include "reference/scalar_reference.hpp"

namespace lens_bench {

int bench_threads() {
  static const int threads = [] {
    const char* env = std::getenv("LENS_BENCH_THREADS");
    int n = env ? std::atoi(env) : 1;
    if (n < 1) n = 1;
#if defined(_OPENMP)
    omp_set_num_threads(n);
#else
    n = 1;  // lens runs on one thread without OpenMP
#endif
    return n;
  }();
  return threads;
}

namespace {

void bench_lens(benchmark::State& state, case_spec spec) {
  case_inputs& in = inputs_for(spec);
  for (auto _ : state) {
    run_lens(in);
    benchmark::ClobberMemory();
  }
  set_counters(state, spec);
}

/// The roofline: one memcpy moving as many bytes as the case must read and
/// write (a copy of k bytes reads k and writes k, so k = bytes / 2). Its
/// GB/s is counted over the same byte budget, so time ratios are bandwidth ratios.
void bench_copy(benchmark::State& state, case_spec spec) {
  const std::size_t half = static_cast<std::size_t>(spec.bytes() / 2);
  std::vector<char> source(half, 1), target(half, 0);
  for (auto _ : state) {
    std::memcpy(target.data(), source.data(), half);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(target.data());
  set_counters(state, spec);
}

/// The tests' oracle as a baseline: plain loops in double, groups from a
/// std::map. At the token level the rows are reduced by plain loops first and
/// the advantages broadcast back, so it computes what lens computes.
void bench_scalar(benchmark::State& state, case_spec spec) {
  case_inputs& in = inputs_for(spec);
  const std::size_t n = spec.num_samples, t = spec.num_tokens;
  const auto settings = spec.settings();
  std::vector<double> reference_advantages;
  for (auto _ : state) {
    std::vector<double> scores(n), logprob_sums(n), lengths(n);
    if (spec.lvl == level::sequence) {
      for (std::size_t i = 0; i < n; ++i) {
        scores[i] = in.scores[i];
        if (spec.kind == lens::estimator::lens) {
          logprob_sums[i] = in.logprob_sums[i];
          lengths[i] = static_cast<double>(in.lengths[i]);
        }
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        double sum = 0, count = 0, reward = 0;
        for (std::size_t c = 0; c < t; ++c) {
          if (spec.kind == lens::estimator::lens) {
            if (in.mask[i * t + c]) {
              sum += in.logprobs[i * t + c];
              count += 1;
            }
          } else {
            reward += in.token_rewards[i * t + c];
          }
        }
        scores[i] = spec.kind == lens::estimator::lens ? in.scores[i] : reward;
        logprob_sums[i] = sum;
        lengths[i] = count;
      }
    }
    const std::vector<std::int64_t>& ids = spec.layout == layout_kind::ids ? in.ids : in.fixed_ids;
    reference_advantages = lens_reference::compute(scores, logprob_sums, lengths, ids, settings).advantages;
    for (std::size_t i = 0; i < n; ++i) in.advantages[i] = static_cast<float>(reference_advantages[i]);
    if (spec.lvl == level::token)
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < t; ++c)
          in.token_advantages[i * t + c] = in.mask[i * t + c] ? in.advantages[i] : 0.0f;
    benchmark::ClobberMemory();
  }
  // Honesty check: lens must agree with its oracle on these inputs.
  const std::vector<float> expected = in.advantages;
  run_lens(in);
  require_close("lens vs scalar reference", spec, in.advantages.data(), expected.data(), n, 1e-6, 1e-5);
  set_counters(state, spec);
}

std::vector<case_spec> all_cases(bool quick) {
  std::vector<case_spec> cases;
  const lens::estimator kinds[] = {lens::estimator::grpo, lens::estimator::lens};
  const layout_kind layouts[] = {layout_kind::fixed, layout_kind::offsets, layout_kind::ids};
  // Sequence level: G = 16 over N = 2^9 .. 2^22 (the scaling series), G = 4
  // and 64 at four sizes.
  std::vector<std::size_t> scaling_sizes, grid_sizes = {1u << 9, 1u << 16, 1u << 20, 1u << 22};
  for (int k = 9; k <= 22; ++k) scaling_sizes.push_back(std::size_t{1} << k);
  if (quick) scaling_sizes = grid_sizes = {1u << 9, 1u << 14};
  for (auto kind : kinds)
    for (auto layout : layouts)
      for (std::size_t g : {4, 16, 64})
        for (std::size_t n : g == 16 ? scaling_sizes : grid_sizes) {
          case_spec s;
          s.lvl = level::sequence;
          s.kind = kind;
          s.layout = layout;
          s.num_samples = n;
          s.group_size = g;
          cases.push_back(s);
        }
  // Token level: N x T from 512 x 512 to 64M tokens, fixed groups of 16.
  std::vector<std::pair<std::size_t, std::size_t>> shapes = {
      {512, 512}, {512, 4096}, {2048, 4096}, {4096, 4096}, {16384, 4096}};
  if (quick) shapes = {{512, 512}, {512, 4096}};
  for (auto kind : kinds)
    for (auto shape : shapes) {
      case_spec s;
      s.lvl = level::token;
      s.kind = kind;
      s.layout = layout_kind::fixed;
      s.num_samples = shape.first;
      s.num_tokens = shape.second;
      s.group_size = 16;
      cases.push_back(s);
    }
  return cases;
}

}  // namespace
}  // namespace lens_bench

int main(int argc, char** argv) {
  using namespace lens_bench;
  const bool quick = std::getenv("LENS_BENCH_QUICK") != nullptr;
  benchmark::AddCustomContext("lens_threads", std::to_string(bench_threads()));
  benchmark::AddCustomContext("libtorch_baseline", torch_available() ? "yes" : "no (LibTorch not found)");
#if defined(__OPTIMIZE__)
  benchmark::AddCustomContext("lens_build", "optimised");
#endif
#if defined(LENS_BENCH_FLAGS)
  benchmark::AddCustomContext("lens_flags", LENS_BENCH_FLAGS);
#endif
  for (const case_spec& spec : all_cases(quick)) {
    configure(benchmark::RegisterBenchmark(spec.name("lens").c_str(), bench_lens, spec), spec);
    configure(benchmark::RegisterBenchmark(spec.name("copy").c_str(), bench_copy, spec), spec);
    // The reference's std::map makes it slow; past 2^18 samples it adds minutes and no insight.
    if (spec.num_samples <= (1u << 18) && spec.items() <= (1u << 25))
      configure(benchmark::RegisterBenchmark(spec.name("scalar").c_str(), bench_scalar, spec), spec);
    register_torch_case(spec);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
