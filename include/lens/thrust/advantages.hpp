// lens/thrust/advantages.hpp: the advantages with Thrust algorithms only, for
// any Thrust device system: CUDA under nvcc, OpenMP or TBB under a host
// compiler (THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_OMP), where "device
// pointers" are host pointers. Every step calls the shared per-group math of
// lens/core/group_math.hpp:
//   1. a check-and-reduce pass per sample (or per token row, one thread each);
//   2. groups as a key per position (fixed: k / G; offsets: upper_bound;
//      ids: group_by_id's stable sort);
//   3. reduce_by_key with core::merge over confidence summaries, then over the
//      moments of the shaped scores;
//   4. a transform writing the advantages, and a broadcast to tokens.
// It synchronises: after the checks (to throw before any output is written),
// for the number of groups, and at the end for the summary. The CUDA backend's
// kernels (lens/cuda/advantages.cuh) are the asynchronous path.
#pragma once

#include <thrust/binary_search.h>
#include <thrust/copy.h>
#include <thrust/count.h>
#include <thrust/device_vector.h>
#include <thrust/for_each.h>
#include <thrust/functional.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/reduce.h>
#include <thrust/scatter.h>
#include <thrust/transform.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lens/core/group_math.hpp"
#include "lens/core/settings.hpp"
#include "lens/core/views.hpp"
#include "lens/core/status.hpp"
#include "lens/core/validate.hpp"
#include "lens/thrust/id_grouping.hpp"
#include "lens/core/samples.hpp"

