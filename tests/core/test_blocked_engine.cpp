// The CPU engine's vector arithmetic (lens/cpu/packet.hpp, group_kernels.hpp):
// exp and log against libm in ulps over their whole range and at IEEE special
// values; the blocked two-pass moments against long-double sums on groups up
// to 65,536 members that defeat a one-pass variance; and the accuracy promise
// of the engine: float advantages within 1e-6 of each group's largest
// |advantage| of the double scalar reference, for G up to 65,536.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <unordered_map>
#include <vector>

#include "lens/cpu/group_kernels.hpp"
#include "lens/lens.hpp"
#include "reference/scalar_reference.hpp"

namespace ld = lens::cpu::detail;

namespace {

/// |a - b| in units of b's last place (0 for equal values, NaN with NaN).
double ulps(double a, double b) {
  if (a == b || (std::isnan(a) && std::isnan(b))) return 0;
  const double unit = std::nextafter(std::fabs(b), HUGE_VAL) - std::fabs(b);
  return std::fabs(a - b) / unit;
}

/// fn over args, a packet at a time (args.size() a multiple of the lanes).
template <class F>
std::vector<double> apply(F fn, const std::vector<double>& args) {
  std::vector<double> out(args.size());
  for (std::size_t k = 0; k + ld::lanes <= args.size(); k += ld::lanes) ld::store(out.data() + k, fn(ld::load(args.data() + k)));
  return out;
}

template <class F, class G>
double worst_ulps(const std::vector<double>& args, F vector_fn, G libm_fn) {
  double worst = 0;
  for (std::size_t k = 0; k + ld::lanes <= args.size(); k += ld::lanes) {
    const ld::packet r = vector_fn(ld::load(args.data() + k));
    for (std::size_t j = 0; j < ld::lanes; ++j) {
      const double want = libm_fn(args[k + j]);
      if (std::fabs(want) < std::numeric_limits<double>::min()) continue;  // subnormal results: absolute error only
      worst = std::max(worst, ulps(r.v[j], want));
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("packet exp is within 1 ulp of libm from underflow to overflow", "[packet][exp]") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> wide(-745.0, 709.7), narrow(-1.0, 1.0);
  std::vector<double> args;
  for (int i = 0; i < 400000; ++i) args.push_back(i % 2 ? wide(rng) : narrow(rng));
  REQUIRE(worst_ulps(args, [](const ld::packet& x) { return ld::exp(x); }, [](double x) { return std::exp(x); }) <= 1.0);
  const std::vector<double> r = apply([](const ld::packet& x) { return ld::exp(x); },
                                     {NAN, HUGE_VAL, -HUGE_VAL, 0.0, -0.0, 710.0, -746.0, 1e-300});
  CHECK(std::isnan(r[0]));
  CHECK(r[1] == HUGE_VAL);
  CHECK(r[2] == 0.0);
  CHECK(r[3] == 1.0);
  CHECK(r[4] == 1.0);
  CHECK(r[5] == HUGE_VAL);
  CHECK(r[6] == 0.0);
  CHECK(r[7] == 1.0);
}

TEST_CASE("packet log is within 2 ulp of libm over every magnitude", "[packet][log]") {
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> exponent(-307.0, 308.0), near_one(0.5, 2.0);
  std::vector<double> args;
  for (int i = 0; i < 400000; ++i) args.push_back(i % 2 ? std::pow(10.0, exponent(rng)) : near_one(rng));
  REQUIRE(worst_ulps(args, [](const ld::packet& x) { return ld::log(x); }, [](double x) { return std::log(x); }) <= 2.0);
  const std::vector<double> r = apply([](const ld::packet& x) { return ld::log(x); },
                                     {NAN, HUGE_VAL, 0.0, -1.0, 1.0, 4.9e-324, 1e-310, 0.5});
  CHECK(std::isnan(r[0]));
  CHECK(r[1] == HUGE_VAL);
  CHECK(r[2] == -HUGE_VAL);
  CHECK(std::isnan(r[3]));
  CHECK(r[4] == 0.0);  // log 1 is exactly 0: binary rewards' terms are exact
  CHECK(ulps(r[5], std::log(4.9e-324)) <= 2.0);
  CHECK(ulps(r[6], std::log(1e-310)) <= 2.0);
  CHECK(ulps(r[7], std::log(0.5)) <= 2.0);
}

TEST_CASE("lengths loaded four at a time are the doubles a cast gives, rounding included", "[packet][lengths]") {
  std::mt19937_64 rng(13);
  std::vector<std::int64_t> lengths = {1, 2, 4095, (std::int64_t{1} << 32) - 1, std::int64_t{1} << 32,
                                       (std::int64_t{1} << 53) + 1,  // rounds to even
                                       (std::int64_t{1} << 53) + 3, std::numeric_limits<std::int64_t>::max()};
  for (int i = 0; i < 100000; ++i) lengths.push_back(static_cast<std::int64_t>(rng() >> (1 + rng() % 63)));
  while (lengths.size() % ld::lanes) lengths.push_back(7);
  for (std::size_t k = 0; k < lengths.size(); k += ld::lanes) {
    double got[ld::lanes];
    ld::store(got, ld::load(lengths.data() + k));
    for (std::size_t j = 0; j < ld::lanes; ++j) {
      INFO("length " << lengths[k + j]);
      REQUIRE(got[j] == static_cast<double>(lengths[k + j]));
    }
  }
}

TEST_CASE("a packet's log pbar and log p are the scalar rule's bits, NaN and values above 0 included",
          "[packet][lengths]") {
  const double sums[] = {-3.5, 1e-9, 0.0, NAN, -1e300, -7.25, -0.0, -5e-324};
  const std::int64_t lengths[] = {7, 3, 1, 2, 1, 1000000, 9, 2};
  for (auto source : {lens::difficulty_probability::geometric_mean, lens::difficulty_probability::sequence}) {
    for (std::size_t k = 0; k < 8; k += ld::lanes) {
      const ld::packet sum = ld::load(sums + k), length = ld::load(lengths + k);
      double c[ld::lanes], p[ld::lanes];
      ld::store(c, lens::core::log_confidence(sum, length));
      ld::store(p, lens::core::log_probability(sum, length, source));
      for (std::size_t j = 0; j < ld::lanes; ++j) {
        const double n = static_cast<double>(lengths[k + j]);
        const double want_c = lens::core::log_confidence(sums[k + j], n);
        const double want_p = lens::core::log_probability(sums[k + j], n, source);
        CHECK(std::memcmp(&c[j], &want_c, sizeof want_c) == 0);
        CHECK(std::memcmp(&p[j], &want_p, sizeof want_p) == 0);
      }
    }
  }
  CHECK(lens::core::log_confidence(1e-9, 3.0) == 0.0);  // within the tolerance above 0: read as 0
  CHECK(lens::core::log_confidence(-3.5, 7.0) == -0.5);
}

TEST_CASE("blocked two-pass moments match long-double sums where one-pass variance fails", "[blocked][moments]") {
  std::mt19937_64 rng(13);
  for (std::size_t n : {1u, 2u, 7u, 8u, 9u, 16u, 63u, 1000u, 65536u}) {
    for (double offset : {0.0, 1e6, -3e7}) {
      // Near-constant scores far from 0: E[x^2] - E[x]^2 in double would lose
      // about 14 of the 16 digits of the variance here.
      std::normal_distribution<double> noise(0.0, 1e-3);
      std::vector<float> x(n);
      for (auto& v : x) v = static_cast<float>(offset + noise(rng));
      long double mean = 0, m2 = 0;
      for (float v : x) mean += v;
      mean /= static_cast<long double>(n);
      for (float v : x) m2 += (v - mean) * (v - mean);
      const ld::blocked_moments b = ld::measure_scores(x.data(), n);
      INFO("n " << n << ", offset " << offset);
      REQUIRE(b.moments.count == static_cast<double>(n));
      REQUIRE(b.moments.min == *std::min_element(x.begin(), x.end()));
      REQUIRE(b.moments.max == *std::max_element(x.begin(), x.end()));
      const double scale = std::max(1.0, std::fabs(offset));
      REQUIRE(std::fabs(b.moments.mean - static_cast<double>(mean)) <= 1e-15 * scale * std::log2(n + 1.0));
      if (m2 > 0) REQUIRE(std::fabs(b.moments.m2 - static_cast<double>(m2)) <= 1e-9 * static_cast<double>(m2));
      else REQUIRE(b.moments.m2 == 0.0);
    }
  }
}

TEST_CASE("a constant group has M2 exactly 0 and its mean is the constant", "[blocked][moments]") {
  for (std::size_t n : {1u, 5u, 8u, 100u}) {
    const std::vector<double> x(n, 0.1);
    const ld::blocked_moments b = ld::measure_scores(x.data(), n);
    REQUIRE(b.moments.mean == 0.1);
    REQUIRE(b.moments.m2 == 0.0);
    REQUIRE(b.moments.min == b.moments.max);
  }
}

TEST_CASE("float advantages are within 1e-6 of each group's largest |advantage| of the double reference, G up to 65536",
          "[blocked][accuracy]") {
  std::mt19937_64 rng(14);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (std::size_t group_size : {4u, 16u, 64u, 1000u, 65536u}) {
    const std::size_t num_groups = std::max<std::size_t>(2, 131072 / group_size);
    const std::size_t n = group_size * num_groups;
    std::vector<float> scores(n), sums(n);
    std::vector<std::int64_t> lengths(n), ids(n);
    for (std::size_t g = 0; g < num_groups; ++g) {
      const double success = g % 3 == 0 ? 0.0 : unit(rng);
      for (std::size_t k = 0; k < group_size; ++k) {
        const std::size_t i = g * group_size + k;
        ids[i] = static_cast<std::int64_t>(g);
        lengths[i] = 1 + static_cast<std::int64_t>(unit(rng) * 4000);
        sums[i] = static_cast<float>(-static_cast<double>(lengths[i]) * (0.01 + 1.5 * unit(rng)));
        scores[i] = unit(rng) < success ? 1.0f : 0.0f;
      }
    }
    std::vector<double> s(scores.begin(), scores.end()), l(sums.begin(), sums.end()), len(lengths.begin(), lengths.end());
    for (const auto& settings : {lens::presets::lens(), lens::presets::verl_grpo(), lens::presets::rloo()}) {
      const auto want = lens_reference::compute(s, l, len, ids, settings).advantages;
      std::vector<float> got(n);
      lens::compute_advantages(lens::sequence_inputs<float>{scores, sums, lengths}, lens::fixed_groups{group_size},
                               lens::span<float>(got), settings);
      INFO("G " << group_size << ", estimator " << static_cast<int>(settings.kind));
      for (std::size_t g = 0; g < num_groups; ++g) {
        double largest = 0, worst = 0;
        for (std::size_t k = g * group_size; k < (g + 1) * group_size; ++k) {
          largest = std::max(largest, std::fabs(want[k]));
          worst = std::max(worst, std::fabs(got[k] - want[k]));
        }
        INFO("group " << g);
        REQUIRE(worst <= 1e-6 * largest);
      }
    }
  }
}

TEST_CASE("every layout gives the same bits for the same groups", "[blocked][layouts]") {
  std::mt19937_64 rng(15);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::size_t group_size = 13, num_groups = 300, n = group_size * num_groups;
  std::vector<float> scores(n), sums(n);
  std::vector<std::int64_t> lengths(n), ids(n), offsets(num_groups + 1);
  for (std::size_t i = 0; i < n; ++i) {
    scores[i] = unit(rng) < 0.4 ? 1.0f : (unit(rng) < 0.2 ? 0.5f : 0.0f);  // some fractional rewards: the log path
    lengths[i] = 1 + static_cast<std::int64_t>(unit(rng) * 500);
    sums[i] = static_cast<float>(-static_cast<double>(lengths[i]) * unit(rng));
    ids[i] = static_cast<std::int64_t>(1000 + 7 * (i / group_size));
  }
  for (std::size_t g = 0; g <= num_groups; ++g) offsets[g] = static_cast<std::int64_t>(g * group_size);
  for (const auto& settings : {lens::presets::lens(), lens::presets::trl_grpo(), lens::presets::dr_grpo()}) {
    const lens::sequence_inputs<float> in{scores, sums, lengths};
    std::vector<float> fixed(n), ragged(n), by_id(n);
    lens::compute_advantages(in, lens::fixed_groups{group_size}, lens::span<float>(fixed), settings);
    lens::compute_advantages(in, lens::offset_groups{offsets}, lens::span<float>(ragged), settings);
    lens::compute_advantages(in, lens::id_groups{ids}, lens::span<float>(by_id), settings);
    REQUIRE(fixed == ragged);
    REQUIRE(fixed == by_id);
  }
}

TEST_CASE("shuffled ids gathered through buckets get the bits of the same groups laid out contiguously",
          "[blocked][layouts][gather]") {
  // Past 2^15 samples the ids layout is gathered in two steps (by bucket of
  // group numbers, then by group); the contiguous layout of the same groups,
  // members in the same order, is the reference (in double, where a change
  // of the members' order shows in the last bits). Group sizes 1..40 at random,
  // so tiles and the per-group kernels both run; with NaN scores left out too.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (const std::size_t n : {std::size_t{1} << 15, std::size_t{100003}, std::size_t{1} << 17}) {
    for (const std::size_t num_groups : {std::size_t{3}, n / 20, n / 7}) {
      std::vector<std::int64_t> ids(n);
      for (auto& id : ids) id = static_cast<std::int64_t>(rng() % num_groups) * 7919 - 5;
      std::vector<double> scores(n), sums(n);
      std::vector<std::int64_t> lengths(n);
      for (std::size_t i = 0; i < n; ++i) {
        // Fractional rewards, so a group's sums depend on its members' order.
        scores[i] = unit(rng) < 0.4 ? 1.0 : (unit(rng) < 0.5 ? unit(rng) : 0.0);
        if (unit(rng) < 0.01) scores[i] = std::numeric_limits<double>::quiet_NaN();
        lengths[i] = 1 + static_cast<std::int64_t>(unit(rng) * 300);
        sums[i] = -static_cast<double>(lengths[i]) * unit(rng);
      }
      // The same samples group by group, groups in order of first appearance,
      // NaN scores left out (so the reference is read in place, not gathered).
      std::unordered_map<std::int64_t, std::size_t> number;
      std::vector<std::vector<std::size_t>> members;
      for (std::size_t i = 0; i < n; ++i) {
        if (std::isnan(scores[i])) continue;
        const auto found = number.emplace(ids[i], members.size());
        if (found.second) members.emplace_back();
        members[found.first->second].push_back(i);
      }
      std::vector<std::size_t> position;  // contiguous position k holds sample position[k]
      std::vector<std::int64_t> offsets{0};
      for (const auto& m : members) {
        position.insert(position.end(), m.begin(), m.end());
        offsets.push_back(static_cast<std::int64_t>(position.size()));
      }
      const std::size_t kept = position.size();
      std::vector<double> c_scores(kept), c_sums(kept);
      std::vector<std::int64_t> c_lengths(kept);
      for (std::size_t k = 0; k < kept; ++k) {
        c_scores[k] = scores[position[k]];
        c_sums[k] = sums[position[k]];
        c_lengths[k] = lengths[position[k]];
      }
      for (auto settings : {lens::presets::lens(), lens::presets::trl_grpo(), lens::presets::rloo()}) {
        settings.skip_nan_scores = true;
        std::vector<double> by_id(n, 1.0), contiguous(kept);
        lens::compute_advantages(lens::sequence_inputs<double>{scores, sums, lengths}, lens::id_groups{ids},
                                 lens::span<double>(by_id), settings);
        lens::compute_advantages(lens::sequence_inputs<double>{c_scores, c_sums, c_lengths},
                                 lens::offset_groups{offsets}, lens::span<double>(contiguous), settings);
        std::size_t differing = 0, nonzero = 0;
        for (std::size_t k = 0; k < kept; ++k) {
          differing += std::memcmp(&by_id[position[k]], &contiguous[k], sizeof(double)) != 0;
          nonzero += contiguous[k] != 0;
        }
        for (std::size_t i = 0; i < n; ++i) differing += std::isnan(scores[i]) && by_id[i] != 0.0;
        REQUIRE(nonzero > kept / 4);
        INFO("n " << n << ", groups " << num_groups);
        REQUIRE(differing == 0);
      }
    }
  }
}

TEST_CASE("four groups measured in one tile have measure_scores's bits, every tail length", "[blocked][tiles]") {
  std::mt19937_64 rng(16);
  std::normal_distribution<double> normal(3.0, 2.0);
  for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 13u, 64u, 1001u}) {
    std::vector<double> x(4 * n);
    for (double& v : x) v = rng() % 4 == 0 ? 1e9 + normal(rng) : normal(rng);  // offsets that need the compensated mean
    std::vector<float> f(x.begin(), x.end());
    const ld::tile_moments tile = ld::measure_tile(x.data(), n);
    const ld::tile_moments tile_f = ld::measure_tile(f.data(), n);
    for (std::size_t q = 0; q < ld::lanes; ++q) {
      INFO("n " << n << ", group " << q);
      const ld::blocked_moments one = ld::measure_scores(x.data() + q * n, n);
      REQUIRE(tile.mean.v[q] == one.moments.mean);
      REQUIRE(tile.m2.v[q] == one.moments.m2);
      REQUIRE(tile.min.v[q] == one.moments.min);
      REQUIRE(tile.max.v[q] == one.moments.max);
      const ld::blocked_moments one_f = ld::measure_scores(f.data() + q * n, n);
      REQUIRE(tile_f.mean.v[q] == one_f.moments.mean);
      REQUIRE(tile_f.m2.v[q] == one_f.moments.m2);
    }
  }
}

