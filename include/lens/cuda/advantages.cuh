// lens/cuda/advantages.cuh: the CUDA backend's entry points (nvcc only).
// Same settings, layouts, outputs and error messages as the CPU backend; the
// inputs, the layout's offsets or ids and the outputs are device pointers.
// Outputs are float or double (Out); log-probs and rewards float, double,
// __half or __nv_bfloat16.
//
// Three layers, as in CUB:
//  1. Two-phase device call, on caller memory:
//       std::size_t bytes = 0;
//       lens::cuda::compute_advantages(nullptr, bytes, d_inputs, groups, d_adv, d_tok, settings, stats, stream);
//       ... give d_temp at least `bytes` (e.g. from torch's caching allocator) ...
//       lens::cuda::call_info info = lens::cuda::compute_advantages(d_temp, bytes, d_inputs, groups, d_adv, d_tok,
//                                                                    settings, stats, stream);
//       lens::batch_summary s = lens::cuda::read_results(d_temp, info, stream, &group_stats);
//     The run allocates nothing; it is asynchronous (host-side checks of
//     settings, sizes, null pointers and a fixed group size throw at once).
//     read_results synchronises once: one copy of the status, the counters
//     and, when asked for and the number of groups is known on the host
//     (fixed, offsets), the statistics; ids with statistics copy twice. It
//     throws lens::invalid_argument with the CPU backend's message for a bad
//     input value.
//  2. workspace + compute_advantages_async: the same on grow-only memory the
//     workspace keeps (one cudaMallocAsync when a call needs more than the
//     last); workspace::summary() / statistics() read the results.
//  3. compute_advantages / compute_lens_advantages / compute_grpo_advantages
//     with the CPU backend's signature plus a stream (and optionally a
//     device_allocator): query, one allocation from the allocator (default
//     cudaMallocAsync on the stream), run, read back, free.
// Dispatch (lens/kernels/common.cuh's policy): per-sample or token-row first
// pass; offsets checked on the device; ids grouped with CUB (radix sorts and
// a scan, lens/cuda/id_grouping.cuh); the group pass a warp per group where
// the mean group size is small and known (fixed, offsets), a block per group
// otherwise; GRPO batch std stores each group's reductions, computes the batch
// std, then applies (the group reductions run once); the broadcast last.
// Outputs are written only by the group pass, which does nothing when the
// first pass found a bad input: a rejected call leaves every output
// untouched. The one exception: error_code::advantage_overflow (a group whose
// advantages are beyond the output type) is found by the group pass itself;
// that group's outputs stay untouched, other groups' per-sample advantages
// may be written (token advantages are then not written at all).
#pragma once

#if !defined(__CUDACC__)
#error "lens/cuda/advantages.cuh needs nvcc; lens/thrust/advantages.hpp also builds with a host compiler"
#endif

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "lens/core/errors.hpp"
#include "lens/core/groups.hpp"
#include "lens/core/samples.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/status.hpp"
#include "lens/core/validate.hpp"
#include "lens/core/views.hpp"
#include "lens/cuda/id_grouping.cuh"
#include "lens/kernels/common.cuh"
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

/// What the host keeps of one run to read its results back (read_results).
struct call_info {
  std::size_t num_samples = 0;
  std::size_t num_groups = 0;        ///< known on the host (fixed, offsets); ids: read from the device
  bool groups_on_device = false;     ///< ids: the count is in the result block
  bool with_statistics = false;
  std::size_t statistics_bound = 0;  ///< entries reserved for statistics
};

/// Where a synchronous call takes its temporary storage from. Empty: cudaMallocAsync / cudaFreeAsync on the stream.
struct device_allocator {
  void* (*allocate)(std::size_t bytes, cudaStream_t stream, void* context) = nullptr;
  void (*deallocate)(void* pointer, cudaStream_t stream, void* context) = nullptr;
  void* context = nullptr;
};

namespace detail {

using kernels::policy;

inline unsigned blocks_for(std::int64_t work, std::int64_t per_block, std::int64_t cap = policy::grid_max_blocks) {
  const std::int64_t blocks = (work + per_block - 1) / per_block;
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min(blocks, cap)));
}

inline void check_launch(const char* kernel) { check_cuda(cudaGetLastError(), kernel); }

inline int multiprocessor_count() {
  int device = 0, count = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
  return count;
}

