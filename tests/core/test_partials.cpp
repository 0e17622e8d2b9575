// tests/core/test_partials.cpp: lens::cpu::distributed_batch with ranks
// simulated in one process (the all-gather is a copy), against the
// single-process engine on the concatenated batch. Groups wholly on one rank
// match bitwise (a partial with count 0 is the merge's identity); split groups
// within rounding of Chan's merge (1e-12 relative in double).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <lens/cpu/distributed.hpp>
#include <lens/lens.hpp>

#include "random_batches.hpp"

namespace {

using lens::cpu::distributed_batch;

struct split_batch {
  std::vector<lens_test::random_batch> ranks;  // each rank's samples, in the order they appear in `whole`
  lens_test::random_batch whole;               // rank 0's samples, then rank 1's, ...
  std::vector<bool> split;                     // [whole.size()] the sample's group has samples on >1 rank
};

/// Shuffles a random batch and deals its samples to num_ranks ranks: each
/// group either wholly to one rank or spread over random ranks; rank
/// `empty_rank` (if < num_ranks) gets nothing.
split_batch deal(std::mt19937_64& rng, const lens_test::random_batch& b, std::size_t num_ranks,
                 std::size_t empty_rank) {
  const auto order = lens_test::random_permutation(rng, b.size());
  std::uniform_int_distribution<std::size_t> pick(0, num_ranks - 1);
  std::vector<std::size_t> home(b.size());
  std::vector<int> group_mode;  // per group (offsets order): 0 wholly on one rank, 1 spread
  std::vector<std::size_t> group_rank;
  for (std::size_t g = 0; g + 1 < b.offsets.size(); ++g) {
    group_mode.push_back(static_cast<int>(rng() % 2));
    std::size_t r = pick(rng);
    while (r == empty_rank) r = pick(rng);
    group_rank.push_back(r);
  }
  std::vector<std::size_t> group_of(b.size());
  for (std::size_t g = 0; g + 1 < b.offsets.size(); ++g)
    for (auto k = b.offsets[g]; k < b.offsets[g + 1]; ++k) group_of[static_cast<std::size_t>(k)] = g;
  split_batch s;
  s.ranks.resize(num_ranks);
  std::vector<std::vector<std::size_t>> members(num_ranks);
  for (std::size_t i : order) {
    const std::size_t g = group_of[i];
    std::size_t r = group_rank[g];
    if (group_mode[g] == 1) {
      r = pick(rng);
      while (r == empty_rank) r = pick(rng);
    }
    members[r].push_back(i);
  }
  std::vector<std::vector<std::size_t>> ranks_of_group(b.offsets.size());
  for (std::size_t r = 0; r < num_ranks; ++r)
    for (std::size_t i : members[r]) {
      auto& list = ranks_of_group[group_of[i]];
      if (list.empty() || list.back() != r) list.push_back(r);
    }
  for (std::size_t r = 0; r < num_ranks; ++r)
    for (std::size_t i : members[r]) {
      for (auto* dst : {&s.ranks[r], &s.whole}) {
        dst->scores.push_back(b.scores[i]);
        dst->logprob_sums.push_back(b.logprob_sums[i]);
        dst->lengths.push_back(b.lengths[i]);
        dst->ids.push_back(b.ids[i]);
      }
      s.split.push_back(ranks_of_group[group_of[i]].size() > 1);
    }
  return s;
}

lens::sequence_inputs<double> inputs_of(const lens_test::random_batch& b) {
  return {lens::span<const double>(b.scores.data(), b.size()),
          lens::span<const double>(b.logprob_sums.data(), b.size()),
          lens::span<const std::int64_t>(b.lengths.data(), b.size())};
}

/// Runs the exchanges of every rank in lockstep; all_gather is a copy of
/// each rank's buffer into one array. Returns the first exchange's capacity
/// after the call (grown when a rank needed more).
std::size_t exchange_all(std::vector<distributed_batch>& batches, std::size_t capacity) {
  const std::size_t r_count = batches.size();
  for (std::size_t e = 0; e < batches[0].num_exchanges(); ++e) {
    std::size_t stride = batches[0].exchange_words(e, capacity);
    for (auto& b : batches) REQUIRE(b.exchange_words(e, capacity) == stride);
    for (;;) {
      std::vector<std::uint64_t> all(stride * r_count);
      for (std::size_t r = 0; r < r_count; ++r)
        batches[r].write(e, lens::span<std::uint64_t>(all.data() + r * stride, stride));
      std::size_t needed = 0;
      for (std::size_t r = 0; r < r_count; ++r) {
        const std::size_t n = batches[r].merge(e, lens::span<const std::uint64_t>(all), r_count, r);
        if (r == 0) needed = n;
        REQUIRE(n == needed);  // every rank agrees
      }
      if (needed == 0) break;
      REQUIRE(needed > stride);
      stride = needed;
      if (e == 0) capacity = needed;
    }
  }
  return capacity;
}

std::vector<lens::advantage_settings> all_settings() {
  using namespace lens;
  std::vector<advantage_settings> out{presets::verl_grpo(), presets::trl_grpo(),         presets::openrlhf_grpo(),
                                      presets::dr_grpo(),   presets::trl_grpo_batch_std(), presets::rloo(),
                                      presets::lens()};
  for (auto scope : {lens_scope::negative_groups, lens_scope::mixed_groups}) {
    advantage_settings s = presets::lens();
    s.scope = scope;
    out.push_back(s);
  }
  advantage_settings s = presets::lens();
  s.difficulty_source = difficulty_probability::geometric_mean;
  s.singleton = singleton_policy::zero;
  out.push_back(s);
  return out;
}

}  // namespace

