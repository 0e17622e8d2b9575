// GPU microbenchmarks of the CUDA backend (self-contained: CUDA events, no
// Google Benchmark, so it builds on a bare GPU machine). Every figure reads as
// bandwidth over the fewest bytes the call must move (each input read once,
// each output written once), next to a device-to-device copy moving the same
// bytes (read + write) in the same binary: the achievable roofline.
//
//   bench_cuda [--quick]
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "lens/cuda/advantages.cuh"

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

__device__ __forceinline__ std::uint32_t hash(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return static_cast<std::uint32_t>(x);
}
__device__ __forceinline__ float unit(std::uint64_t x) { return (hash(x) >> 8) * (1.0f / 16777216.0f); }

/// Row r has a response of length in [T/8, T]; logprobs in (-3, 0]; binary rewards.
template <class Real>
__global__ void fill_tokens(Real* logprobs, std::uint8_t* mask, float* scores, std::int64_t n, std::int64_t t) {
  const std::int64_t total = n * t;
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < total; k += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t r = k / t, c = k % t;
    const std::int64_t length = t / 8 + static_cast<std::int64_t>(unit(r * 7919 + 1) * (t - t / 8));
    mask[k] = c < length;
    logprobs[k] = static_cast<Real>(-3.0f * unit(k));
    if (c == 0) scores[r] = unit(r * 104729 + 3) < 0.3f ? 1.0f : 0.0f;
  }
}

