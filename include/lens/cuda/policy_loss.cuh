// lens/cuda/policy_loss.cuh: the policy losses on device pointers with a
// stream. Two-phase temporary storage, as CUB: called with d_temp_storage ==
// nullptr it only sets temp_storage_bytes; called again it runs.
//
//   std::size_t bytes = 0;
//   lens::cuda::compute_policy_loss(nullptr, bytes, d_inputs, settings, {d_grad, N * T}, d_metrics, stream);
//   cudaMalloc(&d_temp, bytes);
//   lens::cuda::compute_policy_loss(d_temp, bytes, d_inputs, settings, {d_grad, N * T}, d_metrics, stream);
//
// The inputs' spans hold device pointers. Settings and shapes are checked on
// the host; the values on the device by a first kernel, whose result the host
// reads back (one synchronisation of the stream) before anything is written:
// a bad value throws the CPU backend's lens::invalid_argument. Then one kernel
// writes the gradient and per-block sums, and one block reduces them into
// *d_metrics (device memory). The math is lens/core/policy_loss.hpp's.
// nvcc only.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "lens/core/policy_loss.hpp"
#include "lens/kernels/policy_loss.cuh"

namespace lens {
namespace cuda {

namespace detail {

inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("lens::cuda::compute_policy_loss: ") + what + ": " +
                                                 cudaGetErrorString(e));
}

inline std::size_t align_up(std::size_t x) { return (x + 255) / 256 * 256; }

inline int policy_loss_blocks(std::size_t rows) {
  const std::size_t cap = 4096;
  return static_cast<int>(rows == 0 ? 1 : (rows < cap ? rows : cap));
}

template <class T>
T read_one(const T* d_ptr, std::size_t index, cudaStream_t stream) {
  T value{};
  check_cuda(cudaMemcpyAsync(&value, d_ptr + index, sizeof(T), cudaMemcpyDeviceToHost, stream), "read back a value");
  check_cuda(cudaStreamSynchronize(stream), "synchronise");
  return value;
}

/// Turns the smallest failing rank into the CPU backend's exception.
template <class Real, class Mask>
[[noreturn]] void raise_rank(unsigned long long rank, const kernels::policy_loss_args<Real, Mask>& a,
                             double tolerance, cudaStream_t stream) {
  using core::loss_field;
  if (rank < a.n) {
    const std::size_t i = static_cast<std::size_t>(rank);
    core::raise_value(error_code::not_finite, loss_field::advantages, i, 0, a.t, double(read_one(a.adv, i, stream)),
                      true);
  }
  const unsigned long long r = rank - a.n;
  const std::size_t k = static_cast<std::size_t>(r / 6);
  const auto field = static_cast<loss_field>(r % 6);
  const std::size_t row = a.t ? k / a.t : 0, col = a.t ? k % a.t : 0;
  switch (field) {
    case loss_field::mask:
      core::raise_value(error_code::bad_mask_value, field, row, col, a.t, double(read_one(a.mask, k, stream)));
    case loss_field::advantages:
      core::raise_value(error_code::not_finite, field, row, col, a.t, double(read_one(a.adv, k, stream)));
    default: {
      const Real* src = field == loss_field::logprobs       ? a.logp
                        : field == loss_field::old_logprobs ? a.old
                        : field == loss_field::ref_logprobs ? a.ref
                                                            : a.roll;
      const Real v = read_one(src, k, stream);
      const auto code = static_cast<error_code>(core::logprob_check(v, tolerance));
      core::raise_value(code, field, row, col, a.t, double(v));
    }
  }
}

}  // namespace detail

/// Bytes of temporary storage compute_policy_loss needs for N rows.
inline std::size_t policy_loss_temp_bytes(std::size_t num_samples) {
  return detail::align_up(sizeof(kernels::policy_loss_status)) +
         detail::align_up(sizeof(core::policy_loss_sums) * static_cast<std::size_t>(detail::policy_loss_blocks(num_samples)));
}