/// The block at the start of the temporary storage that read_results copies:
/// the status (first error, batch counters), then the number of groups, then
/// (when asked for) the statistics.
struct result_header {
  core::device_status status;
  std::int64_t num_groups = 0;  ///< ids: copied here by the group pass's host side
  std::int64_t unused = 0;
};

inline std::size_t align_up(std::size_t bytes) {
  return (bytes + policy::temp_alignment - 1) / policy::temp_alignment * policy::temp_alignment;
}

/// The pieces of one call's temporary storage, each 256-byte aligned (CUB's
/// convention: one caller buffer, carved). Header and statistics come first
/// and adjacent, so one copy reads both.
struct temp_plan {
  enum piece { header, statistics, samples, bits, row_advantages, stored, batch_std, ids, cub, num_pieces };
  std::size_t offset[num_pieces] = {};
  std::size_t size[num_pieces] = {};
  std::size_t total = 0;
  void add(piece p, std::size_t bytes) {
    offset[p] = total;
    size[p] = bytes;
    total += align_up(bytes);
  }
  template <class T>
  T* get(void* base, piece p) const {
    return size[p] ? reinterpret_cast<T*>(static_cast<char*>(base) + offset[p]) : nullptr;
  }
};

/// What a call needs, from its arguments alone (the query and the run agree).
struct call_shape {
  std::size_t num_samples = 0, num_tokens = 0;
  std::size_t num_groups = 0;   ///< host-known count (0 for ids)
  std::size_t bound = 0;        ///< most groups there can be
  bool ids = false;
  bool statistics = false;
  bool tokens_out = false;      ///< a token broadcast follows
  std::size_t out_bytes = 4;    ///< sizeof(Out)
  bool batch_std = false;
};

inline std::int64_t bits_row_bytes(std::size_t num_tokens) { return 4 * ((static_cast<std::int64_t>(num_tokens) + 31) / 32); }

inline temp_plan make_plan(const call_shape& c) {
  temp_plan p;
  const std::size_t n = c.num_samples;
  p.add(temp_plan::header, sizeof(result_header));
  if (c.statistics) p.add(temp_plan::statistics, std::max<std::size_t>(c.bound, 1) * sizeof(group_statistics));
  p.add(temp_plan::samples, std::max<std::size_t>(n, 1) * sizeof(core::sample_values));
  if (c.tokens_out) {
    p.add(temp_plan::bits, n * static_cast<std::size_t>(bits_row_bytes(c.num_tokens)));
    p.add(temp_plan::row_advantages, n * c.out_bytes);
  }
  if (c.batch_std) {
    p.add(temp_plan::stored, std::max<std::size_t>(c.bound, 1) * sizeof(kernels::stored_group));
    p.add(temp_plan::batch_std, sizeof(double));
  }
  if (c.ids) {
    p.add(temp_plan::ids, id_grouping_entries(n) * sizeof(std::int64_t));
    p.add(temp_plan::cub, id_grouping_cub_bytes(n));
  }
  return p;
}

template <class Layout>
call_shape make_call_shape(const Layout& groups, std::size_t num_samples, std::size_t num_tokens,
                           const advantage_settings& settings, bool with_statistics, bool tokens_out,
                           std::size_t out_bytes) {
  using traits = core::group_traits<Layout>;
  call_shape c;
  c.num_samples = num_samples;
  c.num_tokens = num_tokens;
  c.num_groups = traits::check_shape(groups, num_samples);
  c.bound = traits::bound(c.num_groups, num_samples);
  c.ids = std::is_same<Layout, id_groups>::value;
  c.statistics = with_statistics;
  c.tokens_out = tokens_out;
  c.out_bytes = out_bytes;
  c.batch_std = settings.kind == estimator::grpo_batch_std;
  return c;
}

inline call_info make_info(const call_shape& c) {
  call_info info;
  info.num_samples = c.num_samples;
  info.num_groups = c.num_groups;
  info.groups_on_device = c.ids;
  info.with_statistics = c.statistics;
  info.statistics_bound = c.bound;
  return info;
}

/// What the group step of one call works on, whatever the layout.
struct run_context {
  const temp_plan* plan;
  void* temp;
  cudaStream_t stream;
  int multiprocessors;
  core::device_status* status;
};

