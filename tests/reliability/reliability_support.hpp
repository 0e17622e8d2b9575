// tests/reliability/reliability_support.hpp: helpers shared by the reliability
// tests: run the library on per-sample or token inputs in float or double,
// run the scalar reference on the same values, and compare.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "lens/lens.hpp"
#include "reference/scalar_reference.hpp"

namespace reliability {

/// One batch in plain doubles: what the reference reads, and what the tests
/// convert to float or double for the library.
struct batch {
  std::vector<double> scores;
  std::vector<double> logprob_sums;
  std::vector<std::int64_t> lengths;
  std::vector<std::int64_t> group_ids;  ///< per sample; the layout used decides how the library sees them
};

/// Relative tolerance the issue asks for, with a tiny absolute floor for
/// advantages that are 0 in the reference.
constexpr double relative_tolerance = 1e-5;
constexpr double absolute_floor = 1e-12;

inline bool close_to(double actual, double expected) {
  return std::abs(actual - expected) <= relative_tolerance * std::abs(expected) + absolute_floor;
}

inline std::vector<double> reference_advantages(const batch& b, const lens::advantage_settings& settings) {
  const std::vector<double> lengths(b.lengths.begin(), b.lengths.end());
  return lens_reference::compute(b.scores, b.logprob_sums, lengths, b.group_ids, settings).advantages;
}

/// Group ids i / group_size, the fixed layout seen by the reference.
inline std::vector<std::int64_t> fixed_ids(std::size_t n, std::size_t group_size) {
  std::vector<std::int64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<std::int64_t>(i / group_size);
  return ids;
}

/// Library advantages for per-sample inputs in precision Real, read back as double.
template <class Real, class Layout>
std::vector<double> library_advantages(const batch& b, const Layout& layout, const lens::advantage_settings& settings,
                                       lens::batch_summary* summary = nullptr) {
  const std::vector<Real> scores(b.scores.begin(), b.scores.end());
  const std::vector<Real> sums(b.logprob_sums.begin(), b.logprob_sums.end());
  std::vector<Real> out(b.scores.size(), Real(-999));
  const lens::sequence_inputs<Real> in{scores, sums, b.lengths};
  const lens::batch_summary s = lens::compute_advantages(in, layout, lens::span<Real>(out), settings);
  if (summary) *summary = s;
  return std::vector<double>(out.begin(), out.end());
}

/// Checks every advantage is finite and within tolerance of the reference;
/// the message names the first sample that is not.
inline void require_matches(const std::vector<double>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  std::size_t bad = actual.size();
  for (std::size_t i = 0; i < actual.size() && bad == actual.size(); ++i)
    if (!std::isfinite(actual[i]) || !close_to(actual[i], expected[i])) bad = i;
  if (bad != actual.size()) {
    std::ostringstream where;
    where.precision(17);
    where << "sample " << bad << ": library " << actual[bad] << ", reference " << expected[bad];
    FAIL(where.str());
  }
  SUCCEED("all " << actual.size() << " advantages finite and within 1e-5 of the reference");
}

/// The batch as the library sees it in precision Real: every value rounded
/// through Real, so the reference computes from exactly the same inputs.
template <class Real>
batch rounded(batch b) {
  for (double& x : b.scores) x = static_cast<double>(static_cast<Real>(x));
  for (double& x : b.logprob_sums) x = static_cast<double>(static_cast<Real>(x));
  return b;
}

/// Float and double library results against the reference, fixed layout.
inline void require_both_precisions_match(const batch& b, std::size_t group_size,
                                          const lens::advantage_settings& settings) {
  const batch as_double = rounded<double>(b), as_float = rounded<float>(b);
  require_matches(library_advantages<double>(as_double, lens::fixed_groups{group_size}, settings),
                  reference_advantages(as_double, settings));
  require_matches(library_advantages<float>(as_float, lens::fixed_groups{group_size}, settings),
                  reference_advantages(as_float, settings));
}

/// The settings every estimator is checked with.
inline std::vector<std::pair<std::string, lens::advantage_settings>> all_estimators() {
  lens::advantage_settings lens_geometric;
  lens_geometric.difficulty_source = lens::difficulty_probability::geometric_mean;
  lens::advantage_settings lens_no_group_factor;
  lens_no_group_factor.divide_penalty_by_group_size = false;
  return {{"lens", lens::presets::lens()},
          {"lens geometric-mean D_imp", lens_geometric},
          {"lens without 1/G", lens_no_group_factor},
          {"verl grpo", lens::presets::verl_grpo()},
          {"trl grpo", lens::presets::trl_grpo()},
          {"openrlhf grpo", lens::presets::openrlhf_grpo()},
          {"dr grpo", lens::presets::dr_grpo()},
          {"trl batch std", lens::presets::trl_grpo_batch_std()},
          {"rloo", lens::presets::rloo()}};
}

}  // namespace reliability
