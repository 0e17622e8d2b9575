// python/src/settings.hpp: lens::advantage_settings as the Python class
// lens.Settings. Enum fields read and write as the strings the C++ enumerators
// are named (kind="grpo", singleton="zero", ...); presets come from the C++
// lens::presets, so Python and C++ share one set of defaults.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <string>

#include "lens/core/errors.hpp"
#include "lens/core/settings.hpp"

namespace lens_python {

namespace nb = nanobind;

template <class Enum, std::size_t N>
struct enum_names {
  const char* field;
  const char* names[N];
  std::string name(Enum value) const { return names[static_cast<int>(value)]; }
  Enum parse(const std::string& text) const {
    for (std::size_t k = 0; k < N; ++k)
      if (text == names[k]) return static_cast<Enum>(k);
    std::string allowed;
    for (std::size_t k = 0; k < N; ++k) allowed += (k ? ", " : "") + std::string("'") + names[k] + "'";
    throw lens::invalid_argument(std::string("lens: settings.") + field + " is '" + text + "'; must be one of " +
                                 allowed);
  }
};

// In the order of the C++ enumerators.
inline const enum_names<lens::estimator, 4> estimator_names{"kind", {"grpo", "grpo_batch_std", "rloo", "lens"}};
inline const enum_names<lens::singleton_policy, 2> singleton_names{"singleton", {"verl", "zero"}};
inline const enum_names<lens::difficulty_probability, 2> difficulty_names{"difficulty_source",
                                                                         {"sequence", "geometric_mean"}};
inline const enum_names<lens::lens_scope, 3> scope_names{"scope", {"all_groups", "negative_groups", "mixed_groups"}};

inline void bind_settings(nb::module_& m) {
  using S = lens::advantage_settings;
  nb::class_<S> cls(m, "Settings", "lens::advantage_settings: the estimator and its parameters");
  cls.def(nb::init<>());
  // Every field is bound through one of these two, which also record its name
  // (in declaration order) for the Python side: keyword arguments, copies and
  // the flat argument list of the torch ops.
  nb::list names;
  auto plain = [&](const char* name, auto S::*field) {
    cls.def_rw(name, field);
    names.append(name);
  };
  auto named = [&](const char* name, auto S::*field, const auto& table) {
    cls.def_prop_rw(
        name, [field, &table](const S& s) { return table.name(s.*field); },
        [field, &table](S& s, const std::string& v) { s.*field = table.parse(v); });
    names.append(name);
  };
  named("kind", &S::kind, estimator_names);
  plain("epsilon", &S::epsilon);
  plain("unbiased_std", &S::unbiased_std);
  plain("normalize_by_std", &S::normalize_by_std);
  named("singleton", &S::singleton, singleton_names);
  plain("alpha", &S::alpha);
  plain("floor_factor", &S::floor_factor);
  named("difficulty_source", &S::difficulty_source, difficulty_names);
  plain("divide_penalty_by_group_size", &S::divide_penalty_by_group_size);
  named("scope", &S::scope, scope_names);
  plain("logprob_tolerance", &S::logprob_tolerance);
  plain("skip_nan_scores", &S::skip_nan_scores);
  m.attr("settings_fields") = nb::tuple(names);

  nb::module_ presets = m.def_submodule("presets", "lens::presets: settings matching each anchor's defaults");
  presets.def("lens", &lens::presets::lens);
  presets.def("verl_grpo", &lens::presets::verl_grpo);
  presets.def("trl_grpo", &lens::presets::trl_grpo);
  presets.def("openrlhf_grpo", &lens::presets::openrlhf_grpo);
  presets.def("dr_grpo", &lens::presets::dr_grpo);
  presets.def("trl_grpo_batch_std", &lens::presets::trl_grpo_batch_std);
  presets.def("rloo", &lens::presets::rloo);
}

}  // namespace lens_python