/// The layout's part: device checks (offsets), device grouping (ids), and the view the kernels walk.
inline core::fixed_group_view prepare_groups(const run_context&, const fixed_groups& layout, std::size_t num_groups,
                                             std::size_t, std::uint64_t) {
  return core::group_traits<fixed_groups>::make_view(layout, num_groups);
}

inline core::offset_group_view prepare_groups(const run_context& r, const offset_groups& layout, std::size_t num_groups,
                                              std::size_t n, std::uint64_t rank_base) {
  const std::int64_t entries = core::group_traits<offset_groups>::num_entries(layout);
  kernels::offsets_kernel<><<<blocks_for(entries, kernels::block_threads), kernels::block_threads, 0, r.stream>>>(
      layout.offsets.data(), entries, static_cast<std::int64_t>(n), rank_base, r.status);
  check_launch("offsets_kernel");
  return core::group_traits<offset_groups>::make_view(layout, num_groups);
}

inline core::sorted_id_group_view prepare_groups(const run_context& r, const id_groups& layout, std::size_t,
                                                 std::size_t n, std::uint64_t) {
  const temp_plan& plan = *r.plan;
  const cub_id_grouping g = make_id_grouping(plan.get<std::int64_t>(r.temp, temp_plan::ids), n,
                                             plan.get<void>(r.temp, temp_plan::cub), plan.size[temp_plan::cub]);
  const unsigned grid = blocks_for(static_cast<std::int64_t>(n), kernels::block_threads,
                                   std::int64_t(r.multiprocessors) * policy::grid_blocks_per_sm);
  check_cuda(group_by_id(layout.ids.data(), static_cast<std::int64_t>(n), g, grid, r.stream), "group_by_id");
  // The count goes into the result block too, so read_results gets it in the same copy.
  result_header* header = plan.get<result_header>(r.temp, temp_plan::header);
  check_cuda(cudaMemcpyAsync(&header->num_groups, g.b.num_groups, sizeof(std::int64_t), cudaMemcpyDeviceToDevice,
                             r.stream),
             "cudaMemcpyAsync num_groups");
  core::sorted_id_group_view v;
  v.offsets = g.b.offsets;
  v.order = g.b.order;
  v.group_ids = g.b.group_ids;
  v.stat_slot = g.b.stat_slot;
  v.device_num_groups = g.b.num_groups;
  return v;
}

/// The one dispatch of the group pass: a warp per group where the mean group
/// size is known (on the host) and small, a block per group otherwise.
template <class Groups>
bool warp_per_group(const Groups& groups, std::size_t num_samples) {
  if constexpr (std::is_same<Groups, core::sorted_id_group_view>::value) {
    return false;  // the count is on the device
  } else {
    const auto num_groups = static_cast<std::size_t>(groups.num_groups);
    return num_groups > 0 && num_samples <= static_cast<std::size_t>(policy::warp_group_max_mean_size) * num_groups;
  }
}

/// Launches the group pass over `bound` groups at most (GRPO batch std:
/// store, batch std, apply).
template <class Groups, class Out>
void run_group_pass(const run_context& r, kernels::group_pass_params<Groups, Out> p, std::size_t bound,
                    std::size_t num_samples) {
  if (bound == 0) return;
  const auto groups = static_cast<std::int64_t>(bound);
  const bool warp = warp_per_group(p.groups, num_samples);
  const std::int64_t block_cap = std::is_same<Groups, core::sorted_id_group_view>::value
                                     ? std::int64_t(r.multiprocessors) * policy::grid_blocks_per_sm
                                     : policy::grid_max_blocks;
  auto launch = [&](const kernels::group_pass_params<Groups, Out>& params) {
    if (warp) {
      kernels::warp_per_group_kernel<Groups, Out>
          <<<blocks_for(groups, kernels::block_warps), kernels::block_threads, 0, r.stream>>>(params);
      check_launch("warp_per_group_kernel");
    } else {
      kernels::block_per_group_kernel<Groups, Out>
          <<<blocks_for(groups, 1, block_cap), kernels::block_threads, 0, r.stream>>>(params);
      check_launch("block_per_group_kernel");
    }
  };
  if (p.settings.kind == estimator::grpo_batch_std) {
    kernels::stored_group* stored = r.plan->get<kernels::stored_group>(r.temp, temp_plan::stored);
    double* batch_std = r.plan->get<double>(r.temp, temp_plan::batch_std);
    kernels::group_pass_params<Groups, Out> store = p;
    store.store = stored;
    launch(store);
    kernels::batch_std_kernel<Groups><<<1, kernels::block_threads, 0, r.stream>>>(stored, p.groups, p.settings.unbiased_std,
                                                                                  batch_std, p.status);
    check_launch("batch_std_kernel");
    p.stored = stored;
    p.batch_std = batch_std;
  }
  launch(p);
}