TEST_CASE("four LENS groups measured in one tile have measure_confidence's bits, every tail length",
          "[blocked][tiles]") {
  std::mt19937_64 rng(18);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 13u, 64u, 333u}) {
    std::vector<double> r(4 * n), c(4 * n), p(4 * n), terms(4 * n), one_terms(n);
    for (std::size_t i = 0; i < 4 * n; ++i) {
      const std::size_t q = i / n;  // group 0 negative, group 1 fractional rewards, 2 and 3 binary
      r[i] = q == 0 ? 0.0 : (q == 1 ? (unit(rng) < 0.5 ? unit(rng) : 0.0) : (unit(rng) < 0.5 ? 1.0 : 0.0));
      p[i] = -unit(rng) * (q == 3 ? 3000.0 : 30.0);  // group 3: most terms underflow their exp
      c[i] = p[i] / (1.0 + std::floor(unit(rng) * 100));
    }
    const ld::confidence_tile tile = ld::measure_confidence_tile(r.data(), c.data(), p.data(), n, terms.data());
    for (std::size_t q = 0; q < ld::lanes; ++q) {
      INFO("n " << n << ", group " << q);
      const lens::core::confidence_summary one =
          ld::measure_confidence(r.data() + q * n, c.data() + q * n, p.data() + q * n, n, one_terms.data());
      REQUIRE(static_cast<double>(tile.num_correct[q]) == one.num_correct);
      REQUIRE(tile.max_log_confidence.v[q] == one.max_log_confidence);
      REQUIRE(tile.lse_max.v[q] == one.lse_max);
      REQUIRE(tile.lse_sum.v[q] == one.lse_sum);
    }
  }
}

