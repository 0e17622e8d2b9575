// lens/cuda/advantages.cuh: the CUDA backend's entry points (nvcc only).
// Same settings, layouts, outputs and error messages as the CPU backend; the
// inputs, the layout's offsets or ids and the outputs are device pointers.
//
// Asynchronous use, with a workspace (scratch memory, the error flag and the
// counters of the last call, all on one stream):
//
//   lens::cuda::workspace ws(stream);
//   lens::cuda::compute_advantages_async(ws, d_inputs, lens::fixed_groups{16}, d_adv, d_token_adv, settings);
//   ...                         // nothing has synchronised yet
//   lens::batch_summary s = ws.summary();   // synchronises; throws lens::invalid_argument if an input was bad
//
// What synchronises with the host:
//   - compute_advantages_async(): nothing. Host-side checks (settings, sizes,
//     null pointers, a fixed group size) throw at once; checks of values in
//     device memory are reported by the next checking call. Scratch memory is
//     allocated with cudaMallocAsync on the stream. The ids layout sorts with
//     thrust::cuda::par_nosync on the stream (its temporary storage may use
//     cudaMalloc, which can block).
//   - workspace::check(), summary(), statistics(): synchronise the stream and
//     read back the status (tens of bytes) or the per-group statistics.
//   - compute_advantages() / compute_lens_advantages() / compute_grpo_advantages()
//     without a workspace: the CPU backend's signature plus a stream; they
//     synchronise and throw like the CPU backend.
// Outputs are written only by the second pass, which does nothing when the
// first found a bad input: a rejected call leaves every output untouched. The
// one exception: error_code::advantage_overflow (a group whose advantages are
// beyond float, e.g. Dr. GRPO on scores near 1e38) is found by the second pass
// itself; that group's outputs stay untouched, other groups' per-sample
// advantages may be written (token advantages are then not written at all).
//
// Kernel launches per call: token inputs or per-sample inputs with fixed
// groups: 2 (plus one memset of the status), and one more for token
// advantages (the broadcast); offsets: 1 more (the offsets check); ids: the
// Thrust sort and scan besides; GRPO batch std: 2 more (the moments and the
// batch standard deviation).
#pragma once

#if !defined(__CUDACC__)
#error "lens/cuda/advantages.cuh needs nvcc; lens/thrust/advantages.hpp also builds with a host compiler"
#endif

#include <cuda_runtime.h>
#include <thrust/execution_policy.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "lens/core/errors.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/views.hpp"
#include "lens/core/status.hpp"
#include "lens/core/validate.hpp"
#include "lens/thrust/id_grouping.hpp"
#include "lens/core/samples.hpp"
#include "lens/kernels/group_pass.cuh"
#include "lens/kernels/sample_pass.cuh"

namespace lens {
namespace cuda {

/// A CUDA runtime failure (not a bad input: those are lens::invalid_argument).
class cuda_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline void check_cuda(cudaError_t result, const char* what) {
  if (result != cudaSuccess) throw cuda_error(std::string("lens: ") + what + ": " + cudaGetErrorString(result));
}

namespace detail {

/// Grow-only device memory, allocated and freed in stream order.
class device_buffer {
 public:
  device_buffer() = default;
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  void release(cudaStream_t stream) {
    if (data_) cudaFreeAsync(data_, stream);
    data_ = nullptr;
    bytes_ = 0;
  }
  template <class T>
  T* get(std::size_t count, cudaStream_t stream) {
    const std::size_t bytes = std::max<std::size_t>(count, 1) * sizeof(T);
    if (bytes > bytes_) {
      release(stream);
      check_cuda(cudaMallocAsync(&data_, bytes, stream), "cudaMallocAsync");
      bytes_ = bytes;
    }
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

inline int multiprocessor_count() {
  int device = 0, count = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
  return count;
}

inline unsigned blocks_for(std::int64_t work, std::int64_t per_block, std::int64_t cap = std::int64_t(1) << 20) {
  const std::int64_t blocks = (work + per_block - 1) / per_block;
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min(blocks, cap)));
}

inline void check_launch(const char* kernel) { check_cuda(cudaGetLastError(), kernel); }

}  // namespace detail

/// Scratch memory and the result slots of the last call, on one stream. Not
/// thread-safe; one workspace per stream. Reusing it avoids reallocations.
class workspace {
 public:
  explicit workspace(cudaStream_t stream = nullptr) : stream_(stream) {
    status_ = status_buffer_.get<core::device_status>(1, stream_);
    check_cuda(cudaMemsetAsync(status_, 0, sizeof(core::device_status), stream_), "cudaMemsetAsync");
  }
  ~workspace() {
    for (detail::device_buffer* b :
         {&status_buffer_, &samples_, &bits_, &row_advantages_, &moments_, &batch_std_, &statistics_, &ids_})
      b->release(stream_);
  }
  workspace(const workspace&) = delete;
  workspace& operator=(const workspace&) = delete;