/// The token broadcast, after the group pass: about 16 blocks per SM, grid-stride.
template <class Out>
void run_broadcast(const run_context& r, const kernels::broadcast_params<Out>& b) {
  const std::int64_t segments = b.num_rows * ((b.num_tokens + kernels::broadcast_segment - 1) / kernels::broadcast_segment);
  if (segments == 0) return;
  kernels::broadcast_kernel<Out><<<blocks_for(segments, kernels::block_warps,
                                              std::int64_t(r.multiprocessors) * policy::grid_blocks_per_sm),
                                   kernels::block_threads, 0, r.stream>>>(b);
  check_launch("broadcast_kernel");
}

/// Resets the result block and returns the run's context.
inline run_context begin_run(const temp_plan& plan, void* temp, cudaStream_t stream) {
  run_context r;
  r.plan = &plan;
  r.temp = temp;
  r.stream = stream;
  r.multiprocessors = multiprocessor_count();
  result_header* header = plan.get<result_header>(temp, temp_plan::header);
  check_cuda(cudaMemsetAsync(header, 0, sizeof(result_header), stream), "cudaMemsetAsync");
  r.status = &header->status;
  return r;
}

/// The group pass and the broadcast, after a first pass filled the samples.
template <class Layout, class Out>
void run_groups(const run_context& r, const call_shape& c, const Layout& d_groups, std::uint64_t offsets_rank,
                const advantage_settings& settings, Out* d_advantages, const std::uint8_t* bits, Out* d_token_advantages) {
  const temp_plan& plan = *r.plan;
  auto view = prepare_groups(r, d_groups, c.num_groups, c.num_samples, offsets_rank);
  kernels::group_pass_params<decltype(view), Out> g;
  g.groups = view;
  g.samples = plan.get<core::sample_values>(r.temp, temp_plan::samples);
  g.settings = settings;
  g.advantages = d_advantages;
  g.row_advantages = plan.get<Out>(r.temp, temp_plan::row_advantages);
  g.statistics = plan.get<group_statistics>(r.temp, temp_plan::statistics);
  g.status = r.status;
  run_group_pass(r, g, c.bound, c.num_samples);
  if (c.tokens_out) {
    kernels::broadcast_params<Out> b;
    b.row_advantages = g.row_advantages;
    b.bits = bits;
    b.bits_row_bytes = bits_row_bytes(c.num_tokens);
    b.token_advantages = d_token_advantages;
    b.num_rows = static_cast<std::int64_t>(c.num_samples);
    b.num_tokens = static_cast<std::int64_t>(c.num_tokens);
    b.vector_stores = std::is_same<Out, float>::value && c.num_tokens % 4 == 0 &&
                      reinterpret_cast<std::uintptr_t>(d_token_advantages) % 16 == 0;
    b.status = r.status;
    run_broadcast(r, b);
  }
}

template <class Out>
void check_output_type() {
  static_assert(std::is_same<Out, float>::value || std::is_same<Out, double>::value,
                "lens::cuda writes float or double advantages");
}

/// CUB's convention: with null storage a call only reports the bytes it
/// needs (returns false); otherwise the storage must hold them (returns true).
inline bool size_or_check(void* d_temp_storage, std::size_t& temp_storage_bytes, const temp_plan& plan) {
  if (d_temp_storage == nullptr) {
    temp_storage_bytes = plan.total;
    return false;
  }
  if (temp_storage_bytes < plan.total)
    raise(error_code::size_mismatch, "temp_storage_bytes", -1,
          "is " + std::to_string(temp_storage_bytes) + " bytes, the call needs " + std::to_string(plan.total) +
              " (ask with d_temp_storage == nullptr first)");
  return true;
}

}  // namespace detail

// ------------------------------------------------------------------ layer 1: two-phase calls