TEST_CASE("groups of one size (measured in tiles) get the bits of the same groups in a ragged batch",
          "[blocked][tiles][layouts]") {
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (std::size_t group_size : {1u, 2u, 3u, 4u, 5u, 7u, 16u, 64u}) {
    const std::size_t num_groups = 41, n = group_size * num_groups, extra = group_size + 1;
    std::vector<float> scores(n + extra), rewards(n + extra), sums(n + extra);
    std::vector<std::int64_t> lengths(n + extra);
    for (std::size_t i = 0; i < n + extra; ++i) {
      const double success = (i / group_size) % 3 == 0 ? 0.0 : 0.5;  // every third group negative
      rewards[i] = unit(rng) < success ? (unit(rng) < 0.8 ? 1.0f : static_cast<float>(unit(rng))) : 0.0f;
      scores[i] = unit(rng) < 0.5 ? rewards[i] : static_cast<float>(unit(rng) * 5);  // any finite score
      if ((i / group_size) % 5 == 1) scores[i] = 2.5f;  // every fifth group constant (advantages exactly 0)
      lengths[i] = 1 + static_cast<std::int64_t>(unit(rng) * 2000);
      sums[i] = static_cast<float>(-static_cast<double>(lengths[i]) * (0.01 + 1.5 * unit(rng)));
    }
    std::vector<std::int64_t> offsets(num_groups + 2);
    for (std::size_t g = 0; g <= num_groups; ++g) offsets[g] = static_cast<std::int64_t>(g * group_size);
    offsets[num_groups + 1] = static_cast<std::int64_t>(n + extra);  // one group of another size: no tiles
    // The presets, and the settings the per-group rules branch on (core::make_rule).
    lens::advantage_settings biased = lens::presets::verl_grpo(), lone_zero = lens::presets::lens(),
                             mixed_only = lens::presets::lens(), negative_only = lens::presets::lens(),
                             lens_unscaled = lens::presets::lens();
    biased.unbiased_std = false;
    lone_zero.singleton = lens::singleton_policy::zero;
    mixed_only.scope = lens::lens_scope::mixed_groups;
    negative_only.scope = lens::lens_scope::negative_groups;
    negative_only.alpha = 0.5;
    lens_unscaled.normalize_by_std = false;
    for (const auto& settings : {lens::presets::verl_grpo(), lens::presets::trl_grpo(), lens::presets::dr_grpo(),
                                 lens::presets::rloo(), lens::presets::lens(), biased, lone_zero, mixed_only,
                                 negative_only, lens_unscaled}) {
      INFO("G " << group_size << ", estimator " << static_cast<int>(settings.kind) << ", scope "
                << static_cast<int>(settings.scope) << ", unbiased " << settings.unbiased_std);
      const bool is_lens = settings.kind == lens::estimator::lens;
      const std::vector<float>& s = is_lens ? rewards : scores;
      const lens::sequence_inputs<float> all{s, sums, lengths};
      const lens::sequence_inputs<float> head{lens::span<const float>(s.data(), n),
                                              lens::span<const float>(sums.data(), n),
                                              lens::span<const std::int64_t>(lengths.data(), n)};
      std::vector<float> uniform(n), ragged(n + extra);
      const lens::batch_summary tiled =
          lens::compute_advantages(head, lens::fixed_groups{group_size}, lens::span<float>(uniform), settings);
      lens::compute_advantages(all, lens::offset_groups{offsets}, lens::span<float>(ragged), settings);
      REQUIRE(std::vector<float>(ragged.begin(), ragged.begin() + static_cast<std::ptrdiff_t>(n)) == uniform);
      // The summary of the tiled batch against the one the general passes give
      // it (statistics asked for: those passes, not tiles).
      std::vector<float> again(n);
      std::vector<lens::group_statistics> stats;
      const lens::batch_summary general =
          lens::compute_advantages(head, lens::fixed_groups{group_size}, lens::span<float>(again), settings, &stats);
      REQUIRE(again == uniform);
      REQUIRE(tiled.num_groups == general.num_groups);
      REQUIRE(tiled.num_negative_groups == general.num_negative_groups);
      REQUIRE(tiled.num_zero_variance_groups == general.num_zero_variance_groups);
      REQUIRE(tiled.num_nonzero_advantages == general.num_nonzero_advantages);
      // ... and the count against the advantages written (both passes share the write).
      REQUIRE(tiled.num_nonzero_advantages ==
              static_cast<std::size_t>(std::count_if(uniform.begin(), uniform.end(), [](float a) { return a != 0; })));
    }
  }
}

