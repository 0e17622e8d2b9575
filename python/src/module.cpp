// python/src/module.cpp: lens._lens, the compiled half of the Python package.
// It takes DLPack arrays (torch tensors, numpy arrays) and caller-allocated
// outputs, checks each argument once (python/src/arrays.hpp), and runs the
// same C++ entry points as a C++ trainer. It does not link libtorch: the torch
// integration (custom ops, fake tensors, autograd) lives in python/lens/.
// Every lens::invalid_argument reaches Python as a ValueError with its message.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "arrays.hpp"
#include "distributed.hpp"
#include "lens/cpu/reinforce.hpp"
#include "lens/lens.hpp"
#include "lens/version.hpp"
#include "policy_loss.hpp"
#include "settings.hpp"

namespace nb = nanobind;
using namespace lens_python;

namespace {

/// The group layout the caller chose: ids (any int64 per sample), CSR
/// offsets, or a fixed group size. Exactly one.
struct layout_arguments {
  std::optional<input_array> ids;
  std::optional<input_array> offsets;
  std::int64_t group_size = 0;
};

template <class Work>
lens::batch_summary with_layout(const layout_arguments& layout, std::size_t n, Work&& work) {
  const int given = int(layout.ids.has_value()) + int(layout.offsets.has_value()) + int(layout.group_size > 0);
  if (given != 1) reject("index", "must be given exactly one way: ids [N], offsets [G + 1] or group_size > 0");
  if (layout.ids) {
    check_array(*layout.ids, "index", 1, "int64 ids", is_int64);
    check_length(*layout.ids, "index", 0, n, "N, one id per sample");
    return work(lens::id_groups{lens::span<const std::int64_t>(data_of<std::int64_t>(*layout.ids), n)});
  }
  if (layout.offsets) {
    check_array(*layout.offsets, "offsets", 1, "int64", is_int64);
    return work(lens::offset_groups{
        lens::span<const std::int64_t>(data_of<std::int64_t>(*layout.offsets), layout.offsets->shape(0))});
  }
  return work(lens::fixed_groups{static_cast<std::size_t>(layout.group_size)});
}

/// Per-group statistics as numpy arrays, one entry per group.
nb::dict statistics_arrays(const std::vector<lens::group_statistics>& stats) {
  const std::size_t g = stats.size();
  auto column = [&](auto member, auto zero) {
    using T = decltype(zero);
    T* values = new T[g];
    for (std::size_t k = 0; k < g; ++k) values[k] = static_cast<T>(stats[k].*member);
    nb::capsule owner(values, [](void* p) noexcept { delete[] static_cast<T*>(p); });
    return nb::ndarray<nb::numpy, T, nb::ndim<1>>(values, {g}, owner);
  };
  nb::dict out;
  out["group_id"] = column(&lens::group_statistics::group_id, std::int64_t{});
  out["size"] = column(&lens::group_statistics::size, std::int64_t{});
  out["num_correct"] = column(&lens::group_statistics::num_correct, std::int64_t{});
  out["mean"] = column(&lens::group_statistics::mean, double{});
  out["std"] = column(&lens::group_statistics::std, double{});
  out["difficulty"] = column(&lens::group_statistics::difficulty, double{});
  out["negative"] = column(&lens::group_statistics::negative, bool{});
  out["zero_variance"] = column(&lens::group_statistics::zero_variance, bool{});
  return out;
}

template <class Real>
lens::span<Real> output_view(const std::optional<output_array>& out, const char* argument, element real,
                             std::size_t ndim, std::size_t rows, std::size_t columns) {
  if (!out) return {};
  const element e = check_array(*out, argument, ndim, "float32 or float64", is_real);
  if (e != real)
    reject(argument, std::string("has dtype ") + element_name(e) + " but the rewards are " + element_name(real) +
                         "; outputs have the rewards' dtype");
  check_length(*out, argument, 0, rows, "N");
  if (ndim == 2) check_length(*out, argument, 1, columns, "T");
  return lens::span<Real>(mutable_data_of<Real>(*out), rows * (ndim == 2 ? columns : 1));
}

/// Token-level advantages in verl's layout: [N, T] token rewards (summed per
/// row) or [N] scores; [N, T] mask; [N, T] behaviour log-probs (LENS only).
/// Writes [N] advantages and/or [N, T] token advantages into the caller's
/// arrays. Returns (summary, statistics or None).
nb::tuple token_advantages(std::optional<input_array> token_rewards, std::optional<input_array> scores,
                           std::optional<input_array> mask, std::optional<input_array> logprobs,
                           std::optional<input_array> ids, std::optional<input_array> offsets,
                           std::int64_t group_size, std::optional<output_array> advantages,
                           std::optional<output_array> token_advantages_out, const lens::advantage_settings& settings,
                           bool want_statistics) {
  const bool is_lens = settings.kind == lens::estimator::lens;
  if (token_rewards.has_value() == scores.has_value())
    reject("token_level_rewards / scores", "give exactly one of the two");
  if (!mask) reject("response_mask", "is required for token-level inputs ([N, T])");
  check_array(*mask, "response_mask", 2, "bool, uint8, int32, int64, float32 or float64", is_mask);
  const std::size_t n = mask->shape(0), t = mask->shape(1);
  const input_array& rewards = token_rewards ? *token_rewards : *scores;
  const char* rewards_name = token_rewards ? "token_level_rewards" : "scores";
  const element real = check_array(rewards, rewards_name, token_rewards ? 2 : 1, "float32 or float64", is_real);
  check_length(rewards, rewards_name, 0, n, "N, the rows of response_mask");
  if (token_rewards) check_length(rewards, rewards_name, 1, t, "T, the columns of response_mask");
  element logprob_type = real;
  if (is_lens) {
    if (!logprobs) reject("old_log_probs", "is required by LENS (the [N, T] behaviour log-probs)");
    logprob_type =
        check_array(*logprobs, "old_log_probs", 2, "float32, float64, float16 or bfloat16", is_logprob);
    check_length(*logprobs, "old_log_probs", 0, n, "N, the rows of response_mask");
    check_length(*logprobs, "old_log_probs", 1, t, "T, the columns of response_mask");
  }
  if (!advantages && !token_advantages_out) reject("advantages", "no output was given");

  std::vector<lens::group_statistics> stats;
  const lens::batch_summary summary = with_real(real, [&](auto real_tag) {
    using Real = typename decltype(real_tag)::type;
    const auto per_sample = output_view<Real>(advantages, "advantages", real, 1, n, t);
    const auto per_token = output_view<Real>(token_advantages_out, "token_advantages", real, 2, n, t);
    return with_logprob(logprob_type, [&](auto logprob_tag) {
      using LogProb = typename decltype(logprob_tag)::type;
      return with_mask(element_of(mask->dtype()), [&](auto mask_tag) {
        using Mask = typename decltype(mask_tag)::type;
        lens::token_inputs<LogProb, Mask, Real> in;
        in.num_samples = n;
        in.num_tokens = t;
        (token_rewards ? in.token_rewards : in.scores) = data_of<Real>(rewards);
        in.logprobs = is_lens ? data_of<LogProb>(*logprobs) : nullptr;
        in.mask = data_of<Mask>(*mask);
        const layout_arguments layout{ids, offsets, group_size};
        nb::gil_scoped_release released;
        return with_layout(layout, n, [&](const auto& groups) {
          return lens::compute_advantages(in, groups, per_sample, per_token, settings,
                                          want_statistics ? &stats : nullptr);
        });
      });
    });
  });
  return nb::make_tuple(summary_array(summary), want_statistics ? nb::object(statistics_arrays(stats)) : nb::none());
}

/// Per-sample advantages: [N] scores and, for LENS, [N] summed log-probs and
/// [N] int64 lengths (TRL's and OpenRLHF's call).
nb::tuple sequence_advantages(input_array scores, std::optional<input_array> logprob_sums,
                              std::optional<input_array> lengths, std::optional<input_array> ids,
                              std::optional<input_array> offsets, std::int64_t group_size, output_array advantages,
                              const lens::advantage_settings& settings, bool want_statistics) {
  const bool is_lens = settings.kind == lens::estimator::lens;
  const element real = check_array(scores, "scores", 1, "float32 or float64", is_real);
  const std::size_t n = scores.shape(0);
  if (is_lens) {
    if (!logprob_sums || !lengths) reject("logprob_sums / response_lengths", "are required by LENS");
    const element e = check_array(*logprob_sums, "logprob_sums", 1, "float32 or float64", is_real);
    if (e != real) reject("logprob_sums", std::string("has dtype ") + element_name(e) + " but scores has " +
                                              element_name(real) + "; pass both in one dtype");
    check_length(*logprob_sums, "logprob_sums", 0, n, "N");
    check_array(*lengths, "response_lengths", 1, "int64", is_int64);
    check_length(*lengths, "response_lengths", 0, n, "N");
  }
  std::vector<lens::group_statistics> stats;
  const lens::batch_summary summary = with_real(real, [&](auto real_tag) {
    using Real = typename decltype(real_tag)::type;
    const auto out = output_view<Real>(std::optional<output_array>(advantages), "advantages", real, 1, n, 1);
    lens::sequence_inputs<Real> in;
    in.scores = lens::span<const Real>(data_of<Real>(scores), n);
    if (is_lens) {
      in.logprob_sums = lens::span<const Real>(data_of<Real>(*logprob_sums), n);
      in.response_lengths = lens::span<const std::int64_t>(data_of<std::int64_t>(*lengths), n);
    }
    const layout_arguments layout{ids, offsets, group_size};
    nb::gil_scoped_release released;
    return with_layout(layout, n, [&](const auto& groups) {
      return lens::compute_advantages(in, groups, out, settings, want_statistics ? &stats : nullptr);
    });
  });
  return nb::make_tuple(summary_array(summary), want_statistics ? nb::object(statistics_arrays(stats)) : nb::none());
}

/// REINFORCE++-baseline (verl): [N, T] token rewards, [N, T] mask, a layout;
/// writes [N] and [N, T] advantages. Returns (summary, statistics or None).
nb::tuple reinforce_pp_baseline(input_array token_rewards, input_array mask, std::optional<input_array> ids,
                                std::optional<input_array> offsets, std::int64_t group_size, output_array advantages,
                                output_array token_advantages_out, bool want_statistics) {
  check_array(mask, "response_mask", 2, "bool, uint8, int32, int64, float32 or float64", is_mask);
  const std::size_t n = mask.shape(0), t = mask.shape(1);
  const element real = check_array(token_rewards, "token_level_rewards", 2, "float32 or float64", is_real);
  check_length(token_rewards, "token_level_rewards", 0, n, "N, the rows of response_mask");
  check_length(token_rewards, "token_level_rewards", 1, t, "T, the columns of response_mask");
  std::vector<lens::group_statistics> stats;
  const lens::batch_summary summary = with_real(real, [&](auto real_tag) {
    using Real = typename decltype(real_tag)::type;
    const auto per_sample = output_view<Real>(std::optional<output_array>(advantages), "advantages", real, 1, n, t);
    const auto per_token =
        output_view<Real>(std::optional<output_array>(token_advantages_out), "token_advantages", real, 2, n, t);
    return with_mask(element_of(mask.dtype()), [&](auto mask_tag) {
      using Mask = typename decltype(mask_tag)::type;
      lens::token_inputs<Real, Mask> in;
      in.num_samples = n;
      in.num_tokens = t;
      in.token_rewards = data_of<Real>(token_rewards);
      in.mask = data_of<Mask>(mask);
      const layout_arguments layout{ids, offsets, group_size};
      nb::gil_scoped_release released;
      return with_layout(layout, n, [&](const auto& groups) {
        return lens::cpu::compute_reinforce_pp_baseline_advantages(in, groups, per_sample, per_token,
                                                                   want_statistics ? &stats : nullptr);
      });
    });
  });
  return nb::make_tuple(summary_array(summary), want_statistics ? nb::object(statistics_arrays(stats)) : nb::none());
}

/// REINFORCE++ (verl): [N, T] token rewards and mask, gamma; writes [N, T]
/// advantages and returns.
void reinforce_pp(input_array token_rewards, input_array mask, double gamma, output_array advantages,
                  output_array returns) {
  check_array(mask, "response_mask", 2, "bool, uint8, int32, int64, float32 or float64", is_mask);
  const std::size_t n = mask.shape(0), t = mask.shape(1);
  const element real = check_array(token_rewards, "token_level_rewards", 2, "float32 or float64", is_real);
  check_length(token_rewards, "token_level_rewards", 0, n, "N, the rows of response_mask");
  check_length(token_rewards, "token_level_rewards", 1, t, "T, the columns of response_mask");
  with_real(real, [&](auto real_tag) {
    using Real = typename decltype(real_tag)::type;
    const auto adv = output_view<Real>(std::optional<output_array>(advantages), "advantages", real, 2, n, t);
    const auto ret = output_view<Real>(std::optional<output_array>(returns), "returns", real, 2, n, t);
    with_mask(element_of(mask.dtype()), [&](auto mask_tag) {
      using Mask = typename decltype(mask_tag)::type;
      nb::gil_scoped_release released;
      lens::cpu::compute_reinforce_pp_advantages(n, t, data_of<Real>(token_rewards), data_of<Mask>(mask), gamma, adv,
                                                 ret);
    });
  });
}

/// Dense group numbers for any hashable objects (verl's uid strings), in
/// order of first appearance, through one dict lookup per sample. Returns
/// (numbers [N] int64, the distinct objects as a list).
nb::tuple number_objects(nb::handle sequence) {
  PyObject* fast = PySequence_Fast(sequence.ptr(), "lens: index must be a sequence (a numpy array or a list)");
  if (!fast) throw nb::python_error();
  nb::object owner = nb::steal(fast);
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
  PyObject** items = PySequence_Fast_ITEMS(fast);
  auto* numbers = new std::int64_t[static_cast<std::size_t>(n)];
  nb::capsule numbers_owner(numbers, [](void* p) noexcept { delete[] static_cast<std::int64_t*>(p); });
  nb::dict seen;
  nb::list distinct;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* found = PyDict_GetItemWithError(seen.ptr(), items[i]);
    if (found) {
      numbers[i] = PyLong_AsLongLong(found);
      continue;
    }
    if (PyErr_Occurred()) {
      PyErr_Clear();
      reject("index[" + std::to_string(i) + "]", "is not hashable; group ids must be hashable (str, int, ...)");
    }
    const std::int64_t next = static_cast<std::int64_t>(PyList_GET_SIZE(distinct.ptr()));
    nb::object number = nb::int_(next);
    if (PyDict_SetItem(seen.ptr(), items[i], number.ptr()) != 0) throw nb::python_error();
    distinct.append(nb::handle(items[i]));
    numbers[i] = next;
  }
  return nb::make_tuple(
      nb::ndarray<nb::numpy, std::int64_t, nb::ndim<1>>(numbers, {static_cast<std::size_t>(n)}, numbers_owner),
      distinct);
}

}  // namespace