struct timer {
  cudaEvent_t start, stop;
  timer() {
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
  }
  ~timer() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  /// Median microseconds of `reps` timed runs after `warmup` untimed ones.
  double median_us(const std::function<void()>& run, int warmup = 3, int reps = 20) {
    for (int i = 0; i < warmup; ++i) run();
    check(cudaDeviceSynchronize(), "warm-up");
    std::vector<double> times;
    for (int i = 0; i < reps; ++i) {
      cudaEventRecord(start);
      run();
      cudaEventRecord(stop);
      check(cudaEventSynchronize(stop), "timed run");
      float ms = 0;
      cudaEventElapsedTime(&ms, start, stop);
      times.push_back(ms * 1e3);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
  }
};

struct row {
  std::string name;
  double bytes, us, copy_us;
};

std::vector<row> rows;

/// A device-to-device copy moving `bytes` (read + write), the roofline.
double copy_us(timer& clock, double bytes) {
  const std::size_t half = static_cast<std::size_t>(bytes / 2);
  void *a = nullptr, *b = nullptr;
  check(cudaMalloc(&a, half), "cudaMalloc copy");
  check(cudaMalloc(&b, half), "cudaMalloc copy");
  cudaMemset(a, 1, half);
  const double us = clock.median_us([&] { cudaMemcpyAsync(b, a, half, cudaMemcpyDeviceToDevice); });
  cudaFree(a);
  cudaFree(b);
  return us;
}

enum class layout_kind { fixed, offsets, ids };

/// Token-level LENS: [N x T] logprobs + mask in, [N x T] token advantages and [N] advantages out.
template <class Real>
void bench_tokens(timer& clock, const char* name, std::int64_t n, std::int64_t t, std::int64_t g, layout_kind kind,
                  const lens::advantage_settings& settings = lens::presets::lens(), bool breakdown = false) {
  Real* logprobs;
  std::uint8_t* mask;
  float *scores, *adv, *tokens;
  check(cudaMalloc(&logprobs, n * t * sizeof(Real)), "cudaMalloc");
  check(cudaMalloc(&mask, n * t), "cudaMalloc");
  check(cudaMalloc(&scores, n * sizeof(float)), "cudaMalloc");
  check(cudaMalloc(&adv, n * sizeof(float)), "cudaMalloc");
  check(cudaMalloc(&tokens, n * t * sizeof(float)), "cudaMalloc");
  fill_tokens<Real><<<1024, 256>>>(logprobs, mask, scores, n, t);
  // Layout buffers: offsets of groups of random size around g, or shuffled ids.
  std::vector<std::int64_t> offsets{0}, ids(n);
  std::uint64_t state = 12345;
  auto next = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
  while (offsets.back() < n) offsets.push_back(std::min<std::int64_t>(n, offsets.back() + 1 + (next() >> 33) % (2 * g - 1)));
  for (std::int64_t i = 0; i < n; ++i) ids[i] = i / g;
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(ids[i], ids[(next() >> 33) % (i + 1)]);
  std::int64_t *d_offsets, *d_ids;
  check(cudaMalloc(&d_offsets, offsets.size() * 8), "cudaMalloc");
  check(cudaMalloc(&d_ids, n * 8), "cudaMalloc");
  cudaMemcpy(d_offsets, offsets.data(), offsets.size() * 8, cudaMemcpyHostToDevice);
  cudaMemcpy(d_ids, ids.data(), n * 8, cudaMemcpyHostToDevice);

  lens::token_inputs<Real> in;
  in.num_samples = n;
  in.num_tokens = t;
  std::vector<Real> host_scores(n);
  Real* typed_scores;
  check(cudaMalloc(&typed_scores, n * sizeof(Real)), "cudaMalloc");
  {
    std::vector<float> s(n);
    cudaMemcpy(s.data(), scores, n * sizeof(float), cudaMemcpyDeviceToHost);
    for (std::int64_t i = 0; i < n; ++i) host_scores[i] = static_cast<Real>(s[i]);
    cudaMemcpy(typed_scores, host_scores.data(), n * sizeof(Real), cudaMemcpyHostToDevice);
  }
  in.scores = typed_scores;
  in.logprobs = logprobs;
  in.mask = mask;
  lens::cuda::workspace ws;
  const lens::span<float> a(adv, n), ta(tokens, n * t);
  std::function<void()> run;
  if (kind == layout_kind::fixed) {
    run = [&] { lens::cuda::compute_advantages_async(ws, in, lens::fixed_groups{std::size_t(g)}, a, ta, settings); };
  } else if (kind == layout_kind::offsets) {
    const lens::offset_groups layout{{d_offsets, offsets.size()}};
    run = [&, layout] { lens::cuda::compute_advantages_async(ws, in, layout, a, ta, settings); };
  } else {
    const lens::id_groups layout{{d_ids, std::size_t(n)}};
    run = [&, layout] { lens::cuda::compute_advantages_async(ws, in, layout, a, ta, settings); };
  }
  run();
  ws.check();  // the inputs are valid: a throw here is a bug
  const double us = clock.median_us(run);
  // Fewest bytes: logprobs + mask + scores read, token and per-sample advantages written
  // (+ ids or offsets read).
  double bytes = double(n) * t * (sizeof(Real) + 1 + 4) + double(n) * (sizeof(Real) + 4);
  if (kind == layout_kind::offsets) bytes += offsets.size() * 8.0;
  if (kind == layout_kind::ids) bytes += n * 8.0;
  rows.push_back({name, bytes, us, copy_us(clock, bytes)});
  if (breakdown && kind == layout_kind::fixed) {
    // Each pass alone, launched as the entry point launches it (packed path),
    // on temporary storage planned as the two-phase call plans it.
    namespace ld = lens::cuda::detail;
    const lens::fixed_groups layout{std::size_t(g)};
    const ld::call_shape cs = ld::make_call_shape(layout, std::size_t(n), std::size_t(t), settings, false, true, sizeof(float));
    const ld::temp_plan plan = ld::make_plan(cs);
    void* temp = nullptr;
    lens::cuda::check_cuda(cudaMalloc(&temp, plan.total), "cudaMalloc");
    const ld::run_context r = ld::begin_run(plan, temp, nullptr);
    lens::core::token_params<Real, std::uint8_t> p;
    p.scores = typed_scores;
    p.logprobs = logprobs;
    p.mask = mask;
    p.num_samples = n;
    p.num_tokens = t;
    p.need_mask = true;
    p.logprob_limit = settings.logprob_tolerance;
    const std::int64_t bits_row_bytes = ld::bits_row_bytes(std::size_t(t));
    std::uint8_t* bits = plan.get<std::uint8_t>(temp, ld::temp_plan::bits);
    auto* samples = plan.get<lens::core::sample_values>(temp, ld::temp_plan::samples);
    const double first_us = clock.median_us([&] {
      const int warps_per_row = lens::kernels::token_warps_per_row(t);
      lens::kernels::token_rows_kernel<Real, std::uint8_t, true>
          <<<ld::blocks_for(n, lens::kernels::block_warps / warps_per_row), lens::kernels::block_threads>>>(
              p, settings, bits, bits_row_bytes, samples, r.status, warps_per_row);
    });
    const double second_us = clock.median_us([&] { ld::run_groups(r, cs, layout, 0, settings, adv, bits, tokens); });
    cudaFree(temp);
    const double first_bytes = double(n) * t * (sizeof(Real) + 1 + 0.125) + n * sizeof(Real);
    const double second_bytes = double(n) * t * (4 + 0.125) + n * 4.0;
    rows.push_back({"  first pass alone (checks, row sums)", first_bytes, first_us, copy_us(clock, first_bytes)});
    rows.push_back({"  second pass alone (groups, broadcast)", second_bytes, second_us, copy_us(clock, second_bytes)});
  }
  for (void* p : {(void*)logprobs, (void*)mask, (void*)scores, (void*)adv, (void*)tokens, (void*)d_offsets, (void*)d_ids,
                  (void*)typed_scores})
    cudaFree(p);
}

/// Per-sample LENS over N responses.
void bench_sequence(timer& clock, const char* name, std::int64_t n, std::int64_t g, layout_kind kind) {
  std::vector<float> scores(n), sums(n);
  std::vector<std::int64_t> lengths(n), ids(n);
  std::uint64_t state = 99;
  auto next = [&] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
  for (std::int64_t i = 0; i < n; ++i) {
    scores[i] = (next() >> 40) % 10 < 3 ? 1.0f : 0.0f;
    lengths[i] = 1 + (next() >> 40) % 4096;
    sums[i] = -0.5f * lengths[i] * ((next() >> 40) % 1000) / 1000.0f;
    ids[i] = i / g;
  }
  for (std::int64_t i = n - 1; i > 0; --i) std::swap(ids[i], ids[(next() >> 33) % (i + 1)]);
  float *d_scores, *d_sums, *d_adv;
  std::int64_t *d_lengths, *d_ids;
  cudaMalloc(&d_scores, n * 4);
  cudaMalloc(&d_sums, n * 4);
  cudaMalloc(&d_adv, n * 4);
  cudaMalloc(&d_lengths, n * 8);
  cudaMalloc(&d_ids, n * 8);
  cudaMemcpy(d_scores, scores.data(), n * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(d_sums, sums.data(), n * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(d_lengths, lengths.data(), n * 8, cudaMemcpyHostToDevice);
  cudaMemcpy(d_ids, ids.data(), n * 8, cudaMemcpyHostToDevice);
  const lens::sequence_inputs<float> in{{d_scores, std::size_t(n)}, {d_sums, std::size_t(n)}, {d_lengths, std::size_t(n)}};
  lens::cuda::workspace ws;
  std::function<void()> run;
  if (kind == layout_kind::ids)
    run = [&] { lens::cuda::compute_advantages_async(ws, in, lens::id_groups{{d_ids, std::size_t(n)}}, lens::span<float>(d_adv, n)); };
  else
    run = [&] { lens::cuda::compute_advantages_async(ws, in, lens::fixed_groups{std::size_t(g)}, lens::span<float>(d_adv, n)); };
  run();
  ws.check();
  const double us = clock.median_us(run);
  const double bytes = n * (4.0 + 4 + 8 + 4) + (kind == layout_kind::ids ? n * 8.0 : 0.0);
  rows.push_back({name, bytes, us, copy_us(clock, bytes)});
  for (void* p : {(void*)d_scores, (void*)d_sums, (void*)d_adv, (void*)d_lengths, (void*)d_ids}) cudaFree(p);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("device: %s, %d SMs, %.0f MB L2\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize / 1e6);
  timer clock;
  using bf16 = __nv_bfloat16;
  // The typical step: 512 responses, G = 16, 4,096 tokens, bf16 log-probs.
  bench_tokens<bf16>(clock, "typical step 512x4096 G=16 bf16 (LENS)", 512, 4096, 16, layout_kind::fixed);
  bench_tokens<bf16>(clock, "typical step 512x4096 G=16 bf16 (GRPO)", 512, 4096, 16, layout_kind::fixed,
                     lens::presets::verl_grpo());
  const std::int64_t big_rows = quick ? 2048 : 16384;  // x 4096 = 64M tokens
  bench_tokens<bf16>(clock, "64M tokens fixed G=16 bf16", big_rows, 4096, 16, layout_kind::fixed, lens::presets::lens(),
                     true);
  bench_tokens<float>(clock, "64M tokens fixed G=16 fp32", big_rows, 4096, 16, layout_kind::fixed);
  bench_tokens<bf16>(clock, "64M tokens fixed G=64 bf16 (block/group)", big_rows, 4096, 64, layout_kind::fixed);
  bench_tokens<bf16>(clock, "64M tokens ragged (offsets) bf16", big_rows, 4096, 16, layout_kind::offsets);
  bench_tokens<bf16>(clock, "64M tokens ids (shuffled) bf16", big_rows, 4096, 16, layout_kind::ids);
  bench_sequence(clock, "1M responses per-sample fixed G=16", 1 << 20, 16, layout_kind::fixed);
  bench_sequence(clock, "1M responses per-sample ids G=16", 1 << 20, 16, layout_kind::ids);

  std::printf("\n| case | bytes moved (MB) | lens (us) | lens (GB/s) | D2D copy of the same bytes (GB/s) | lens / copy |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (const row& r : rows) {
    const double gbs = r.bytes / r.us / 1e3, copy_gbs = r.bytes / r.copy_us / 1e3;
    std::printf("| %s | %.1f | %.1f | %.0f | %.0f | %.0f%% |\n", r.name.c_str(), r.bytes / 1e6, r.us, gbs, copy_gbs,
                100.0 * gbs / copy_gbs);
  }
  return 0;
}