  cudaStream_t stream() const { return stream_; }

  /// Synchronises the stream and throws lens::invalid_argument, with the CPU
  /// backend's message, if the last call's input was rejected.
  void check() {
    const core::device_status status = read_status();
    core::throw_if_error(status);
  }

  /// Synchronises, checks (as check()), and returns the last call's summary.
  batch_summary summary() {
    const core::device_status status = read_status();
    core::throw_if_error(status);
    return core::make_summary(status, last_.num_samples, num_groups());
  }

  /// Synchronises, checks, and copies the last call's per-group statistics
  /// (asked for with with_statistics = true), in the CPU backend's order.
  std::vector<group_statistics> statistics() {
    check();
    if (!last_.statistics) throw std::logic_error("lens: the last call did not ask for group statistics");
    std::vector<group_statistics> stats(num_groups());
    check_cuda(cudaMemcpy(stats.data(), last_.statistics, stats.size() * sizeof(group_statistics), cudaMemcpyDeviceToHost),
               "cudaMemcpy statistics");
    return stats;
  }

  // ---- used by the entry points
  struct call {
    std::size_t num_samples = 0;
    std::size_t num_groups = 0;                   ///< known on the host (fixed, offsets)
    const std::int64_t* device_num_groups = nullptr;  ///< ids: found on the device
    group_statistics* statistics = nullptr;
  };
  core::device_status* begin_call(const call& c) {
    last_ = c;
    check_cuda(cudaMemsetAsync(status_, 0, sizeof(core::device_status), stream_), "cudaMemsetAsync");
    return status_;
  }
  void set_statistics(group_statistics* stats) { last_.statistics = stats; }
  void set_device_num_groups(const std::int64_t* count) { last_.device_num_groups = count; }
  template <class T>
  T* samples(std::size_t n) { return samples_.get<T>(n, stream_); }
  std::uint8_t* bits(std::size_t bytes) { return bits_.get<std::uint8_t>(bytes, stream_); }
  float* row_advantages(std::size_t n) { return row_advantages_.get<float>(n, stream_); }
  core::score_moments* moments(std::size_t n) { return moments_.get<core::score_moments>(n, stream_); }
  double* batch_std() { return batch_std_.get<double>(1, stream_); }
  group_statistics* statistics_buffer(std::size_t n) { return statistics_.get<group_statistics>(n, stream_); }
  std::int64_t* ids_scratch(std::size_t count) { return ids_.get<std::int64_t>(count, stream_); }
  int multiprocessors() {
    if (multiprocessors_ == 0) multiprocessors_ = detail::multiprocessor_count();
    return multiprocessors_;
  }