TEST_CASE("a group of a tile whose advantages overflow float is reported as the general passes report it",
          "[blocked][tiles][validation]") {
  // Dr. GRPO (no std): group 6's advantage of -4.5e38 overflows float, and so does
  // group 9's; the first is named, with the same magnitude, whether the groups
  // are measured in tiles (no statistics) or one at a time (statistics).
  const std::size_t group_size = 4, num_groups = 12;
  std::vector<float> scores(group_size * num_groups, 0.5f), out(scores.size(), 7.0f);
  for (std::size_t k = 0; k < scores.size(); ++k) scores[k] = static_cast<float>(k % 3);
  for (std::size_t g : {6u, 9u}) {
    for (std::size_t k = 0; k < 3; ++k) scores[g * group_size + k] = 3e38f;
    scores[g * group_size + 3] = -3e38f;  // 4.5e38 below the mean
  }
  const lens::sequence_inputs<float> inputs{scores, {}, {}};
  auto message = [&](std::vector<lens::group_statistics>* stats) {
    try {
      lens::compute_advantages(inputs, lens::fixed_groups{group_size}, lens::span<float>(out),
                               lens::presets::dr_grpo(), stats);
    } catch (const lens::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  std::vector<lens::group_statistics> stats;
  const std::string tiled = message(nullptr);
  INFO(tiled);
  REQUIRE(tiled.rfind("lens: groups[6] ", 0) == 0);
  REQUIRE(tiled == message(&stats));
  REQUIRE(std::all_of(out.begin(), out.end(), [](float a) { return a == 7.0f; }));  // nothing written
}
