// tests/core/random_batches.hpp: random ragged batches in all three layouts,
// for the property and reference tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace lens_test {

struct random_batch {
  std::vector<std::int64_t> offsets;     // contiguous groups
  std::vector<std::int64_t> ids;         // per sample, sparse 64-bit ids
  std::vector<double> scores;            // rewards in [0, 1], binary or fractional
  std::vector<double> logprob_sums;      // <= 0
  std::vector<std::int64_t> lengths;     // >= 1
  std::size_t size() const { return scores.size(); }
};

/// num_groups groups of 1..max_group_size samples; about a third of the groups
/// negative, some all-correct, some with fractional rewards.
inline random_batch make_random_batch(std::mt19937_64& rng, std::size_t num_groups, std::size_t max_group_size) {
  random_batch b;
  b.offsets.push_back(0);
  std::uniform_int_distribution<std::size_t> size_dist(1, max_group_size);
  std::uniform_int_distribution<int> kind_dist(0, 5);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<std::int64_t> id_dist(std::numeric_limits<std::int64_t>::min(),
                                                      std::numeric_limits<std::int64_t>::max());
  std::uniform_int_distribution<std::int64_t> length_dist(1, 300);
  for (std::size_t g = 0; g < num_groups; ++g) {
    const std::size_t size = size_dist(rng);
    const int kind = kind_dist(rng);  // 0,1: negative; 2: all correct; 3: fractional; else binary mixed
    const std::int64_t id = id_dist(rng);
    for (std::size_t k = 0; k < size; ++k) {
      double r;
      if (kind <= 1) r = 0;
      else if (kind == 2) r = 1;
      else if (kind == 3) r = unit(rng) < 0.3 ? 0.0 : unit(rng);
      else r = unit(rng) < 0.4 ? 1.0 : 0.0;
      const std::int64_t length = length_dist(rng);
      const double mean_logprob = -3.0 * unit(rng) * unit(rng);  // pbar from about 0.05 to 1
      b.scores.push_back(r);
      b.lengths.push_back(length);
      b.logprob_sums.push_back(mean_logprob * static_cast<double>(length));
      b.ids.push_back(id);
    }
    b.offsets.push_back(static_cast<std::int64_t>(b.scores.size()));
  }
  return b;
}

/// A permutation of 0..n-1.
inline std::vector<std::size_t> random_permutation(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::size_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  std::shuffle(p.begin(), p.end(), rng);
  return p;
}

template <class T>
std::vector<T> permuted(const std::vector<T>& v, const std::vector<std::size_t>& p) {
  std::vector<T> out(v.size());
  for (std::size_t i = 0; i < p.size(); ++i) out[i] = v[p[i]];
  return out;
}

}  // namespace lens_test