TEST_CASE("distributed advantages equal the single-process advantages of the concatenated batch", "[partials]") {
  std::mt19937_64 rng(15);
  for (std::size_t num_ranks : {1u, 2u, 3u, 4u}) {
    for (int trial = 0; trial < 6; ++trial) {
      const auto base = lens_test::make_random_batch(rng, 40, 12);
      const std::size_t empty_rank = trial % 2 ? num_ranks - 1 : num_ranks;  // odd trials: the last rank is empty
      const split_batch s = deal(rng, base, num_ranks, num_ranks > 1 ? empty_rank : num_ranks);
      std::size_t num_split = 0;
      for (bool b : s.split) num_split += b;
      for (const auto& settings : all_settings()) {
        CAPTURE(num_ranks, trial, static_cast<int>(settings.kind), static_cast<int>(settings.scope));
        std::vector<double> expected(s.whole.size());
        std::vector<lens::group_statistics> expected_stats;
        const lens::batch_summary want = lens::compute_advantages(
            inputs_of(s.whole), lens::id_groups{s.whole.ids}, lens::span<double>(expected), settings, &expected_stats);

        std::vector<distributed_batch> batches;
        for (const auto& r : s.ranks)
          batches.emplace_back(inputs_of(r), lens::id_groups{r.ids}, settings);
        exchange_all(batches, 16);

        std::size_t offset = 0, nonzero = 0;
        std::vector<std::vector<lens::group_statistics>> stats(num_ranks);
        for (std::size_t r = 0; r < num_ranks; ++r) {
          std::vector<double> got(s.ranks[r].size());
          const lens::batch_summary summary = batches[r].finish(lens::span<double>(got), &stats[r]);
          REQUIRE(summary.num_groups == want.num_groups);
          REQUIRE(summary.num_negative_groups == want.num_negative_groups);
          REQUIRE(summary.num_zero_variance_groups == want.num_zero_variance_groups);
          REQUIRE(summary.num_samples == s.ranks[r].size());
          nonzero += summary.num_nonzero_advantages;
          for (std::size_t i = 0; i < got.size(); ++i, ++offset) {
            const double e = expected[offset];
            // bitwise: the group lies on one rank and no batch-wide statistic mixes split groups in
            const bool bitwise = !s.split[offset] && (settings.kind != lens::estimator::grpo_batch_std || num_split == 0);
            if (bitwise) {
              REQUIRE(got[i] == e);
              REQUIRE(std::signbit(got[i]) == std::signbit(e));
            } else {
              REQUIRE(std::abs(got[i] - e) <= 1e-12 * std::max(1.0, std::abs(e)));
            }
          }
          // the merged statistics are bitwise the same on every rank, in the single-process order
          REQUIRE(stats[r].size() == expected_stats.size());
          for (std::size_t g = 0; g < stats[r].size(); ++g) {
            REQUIRE(stats[r][g].group_id == expected_stats[g].group_id);
            REQUIRE(stats[r][g].size == expected_stats[g].size);
            REQUIRE(stats[r][g].num_correct == expected_stats[g].num_correct);
            REQUIRE(std::memcmp(&stats[r][g].mean, &stats[0][g].mean, sizeof(double)) == 0);
            REQUIRE(std::memcmp(&stats[r][g].std, &stats[0][g].std, sizeof(double)) == 0);
            REQUIRE(std::memcmp(&stats[r][g].difficulty, &stats[0][g].difficulty, sizeof(double)) == 0);
            REQUIRE(std::abs(stats[r][g].mean - expected_stats[g].mean) <= 1e-12);
            REQUIRE(std::abs(stats[r][g].difficulty - expected_stats[g].difficulty) <=
                    1e-12 * std::max(1.0, expected_stats[g].difficulty));
          }
        }
        REQUIRE(nonzero == want.num_nonzero_advantages);
      }
    }
  }
}

