// tests/reference/scalar_reference.hpp: a deliberately plain, independent
// implementation of every estimator, in double, used as the oracle by the
// tests and as the "scalar reference" baseline by the benchmarks. It shares no
// code with the library's math: groups come from a std::map, variance is a
// centred two-pass sum, and the LENS ratio is written as 1 / expm1(log D - log pbar)
// instead of the library's u / (1 - u).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

#include "lens/core/settings.hpp"

namespace lens_reference {

struct reference_group {
  std::int64_t id = 0;
  std::vector<std::size_t> members;
  double mean = 0, std = 0, difficulty = 0;
  bool negative = false, zero_variance = false;
};

struct reference_result {
  std::vector<double> advantages;
  std::vector<reference_group> groups;  // in order of first appearance of the id
};

/// scores[i], logprob_sums[i] and lengths[i] per sample; group_ids[i] per
/// sample (any order). logprob_sums/lengths are only read for LENS.
inline reference_result compute(const std::vector<double>& scores, const std::vector<double>& logprob_sums,
                                const std::vector<double>& lengths, const std::vector<std::int64_t>& group_ids,
                                const lens::advantage_settings& s) {
  const std::size_t n = scores.size();
  reference_result out;
  out.advantages.assign(n, 0.0);
  std::map<std::int64_t, std::size_t> position;
  for (std::size_t i = 0; i < n; ++i) {
    auto it = position.find(group_ids[i]);
    if (it == position.end()) {
      position[group_ids[i]] = out.groups.size();
      out.groups.push_back({});
      out.groups.back().id = group_ids[i];
      it = position.find(group_ids[i]);
    }
    out.groups[it->second].members.push_back(i);
  }

  const bool lens = s.kind == lens::estimator::lens;
  std::vector<std::vector<double>> shaped(out.groups.size());
  std::vector<bool> calibrated(out.groups.size(), false);
  for (std::size_t g = 0; g < out.groups.size(); ++g) {
    auto& grp = out.groups[g];
    const double size = static_cast<double>(grp.members.size());
    bool any_correct = false;
    for (std::size_t i : grp.members) any_correct = any_correct || scores[i] > 0;
    grp.negative = !any_correct;
    bool calibrate = false;
    if (lens) {
      calibrate = grp.negative ? s.scope != lens::lens_scope::mixed_groups : s.scope != lens::lens_scope::negative_groups;
    }
    calibrated[g] = calibrate;
    for (std::size_t i : grp.members) shaped[g].push_back(scores[i]);
    if (!calibrate) continue;
    // log pbar and log p per member
    std::vector<double> log_pbar, log_p;
    for (std::size_t i : grp.members) {
      const double l = std::min(logprob_sums[i], 0.0);
      log_pbar.push_back(std::min(l / lengths[i], 0.0));
      log_p.push_back(s.difficulty_source == lens::difficulty_probability::sequence ? l : log_pbar.back());
    }
    const double log_floor = std::log(s.floor_factor) + *std::max_element(log_pbar.begin(), log_pbar.end());
    double log_d = log_floor;
    if (any_correct) {
      // log sum_{r>0} r / p, shifted by its largest term
      double largest = -INFINITY;
      for (std::size_t k = 0; k < grp.members.size(); ++k)
        if (scores[grp.members[k]] > 0) largest = std::max(largest, std::log(scores[grp.members[k]]) - log_p[k]);
      double total = 0;
      for (std::size_t k = 0; k < grp.members.size(); ++k)
        if (scores[grp.members[k]] > 0) total += std::exp(std::log(scores[grp.members[k]]) - log_p[k] - largest);
      const double log_importance = std::log(size) - (largest + std::log(total));
      log_d = std::max(log_importance, log_floor);
    }
    grp.difficulty = std::exp(log_d);
    const double weight = s.divide_penalty_by_group_size ? 1.0 / size : 1.0;
    for (std::size_t k = 0; k < grp.members.size(); ++k) {
      const double r = scores[grp.members[k]];
      const double ratio = 1.0 / std::expm1(log_d - log_pbar[k]);  // pbar / (D - pbar)
      shaped[g][k] = r - (1.0 - r) * weight * ratio;
    }
  }

  // batch std over every shaped score (only the batch-std estimator reads it)
  double batch_std = 0;
  {
    double sum = 0, count = 0;
    for (auto& v : shaped) for (double x : v) { sum += x; count += 1; }
    const double mean = count ? sum / count : 0;
    double sq = 0;
    for (auto& v : shaped) for (double x : v) sq += (x - mean) * (x - mean);
    const double divisor = s.unbiased_std ? count - 1 : count;
    batch_std = divisor > 0 ? std::sqrt(sq / divisor) : 0;
  }

  for (std::size_t g = 0; g < out.groups.size(); ++g) {
    auto& grp = out.groups[g];
    const auto& v = shaped[g];
    const double size = static_cast<double>(v.size());
    double sum = 0;
    for (double x : v) sum += x;
    const double mean = sum / size;
    double sq = 0;
    for (double x : v) sq += (x - mean) * (x - mean);
    const double divisor = s.unbiased_std ? size - 1 : size;
    const double std = divisor > 0 ? std::sqrt(sq / divisor) : 0;
    grp.mean = mean;
    grp.std = std;
    grp.zero_variance = v.size() >= 2 && *std::max_element(v.begin(), v.end()) == *std::min_element(v.begin(), v.end());
    for (std::size_t k = 0; k < v.size(); ++k) {
      double a = 0;
      const double x = v[k];
      if (v.size() == 1) {
        if (s.singleton == lens::singleton_policy::zero) a = 0;
        else if (s.kind == lens::estimator::lens && calibrated[g] && grp.negative) a = 0;  // its own mean
        else if (s.kind == lens::estimator::rloo) a = x;
        else if (!s.normalize_by_std) a = x;
        else if (s.kind == lens::estimator::grpo_batch_std) a = x / (batch_std + s.epsilon);
        else a = x / (1.0 + s.epsilon);
      } else if (grp.zero_variance) {  // size >= 2 here; computed once above (O(G), not O(G^2))
        a = 0;
      } else if (s.kind == lens::estimator::rloo) {
        // s minus the mean of the others
        a = x - (sum - x) / (size - 1);
      } else if (s.kind == lens::estimator::lens && calibrated[g] && grp.negative) {
        a = s.alpha * (x - mean);
      } else if (!s.normalize_by_std) {
        a = x - mean;
      } else if (s.kind == lens::estimator::grpo_batch_std) {
        a = (x - mean) / (batch_std + s.epsilon);
      } else {
        a = (x - mean) / (std + s.epsilon);
      }
      out.advantages[grp.members[k]] = a;
    }
  }
  return out;
}

}  // namespace lens_reference
