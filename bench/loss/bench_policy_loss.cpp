// Policy loss, forward + backward, one CPU thread, float32 log-probs, bool
// mask, per-sample advantages [N]:
//   lens/<mode>/N/T    lens::cpu::compute_policy_loss (loss, metrics, gradient)
//   verl_eager/<mode>  verl's ops (tests/loss/verl_eager.hpp) + autograd backward
//   copy/<mode>        one streaming loop over the same bytes (logp, old, mask
//                      [, ref] in, gradient out): the roofline
// Counters: bytes_per_second over those bytes; peak_extra_MiB = the rise of
// the process's peak resident memory during one call beyond what was resident
// before it (the gradient buffer of lens is allocated outside and not counted;
// for torch, everything autograd allocates is, the gradient included).
// Run: build/bench/loss/lens_bench_loss (docs/LOSS.md has the command and figures).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "lens/cpu/policy_loss.hpp"

#if defined(LENS_BENCH_WITH_TORCH)
#include <torch/torch.h>

#include "loss/verl_eager.hpp"
#endif

namespace {

struct batch {
  std::size_t n = 0, t = 0;
  std::vector<float> logp, old, ref, adv, grad;
  std::vector<std::uint8_t> mask;
};

batch& get_batch(std::size_t n, std::size_t t) {
  static std::map<std::pair<std::size_t, std::size_t>, std::unique_ptr<batch>> cache;
  auto& slot = cache[{n, t}];
  if (!slot) {
    slot = std::make_unique<batch>();
    auto& fresh = slot;
    batch& b = *fresh;
    b.n = n;
    b.t = t;
    const std::size_t nt = n * t;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::normal_distribution<float> g(0.f, 1.f);
    b.logp.resize(nt);
    b.old.resize(nt);
    b.ref.resize(nt);
    b.mask.resize(nt);
    b.grad.assign(nt, 0.f);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t len = t / 4 + static_cast<std::size_t>(u(rng) * static_cast<float>(t - t / 4));
      for (std::size_t c = 0; c < t; ++c) b.mask[i * t + c] = c < len ? 1 : 0;
    }
    for (std::size_t k = 0; k < nt; ++k) {
      b.logp[k] = -0.01f - 3.f * u(rng);
      b.old[k] = std::min(0.f, b.logp[k] + 0.2f * g(rng));
      b.ref[k] = std::min(0.f, b.logp[k] + 0.3f * g(rng));
    }
    b.adv.resize(n);
    for (auto& a : b.adv) a = g(rng);
    return *fresh;
  }
  return *slot;
}

std::size_t status_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::stoul(line.substr(std::strlen(key)));
  return 0;
}

/// Peak resident memory added while fn runs (resets the high-water mark first).
template <class Fn>
double peak_extra_mib(Fn&& fn) {
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  const std::size_t before = status_kib("VmRSS:");
  fn();
  const std::size_t peak = status_kib("VmHWM:");
  return peak > before ? static_cast<double>(peak - before) / 1024.0 : 0.0;
}

lens::policy_loss_settings mode_settings(int mode) {
  lens::policy_loss_settings s;  // verl vanilla PPO clip, token-mean
  if (mode == 1) s.kl = lens::kl_kind::k3;  // + verl's low_var_kl against ref
  if (mode == 2) s.kind = lens::policy_loss_kind::gspo;
  return s;
}

const char* mode_name(int mode) { return mode == 0 ? "vanilla" : mode == 1 ? "vanilla+k3" : "gspo"; }

double bytes_per_call(const batch& b, int mode) {
  const double per_token = 4 + 4 + 1 + 4 + (mode == 1 ? 4 : 0);
  return per_token * static_cast<double>(b.n * b.t) + 4.0 * static_cast<double>(b.n);
}