TEST_CASE("distributed exchange words: O(groups), and a small capacity grows in one retry", "[partials]") {
  std::mt19937_64 rng(7);
  const auto base = lens_test::make_random_batch(rng, 30, 16);
  const split_batch s = deal(rng, base, 2, 2);
  for (const auto& settings : {lens::presets::verl_grpo(), lens::presets::lens()}) {
    std::vector<distributed_batch> batches;
    for (const auto& r : s.ranks) batches.emplace_back(inputs_of(r), lens::id_groups{r.ids}, settings);
    const std::size_t per_group = settings.kind == lens::estimator::lens ? 7 : 8;
    for (const auto& b : batches)
      REQUIRE(b.words(0) == distributed_batch::header_words + b.num_local_groups() * per_group);
    const std::size_t capacity = exchange_all(batches, 8);  // header only: every rank must grow
    REQUIRE(capacity == std::max(batches[0].words(0), batches[1].words(0)));
    REQUIRE(batches[0].num_groups() == 30);
    REQUIRE(batches[1].total_samples() == base.size());
    // the next call with the settled capacity needs no retry
    std::vector<distributed_batch> again;
    for (const auto& r : s.ranks) again.emplace_back(inputs_of(r), lens::id_groups{r.ids}, settings);
    REQUIRE(exchange_all(again, capacity) == capacity);
  }
}

namespace {
/// Runs the exchanges and returns each rank's exception message ("" if none).
std::vector<std::string> messages(std::vector<distributed_batch>& batches) {
  std::vector<std::string> out(batches.size());
  const std::size_t stride = batches[0].exchange_words(0, 4096);
  std::vector<std::uint64_t> all(stride * batches.size());
  for (std::size_t r = 0; r < batches.size(); ++r)
    batches[r].write(0, lens::span<std::uint64_t>(all.data() + r * stride, stride));
  for (std::size_t r = 0; r < batches.size(); ++r) {
    try {
      batches[r].merge(0, lens::span<const std::uint64_t>(all), batches.size(), r);
    } catch (const lens::invalid_argument& e) {
      out[r] = e.what();
    }
  }
  return out;
}
}  // namespace