/// The loss, metrics and gradient on the device. d_metrics: device memory for
/// one policy_loss_metrics (required); d_grad may be empty (no gradient).
/// Returns after enqueueing the last kernel; *d_metrics is ready when the
/// stream is. Throws lens::invalid_argument for a rejected input (nothing
/// written), std::runtime_error for a CUDA error.
template <class Real, class Mask>
void compute_policy_loss(void* d_temp_storage, std::size_t& temp_storage_bytes,
                         const policy_loss_inputs<Real, Mask>& d_in, const policy_loss_settings& s, span<Real> d_grad,
                         policy_loss_metrics* d_metrics, cudaStream_t stream = 0) {
  core::validate_policy_loss_settings(s);
  const std::size_t nt = core::validate_policy_loss_shapes(d_in, s, d_grad.size());
  const std::size_t needed = policy_loss_temp_bytes(d_in.num_samples);
  if (d_temp_storage == nullptr) {
    temp_storage_bytes = needed;
    return;
  }
  if (temp_storage_bytes < needed)
    raise(error_code::size_mismatch, "temp_storage_bytes", -1,
          "is " + std::to_string(temp_storage_bytes) + ", needs " + std::to_string(needed));
  if (d_metrics == nullptr) raise(error_code::size_mismatch, "d_metrics", -1, "is null; pass device memory for one policy_loss_metrics");

  kernels::policy_loss_args<Real, Mask> a;
  a.n = d_in.num_samples;
  a.t = d_in.num_tokens;
  a.logp = d_in.logprobs.data();
  a.old = d_in.old_logprobs.data();
  a.ref = s.kl != kl_kind::none ? d_in.ref_logprobs.data() : nullptr;
  a.roll = s.is_level != rollout_is_level::none ? d_in.rollout_logprobs.data() : nullptr;
  a.mask = d_in.mask.data();
  a.adv = d_in.advantages.data();
  a.adv_per_token = a.t != 1 && d_in.advantages.size() == nt;
  a.grad = d_grad.empty() ? nullptr : d_grad.data();

  auto* status = static_cast<kernels::policy_loss_status*>(d_temp_storage);
  auto* partials = reinterpret_cast<core::policy_loss_sums*>(static_cast<unsigned char*>(d_temp_storage) +
                                                             detail::align_up(sizeof(kernels::policy_loss_status)));
  const int blocks = detail::policy_loss_blocks(a.n);

  kernels::policy_loss_status h_status{~0ull, 0ull, 0ull};
  detail::check_cuda(cudaMemcpyAsync(status, &h_status, sizeof(h_status), cudaMemcpyHostToDevice, stream),
                     "reset the status");
  if (a.n > 0)
    kernels::policy_loss_check_kernel<Real, Mask><<<blocks, kernels::policy_loss_block, 0, stream>>>(
        a, a.ref != nullptr, a.roll != nullptr, s.logprob_tolerance, status);
  detail::check_cuda(cudaGetLastError(), "launch the check kernel");
  detail::check_cuda(cudaMemcpyAsync(&h_status, status, sizeof(h_status), cudaMemcpyDeviceToHost, stream),
                     "read the status");
  detail::check_cuda(cudaStreamSynchronize(stream), "synchronise after the checks");
  if (h_status.rank != ~0ull) detail::raise_rank(h_status.rank, a, s.logprob_tolerance, stream);

  core::policy_loss_params p = core::make_policy_loss_params(s);
  p.divisor = core::aggregation_divisor(s, static_cast<double>(h_status.tokens),
                                        static_cast<double>(h_status.sequences), a.t);
  if (a.n > 0)
    kernels::policy_loss_row_kernel<Real, Mask><<<blocks, kernels::policy_loss_block, 0, stream>>>(a, p, partials);
  detail::check_cuda(cudaGetLastError(), "launch the row kernel");
  kernels::policy_loss_finish_kernel<<<1, kernels::policy_loss_block, 0, stream>>>(
      partials, a.n > 0 ? blocks : 0, p, static_cast<double>(a.n), d_metrics);
  detail::check_cuda(cudaGetLastError(), "launch the finish kernel");
}

}  // namespace cuda
}  // namespace lens