void bench_lens(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0));
  batch& b = get_batch(static_cast<std::size_t>(state.range(1)), static_cast<std::size_t>(state.range(2)));
  const auto s = mode_settings(mode);
  lens::policy_loss_inputs<float, std::uint8_t> in;
  in.num_samples = b.n;
  in.num_tokens = b.t;
  const std::size_t nt = b.n * b.t;
  in.logprobs = {b.logp.data(), nt};
  in.old_logprobs = {b.old.data(), nt};
  in.ref_logprobs = {b.ref.data(), nt};
  in.mask = {b.mask.data(), nt};
  in.advantages = {b.adv.data(), b.n};
  lens::span<float> grad(b.grad.data(), nt);
  state.counters["peak_extra_MiB"] = peak_extra_mib([&] { benchmark::DoNotOptimize(lens::cpu::compute_policy_loss(in, s, grad)); });
  for (auto _ : state) {
    auto m = lens::cpu::compute_policy_loss(in, s, grad);
    benchmark::DoNotOptimize(m);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_call(b, mode) * static_cast<double>(state.iterations())));
  state.SetLabel(std::string("lens ") + mode_name(mode));
}

/// The roofline: one pass reading the same inputs and writing the gradient.
void bench_copy(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0));
  batch& b = get_batch(static_cast<std::size_t>(state.range(1)), static_cast<std::size_t>(state.range(2)));
  const std::size_t nt = b.n * b.t, t = b.t;
  const float* logp = b.logp.data();
  const float* old = b.old.data();
  const float* ref = b.ref.data();
  const std::uint8_t* mask = b.mask.data();
  const float* adv = b.adv.data();
  float* grad = b.grad.data();
  for (auto _ : state) {
    for (std::size_t i = 0; i < b.n; ++i) {
      const float a = adv[i];
      for (std::size_t c = 0; c < t; ++c) {
        const std::size_t k = i * t + c;
        float v = logp[k] - old[k];
        if (mode == 1) v += ref[k];
        grad[k] = mask[k] ? v * a : 0.f;
      }
    }
    benchmark::DoNotOptimize(grad);
    benchmark::ClobberMemory();
  }
  (void)nt;
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_call(b, mode) * static_cast<double>(state.iterations())));
  state.SetLabel(std::string("copy ") + mode_name(mode));
}

#if defined(LENS_BENCH_WITH_TORCH)
void bench_verl(benchmark::State& state) {
  torch::set_num_threads(1);
  const int mode = static_cast<int>(state.range(0));
  batch& b = get_batch(static_cast<std::size_t>(state.range(1)), static_cast<std::size_t>(state.range(2)));
  const auto s = mode_settings(mode);
  const auto n = static_cast<std::int64_t>(b.n), t = static_cast<std::int64_t>(b.t);
  at::Tensor logp = torch::from_blob(b.logp.data(), {n, t}, torch::kFloat32).requires_grad_(true);
  at::Tensor old = torch::from_blob(b.old.data(), {n, t}, torch::kFloat32);
  at::Tensor ref = torch::from_blob(b.ref.data(), {n, t}, torch::kFloat32);
  at::Tensor mask = torch::from_blob(b.mask.data(), {n, t}, torch::kBool);
  at::Tensor adv = torch::from_blob(b.adv.data(), {n}, torch::kFloat32);
  auto step = [&] {
    auto r = verl_eager::loss(old, logp, adv, mask, s, ref);
    r.loss.backward();
    benchmark::DoNotOptimize(logp.grad().data_ptr<float>());
    logp.mutable_grad().reset();
  };
  state.counters["peak_extra_MiB"] = peak_extra_mib(step);
  for (auto _ : state) step();
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_call(b, mode) * static_cast<double>(state.iterations())));
  state.SetLabel(std::string("verl eager + autograd ") + mode_name(mode));
}
#endif

void sizes(benchmark::internal::Benchmark* b) {
  for (int mode : {0, 1, 2})
    for (auto nt : {std::pair<int, int>{256, 4096}, {1024, 4096}, {4096, 4096}}) b->Args({mode, nt.first, nt.second});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(bench_copy)->Apply(sizes);
BENCHMARK(bench_lens)->Apply(sizes);
#if defined(LENS_BENCH_WITH_TORCH)
BENCHMARK(bench_verl)->Apply(sizes);
#endif

BENCHMARK_MAIN();