TEST_CASE("distributed errors reach every rank in the first exchange", "[partials]") {
  std::mt19937_64 rng(3);
  const auto base = lens_test::make_random_batch(rng, 10, 6);
  const split_batch s = deal(rng, base, 3, 3);

  SECTION("a rank whose input was rejected") {
    auto bad = s.ranks[1];
    bad.scores[0] = 1.5;  // outside [0, 1] for LENS
    std::vector<distributed_batch> batches;
    for (std::size_t r = 0; r < 3; ++r) {
      try {
        batches.emplace_back(inputs_of(r == 1 ? bad : s.ranks[r]), lens::id_groups{s.ranks[r].ids},
                             lens::presets::lens());
      } catch (const lens::invalid_argument& e) {
        batches.push_back(distributed_batch::failed(e.what()));
      }
    }
    const auto m = messages(batches);
    for (const auto& text : m)
      REQUIRE(text == "lens: rank 1 of 3 rejected its input: lens: scores[0] is a reward outside [0, 1], which LENS "
                      "requires (value 1.500000)");
  }
  SECTION("settings that differ between ranks") {
    std::vector<distributed_batch> batches;
    for (std::size_t r = 0; r < 3; ++r) {
      lens::advantage_settings settings = lens::presets::verl_grpo();
      if (r == 2) settings.epsilon = 1e-4;
      batches.emplace_back(inputs_of(s.ranks[r]), lens::id_groups{s.ranks[r].ids}, settings);
    }
    for (const auto& text : messages(batches))
      REQUIRE(text.find("rank 2 passed settings that differ from rank 0's") != std::string::npos);
  }
  SECTION("two keys with one 64-bit id on different ranks") {
    std::vector<distributed_batch> batches;
    for (std::size_t r = 0; r < 3; ++r) {
      std::vector<std::int64_t> checks(s.ranks[r].size(), r == 0 ? 11 : 12);
      batches.emplace_back(inputs_of(s.ranks[r]), lens::id_groups{s.ranks[r].ids}, lens::presets::rloo(),
                           lens::span<const std::int64_t>(checks), lens::cpu::id_kind::hashed);
    }
    for (const auto& text : messages(batches)) REQUIRE(text.find("hash to the same 64-bit id") != std::string::npos);
  }
  SECTION("int64 ids on one rank, hashed keys on another") {
    std::vector<distributed_batch> batches;
    for (std::size_t r = 0; r < 3; ++r)
      batches.emplace_back(inputs_of(s.ranks[r]), lens::id_groups{s.ranks[r].ids}, lens::presets::rloo(),
                           lens::span<const std::int64_t>{}, r == 1 ? lens::cpu::id_kind::hashed : lens::cpu::id_kind::int64);
    for (const auto& text : messages(batches)) REQUIRE(text.find("another form") != std::string::npos);
  }
  SECTION("one rank's checks disagree within a group: rejected where they are") {
    std::vector<std::int64_t> ids{5, 5}, checks{1, 2};
    std::vector<double> scores{0, 1}, sums{-1, -1};
    std::vector<std::int64_t> lengths{1, 1};
    REQUIRE_THROWS_WITH(distributed_batch(lens::sequence_inputs<double>{scores, sums, lengths}, lens::id_groups{ids},
                                          lens::presets::lens(), lens::span<const std::int64_t>(checks),
                                          lens::cpu::id_kind::hashed),
                        Catch::Contains("index[1]") && Catch::Contains("same 64-bit id"));
  }
}

TEST_CASE("run_exchanges over a callable all-gather, as a C++ trainer calls it", "[partials][example]") {
  // One rank alone (the all-gather returns its own buffer): the loop a trainer
  // writes over MPI_Allgather or c10d, here with a loopback transport.
  // example-begin distributed
  std::vector<float> scores{1, 0, 0, 0, 0, 0};
  std::vector<float> logprob_sums{-3.1f, -2.0f, -9.5f, -1.1f, -6.0f, -2.4f};
  std::vector<std::int64_t> lengths{12, 9, 30, 10, 25, 11};
  std::vector<std::int64_t> ids{7, 7, 7, 9, 9, 9};  // the same id on every rank that holds the group
  std::vector<float> advantages(6);

  std::size_t capacity = 512;  // words; keep it across calls (the same on every rank)
  lens::cpu::distributed_batch batch(lens::sequence_inputs<float>{scores, logprob_sums, lengths},
                                     lens::id_groups{ids}, lens::presets::lens());
  auto all_gather = [](lens::span<const std::uint64_t> mine) {
    // MPI: MPI_Allgather(mine.data(), n, MPI_UINT64_T, all.data(), n, MPI_UINT64_T, comm)
    return std::vector<std::uint64_t>(mine.begin(), mine.end());
  };
  lens::cpu::run_exchanges(batch, /*num_ranks=*/1, /*rank=*/0, all_gather, capacity);
  lens::batch_summary s = batch.finish(lens::span<float>(advantages));
  // example-end distributed
  std::vector<float> expected(6);
  lens::compute_lens_advantages(lens::sequence_inputs<float>{scores, logprob_sums, lengths}, lens::id_groups{ids},
                                lens::span<float>(expected));
  REQUIRE(advantages == expected);
  REQUIRE(s.num_negative_groups == 1);
}