/// Per-sample inputs on the device. With d_temp_storage == nullptr: sets
/// temp_storage_bytes and returns. Otherwise runs asynchronously on `stream`
/// in that memory (at least temp_storage_bytes, keep it until read_results).
template <class Real, class Layout, class Out>
call_info compute_advantages(void* d_temp_storage, std::size_t& temp_storage_bytes, const sequence_inputs<Real>& d_inputs,
                             const Layout& d_groups, span<Out> d_advantages, const advantage_settings& settings = {},
                             bool with_statistics = false, cudaStream_t stream = nullptr) {
  detail::check_output_type<Out>();
  core::check_sequence_call(d_inputs, settings, d_advantages);
  core::check_device_settings(settings);
  const std::size_t n = d_inputs.scores.size();
  const detail::call_shape c = detail::make_call_shape(d_groups, n, 0, settings, with_statistics, false, sizeof(Out));
  const detail::temp_plan plan = detail::make_plan(c);
  if (!detail::size_or_check(d_temp_storage, temp_storage_bytes, plan)) return detail::make_info(c);
  const detail::run_context r = detail::begin_run(plan, d_temp_storage, stream);
  const core::sequence_params<Real> p = core::make_sequence_params(d_inputs);
  core::sample_values* samples = plan.get<core::sample_values>(d_temp_storage, detail::temp_plan::samples);
  if (n > 0) {
    kernels::sequence_samples_kernel<Real><<<detail::blocks_for(p.num_samples, kernels::block_threads),
                                             kernels::block_threads, 0, stream>>>(p, settings, samples, r.status);
    detail::check_launch("sequence_samples_kernel");
  }
  detail::run_groups(r, c, d_groups, core::sequence_offsets_rank(p.num_samples), settings, d_advantages.data(),
                     static_cast<const std::uint8_t*>(nullptr), static_cast<Out*>(nullptr));
  return detail::make_info(c);
}

/// Token-level inputs on the device ([N x T], verl's layout): d_advantages
/// (size N, or empty) and d_token_advantages = A_i * mask_it (size N x T, or
/// empty). Two-phase as above.
template <class Real, class Mask, class Reward, class Layout, class Out>
call_info compute_advantages(void* d_temp_storage, std::size_t& temp_storage_bytes,
                             const token_inputs<Real, Mask, Reward>& d_inputs, const Layout& d_groups, span<Out> d_advantages,
                             span<Out> d_token_advantages, const advantage_settings& settings = {},
                             bool with_statistics = false, cudaStream_t stream = nullptr) {
  detail::check_output_type<Out>();
  core::check_token_call(d_inputs, settings, d_advantages, d_token_advantages);
  core::check_device_settings(settings);
  const std::size_t n = d_inputs.num_samples, t = d_inputs.num_tokens;
  const bool tokens_out = !d_token_advantages.empty() && n > 0 && t > 0;
  const detail::call_shape c = detail::make_call_shape(d_groups, n, t, settings, with_statistics, tokens_out, sizeof(Out));
  const detail::temp_plan plan = detail::make_plan(c);
  if (!detail::size_or_check(d_temp_storage, temp_storage_bytes, plan)) return detail::make_info(c);
  const detail::run_context r = detail::begin_run(plan, d_temp_storage, stream);
  const bool is_lens = settings.kind == estimator::lens;
  const core::token_params<Real, Mask, Reward> p = core::make_token_params(d_inputs, settings, !d_token_advantages.empty());
  const std::int64_t row_bytes = detail::bits_row_bytes(t);
  std::uint8_t* bits = plan.get<std::uint8_t>(d_temp_storage, detail::temp_plan::bits);
  core::sample_values* samples = plan.get<core::sample_values>(d_temp_storage, detail::temp_plan::samples);
  const bool packed = t % 8 == 0 && t < (std::size_t(1) << 30) &&
                      (!p.token_rewards || kernels::pack_aligned(p.token_rewards)) &&
                      (!p.need_mask || kernels::pack_aligned(p.mask)) && (!is_lens || kernels::pack_aligned(p.logprobs));
  if (n > 0) {
    const int warps_per_row = kernels::token_warps_per_row(p.num_tokens);
    const unsigned grid = detail::blocks_for(p.num_samples, kernels::block_warps / warps_per_row);
    if (packed) {
      kernels::token_rows_kernel<Real, Mask, Reward, true><<<grid, kernels::block_threads, 0, stream>>>(
          p, settings, bits, row_bytes, samples, r.status, warps_per_row);
    } else {
      kernels::token_rows_kernel<Real, Mask, Reward, false><<<grid, kernels::block_threads, 0, stream>>>(
          p, settings, bits, row_bytes, samples, r.status, warps_per_row);
    }
    detail::check_launch("token_rows_kernel");
  }
  detail::run_groups(r, c, d_groups, core::token_offsets_rank(p.num_samples), settings,
                     d_advantages.empty() ? static_cast<Out*>(nullptr) : d_advantages.data(), bits,
                     d_token_advantages.data());
  return detail::make_info(c);
}