NB_MODULE(_lens, m) {
  m.doc() = "lens: GRPO-family and LENS advantages (C++ core); use the lens package, not this module";
  m.attr("version") = LENS_VERSION_STRING;
  // The package caches a few Settings in module globals, which Python frees
  // after nanobind's exit-time leak check; the report would be noise.
  nb::set_leak_warnings(false);
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const lens::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  bind_settings(m);
  bind_distributed(m);
  nb::list summary_names;
  for (const char* name : summary_fields) summary_names.append(name);
  m.attr("summary_fields") = nb::tuple(summary_names);
  m.def("token_advantages", &token_advantages, nb::arg("token_rewards").none(), nb::arg("scores").none(),
        nb::arg("mask").none(), nb::arg("logprobs").none(), nb::arg("ids").none(), nb::arg("offsets").none(),
        nb::arg("group_size"), nb::arg("advantages").none(), nb::arg("token_advantages").none(),
        nb::arg("settings"), nb::arg("want_statistics"));
  m.def("sequence_advantages", &sequence_advantages, nb::arg("scores"), nb::arg("logprob_sums").none(),
        nb::arg("response_lengths").none(), nb::arg("ids").none(), nb::arg("offsets").none(),
        nb::arg("group_size"), nb::arg("advantages"), nb::arg("settings"), nb::arg("want_statistics"));
  m.def("reinforce_pp_baseline", &reinforce_pp_baseline, nb::arg("token_rewards"), nb::arg("mask"),
        nb::arg("ids").none(), nb::arg("offsets").none(), nb::arg("group_size"), nb::arg("advantages"),
        nb::arg("token_advantages"), nb::arg("want_statistics"));
  m.def("reinforce_pp", &reinforce_pp, nb::arg("token_rewards"), nb::arg("mask"), nb::arg("gamma"),
        nb::arg("advantages"), nb::arg("returns"));
  m.def("number_objects", &number_objects, nb::arg("index"));
  bind_policy_loss(m);
}
