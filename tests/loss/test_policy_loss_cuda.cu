// The CUDA policy-loss kernels against the CPU backend (the same core math):
// every mode on random ragged batches, loss, metrics and gradient to 1e-6
// relative; bad inputs raise the CPU backend's message and write nothing.
// Runs only where a device is present (gpu_main.cpp exits 77 otherwise).
#include <catch2/catch.hpp>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "lens/cpu/policy_loss.hpp"
#include "lens/cuda/policy_loss.cuh"
#include "loss/loss_batches.hpp"

namespace {

template <class T>
struct device_buffer {
  T* ptr = nullptr;
  std::size_t size = 0;
  explicit device_buffer(const std::vector<T>& host) : size(host.size()) {
    REQUIRE(cudaMalloc(&ptr, (size ? size : 1) * sizeof(T)) == cudaSuccess);
    if (size) REQUIRE(cudaMemcpy(ptr, host.data(), size * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  explicit device_buffer(std::size_t n) : size(n) { REQUIRE(cudaMalloc(&ptr, (n ? n : 1) * sizeof(T)) == cudaSuccess); }
  ~device_buffer() { cudaFree(ptr); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  std::vector<T> host() const {
    std::vector<T> out(size);
    if (size) REQUIRE(cudaMemcpy(out.data(), ptr, size * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return out;
  }
};

template <class Real, class Mask>
struct device_batch {
  device_buffer<Real> logp, old, ref, roll, adv;
  device_buffer<Mask> mask;
  std::size_t n, t;
  explicit device_batch(const loss_test::typed_batch<Real, Mask>& b)
      : logp(b.logp), old(b.old), ref(b.ref), roll(b.roll), adv(b.adv), mask(b.mask), n(b.n), t(b.t) {}
  lens::policy_loss_inputs<Real, Mask> inputs() const {
    lens::policy_loss_inputs<Real, Mask> in;
    in.num_samples = n;
    in.num_tokens = t;
    in.logprobs = {logp.ptr, logp.size};
    in.old_logprobs = {old.ptr, old.size};
    in.ref_logprobs = {ref.ptr, ref.size};
    in.rollout_logprobs = {roll.ptr, roll.size};
    in.mask = {mask.ptr, mask.size};
    in.advantages = {adv.ptr, adv.size};
    return in;
  }
};

template <class Real, class Mask>
lens::policy_loss_metrics run_device(const device_batch<Real, Mask>& d, const lens::policy_loss_settings& s,
                                     device_buffer<Real>& grad) {
  std::size_t bytes = 0;
  lens::cuda::compute_policy_loss(nullptr, bytes, d.inputs(), s, lens::span<Real>(grad.ptr, grad.size), nullptr);
  device_buffer<unsigned char> temp(bytes);
  device_buffer<lens::policy_loss_metrics> metrics(1);
  lens::cuda::compute_policy_loss(temp.ptr, bytes, d.inputs(), s, lens::span<Real>(grad.ptr, grad.size), metrics.ptr);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  return metrics.host()[0];
}

void same_metrics(const lens::policy_loss_metrics& g, const lens::policy_loss_metrics& c, double rel) {
  CHECK(loss_test::close(g.loss, c.loss, rel, 1e-12));
  CHECK(loss_test::close(g.pg_loss, c.pg_loss, rel, 1e-12));
  CHECK(loss_test::close(g.kl_loss, c.kl_loss, rel, 1e-12));
  CHECK(loss_test::close(g.kl_mean, c.kl_mean, rel, 1e-12));
  CHECK(g.pg_clipfrac == Approx(c.pg_clipfrac).margin(1e-12));
  CHECK(g.clipfrac_high == Approx(c.clipfrac_high).margin(1e-12));
  CHECK(g.clipfrac_low == Approx(c.clipfrac_low).margin(1e-12));
  CHECK(g.clipfrac_dual == Approx(c.clipfrac_dual).margin(1e-12));
  CHECK(loss_test::close(g.ppo_kl, c.ppo_kl, rel, 1e-12));
  CHECK(loss_test::close(g.is_weight_mean, c.is_weight_mean, rel, 1e-12));
  CHECK(g.is_weight_min == c.is_weight_min);
  CHECK(g.is_weight_max == c.is_weight_max);
  CHECK(g.is_fraction_high == Approx(c.is_fraction_high).margin(1e-12));
  CHECK(g.is_fraction_low == Approx(c.is_fraction_low).margin(1e-12));
  CHECK(g.num_tokens == c.num_tokens);
  CHECK(g.num_sequences == c.num_sequences);
}

template <class Real, class Mask>
void parity(std::mt19937_64& rng, const lens::policy_loss_settings& s, loss_test::batch_shape shape) {
  const auto b = loss_test::random_batch(rng, shape);
  loss_test::typed_batch<Real, Mask> tb(b);
  std::vector<Real> cpu_grad(b.n * b.t);
  const auto cpu = lens::cpu::compute_policy_loss(tb.inputs(), s, lens::span<Real>(cpu_grad.data(), cpu_grad.size()));
  device_batch<Real, Mask> d(tb);
  device_buffer<Real> grad(b.n * b.t);
  const auto gpu = run_device(d, s, grad);
  INFO(loss_test::describe(s) << " N " << b.n << " T " << b.t);
  same_metrics(gpu, cpu, 1e-6);
  const auto g = grad.host();
  std::size_t bad = 0;
  for (std::size_t k = 0; k < g.size(); ++k)
    if (!loss_test::close(double(g[k]), double(cpu_grad[k]), 1e-6, 1e-12)) ++bad;
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("cuda policy loss: every mode matches the CPU backend (double, uint8 mask)") {
  std::mt19937_64 rng(1);
  for (const auto& s : loss_test::settings_grid()) {
    loss_test::batch_shape shape;
    shape.n = 1 + rng() % 40;
    shape.t = 1 + rng() % 700;  // rows longer than a block
    shape.per_token_adv = rng() % 2;
    parity<double, std::uint8_t>(rng, s, shape);
  }
}

TEST_CASE("cuda policy loss: float inputs, float and bool-free int32 masks") {
  std::mt19937_64 rng(2);
  const auto grid = loss_test::settings_grid();
  for (std::size_t g = 0; g < grid.size(); g += 5) {
    loss_test::batch_shape shape;
    shape.n = 64;
    shape.t = 300;
    parity<float, float>(rng, grid[g], shape);
    parity<float, std::int32_t>(rng, grid[g], shape);
  }
}

TEST_CASE("cuda policy loss: a larger batch (5000 rows x 1024 tokens, more rows than blocks)", "[large]") {
  std::mt19937_64 rng(3);
  lens::policy_loss_settings s;
  s.kl = lens::kl_kind::k3;
  loss_test::batch_shape shape;
  shape.n = 5000;
  shape.t = 1024;
  parity<float, std::uint8_t>(rng, s, shape);
}

TEST_CASE("cuda policy loss: bad values raise the CPU backend's message and write nothing") {
  std::mt19937_64 rng(4);
  loss_test::batch_shape shape;
  shape.n = 7;
  shape.t = 33;
  shape.masked_rows = 0;
  auto b = loss_test::random_batch(rng, shape);
  for (auto& m : b.mask) m = 1;
  lens::policy_loss_settings s;
  s.kl = lens::kl_kind::k3;
  struct mutation { int field; std::size_t index; double value; };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const mutation cases[] = {{0, 40, nan}, {1, 41, 0.5}, {2, 100, nan}, {3, 5, 3.0}, {4, 2, nan}, {5, 60, 2.0}};
  for (const auto& m : cases) {
    loss_test::typed_batch<double, std::uint8_t> tb(b);
    if (m.field == 0) tb.logp[m.index] = m.value;
    if (m.field == 1) tb.old[m.index] = m.value;
    if (m.field == 2) tb.ref[m.index] = m.value;
    if (m.field == 3) tb.logp[m.index] = m.value;
    if (m.field == 4) tb.adv[m.index] = m.value;
    if (m.field == 5) tb.mask[m.index] = 2;
    std::string cpu_message, gpu_message;
    std::vector<double> cpu_grad(b.n * b.t);
    try {
      lens::cpu::compute_policy_loss(tb.inputs(), s, lens::span<double>(cpu_grad.data(), cpu_grad.size()));
    } catch (const lens::invalid_argument& e) {
      cpu_message = e.what();
    }
    device_batch<double, std::uint8_t> d(tb);
    device_buffer<double> grad(std::vector<double>(b.n * b.t, -7.0));
    try {
      run_device(d, s, grad);
    } catch (const lens::invalid_argument& e) {
      gpu_message = e.what();
    }
    REQUIRE(!cpu_message.empty());
    CHECK(gpu_message == cpu_message);
    for (double x : grad.host()) CHECK(x == -7.0);
  }
}