/// Reads back the results of a run in d_temp_storage: synchronises the
/// stream once (ids with statistics: twice), throws lens::invalid_argument
/// with the CPU backend's message if an input was rejected, fills
/// group_stats when given (the run must have had with_statistics).
inline batch_summary read_results(const void* d_temp_storage, const call_info& info, cudaStream_t stream,
                                  std::vector<group_statistics>* group_stats = nullptr) {
  if (group_stats && !info.with_statistics)
    throw std::logic_error("lens: the call did not ask for group statistics (with_statistics)");
  const bool stats = group_stats != nullptr;
  // Header and statistics are adjacent: one copy when the count is known here.
  const std::size_t stats_offset = detail::align_up(sizeof(detail::result_header));
  std::vector<unsigned char> block(stats_offset + (stats && !info.groups_on_device ? info.num_groups * sizeof(group_statistics) : 0));
  check_cuda(cudaMemcpyAsync(block.data(), d_temp_storage, block.size(), cudaMemcpyDeviceToHost, stream),
             "cudaMemcpyAsync results");
  check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  detail::result_header header;
  std::memcpy(static_cast<void*>(&header), block.data(), sizeof header);
  core::throw_if_error(header.status);
  const std::size_t num_groups = info.groups_on_device ? static_cast<std::size_t>(header.num_groups) : info.num_groups;
  if (stats) {
    group_stats->resize(num_groups);
    if (!info.groups_on_device) {
      if (num_groups) std::memcpy(static_cast<void*>(group_stats->data()), block.data() + stats_offset, num_groups * sizeof(group_statistics));
    } else if (num_groups) {
      check_cuda(cudaMemcpyAsync(group_stats->data(), static_cast<const unsigned char*>(d_temp_storage) + stats_offset,
                                 num_groups * sizeof(group_statistics), cudaMemcpyDeviceToHost, stream),
                 "cudaMemcpyAsync statistics");
      check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }
  }
  return core::make_summary(header.status, info.num_samples, num_groups);
}

// ------------------------------------------------------------------ layer 2: a workspace

/// Grow-only temporary storage and the last call's info, on one stream. Not
/// thread-safe; one workspace per stream. Reusing it avoids reallocations.
class workspace {
 public:
  explicit workspace(cudaStream_t stream = nullptr) : stream_(stream) {}
  ~workspace() {
    if (data_) cudaFreeAsync(data_, stream_);
  }
  workspace(const workspace&) = delete;
  workspace& operator=(const workspace&) = delete;

  cudaStream_t stream() const { return stream_; }

  /// Synchronises and throws lens::invalid_argument, with the CPU backend's
  /// message, if the last call's input was rejected.
  void check() { summary(); }

  /// Synchronises, checks (as check()), and returns the last call's summary.
  batch_summary summary() {
    require_call();
    return read_results(data_, last_, stream_);
  }

  /// Synchronises, checks, and copies the last call's per-group statistics
  /// (asked for with with_statistics = true), in the CPU backend's order.
  std::vector<group_statistics> statistics() {
    require_call();
    std::vector<group_statistics> stats;
    read_results(data_, last_, stream_, &stats);
    return stats;
  }

  /// Runs call(temp, bytes) twice, CUB style: the query, then the run on this workspace's memory.
  template <class Call>
  void run(Call&& call) {
    std::size_t bytes = 0;
    call(static_cast<void*>(nullptr), bytes);
    if (bytes > bytes_) {
      if (data_) check_cuda(cudaFreeAsync(data_, stream_), "cudaFreeAsync");
      data_ = nullptr;
      bytes_ = 0;
      check_cuda(cudaMallocAsync(&data_, bytes, stream_), "cudaMallocAsync");
      bytes_ = bytes;
    }
    last_ = call(data_, bytes);
    has_call_ = true;
  }