namespace lens {
namespace thrust_path {
namespace detail {

template <class Real>
struct check_sequence {
  core::sequence_params<Real> p;
  advantage_settings settings;
  core::device_status* status;
  core::sample_values* out;
  LENS_HD void operator()(std::int64_t i) const { out[i] = core::check_sequence_sample(p, i, settings, status); }
};

template <class Real, class Mask, class Reward>
struct check_row {
  core::token_params<Real, Mask, Reward> p;
  advantage_settings settings;
  core::device_status* status;
  core::sample_values* out;
  LENS_HD void operator()(std::int64_t r) const { out[r] = core::reduce_row(p, r, settings, status); }
};

struct check_offsets {
  const std::int64_t* offsets;
  std::int64_t num_entries, num_samples;
  std::uint64_t rank_base;
  core::device_status* status;
  LENS_HD void operator()(std::int64_t g) const { core::check_offset(offsets, g, num_entries, num_samples, rank_base, status); }
};

struct fixed_group_of {
  std::int64_t group_size;
  LENS_HD std::int64_t operator()(std::int64_t k) const { return k / group_size; }
};

/// The sample at a grouped position: the identity for contiguous layouts.
LENS_HD std::int64_t sample_at(const std::int64_t* order, std::int64_t k) { return order ? order[k] : k; }

struct confidence_at {
  const core::sample_values* samples;
  const std::int64_t* order;
  LENS_HD core::confidence_summary operator()(std::int64_t k) const { return core::confidence_of(samples[sample_at(order, k)]); }
};

struct moments_at {
  const core::sample_values* samples;
  const std::int64_t* order;
  const std::int64_t* position_group;
  const core::group_shape* shapes;
  LENS_HD core::score_moments operator()(std::int64_t k) const {
    core::score_moments m;
    core::add(m, core::shaped_of(shapes[position_group[k]], samples[sample_at(order, k)]));
    return m;
  }
};

struct shape_of {
  advantage_settings settings;
  LENS_HD core::group_shape operator()(const core::confidence_summary& c) const { return core::make_shape(c, settings); }
};

template <class Out>
struct write_advantage {
  const core::sample_values* samples;
  const std::int64_t* order;
  const std::int64_t* position_group;
  const core::group_shape* shapes;
  const core::score_moments* moments;
  advantage_settings settings;
  double batch_std;
  Out* out;
  LENS_HD void operator()(std::int64_t k) const {
    const std::int64_t g = position_group[k], i = sample_at(order, k);
    const core::group_transform t = core::make_transform(moments[g], shapes[g], settings, batch_std);
    out[i] = static_cast<Out>(core::advantage(t, core::shaped_of(shapes[g], samples[i])));
  }
};

template <class Mask, class Out>
struct broadcast_tokens {
  const Mask* mask;
  const Out* per_sample;
  std::int64_t num_tokens;
  Out* out;
  LENS_HD void operator()(std::int64_t k) const {
    out[k] = core::token_advantage(per_sample[k / num_tokens], mask[k] != Mask(0));
  }
};

struct statistics_of {
  const core::confidence_summary* confidence;
  const core::group_shape* shapes;
  const core::score_moments* moments;
  const std::int64_t* group_ids;  // null: the group's position
  advantage_settings settings;
  LENS_HD group_statistics operator()(std::int64_t g) const {
    return core::make_statistics(group_ids ? group_ids[g] : g, static_cast<std::int64_t>(confidence[g].num_correct), shapes[g],
                                 moments[g], settings);
  }
};

template <class Out>
struct check_fit {
  const core::group_shape* shapes;
  const core::score_moments* moments;
  const std::int64_t* stat_slot;  // null: the group's position
  advantage_settings settings;
  double batch_std;
  core::device_status* status;
  LENS_HD void operator()(std::int64_t g) const {
    double reach = 0;
    const core::group_transform t = core::make_transform(moments[g], shapes[g], settings, batch_std);
    if (!core::advantages_fit_in<Out>(moments[g], t, settings, batch_std, &reach))
      core::report_error(status, core::overflow_report(stat_slot ? stat_slot[g] : g, reach));
  }
};

struct is_nonzero {
  template <class Out>
  LENS_HD bool operator()(Out a) const { return a != Out(0); }
};
struct is_negative {
  LENS_HD bool operator()(const core::group_shape& s) const { return s.negative; }
};
struct has_zero_variance {
  LENS_HD bool operator()(const core::score_moments& m) const { return core::zero_variance(m); }
};

template <class T>
T* raw(thrust::device_vector<T>& v) {
  return thrust::raw_pointer_cast(v.data());
}

/// Reads the status back and throws the CPU backend's message if a check failed.
inline void throw_if_rejected(const thrust::device_vector<core::device_status>& status) {
  // thrust::copy, not status[0]: element access binds a null reference inside
  // Thrust (UBSan reports it on the OpenMP system).
  core::device_status host;
  thrust::copy(status.begin(), status.end(), &host);
  core::throw_if_error(host);
}

/// Groups as (key per position, sample order, group ids, statistics slots).
struct position_groups {
  thrust::device_vector<std::int64_t> keys;   // group of each position
  thrust::device_vector<std::int64_t> order;  // empty: identity
  thrust::device_vector<std::int64_t> group_ids, stat_slot;  // empty: the group's position
  std::size_t num_groups = 0;
};

template <class Policy>
position_groups make_groups(Policy&& exec, const fixed_groups&, std::size_t n, std::size_t num_groups) {
  position_groups pg;
  pg.num_groups = num_groups;
  pg.keys.resize(n);
  const thrust::counting_iterator<std::int64_t> first(0);
  if (n > 0) {
    const std::int64_t group_size = static_cast<std::int64_t>(n / num_groups);
    thrust::transform(exec, first, first + static_cast<std::int64_t>(n), pg.keys.begin(), fixed_group_of{group_size});
  }
  return pg;
}

template <class Policy>
position_groups make_groups(Policy&& exec, const offset_groups& layout, std::size_t n, std::size_t num_groups) {
  position_groups pg;
  pg.num_groups = num_groups;
  pg.keys.resize(n);
  const thrust::counting_iterator<std::int64_t> first(0);
  const std::int64_t* ends = layout.offsets.data() + 1;
  thrust::upper_bound(exec, ends, ends + num_groups, first, first + static_cast<std::int64_t>(n), pg.keys.begin());
  return pg;
}

template <class Policy>
position_groups make_groups(Policy&& exec, const id_groups& layout, std::size_t n, std::size_t) {
  position_groups pg;
  thrust::device_vector<std::int64_t> sorted(n), offsets(n + 1), count(1), scratch(2 * n);
  pg.keys.resize(n);
  pg.order.resize(n);
  pg.group_ids.resize(n);
  pg.stat_slot.resize(n);
  id_grouping_buffers b;
  b.sorted_ids = raw(sorted);
  b.order = raw(pg.order);
  b.position_group = raw(pg.keys);
  b.offsets = raw(offsets);
  b.num_groups = raw(count);
  b.group_ids = raw(pg.group_ids);
  b.stat_slot = raw(pg.stat_slot);
  b.scratch = raw(scratch);
  group_by_id(exec, layout.ids.data(), static_cast<std::int64_t>(n), b);
  std::int64_t num_groups = 0;
  thrust::copy(count.begin(), count.end(), &num_groups);
  pg.num_groups = static_cast<std::size_t>(num_groups);
  return pg;
}

template <class T>
const T* raw_or_null(const thrust::device_vector<T>& v) {
  return v.empty() ? nullptr : thrust::raw_pointer_cast(v.data());
}

/// Steps 2 to 4 over checked samples; writes per_sample advantages.
template <class Policy, class Layout, class Out>
batch_summary run_groups(Policy&& exec, const Layout& layout, std::size_t n, std::size_t num_groups,
                         const thrust::device_vector<core::sample_values>& samples, Out* per_sample,
                         const advantage_settings& settings, std::vector<group_statistics>* group_stats,
                         thrust::device_vector<core::device_status>& status) {
  position_groups pg = make_groups(exec, layout, n, num_groups);
  const std::size_t groups = pg.num_groups;
  const std::int64_t* order = raw_or_null(pg.order);
  const core::sample_values* sample_data = thrust::raw_pointer_cast(samples.data());
  const thrust::counting_iterator<std::int64_t> first(0);
  const auto num = static_cast<std::int64_t>(n);

  // Step 1: per-group confidence summaries (reduce_by_key skips empty groups;
  // they keep the empty summary, as on the CPU).
  thrust::device_vector<core::confidence_summary> confidence(groups), reduced_confidence(groups);
  thrust::device_vector<std::int64_t> reduced_keys(groups);
  auto confidence_end = thrust::reduce_by_key(
      exec, pg.keys.begin(), pg.keys.end(), thrust::make_transform_iterator(first, confidence_at{sample_data, order}),
      reduced_keys.begin(), reduced_confidence.begin(), thrust::equal_to<std::int64_t>(), core::merge_op{});
  thrust::scatter(exec, reduced_confidence.begin(), confidence_end.second, reduced_keys.begin(), confidence.begin());
  thrust::device_vector<core::group_shape> shapes(groups);
  thrust::transform(exec, confidence.begin(), confidence.end(), shapes.begin(), shape_of{settings});

  // Step 2: moments of the shaped scores.
  thrust::device_vector<core::score_moments> moments(groups), reduced_moments(groups);
  auto moments_end = thrust::reduce_by_key(
      exec, pg.keys.begin(), pg.keys.end(),
      thrust::make_transform_iterator(first, moments_at{sample_data, order, raw(pg.keys), raw(shapes)}),
      reduced_keys.begin(), reduced_moments.begin(), thrust::equal_to<std::int64_t>(), core::merge_op{});
  thrust::scatter(exec, reduced_moments.begin(), moments_end.second, reduced_keys.begin(), moments.begin());
  double batch_std = 0;
  if (settings.kind == estimator::grpo_batch_std) {
    const core::score_moments all = thrust::reduce(exec, moments.begin(), moments.end(), core::score_moments{}, core::merge_op{});
    batch_std = core::standard_deviation(all, settings.unbiased_std);
  }

  // Advantages beyond the output type are rejected before any write, as on the CPU.
  thrust::for_each(exec, first, first + static_cast<std::int64_t>(groups),
                   check_fit<Out>{raw(shapes), raw(moments), raw_or_null(pg.stat_slot), settings, batch_std, raw(status)});
  throw_if_rejected(status);

  // Step 3: advantages.
  thrust::for_each(exec, first, first + num,
                   write_advantage<Out>{sample_data, order, raw(pg.keys), raw(shapes), raw(moments), settings, batch_std, per_sample});

  const batch_summary summary = core::make_summary(
      n, groups, static_cast<std::size_t>(thrust::count_if(exec, shapes.begin(), shapes.end(), is_negative{})),
      static_cast<std::size_t>(thrust::count_if(exec, moments.begin(), moments.end(), has_zero_variance{})),
      static_cast<std::size_t>(thrust::count_if(exec, per_sample, per_sample + num, is_nonzero{})));
  if (group_stats) {
    thrust::device_vector<group_statistics> stats(groups);
    const auto count = static_cast<std::int64_t>(groups);
    const statistics_of make{raw(confidence), raw(shapes), raw(moments), raw_or_null(pg.group_ids), settings};
    if (pg.stat_slot.empty()) {
      thrust::transform(exec, first, first + count, stats.begin(), make);
    } else {
      thrust::scatter(exec, thrust::make_transform_iterator(first, make),
                      thrust::make_transform_iterator(first + count, make), pg.stat_slot.begin(), stats.begin());
    }
    group_stats->resize(groups);
    thrust::copy(stats.begin(), stats.end(), group_stats->begin());
  }
  return summary;
}

template <class Policy>
void check_offsets_on_device(Policy&& exec, const offset_groups& layout, std::size_t n, std::uint64_t rank_base,
                             core::device_status* status) {
  const auto entries = static_cast<std::int64_t>(layout.offsets.size());
  const thrust::counting_iterator<std::int64_t> first(0);
  thrust::for_each(exec, first, first + entries,
                   check_offsets{layout.offsets.data(), entries, static_cast<std::int64_t>(n), rank_base, status});
}
template <class Policy, class Layout>
void check_offsets_on_device(Policy&&, const Layout&, std::size_t, std::uint64_t, core::device_status*) {}

}  // namespace detail

/// Per-sample inputs. Throws lens::invalid_argument (the CPU backend's
/// message) before writing any output.
template <class Policy, class Real, class Layout, class Out>
batch_summary compute_advantages(Policy&& exec, const sequence_inputs<Real>& inputs, const Layout& groups,
                                 span<Out> advantages, const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr) {
  core::check_sequence_call(inputs, settings, advantages);
  core::check_device_settings(settings);
  const std::size_t n = inputs.scores.size();
  const std::size_t num_groups = core::group_traits<Layout>::check_shape(groups, n);
  thrust::device_vector<core::device_status> status(1);
  thrust::device_vector<core::sample_values> samples(n);
  const core::sequence_params<Real> p = core::make_sequence_params(inputs);
  const thrust::counting_iterator<std::int64_t> first(0);
  thrust::for_each(exec, first, first + p.num_samples,
                   detail::check_sequence<Real>{p, settings, detail::raw(status), detail::raw(samples)});
  detail::check_offsets_on_device(exec, groups, n, core::sequence_offsets_rank(p.num_samples), detail::raw(status));
  detail::throw_if_rejected(status);
  return detail::run_groups(exec, groups, n, num_groups, samples, advantages.data(), settings, group_stats, status);
}

/// Token-level inputs [N x T]: advantages (size N, or empty) and
/// token_advantages (size N x T, or empty). Throws before writing any output.
template <class Policy, class Real, class Mask, class Reward, class Layout, class Out>
batch_summary compute_advantages(Policy&& exec, const token_inputs<Real, Mask, Reward>& inputs, const Layout& groups,
                                 span<Out> advantages, span<Out> token_advantages,
                                 const advantage_settings& settings = {},
                                 std::vector<group_statistics>* group_stats = nullptr) {
  core::check_token_call(inputs, settings, advantages, token_advantages);
  core::check_device_settings(settings);
  const std::size_t n = inputs.num_samples, t = inputs.num_tokens;
  const std::size_t num_groups = core::group_traits<Layout>::check_shape(groups, n);
  const core::token_params<Real, Mask, Reward> p = core::make_token_params(inputs, settings, !token_advantages.empty());
  thrust::device_vector<core::device_status> status(1);
  thrust::device_vector<core::sample_values> samples(n);
  const thrust::counting_iterator<std::int64_t> first(0);
  thrust::for_each(exec, first, first + p.num_samples,
                   detail::check_row<Real, Mask, Reward>{p, settings, detail::raw(status), detail::raw(samples)});
  detail::check_offsets_on_device(exec, groups, n, core::token_offsets_rank(p.num_samples), detail::raw(status));
  detail::throw_if_rejected(status);
  thrust::device_vector<Out> scratch;
  Out* per_sample = advantages.data();
  if (advantages.empty()) {
    scratch.resize(n);
    per_sample = detail::raw(scratch);
  }
  const batch_summary summary =
      detail::run_groups(exec, groups, n, num_groups, samples, per_sample, settings, group_stats, status);
  if (!token_advantages.empty()) {
    thrust::for_each(exec, first, first + static_cast<std::int64_t>(n * t),
                     detail::broadcast_tokens<Mask, Out>{p.mask, per_sample, p.num_tokens, token_advantages.data()});
  }
  return summary;
}

}  // namespace thrust_path

namespace cuda {
/// The name the Thrust path had when it lived in lens/cuda/.
namespace thrust_path = ::lens::thrust_path;
}  // namespace cuda
}  // namespace lens
