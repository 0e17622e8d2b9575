// Thread safety: the API holds no global mutable state, so several threads may
// call it at once on shared (read-only) inputs with private outputs and get,
// bit for bit, what one thread gets. scripts/ci/60-tsan.sh runs this under
// ThreadSanitizer, which reports any data race the calls would have.
#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "reliability_support.hpp"

namespace {

/// Read-only inputs every thread shares.
struct shared_inputs {
  std::size_t n = 384, t = 48, group_size = 8;
  std::vector<float> scores, logprob_sums, token_rewards, logprobs;
  std::vector<std::int64_t> lengths, offsets, ids;
  std::vector<std::uint8_t> mask;

  shared_inputs() {
    std::mt19937_64 rng(60);
    std::uniform_real_distribution<float> logprob(-12.0f, 0.0f);
    token_rewards.assign(n * t, 0.0f);
    logprobs.resize(n * t);
    mask.assign(n * t, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t length = 1 + rng() % t;
      const float reward = (rng() % 3 == 0) ? 1.0f : 0.0f;
      float sum = 0;
      for (std::size_t c = 0; c < t; ++c) {
        logprobs[i * t + c] = logprob(rng);
        if (c < length) mask[i * t + c] = 1, sum += logprobs[i * t + c];
      }
      token_rewards[i * t + length - 1] = reward;
      scores.push_back(reward);
      logprob_sums.push_back(sum);
      lengths.push_back(static_cast<std::int64_t>(length));
      ids.push_back(static_cast<std::int64_t>((i * 7919) % 48) << 40);  // 48 sparse ids, interleaved
    }
    for (std::size_t k = 0; k <= n; k += 12) offsets.push_back(static_cast<std::int64_t>(k));
    if (offsets.back() != static_cast<std::int64_t>(n)) offsets.push_back(static_cast<std::int64_t>(n));
  }
};

/// Everything one call pattern writes, so results can be compared bitwise.
struct results {
  std::vector<float> sequence_fixed, sequence_offsets, sequence_ids, token, token_broadcast;
  std::vector<lens::group_statistics> stats;
  std::string rejection;
  bool operator==(const results& o) const {
    if (stats.size() != o.stats.size()) return false;
    for (std::size_t g = 0; g < stats.size(); ++g)
      if (stats[g].group_id != o.stats[g].group_id || stats[g].mean != o.stats[g].mean || stats[g].std != o.stats[g].std)
        return false;
    return sequence_fixed == o.sequence_fixed && sequence_offsets == o.sequence_offsets &&
           sequence_ids == o.sequence_ids && token == o.token && token_broadcast == o.token_broadcast &&
           rejection == o.rejection;
  }
};

results compute_all(const shared_inputs& in, const lens::advantage_settings& settings) {
  results r;
  r.sequence_fixed.resize(in.n);
  r.sequence_offsets.resize(in.n);
  r.sequence_ids.resize(in.n);
  r.token.resize(in.n);
  r.token_broadcast.resize(in.n * in.t);
  const lens::sequence_inputs<float> sequence{in.scores, in.logprob_sums, in.lengths};
  lens::compute_advantages(sequence, lens::fixed_groups{in.group_size}, lens::span<float>(r.sequence_fixed), settings);
  lens::compute_advantages(sequence, lens::offset_groups{in.offsets}, lens::span<float>(r.sequence_offsets), settings);
  lens::compute_advantages(sequence, lens::id_groups{in.ids}, lens::span<float>(r.sequence_ids), settings, &r.stats);
  lens::token_inputs<float> tokens;
  tokens.num_samples = in.n;
  tokens.num_tokens = in.t;
  tokens.token_rewards = in.token_rewards.data();
  tokens.logprobs = in.logprobs.data();
  tokens.mask = in.mask.data();
  lens::compute_advantages(tokens, lens::fixed_groups{in.group_size}, lens::span<float>(r.token),
                           lens::span<float>(r.token_broadcast), settings);
  // A rejected call from several threads at once: same message, nothing shared.
  try {
    lens::compute_advantages(sequence, lens::fixed_groups{in.group_size + 1}, lens::span<float>(r.sequence_fixed),
                             settings);
  } catch (const lens::invalid_argument& e) {
    r.rejection = e.what();
  }
  return r;
}

}  // namespace

TEST_CASE("concurrent calls on shared inputs give what one thread gives, bit for bit", "[threads]") {
  const shared_inputs in;
  const auto estimators = reliability::all_estimators();
  std::vector<results> expected;
  for (const auto& named : estimators) expected.push_back(compute_all(in, named.second));
  REQUIRE_FALSE(expected.front().rejection.empty());

  const unsigned num_threads = 6;
  const int rounds = 6;
  std::atomic<int> mismatches{0}, calls{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (unsigned k = 0; k < num_threads; ++k) {
    threads.emplace_back([&, k] {
      while (!go.load()) std::this_thread::yield();  // start together to maximise overlap
      for (int round = 0; round < rounds; ++round) {
        // Threads walk the estimators in different orders, so different
        // settings run side by side.
        for (std::size_t e = 0; e < estimators.size(); ++e) {
          const std::size_t which = (e + k) % estimators.size();
          if (!(compute_all(in, estimators[which].second) == expected[which])) ++mismatches;
          ++calls;
        }
      }
    });
  }
  go = true;
  for (auto& thread : threads) thread.join();
  REQUIRE(calls.load() == static_cast<int>(num_threads * rounds * estimators.size()));
  REQUIRE(mismatches.load() == 0);
}