 private:
  void require_call() const {
    if (!has_call_) throw std::logic_error("lens: the workspace has not run a call yet");
  }
  cudaStream_t stream_;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  call_info last_;
  bool has_call_ = false;
};

/// Per-sample inputs on the device: one advantage per sample into
/// d_advantages (size N). Asynchronous.
template <class Real, class Layout, class Out>
void compute_advantages_async(workspace& ws, const sequence_inputs<Real>& d_inputs, const Layout& d_groups,
                              span<Out> d_advantages, const advantage_settings& settings = {},
                              bool with_statistics = false) {
  ws.run([&](void* temp, std::size_t& bytes) {
    return compute_advantages(temp, bytes, d_inputs, d_groups, d_advantages, settings, with_statistics, ws.stream());
  });
}

/// Token-level inputs on the device. Asynchronous.
template <class Real, class Mask, class Reward, class Layout, class Out>
void compute_advantages_async(workspace& ws, const token_inputs<Real, Mask, Reward>& d_inputs, const Layout& d_groups,
                              span<Out> d_advantages, span<Out> d_token_advantages,
                              const advantage_settings& settings = {}, bool with_statistics = false) {
  ws.run([&](void* temp, std::size_t& bytes) {
    return compute_advantages(temp, bytes, d_inputs, d_groups, d_advantages, d_token_advantages, settings,
                              with_statistics, ws.stream());
  });
}

// ------------------------------------------------------------------ layer 3: the CPU backend's signatures

namespace detail {

/// Query, one allocation (the caller's allocator, or cudaMallocAsync), run, read back, free.
template <class Call>
batch_summary run_synchronously(Call&& call, cudaStream_t stream, const device_allocator& allocator,
                                std::vector<group_statistics>* group_stats) {
  std::size_t bytes = 0;
  call(static_cast<void*>(nullptr), bytes);
  void* temp = nullptr;
  if (allocator.allocate) {
    temp = allocator.allocate(bytes, stream, allocator.context);
    if (!temp) throw cuda_error("lens: the device_allocator returned null");
  } else {
    check_cuda(cudaMallocAsync(&temp, bytes, stream), "cudaMallocAsync");
  }
  auto release = [&] {
    if (allocator.deallocate) allocator.deallocate(temp, stream, allocator.context);
    else if (!allocator.allocate) cudaFreeAsync(temp, stream);
  };
  try {
    const call_info info = call(temp, bytes);
    const batch_summary summary = read_results(temp, info, stream, group_stats);
    release();
    return summary;
  } catch (...) {
    release();
    throw;
  }
}

}  // namespace detail

/// Any estimator, per-sample inputs on the device. Synchronises; throws
/// lens::invalid_argument like the CPU backend; fills group_stats when given.
template <class Real, class Layout, class Out>
batch_summary compute_advantages(const sequence_inputs<Real>& d_inputs, const Layout& d_groups, span<Out> d_advantages,
                                 const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr, cudaStream_t stream = nullptr,
                                 const device_allocator& allocator = {}) {
  return detail::run_synchronously(
      [&](void* temp, std::size_t& bytes) {
        return compute_advantages(temp, bytes, d_inputs, d_groups, d_advantages, settings, group_stats != nullptr, stream);
      },
      stream, allocator, group_stats);
}

/// Any estimator, token-level inputs on the device. Synchronises.
template <class Real, class Mask, class Reward, class Layout, class Out>
batch_summary compute_advantages(const token_inputs<Real, Mask, Reward>& d_inputs, const Layout& d_groups,
                                 span<Out> d_advantages, span<Out> d_token_advantages,
                                 const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr, cudaStream_t stream = nullptr,
                                 const device_allocator& allocator = {}) {
  return detail::run_synchronously(
      [&](void* temp, std::size_t& bytes) {
        return compute_advantages(temp, bytes, d_inputs, d_groups, d_advantages, d_token_advantages, settings,
                                  group_stats != nullptr, stream);
      },
      stream, allocator, group_stats);
}

