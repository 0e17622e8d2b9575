// python/src/distributed.hpp: lens::cpu::distributed_batch as
// lens._lens.DistributedBatch, the compiled half of lens.distributed. Python
// moves the buffers (torch.distributed.all_gather); everything else, the
// checks, the partials, the merge and the finish, is the C++ class. Also
// hash_keys: verl's uid strings as two 64-bit hashes of their UTF-8 bytes.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "lens/cpu/distributed.hpp"

namespace lens_python {

namespace nb = nanobind;

namespace distributed_detail {

/// Two independent 64-bit hashes of a byte string (FNV-1a, and a
/// multiply-rotate hash), each finished with splitmix64's mixer: the id and
/// the check carried beside it, so a collision of one is detected.
inline void hash_bytes(const unsigned char* p, std::size_t n, std::uint64_t tag, std::uint64_t* id,
                       std::uint64_t* check) {
  std::uint64_t a = 0xcbf29ce484222325ULL, b = 0x243f6a8885a308d3ULL;
  auto step = [&](std::uint64_t byte) {
    a = (a ^ byte) * 0x100000001b3ULL;
    b = (b + byte + 1) * 0x9e3779b97f4a7c15ULL;
    b ^= b >> 29;
  };
  step(tag);  // the key's type, as a leading byte
  for (std::size_t k = 0; k < n; ++k) step(p[k]);
  *id = lens::cpu::detail::mix_id(a ^ n);
  *check = lens::cpu::detail::mix_id(b + n);
}

/// (ids [N] int64, checks [N] int64) for a sequence of str (UTF-8 bytes),
/// bytes or int keys; a leading type byte keeps "1", b"1" and 1 apart.
inline nb::tuple hash_keys(nb::handle sequence) {
  PyObject* fast = PySequence_Fast(sequence.ptr(), "lens: index must be a sequence (a numpy array or a list)");
  if (!fast) throw nb::python_error();
  nb::object owner = nb::steal(fast);
  const std::size_t n = static_cast<std::size_t>(PySequence_Fast_GET_SIZE(fast));
  PyObject** items = PySequence_Fast_ITEMS(fast);
  auto* ids = new std::int64_t[n];
  nb::capsule ids_owner(ids, [](void* p) noexcept { delete[] static_cast<std::int64_t*>(p); });
  auto* checks = new std::int64_t[n];
  nb::capsule checks_owner(checks, [](void* p) noexcept { delete[] static_cast<std::int64_t*>(p); });
  for (std::size_t i = 0; i < n; ++i) {
    PyObject* item = items[i];
    std::uint64_t id = 0, check = 0;
    if (PyUnicode_Check(item)) {
      Py_ssize_t size = 0;
      const char* text = PyUnicode_AsUTF8AndSize(item, &size);
      if (!text) throw nb::python_error();
      hash_bytes(reinterpret_cast<const unsigned char*>(text), static_cast<std::size_t>(size), 1, &id, &check);
    } else if (PyBytes_Check(item)) {
      hash_bytes(reinterpret_cast<const unsigned char*>(PyBytes_AS_STRING(item)),
                 static_cast<std::size_t>(PyBytes_GET_SIZE(item)), 2, &id, &check);
    } else {
      PyObject* number = PyNumber_Index(item);
      if (!number) {
        PyErr_Clear();
        reject("index[" + std::to_string(i) + "]",
               "is neither str, bytes nor an integer; across ranks group keys must hash the same everywhere");
      }
      int overflow = 0;
      const long long value = PyLong_AsLongLongAndOverflow(number, &overflow);
      Py_DECREF(number);
      if (overflow) reject("index[" + std::to_string(i) + "]", "is an integer outside int64");
      unsigned char bytes[8];
      for (int k = 0; k < 8; ++k) bytes[k] = static_cast<unsigned char>(static_cast<std::uint64_t>(value) >> (8 * k));
      hash_bytes(bytes, 8, 3, &id, &check);
    }
    ids[i] = static_cast<std::int64_t>(id);
    checks[i] = static_cast<std::int64_t>(check);
  }
  return nb::make_tuple(nb::ndarray<nb::numpy, std::int64_t, nb::ndim<1>>(ids, {n}, ids_owner),
                        nb::ndarray<nb::numpy, std::int64_t, nb::ndim<1>>(checks, {n}, checks_owner));
}

using words_array = nb::ndarray<nb::numpy, std::uint64_t, nb::ndim<1>>;

/// A distributed_batch over token-level inputs in verl's layout (the
/// arguments of lens._lens.token_advantages, checked the same way).
inline lens::cpu::distributed_batch* make_token_batch(std::optional<input_array> token_rewards,
                                                      std::optional<input_array> scores, input_array mask,
                                                      std::optional<input_array> logprobs, input_array ids,
                                                      std::optional<input_array> checks,
                                                      const lens::advantage_settings& settings, bool local_groups) {
  const bool is_lens = settings.kind == lens::estimator::lens;
  if (token_rewards.has_value() == scores.has_value())
    reject("token_level_rewards / scores", "give exactly one of the two");
  check_array(mask, "response_mask", 2, "bool, uint8, int32, int64, float32 or float64", is_mask);
  const std::size_t n = mask.shape(0), t = mask.shape(1);
  const input_array& rewards = token_rewards ? *token_rewards : *scores;
  const char* rewards_name = token_rewards ? "token_level_rewards" : "scores";
  const element real = check_array(rewards, rewards_name, token_rewards ? 2 : 1, "float32 or float64", is_real);
  check_length(rewards, rewards_name, 0, n, "N, the rows of response_mask");
  if (token_rewards) check_length(rewards, rewards_name, 1, t, "T, the columns of response_mask");
  if (is_lens) {
    if (!logprobs) reject("old_log_probs", "is required by LENS (the [N, T] behaviour log-probs)");
    const element e = check_array(*logprobs, "old_log_probs", 2, "float32 or float64", is_logprob);
    check_length(*logprobs, "old_log_probs", 0, n, "N, the rows of response_mask");
    check_length(*logprobs, "old_log_probs", 1, t, "T, the columns of response_mask");
    if (e != real)
      reject("old_log_probs", std::string("has dtype ") + element_name(e) + " but " + rewards_name + " has " +
                                  element_name(real) + "; pass both in one dtype");
  }
  check_array(ids, "index", 1, "int64 ids", is_int64);
  check_length(ids, "index", 0, n, "N, one id per sample");
  lens::span<const std::int64_t> check_view;
  if (checks) {
    check_array(*checks, "index checks", 1, "int64", is_int64);
    check_length(*checks, "index checks", 0, n, "N");
    check_view = lens::span<const std::int64_t>(data_of<std::int64_t>(*checks), n);
  }
  const lens::id_groups groups{lens::span<const std::int64_t>(data_of<std::int64_t>(ids), n)};
  const auto kind = local_groups ? lens::cpu::id_kind::local
                    : checks     ? lens::cpu::id_kind::hashed
                                 : lens::cpu::id_kind::int64;
  return with_real(real, [&](auto real_tag) {
    using Real = typename decltype(real_tag)::type;
    return with_mask(element_of(mask.dtype()), [&](auto mask_tag) {
      using Mask = typename decltype(mask_tag)::type;
      lens::token_inputs<Real, Mask> in;
      in.num_samples = n;
      in.num_tokens = t;
      (token_rewards ? in.token_rewards : in.scores) = data_of<Real>(rewards);
      in.logprobs = is_lens ? data_of<Real>(*logprobs) : nullptr;
      in.mask = data_of<Mask>(mask);
      nb::gil_scoped_release released;
      return new lens::cpu::distributed_batch(in, groups, settings, check_view, kind, true);
    });
  });
}

/// Writes [N] advantages and [N, T] token advantages (the outputs' dtype is
/// the batch's) from the merged statistics. Returns the summary's 7 numbers.
inline nb::ndarray<nb::numpy, double, nb::ndim<1>> finish_tokens(const lens::cpu::distributed_batch& batch,
                                                                 input_array mask, output_array advantages,
                                                                 output_array token_advantages) {
  check_array(mask, "response_mask", 2, "bool, uint8, int32, int64, float32 or float64", is_mask);
  const element real = check_array(advantages, "advantages", 1, "float32 or float64", is_real);
  if (check_array(token_advantages, "token_advantages", 2, "float32 or float64", is_real) != real)
    reject("token_advantages", "has another dtype than advantages");
  const std::size_t n = mask.shape(0), t = mask.shape(1);
  check_length(advantages, "advantages", 0, n, "N");
  check_length(token_advantages, "token_advantages", 0, n, "N");
  check_length(token_advantages, "token_advantages", 1, t, "T");
  const lens::batch_summary s = with_real(real, [&](auto real_tag) {
    using Real = typename decltype(real_tag)::type;
    return with_mask(element_of(mask.dtype()), [&](auto mask_tag) {
      using Mask = typename decltype(mask_tag)::type;
      lens::token_inputs<Real, Mask> in;
      in.num_samples = n;
      in.num_tokens = t;
      in.mask = data_of<Mask>(mask);
      nb::gil_scoped_release released;
      return batch.finish(in, lens::span<Real>(mutable_data_of<Real>(advantages), n),
                          lens::span<Real>(mutable_data_of<Real>(token_advantages), n * t));
    });
  });
  return summary_array(s);
}

inline lens::span<std::uint64_t> words_of(output_array& a, const char* argument) {
  if (a.device_type() != nb::device::cpu::value || a.ndim() != 1 || a.dtype().bits != 64 ||
      a.dtype().code == static_cast<std::uint8_t>(nb::dlpack::dtype_code::Float) || !is_contiguous(a))
    reject(argument, "must be a contiguous 1-D int64 array in host memory");
  return lens::span<std::uint64_t>(static_cast<std::uint64_t*>(a.data()), a.shape(0));
}

}  // namespace distributed_detail

inline void bind_distributed(nb::module_& m) {
  using lens::cpu::distributed_batch;
  namespace d = distributed_detail;
  m.def("hash_keys", &d::hash_keys, nb::arg("index"));
  nb::class_<distributed_batch> cls(m, "DistributedBatch",
                                    "lens::cpu::distributed_batch: one rank's part of a distributed call");
  cls.def_static("tokens", &d::make_token_batch, nb::arg("token_rewards").none(), nb::arg("scores").none(),
                 nb::arg("mask"), nb::arg("logprobs").none(), nb::arg("ids"), nb::arg("checks").none(),
                 nb::arg("settings"), nb::arg("local_groups") = false, nb::rv_policy::take_ownership);
  cls.def_static("failed", [](const std::string& message) { return new distributed_batch(distributed_batch::failed(message)); },
                 nb::arg("message"), nb::rv_policy::take_ownership);
  cls.def_prop_ro("num_exchanges", &distributed_batch::num_exchanges);
  cls.def_prop_ro("num_samples", &distributed_batch::num_samples);
  cls.def_prop_ro("num_local_groups", &distributed_batch::num_local_groups);
  cls.def_prop_ro("num_groups", &distributed_batch::num_groups);
  cls.def_prop_ro("total_samples", &distributed_batch::total_samples);
  cls.def_ro_static("header_words", &distributed_batch::header_words);
  cls.def("words", &distributed_batch::words, nb::arg("exchange"));
  cls.def("exchange_words", &distributed_batch::exchange_words, nb::arg("exchange"), nb::arg("capacity"));
  cls.def(
      "write",
      [](const distributed_batch& b, std::size_t e, output_array out) { b.write(e, d::words_of(out, "out")); },
      nb::arg("exchange"), nb::arg("out"));
  cls.def(
      "merge",
      [](distributed_batch& b, std::size_t e, output_array gathered, std::size_t num_ranks, std::size_t rank) {
        const auto words = d::words_of(gathered, "gathered");
        nb::gil_scoped_release released;
        return b.merge(e, lens::span<const std::uint64_t>(words.data(), words.size()), num_ranks, rank);
      },
      nb::arg("exchange"), nb::arg("gathered"), nb::arg("num_ranks"), nb::arg("rank"));
  cls.def("finish_tokens", &d::finish_tokens, nb::arg("mask"), nb::arg("advantages"), nb::arg("token_advantages"));
}

}  // namespace lens_python
