// python/src/policy_loss.hpp: lens._lens.policy_loss, the CPU policy loss
// (lens/cpu/policy_loss.hpp) on DLPack arrays. The settings arrive as plain
// arguments (enum fields as the strings verl and TRL use); the metrics come
// back as a dict; the gradient is written into the caller's array. The torch
// operator with autograd and torch.compile support is python/lens/policy_loss.py.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "arrays.hpp"
#include "lens/cpu/policy_loss.hpp"

namespace lens_python {

namespace nb = nanobind;

template <class Enum>
struct loss_name {
  const char* text;
  Enum value;
};

template <class Enum, std::size_t N>
Enum parse_loss_name(const char* field, const std::string& text, const loss_name<Enum> (&table)[N]) {
  std::string allowed;
  for (const auto& entry : table) {
    if (text == entry.text) return entry.value;
    allowed += (allowed.empty() ? "'" : ", '") + std::string(entry.text) + "'";
  }
  throw lens::invalid_argument(std::string("lens: settings.") + field + " is '" + text + "'; must be one of " + allowed);
}

// The names verl's config uses (loss_mode, kl_loss_type, loss_agg_mode, rollout_is) plus lens's own.
inline const loss_name<lens::policy_loss_kind> loss_kind_names[] = {
    {"vanilla", lens::policy_loss_kind::vanilla}, {"gspo", lens::policy_loss_kind::gspo},
    {"cispo", lens::policy_loss_kind::cispo},     {"sapo", lens::policy_loss_kind::sapo},
    {"two_sided", lens::policy_loss_kind::two_sided}};
inline const loss_name<lens::kl_kind> kl_names[] = {
    {"none", lens::kl_kind::none},       {"k1", lens::kl_kind::k1},          {"kl", lens::kl_kind::k1},
    {"abs", lens::kl_kind::abs},         {"k2", lens::kl_kind::k2},          {"mse", lens::kl_kind::k2},
    {"k2+", lens::kl_kind::k2},          {"mse+", lens::kl_kind::k2},        {"k3", lens::kl_kind::k3},
    {"low_var_kl", lens::kl_kind::k3},   {"k1+", lens::kl_kind::k1_plus},    {"kl+", lens::kl_kind::k1_plus},
    {"abs+", lens::kl_kind::abs_plus},   {"k3+", lens::kl_kind::k3_plus},    {"low_var_kl+", lens::kl_kind::k3_plus}};
inline const loss_name<lens::rollout_is_level> is_level_names[] = {{"none", lens::rollout_is_level::none},
                                                                    {"token", lens::rollout_is_level::token},
                                                                    {"sequence", lens::rollout_is_level::sequence}};
inline const loss_name<lens::rollout_is_mode> is_mode_names[] = {{"truncate", lens::rollout_is_mode::truncate},
                                                                  {"mask", lens::rollout_is_mode::mask}};
inline const loss_name<lens::loss_aggregation> aggregation_names[] = {
    {"token-mean", lens::loss_aggregation::token_mean},
    {"seq-mean-token-sum", lens::loss_aggregation::seq_mean_token_sum},
    {"seq-mean-token-mean", lens::loss_aggregation::seq_mean_token_mean},
    {"seq-mean-token-sum-norm", lens::loss_aggregation::seq_mean_token_sum_norm}};

/// The metrics in the order python/lens/policy_loss.py names them.
inline void store_metrics(const lens::policy_loss_metrics& m, double* out) {
  const double values[] = {m.loss,           m.pg_loss,        m.kl_loss,       m.kl_mean,
                           m.pg_clipfrac,    m.clipfrac_high,  m.clipfrac_low,  m.clipfrac_dual,
                           m.ppo_kl,         m.is_weight_mean, m.is_weight_min, m.is_weight_max,
                           m.is_fraction_high, m.is_fraction_low, static_cast<double>(m.num_tokens),
                           static_cast<double>(m.num_sequences)};
  for (std::size_t k = 0; k < 16; ++k) out[k] = values[k];
}

/// The loss over [N, T] arrays; writes the gradient into grad (when given)
/// and the 16 metrics into metrics (float64 [16]).
inline void policy_loss(input_array logp, input_array old, input_array advantages, input_array mask,
                        std::optional<input_array> ref, std::optional<input_array> rollout,
                        std::optional<output_array> grad, output_array metrics, const std::string& kind,
                        double clip_ratio_low, double clip_ratio_high, double clip_ratio_c, double delta,
                        double tau_pos, double tau_neg, const std::string& kl, double kl_coef,
                        const std::string& is_level, const std::string& is_mode, double is_threshold,
                        double is_threshold_low, const std::string& aggregation, double loss_scale_factor,
                        double global_token_count, double global_sequence_count, double row_length_epsilon,
                        double logprob_tolerance) {
  lens::policy_loss_settings s;
  s.kind = parse_loss_name("kind", kind, loss_kind_names);
  s.clip_ratio_low = clip_ratio_low;
  s.clip_ratio_high = clip_ratio_high;
  s.clip_ratio_c = clip_ratio_c;
  s.delta = delta;
  s.tau_pos = tau_pos;
  s.tau_neg = tau_neg;
  s.kl = parse_loss_name("kl", kl, kl_names);
  s.kl_coef = kl_coef;
  s.is_level = parse_loss_name("is_level", is_level, is_level_names);
  s.is_mode = parse_loss_name("is_mode", is_mode, is_mode_names);
  s.is_threshold = is_threshold;
  s.is_threshold_low = is_threshold_low;
  s.aggregation = parse_loss_name("aggregation", aggregation, aggregation_names);
  s.loss_scale_factor = loss_scale_factor;
  s.global_token_count = global_token_count;
  s.global_sequence_count = global_sequence_count;
  s.row_length_epsilon = row_length_epsilon;
  s.logprob_tolerance = logprob_tolerance;

  const element real = check_array(logp, "log_prob", 2, "float32 or float64", is_real);
  const std::size_t n = logp.shape(0), t = logp.shape(1);
  auto same = [&](const input_array& a, const char* name) {
    const element e = check_array(a, name, 2, "float32 or float64", is_real);
    if (e != real)
      reject(name, std::string("has dtype ") + element_name(e) + " but log_prob has " + element_name(real));
    check_length(a, name, 0, n, "N, the rows of log_prob");
    check_length(a, name, 1, t, "T, the columns of log_prob");
  };
  same(old, "old_log_prob");
  if (s.kl != lens::kl_kind::none) {
    if (!ref) reject("ref_log_prob", "is required when kl is not 'none'");
    same(*ref, "ref_log_prob");
  }
  if (s.is_level != lens::rollout_is_level::none) {
    if (!rollout) reject("rollout_log_prob", "is required when is_level is not 'none'");
    same(*rollout, "rollout_log_prob");
  }
  const element mask_type = check_array(mask, "response_mask", 2, "bool, uint8, int32, int64, float32 or float64", is_mask);
  check_length(mask, "response_mask", 0, n, "N");
  check_length(mask, "response_mask", 1, t, "T");
  const element adv_type = check_array(advantages, "advantages", advantages.ndim() == 1 ? 1 : 2, "float32 or float64", is_real);
  if (adv_type != real) reject("advantages", std::string("has dtype ") + element_name(adv_type) + " but log_prob has " + element_name(real));
  check_length(advantages, "advantages", 0, n, "N");
  if (advantages.ndim() == 2) check_length(advantages, "advantages", 1, t, "T");
  if (grad) {
    const element e = check_array(*grad, "grad", 2, "float32 or float64", is_real);
    if (e != real) reject("grad", "must have log_prob's dtype");
    check_length(*grad, "grad", 0, n, "N");
    check_length(*grad, "grad", 1, t, "T");
  }
  if (element_of(metrics.dtype()) != element::f64 || metrics.ndim() != 1 || metrics.shape(0) != 16)
    reject("metrics", "must be a float64 array of 16");

  const std::size_t nt = n * t;
  lens::policy_loss_metrics m;
  with_real(real, [&](auto real_tag) {
    using Real = typename decltype(real_tag)::type;
    with_mask(mask_type, [&](auto mask_tag) {
      using Mask = typename decltype(mask_tag)::type;
      lens::policy_loss_inputs<Real, Mask> in;
      in.num_samples = n;
      in.num_tokens = t;
      in.logprobs = {data_of<Real>(logp), nt};
      in.old_logprobs = {data_of<Real>(old), nt};
      if (ref) in.ref_logprobs = {data_of<Real>(*ref), nt};
      if (rollout) in.rollout_logprobs = {data_of<Real>(*rollout), nt};
      in.mask = {data_of<Mask>(mask), nt};
      in.advantages = {data_of<Real>(advantages), advantages.ndim() == 2 ? nt : n};
      lens::span<Real> g = grad ? lens::span<Real>(mutable_data_of<Real>(*grad), nt) : lens::span<Real>();
      nb::gil_scoped_release released;
      m = lens::cpu::compute_policy_loss(in, s, g);
    });
  });
  store_metrics(m, static_cast<double*>(metrics.data()));
}

inline void bind_policy_loss(nb::module_& m) {
  m.def("policy_loss", &policy_loss, nb::arg("log_prob"), nb::arg("old_log_prob"), nb::arg("advantages"),
        nb::arg("response_mask"), nb::arg("ref_log_prob").none(), nb::arg("rollout_log_prob").none(),
        nb::arg("grad").none(), nb::arg("metrics"), nb::arg("kind"), nb::arg("clip_ratio_low"),
        nb::arg("clip_ratio_high"), nb::arg("clip_ratio_c"), nb::arg("delta"), nb::arg("tau_pos"),
        nb::arg("tau_neg"), nb::arg("kl"), nb::arg("kl_coef"), nb::arg("is_level"), nb::arg("is_mode"),
        nb::arg("is_threshold"), nb::arg("is_threshold_low"), nb::arg("aggregation"), nb::arg("loss_scale_factor"),
        nb::arg("global_token_count"), nb::arg("global_sequence_count"), nb::arg("row_length_epsilon"), nb::arg("logprob_tolerance"));
}

}  // namespace lens_python