 private:
  core::device_status read_status() {
    core::device_status status;
    check_cuda(cudaMemcpyAsync(&status, status_, sizeof(status), cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync status");
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    return status;
  }
  std::size_t num_groups() {
    if (!last_.device_num_groups) return last_.num_groups;
    std::int64_t count = 0;
    check_cuda(cudaMemcpy(&count, last_.device_num_groups, sizeof(count), cudaMemcpyDeviceToHost), "cudaMemcpy num_groups");
    return static_cast<std::size_t>(count);
  }

  cudaStream_t stream_;
  core::device_status* status_ = nullptr;
  call last_;
  int multiprocessors_ = 0;
  detail::device_buffer status_buffer_, samples_, bits_, row_advantages_, moments_, batch_std_, statistics_, ids_;
};

namespace detail {

/// The layout-specific part: checks, grouping, and the kernels' view of groups.
inline kernels::segments prepare_groups(workspace& ws, const fixed_groups& layout, std::size_t, std::size_t num_groups,
                                        std::uint64_t, core::device_status*) {
  kernels::segments s;
  s.layout = kernels::layout_code::fixed;
  s.group_size = static_cast<std::int64_t>(layout.group_size);
  s.num_groups = static_cast<std::int64_t>(num_groups);
  (void)ws;
  return s;
}

inline kernels::segments prepare_groups(workspace& ws, const offset_groups& layout, std::size_t n, std::size_t num_groups,
                                        std::uint64_t rank_base, core::device_status* status) {
  const auto entries = static_cast<std::int64_t>(layout.offsets.size());
  kernels::offsets_kernel<><<<blocks_for(entries, kernels::block_threads), kernels::block_threads, 0, ws.stream()>>>(
      layout.offsets.data(), entries, static_cast<std::int64_t>(n), rank_base, status);
  check_launch("offsets_kernel");
  kernels::segments s;
  s.layout = kernels::layout_code::offsets;
  s.offsets = layout.offsets.data();
  s.num_groups = static_cast<std::int64_t>(num_groups);
  return s;
}

inline kernels::segments prepare_groups(workspace& ws, const id_groups& layout, std::size_t n, std::size_t,
                                        std::uint64_t, core::device_status*) {
  // 9 N + 2 entries: sorted ids, order, position groups, offsets (N + 1),
  // count (1), group ids, statistics slots, scratch (2 N).
  std::int64_t* base = ws.ids_scratch(9 * n + 2);
  thrust_path::id_grouping_buffers b;
  b.sorted_ids = base;
  b.order = base + n;
  b.position_group = base + 2 * n;
  b.offsets = base + 3 * n;
  b.num_groups = base + 4 * n + 1;
  b.group_ids = base + 4 * n + 2;
  b.stat_slot = base + 5 * n + 2;
  b.scratch = base + 6 * n + 2;
  thrust_path::group_by_id(thrust::cuda::par_nosync.on(ws.stream()), layout.ids.data(), static_cast<std::int64_t>(n), b);
  check_launch("thrust_path::group_by_id");
  ws.set_device_num_groups(b.num_groups);
  kernels::segments s;
  s.layout = kernels::layout_code::permuted;
  s.offsets = b.offsets;
  s.order = b.order;
  s.group_ids = b.group_ids;
  s.stat_slot = b.stat_slot;
  s.device_num_groups = b.num_groups;
  return s;
}

/// Launches the second pass (and, for GRPO batch std, the moments and batch
/// std first); p.row_advantages is set when a broadcast follows.
inline void run_group_pass(workspace& ws, kernels::group_pass_params p, std::size_t num_groups_bound) {
  const cudaStream_t stream = ws.stream();
  const bool warp_groups = p.groups.layout == kernels::layout_code::fixed && p.groups.group_size <= kernels::warp_threads;
  const std::int64_t groups = static_cast<std::int64_t>(num_groups_bound);
  const unsigned block_grid =
      blocks_for(groups, 1, p.groups.device_num_groups ? std::int64_t(ws.multiprocessors()) * 16 : std::int64_t(1) << 20);
  auto launch = [&](const kernels::group_pass_params& params) {
    if (warp_groups) {
      kernels::fixed_warp_kernel<><<<blocks_for(groups, kernels::block_warps), kernels::block_threads, 0, stream>>>(params);
      check_launch("fixed_warp_kernel");
    } else {
      kernels::group_block_kernel<><<<block_grid, kernels::block_threads, 0, stream>>>(params);
      check_launch("group_block_kernel");
    }
  };
  if (groups == 0) return;
  if (p.settings.kind == estimator::grpo_batch_std) {
    kernels::group_pass_params moments = p;
    moments.moments_out = ws.moments(num_groups_bound);
    launch(moments);
    double* batch_std = ws.batch_std();
    kernels::batch_std_kernel<><<<1, kernels::block_threads, 0, stream>>>(moments.moments_out, p.groups,
                                                                          p.settings.unbiased_std, batch_std, p.status);
    check_launch("batch_std_kernel");
    p.batch_std = batch_std;
  }
  launch(p);
}

/// The token broadcast, after the group pass: about 16 blocks per SM, grid-stride.
inline void run_broadcast(workspace& ws, const kernels::broadcast_params& b) {
  const std::int64_t segments =
      b.num_rows * ((b.num_tokens + kernels::broadcast_segment - 1) / kernels::broadcast_segment);
  if (segments == 0) return;
  kernels::broadcast_kernel<><<<blocks_for(segments, kernels::block_warps, std::int64_t(ws.multiprocessors()) * 16),
                                kernels::block_threads, 0, ws.stream()>>>(b);
  check_launch("broadcast_kernel");
}

template <class Layout>
std::size_t groups_bound(const Layout&, std::size_t n, std::size_t num_groups) {
  return std::is_same<Layout, id_groups>::value ? n : num_groups;
}

}  // namespace detail

/// Per-sample inputs on the device: one advantage per sample into
/// d_advantages (size N). Asynchronous; see the top of this file.
template <class Real, class Layout>
void compute_advantages_async(workspace& ws, const sequence_inputs<Real>& d_inputs, const Layout& d_groups,
                              span<float> d_advantages, const advantage_settings& settings = {},
                              bool with_statistics = false) {
  core::check_sequence_call(d_inputs, settings, d_advantages);
  const std::size_t n = d_inputs.scores.size();
  const std::size_t num_groups = core::check_layout_shape(d_groups, n);
  workspace::call c;
  c.num_samples = n;
  c.num_groups = num_groups;
  core::device_status* status = ws.begin_call(c);
  const core::sequence_params<Real> p = core::make_sequence_params(d_inputs);
  core::sample_values* samples = ws.samples<core::sample_values>(n);
  if (n > 0) {
    kernels::sequence_samples_kernel<Real><<<detail::blocks_for(p.num_samples, kernels::block_threads),
                                             kernels::block_threads, 0, ws.stream()>>>(p, settings, samples, status);
    detail::check_launch("sequence_samples_kernel");
  }
  kernels::group_pass_params g;
  g.groups = detail::prepare_groups(ws, d_groups, n, num_groups, core::sequence_offsets_rank(p.num_samples), status);
  const std::size_t bound = detail::groups_bound(d_groups, n, num_groups);
  g.samples = samples;
  g.settings = settings;
  g.advantages = d_advantages.data();
  g.status = status;
  if (with_statistics) {
    g.statistics = ws.statistics_buffer(bound);
    ws.set_statistics(g.statistics);
  }
  detail::run_group_pass(ws, g, bound);
}

/// Token-level inputs on the device ([N x T], verl's layout): d_advantages
/// (size N, or empty) and d_token_advantages = A_i * mask_it (size N x T, or
/// empty). Logprobs (and scores / token rewards) may be float, double, __half
/// or __nv_bfloat16; the mask any type holding 0 or 1. Asynchronous.
template <class Real, class Mask, class Layout>
void compute_advantages_async(workspace& ws, const token_inputs<Real, Mask>& d_inputs, const Layout& d_groups,
                              span<float> d_advantages, span<float> d_token_advantages,
                              const advantage_settings& settings = {}, bool with_statistics = false) {
  core::check_token_call(d_inputs, settings, d_advantages, d_token_advantages);
  const std::size_t n = d_inputs.num_samples, t = d_inputs.num_tokens;
  const std::size_t num_groups = core::check_layout_shape(d_groups, n);
  workspace::call c;
  c.num_samples = n;
  c.num_groups = num_groups;
  core::device_status* status = ws.begin_call(c);
  const bool is_lens = settings.kind == estimator::lens;
  const bool tokens_out = !d_token_advantages.empty() && n > 0 && t > 0;
  const core::token_params<Real, Mask> p = core::make_token_params(d_inputs, settings, !d_token_advantages.empty());
  const std::int64_t bits_row_bytes = 4 * ((p.num_tokens + 31) / 32);
  std::uint8_t* bits = tokens_out ? ws.bits(n * static_cast<std::size_t>(bits_row_bytes)) : nullptr;
  core::sample_values* samples = ws.samples<core::sample_values>(n);
  const bool packed = t % 8 == 0 && t < (std::size_t(1) << 30) &&
                      (!p.token_rewards || kernels::pack_aligned(p.token_rewards)) &&
                      (!p.need_mask || kernels::pack_aligned(p.mask)) && (!is_lens || kernels::pack_aligned(p.logprobs));
  if (n > 0) {
    const int warps_per_row = kernels::token_warps_per_row(p.num_tokens);
    const unsigned grid = detail::blocks_for(p.num_samples, kernels::block_warps / warps_per_row);
    if (packed) {
      kernels::token_rows_kernel<Real, Mask, true><<<grid, kernels::block_threads, 0, ws.stream()>>>(
          p, settings, bits, bits_row_bytes, samples, status, warps_per_row);
    } else {
      kernels::token_rows_kernel<Real, Mask, false><<<grid, kernels::block_threads, 0, ws.stream()>>>(
          p, settings, bits, bits_row_bytes, samples, status, warps_per_row);
    }
    detail::check_launch("token_rows_kernel");
  }
  kernels::group_pass_params g;
  g.groups = detail::prepare_groups(ws, d_groups, n, num_groups, core::token_offsets_rank(p.num_samples), status);
  const std::size_t bound = detail::groups_bound(d_groups, n, num_groups);
  g.samples = samples;
  g.settings = settings;
  g.advantages = d_advantages.empty() ? nullptr : d_advantages.data();
  g.row_advantages = tokens_out ? ws.row_advantages(n) : nullptr;
  g.status = status;
  if (with_statistics) {
    g.statistics = ws.statistics_buffer(bound);
    ws.set_statistics(g.statistics);
  }
  detail::run_group_pass(ws, g, bound);
  if (tokens_out) {
    kernels::broadcast_params b;
    b.row_advantages = g.row_advantages;
    b.bits = bits;
    b.bits_row_bytes = bits_row_bytes;
    b.token_advantages = d_token_advantages.data();
    b.num_rows = p.num_samples;
    b.num_tokens = p.num_tokens;
    b.vector_stores =
        t % 4 == 0 && reinterpret_cast<std::uintptr_t>(d_token_advantages.data()) % alignof(float4) == 0;
    b.status = status;
    detail::run_broadcast(ws, b);
  }
}

// ------------------------------------------------------------------ the CPU backend's signatures

/// Any estimator, per-sample inputs on the device. Synchronises; throws
/// lens::invalid_argument like the CPU backend; fills group_stats when given.
template <class Real, class Layout>
batch_summary compute_advantages(const sequence_inputs<Real>& d_inputs, const Layout& d_groups, span<float> d_advantages,
                                 const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr, cudaStream_t stream = nullptr) {
  workspace ws(stream);
  compute_advantages_async(ws, d_inputs, d_groups, d_advantages, settings, group_stats != nullptr);
  const batch_summary summary = ws.summary();
  if (group_stats) *group_stats = ws.statistics();
  return summary;
}

/// Any estimator, token-level inputs on the device. Synchronises.
template <class Real, class Mask, class Layout>
batch_summary compute_advantages(const token_inputs<Real, Mask>& d_inputs, const Layout& d_groups,
                                 span<float> d_advantages, span<float> d_token_advantages,
                                 const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr, cudaStream_t stream = nullptr) {
  workspace ws(stream);
  compute_advantages_async(ws, d_inputs, d_groups, d_advantages, d_token_advantages, settings, group_stats != nullptr);
  const batch_summary summary = ws.summary();
  if (group_stats) *group_stats = ws.statistics();
  return summary;
}


/// LENS (settings.kind set to estimator::lens). Synchronises.
template <class Real, class Layout>
batch_summary compute_lens_advantages(const sequence_inputs<Real>& d_inputs, const Layout& d_groups,
                                      span<float> d_advantages, const advantage_settings& settings = {},
                                      std::vector<group_statistics>* group_stats = nullptr,
                                      cudaStream_t stream = nullptr) {
  return compute_advantages(d_inputs, d_groups, d_advantages, lens::with_estimator(settings, estimator::lens), group_stats,
                            stream);
}

template <class Real, class Mask, class Layout>
batch_summary compute_lens_advantages(const token_inputs<Real, Mask>& d_inputs, const Layout& d_groups,
                                      span<float> d_advantages, span<float> d_token_advantages,
                                      const advantage_settings& settings = {},
                                      std::vector<group_statistics>* group_stats = nullptr,
                                      cudaStream_t stream = nullptr) {
  return compute_advantages(d_inputs, d_groups, d_advantages, d_token_advantages,
                            lens::with_estimator(settings, estimator::lens), group_stats, stream);
}

/// GRPO (settings.kind set to estimator::grpo; verl's defaults). Synchronises.
template <class Real, class Layout>
batch_summary compute_grpo_advantages(const sequence_inputs<Real>& d_inputs, const Layout& d_groups,
                                      span<float> d_advantages, const advantage_settings& settings = presets::verl_grpo(),
                                      std::vector<group_statistics>* group_stats = nullptr,
                                      cudaStream_t stream = nullptr) {
  return compute_advantages(d_inputs, d_groups, d_advantages, lens::with_estimator(settings, estimator::grpo), group_stats,
                            stream);
}

template <class Real, class Mask, class Layout>
batch_summary compute_grpo_advantages(const token_inputs<Real, Mask>& d_inputs, const Layout& d_groups,
                                      span<float> d_advantages, span<float> d_token_advantages,
                                      const advantage_settings& settings = presets::verl_grpo(),
                                      std::vector<group_statistics>* group_stats = nullptr,
                                      cudaStream_t stream = nullptr) {
  return compute_advantages(d_inputs, d_groups, d_advantages, d_token_advantages,
                            lens::with_estimator(settings, estimator::grpo), group_stats, stream);
}

/// Asynchronous LENS and GRPO with a workspace (settings.kind is set).
template <class Real, class Layout>
void compute_lens_advantages_async(workspace& ws, const sequence_inputs<Real>& d_inputs, const Layout& d_groups,
                                   span<float> d_advantages, const advantage_settings& settings = {},
                                   bool with_statistics = false) {
  compute_advantages_async(ws, d_inputs, d_groups, d_advantages, lens::with_estimator(settings, estimator::lens),
                           with_statistics);
}

template <class Real, class Mask, class Layout>
void compute_lens_advantages_async(workspace& ws, const token_inputs<Real, Mask>& d_inputs, const Layout& d_groups,
                                   span<float> d_advantages, span<float> d_token_advantages,
                                   const advantage_settings& settings = {}, bool with_statistics = false) {
  compute_advantages_async(ws, d_inputs, d_groups, d_advantages, d_token_advantages,
                           lens::with_estimator(settings, estimator::lens), with_statistics);
}

template <class Real, class Layout>
void compute_grpo_advantages_async(workspace& ws, const sequence_inputs<Real>& d_inputs, const Layout& d_groups,
                                   span<float> d_advantages, const advantage_settings& settings = presets::verl_grpo(),
                                   bool with_statistics = false) {
  compute_advantages_async(ws, d_inputs, d_groups, d_advantages, lens::with_estimator(settings, estimator::grpo),
                           with_statistics);
}

template <class Real, class Mask, class Layout>
void compute_grpo_advantages_async(workspace& ws, const token_inputs<Real, Mask>& d_inputs, const Layout& d_groups,
                                   span<float> d_advantages, span<float> d_token_advantages,
                                   const advantage_settings& settings = presets::verl_grpo(),
                                   bool with_statistics = false) {
  compute_advantages_async(ws, d_inputs, d_groups, d_advantages, d_token_advantages,
                           lens::with_estimator(settings, estimator::grpo), with_statistics);
}

}  // namespace cuda
}  // namespace lens