/// LENS (settings.kind set to estimator::lens). Synchronises.
template <class Real, class Layout, class Out>
batch_summary compute_lens_advantages(const sequence_inputs<Real>& d_inputs, const Layout& d_groups,
                                      span<Out> d_advantages, const advantage_settings& settings = {},
                                      std::vector<group_statistics>* group_stats = nullptr,
                                      cudaStream_t stream = nullptr) {
  return compute_advantages(d_inputs, d_groups, d_advantages, lens::with_estimator(settings, estimator::lens), group_stats,
                            stream);
}

template <class Real, class Mask, class Reward, class Layout, class Out>
batch_summary compute_lens_advantages(const token_inputs<Real, Mask, Reward>& d_inputs, const Layout& d_groups,
                                      span<Out> d_advantages, span<Out> d_token_advantages,
                                      const advantage_settings& settings = {},
                                      std::vector<group_statistics>* group_stats = nullptr,
                                      cudaStream_t stream = nullptr) {
  return compute_advantages(d_inputs, d_groups, d_advantages, d_token_advantages,
                            lens::with_estimator(settings, estimator::lens), group_stats, stream);
}

/// GRPO (settings.kind set to estimator::grpo; verl's defaults). Synchronises.
template <class Real, class Layout, class Out>
batch_summary compute_grpo_advantages(const sequence_inputs<Real>& d_inputs, const Layout& d_groups,
                                      span<Out> d_advantages, const advantage_settings& settings = presets::verl_grpo(),
                                      std::vector<group_statistics>* group_stats = nullptr,
                                      cudaStream_t stream = nullptr) {
  return compute_advantages(d_inputs, d_groups, d_advantages, lens::with_estimator(settings, estimator::grpo), group_stats,
                            stream);
}

template <class Real, class Mask, class Reward, class Layout, class Out>
batch_summary compute_grpo_advantages(const token_inputs<Real, Mask, Reward>& d_inputs, const Layout& d_groups,
                                      span<Out> d_advantages, span<Out> d_token_advantages,
                                      const advantage_settings& settings = presets::verl_grpo(),
                                      std::vector<group_statistics>* group_stats = nullptr,
                                      cudaStream_t stream = nullptr) {
  return compute_advantages(d_inputs, d_groups, d_advantages, d_token_advantages,
                            lens::with_estimator(settings, estimator::grpo), group_stats, stream);
}

/// Asynchronous LENS and GRPO with a workspace (settings.kind is set).
template <class Real, class Layout, class Out>
void compute_lens_advantages_async(workspace& ws, const sequence_inputs<Real>& d_inputs, const Layout& d_groups,
                                   span<Out> d_advantages, const advantage_settings& settings = {},
                                   bool with_statistics = false) {
  compute_advantages_async(ws, d_inputs, d_groups, d_advantages, lens::with_estimator(settings, estimator::lens),
                           with_statistics);
}

template <class Real, class Mask, class Reward, class Layout, class Out>
void compute_lens_advantages_async(workspace& ws, const token_inputs<Real, Mask, Reward>& d_inputs, const Layout& d_groups,
                                   span<Out> d_advantages, span<Out> d_token_advantages,
                                   const advantage_settings& settings = {}, bool with_statistics = false) {
  compute_advantages_async(ws, d_inputs, d_groups, d_advantages, d_token_advantages,
                           lens::with_estimator(settings, estimator::lens), with_statistics);
}

template <class Real, class Layout, class Out>
void compute_grpo_advantages_async(workspace& ws, const sequence_inputs<Real>& d_inputs, const Layout& d_groups,
                                   span<Out> d_advantages, const advantage_settings& settings = presets::verl_grpo(),
                                   bool with_statistics = false) {
  compute_advantages_async(ws, d_inputs, d_groups, d_advantages, lens::with_estimator(settings, estimator::grpo),
                           with_statistics);
}

template <class Real, class Mask, class Reward, class Layout, class Out>
void compute_grpo_advantages_async(workspace& ws, const token_inputs<Real, Mask, Reward>& d_inputs, const Layout& d_groups,
                                   span<Out> d_advantages, span<Out> d_token_advantages,
                                   const advantage_settings& settings = presets::verl_grpo(),
                                   bool with_statistics = false) {
  compute_advantages_async(ws, d_inputs, d_groups, d_advantages, d_token_advantages,
                           lens::with_estimator(settings, estimator::grpo), with_statistics);
}

}  // namespace cuda
}  // namespace lens
