// Input validation end to end: every documented error_code is raised by at
// least one bad input on the per-sample or token path, the message names the
// field and the index (the exact text is pinned), and a rejected call leaves
// every output (advantages, token advantages, group statistics) untouched.
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "reliability_support.hpp"

namespace {

constexpr float sentinel = -777.25f;
const double nan_value = std::numeric_limits<double>::quiet_NaN();
const double inf_value = std::numeric_limits<double>::infinity();

/// A valid per-sample batch (N = 6, two groups of 3) that each case breaks in one place.
struct sequence_call {
  std::vector<float> scores{1, 0, 0, 0, 0, 1};
  std::vector<float> logprob_sums{-3, -10, -0.5f, -2, -7, -1};
  std::vector<std::int64_t> lengths{3, 10, 1, 4, 7, 2};
  std::vector<std::int64_t> offsets{0, 3, 6};
  std::vector<std::int64_t> ids{5, 5, 5, -9, -9, -9};
  std::size_t num_outputs = 6;
  std::size_t group_size = 3;
  int layout = 0;  // 0 fixed, 1 offsets, 2 ids
  bool null_scores = false;
  lens::advantage_settings settings;

  /// Runs the call with sentinel-filled outputs; returns the error message
  /// ("" when accepted) and whether every output is still the sentinel.
  std::string run(bool& outputs_untouched) const {
    std::vector<float> out(num_outputs, sentinel);
    std::vector<lens::group_statistics> stats(2);
    stats[0].group_id = 4242;
    const lens::span<const float> score_view =
        null_scores ? lens::span<const float>(nullptr, scores.size()) : lens::span<const float>(scores);
    const lens::sequence_inputs<float> in{score_view, logprob_sums, lengths};
    std::string message;
    try {
      if (layout == 0) lens::compute_advantages(in, lens::fixed_groups{group_size}, lens::span<float>(out), settings, &stats);
      if (layout == 1) lens::compute_advantages(in, lens::offset_groups{offsets}, lens::span<float>(out), settings, &stats);
      if (layout == 2) lens::compute_advantages(in, lens::id_groups{ids}, lens::span<float>(out), settings, &stats);
    } catch (const lens::invalid_argument& e) {
      message = e.what();
    }
    outputs_untouched = stats.size() == 2 && stats[0].group_id == 4242;
    for (float a : out) outputs_untouched = outputs_untouched && a == sentinel;
    return message;
  }
};

/// A valid token batch [N = 4 x T = 3], two groups of 2, that each case breaks in one place.
template <class Real>
struct token_call {
  std::size_t n = 4, t = 3;
  std::vector<Real> scores;  // empty: token_rewards are given
  std::vector<Real> token_rewards{0, 0, 1, /**/ 0, 0, 0, /**/ 0, 1, 0, /**/ 0, 0, 0};
  std::vector<Real> logprobs{-1, -2, -3, /**/ -0.5, 0, 0, /**/ -4, -4, 0, /**/ -1, -1, -1};
  std::vector<std::uint8_t> mask{1, 1, 1, /**/ 1, 0, 0, /**/ 1, 1, 0, /**/ 1, 1, 1};
  bool give_token_rewards = true, give_logprobs = true, give_mask = true;
  std::size_t num_outputs = 4, num_token_outputs = 12;
  lens::advantage_settings settings;

  std::string run(bool& outputs_untouched) const {
    std::vector<Real> out(num_outputs, Real(sentinel)), token_out(num_token_outputs, Real(sentinel));
    std::vector<lens::group_statistics> stats(2);
    stats[0].group_id = 4242;
    lens::token_inputs<Real> in;
    in.num_samples = n;
    in.num_tokens = t;
    in.scores = scores.empty() ? nullptr : scores.data();
    in.token_rewards = give_token_rewards ? token_rewards.data() : nullptr;
    in.logprobs = give_logprobs ? logprobs.data() : nullptr;
    in.mask = give_mask ? mask.data() : nullptr;
    std::string message;
    try {
      lens::compute_advantages(in, lens::fixed_groups{2}, lens::span<Real>(out), lens::span<Real>(token_out), settings,
                               &stats);
    } catch (const lens::invalid_argument& e) {
      message = e.what();
    }
    outputs_untouched = stats.size() == 2 && stats[0].group_id == 4242;
    for (Real a : out) outputs_untouched = outputs_untouched && a == Real(sentinel);
    for (Real a : token_out) outputs_untouched = outputs_untouched && a == Real(sentinel);
    return message;
  }
};

struct rejection {
  std::string name;
  lens::error_code code;
  std::string expected_message;
  std::function<std::string(bool&)> run;
};

std::string text(lens::error_code code) { return lens::detail::error_text(code); }

template <class Call, class Change>
std::function<std::string(bool&)> broken(Call call, Change change) {
  change(call);
  return [call](bool& untouched) { return call.run(untouched); };
}

std::vector<rejection> sequence_rejections() {
  using lens::error_code;
  using S = sequence_call;
  const S base;
  std::vector<rejection> cases;
  auto add = [&](std::string name, error_code code, std::string message, std::function<void(S&)> change) {
    cases.push_back({std::move(name), code, std::move(message), broken(base, change)});
  };
  add("advantages too short", error_code::size_mismatch,
      "lens: advantages has the wrong size (has 5 elements, expected 6)", [](S& c) { c.num_outputs = 5; });
  add("logprob_sums too short", error_code::size_mismatch,
      "lens: logprob_sums has the wrong size (has 5 elements, expected 6)", [](S& c) { c.logprob_sums.pop_back(); });
  add("response_lengths too long", error_code::size_mismatch,
      "lens: response_lengths has the wrong size (has 7 elements, expected 6)", [](S& c) { c.lengths.push_back(1); });
  add("scores null with a size", error_code::size_mismatch, "lens: scores has the wrong size (is null)",
      [](S& c) { c.null_scores = true; });
  add("ids too short", error_code::size_mismatch, "lens: groups.ids has the wrong size (has 5 elements, expected 6)",
      [](S& c) { c.layout = 2, c.ids.pop_back(); });
  add("score NaN", error_code::not_finite, "lens: scores[4] " + text(error_code::not_finite),
      [](S& c) { c.scores[4] = static_cast<float>(nan_value); });
  add("score +inf (GRPO)", error_code::not_finite, "lens: scores[0] " + text(error_code::not_finite),
      [](S& c) { c.scores[0] = static_cast<float>(inf_value), c.settings = lens::presets::verl_grpo(); });
  add("logprob sum -inf", error_code::not_finite, "lens: logprob_sums[1] " + text(error_code::not_finite),
      [](S& c) { c.logprob_sums[1] = static_cast<float>(-inf_value); });
  add("logprob sum above 0", error_code::logprob_above_zero,
      "lens: logprob_sums[2] " + text(error_code::logprob_above_zero) + " (sum 0.010000 over 1 tokens)",
      [](S& c) { c.logprob_sums[2] = 0.01f; });
  add("LENS reward above 1", error_code::reward_out_of_range,
      "lens: scores[2] " + text(error_code::reward_out_of_range) + " (value 1.500000)", [](S& c) { c.scores[2] = 1.5f; });
  add("LENS reward below 0", error_code::reward_out_of_range,
      "lens: scores[5] " + text(error_code::reward_out_of_range) + " (value -0.100000)",
      [](S& c) { c.scores[5] = -0.1f; });
  add("response length 0", error_code::empty_response, "lens: response_lengths[5] " + text(error_code::empty_response),
      [](S& c) { c.lengths[5] = 0; });
  add("response length negative", error_code::bad_length, "lens: response_lengths[1] " + text(error_code::bad_length),
      [](S& c) { c.lengths[1] = -3; });
  add("group size 0", error_code::group_size_mismatch,
      "lens: groups.group_size " + text(error_code::group_size_mismatch) + " (group_size 0, N 6)",
      [](S& c) { c.group_size = 0; });
  add("group size not dividing N", error_code::group_size_mismatch,
      "lens: groups.group_size " + text(error_code::group_size_mismatch) + " (group_size 4, N 6)",
      [](S& c) { c.group_size = 4; });
  add("offsets empty", error_code::bad_offsets,
      "lens: groups.offsets " + text(error_code::bad_offsets) + " (needs num_groups + 1 >= 1 entries)",
      [](S& c) { c.layout = 1, c.offsets.clear(); });
  add("offsets not starting at 0", error_code::bad_offsets,
      "lens: groups.offsets[0] " + text(error_code::bad_offsets) + " (offsets[0] must be 0)",
      [](S& c) { c.layout = 1, c.offsets = {1, 3, 6}; });
  add("offsets decreasing", error_code::bad_offsets,
      "lens: groups.offsets[2] " + text(error_code::bad_offsets) + " (decreases)",
      [](S& c) { c.layout = 1, c.offsets = {0, 4, 3, 6}; });
  add("offsets not ending at N", error_code::bad_offsets,
      "lens: groups.offsets[2] " + text(error_code::bad_offsets) + " (last offset 5 does not cover N = 6)",
      [](S& c) { c.layout = 1, c.offsets = {0, 3, 5}; });
  add("epsilon negative", error_code::bad_setting,
      "lens: settings.epsilon " + text(error_code::bad_setting) + " (value -1.000000, must be finite and >= 0)",
      [](S& c) { c.settings.epsilon = -1; });
  add("epsilon NaN", error_code::bad_setting,
      "lens: settings.epsilon " + text(error_code::bad_setting) + " (value nan, must be finite and >= 0)",
      [](S& c) { c.settings.epsilon = nan_value; });
  add("alpha infinite", error_code::bad_setting,
      "lens: settings.alpha " + text(error_code::bad_setting) + " (value inf, must be finite and >= 0)",
      [](S& c) { c.settings.alpha = inf_value; });
  add("floor factor 1", error_code::bad_setting,
      "lens: settings.floor_factor " + text(error_code::bad_setting) +
          " (value 1.000000, must be finite and > 1 (so that D - pbar stays positive))",
      [](S& c) { c.settings.floor_factor = 1; });
  add("logprob tolerance negative", error_code::bad_setting,
      "lens: settings.logprob_tolerance " + text(error_code::bad_setting) + " (value -0.001000, must be finite and >= 0)",
      [](S& c) { c.settings.logprob_tolerance = -1e-3; });
  // Found by fuzz/advantages: TRL's batch std over one-sample groups with equal
  // scores is 0, so epsilon alone divides; 1 / 1e-300 is infinite in float.
  add("advantages beyond float (batch std 0, epsilon 1e-300)", error_code::advantage_overflow,
      "lens: groups[0] " + text(error_code::advantage_overflow), [](S& c) {
        c.scores = {1, 1, 1, 1, 1, 1}, c.group_size = 1;
        c.settings = lens::presets::trl_grpo_batch_std();
        c.settings.singleton = lens::singleton_policy::verl, c.settings.epsilon = 1e-300;
      });
  add("estimator out of range", error_code::bad_setting,
      "lens: settings.kind " + text(error_code::bad_setting) + " (value 9.000000, must be a lens::estimator)",
      [](S& c) { c.settings.kind = static_cast<lens::estimator>(9); });
  return cases;
}

template <class Real>
std::vector<rejection> token_rejections(const std::string& precision) {
  using lens::error_code;
  using C = token_call<Real>;
  const C base;
  std::vector<rejection> cases;
  auto add = [&](std::string name, error_code code, std::string message, std::function<void(C&)> change) {
    cases.push_back({precision + ": " + name, code, std::move(message), broken(base, change)});
  };
  add("token advantages too short", error_code::size_mismatch,
      "lens: token_advantages has the wrong size (has 11 elements, expected 12)",
      [](C& c) { c.num_token_outputs = 11; });
  add("advantages too long", error_code::size_mismatch, "lens: advantages has the wrong size (has 5 elements, expected 4)",
      [](C& c) { c.num_outputs = 5; });
  add("scores and token rewards both given", error_code::size_mismatch,
      "lens: scores / token_rewards has the wrong size (give exactly one of the two)",
      [](C& c) { c.scores = {0, 1, 0, 0}; });
  add("neither scores nor token rewards", error_code::size_mismatch,
      "lens: scores / token_rewards has the wrong size (give exactly one of the two)",
      [](C& c) { c.give_token_rewards = false; });
  add("mask missing for LENS", error_code::size_mismatch,
      "lens: mask has the wrong size (is null but LENS or token_advantages needs it)",
      [](C& c) { c.give_mask = false; });
  add("mask missing for token advantages (GRPO)", error_code::size_mismatch,
      "lens: mask has the wrong size (is null but LENS or token_advantages needs it)",
      [](C& c) { c.give_mask = false, c.settings = lens::presets::verl_grpo(); });
  add("logprobs missing for LENS", error_code::size_mismatch,
      "lens: logprobs has the wrong size (is null but LENS needs it)", [](C& c) { c.give_logprobs = false; });
  add("token rewards with T = 0", error_code::size_mismatch,
      "lens: token_rewards has the wrong size (needs num_tokens >= 1)",
      [](C& c) { c.t = 0, c.num_token_outputs = 0, c.settings = lens::presets::verl_grpo(); });
  add("LENS with T = 0", error_code::empty_response,
      "lens: mask[0] " + text(error_code::empty_response) + " (num_tokens is 0)",
      [](C& c) { c.t = 0, c.num_token_outputs = 0, c.give_token_rewards = false, c.scores = {0, 1, 0, 0}; });
  add("mask value 2", error_code::bad_mask_value,
      "lens: mask[7] " + text(error_code::bad_mask_value) + " (row 2, column 1)", [](C& c) { c.mask[7] = 2; });
  add("masked-in log-prob NaN", error_code::not_finite,
      "lens: logprobs[1] " + text(error_code::not_finite) + " (row 0, column 1)",
      [](C& c) { c.logprobs[1] = static_cast<Real>(nan_value); });
  add("masked-in log-prob above tolerance", error_code::logprob_above_zero,
      "lens: logprobs[10] " + text(error_code::logprob_above_zero) + " (row 3, column 1; value 0.500000)",
      [](C& c) { c.logprobs[10] = Real(0.5); });
  add("token reward infinite", error_code::not_finite,
      "lens: token_rewards[5] " + text(error_code::not_finite) + " (row 1, column 2)",
      [](C& c) { c.token_rewards[5] = static_cast<Real>(inf_value); });
  add("score NaN", error_code::not_finite, "lens: scores[2] " + text(error_code::not_finite),
      [](C& c) { c.give_token_rewards = false, c.scores = {0, 1, static_cast<Real>(nan_value), 0}; });
  add("LENS token reward row sum above 1", error_code::reward_out_of_range,
      "lens: token_rewards (row sum)[2] " + text(error_code::reward_out_of_range) + " (value 2.000000)",
      [](C& c) { c.token_rewards[6] = 1; });
  add("response with no unmasked token", error_code::empty_response,
      "lens: mask[1] " + text(error_code::empty_response) + " (row has no 1)", [](C& c) { c.mask[3] = 0; });
  add("settings checked first", error_code::bad_setting,
      "lens: settings.alpha " + text(error_code::bad_setting) + " (value -0.500000, must be finite and >= 0)",
      [](C& c) { c.settings.alpha = -0.5, c.mask[0] = 3; });
  return cases;
}

void require_rejected_cleanly(const rejection& r, std::set<lens::error_code>& covered) {
  INFO(r.name);
  bool untouched = false;
  const std::string message = r.run(untouched);
  // The expected text is the whole message, or for advantage_overflow its
  // prefix (the detail carries the computed magnitude).
  if (r.code == lens::error_code::advantage_overflow) {
    REQUIRE(message.rfind(r.expected_message, 0) == 0);
  } else {
    REQUIRE(message == r.expected_message);
  }
  REQUIRE(message.find(text(r.code)) != std::string::npos);
  REQUIRE(untouched);
  covered.insert(r.code);
}

}  // namespace

TEST_CASE("every documented error is raised with the field and index named, outputs untouched", "[validation]") {
  // The unchanged inputs are accepted (so each case fails for its one change).
  bool untouched = true;
  REQUIRE(sequence_call{}.run(untouched).empty());
  REQUIRE(!untouched);
  REQUIRE(token_call<float>{}.run(untouched).empty());
  REQUIRE(token_call<double>{}.run(untouched).empty());

  std::set<lens::error_code> covered;
  std::size_t count = 0;
  for (const auto& r : sequence_rejections()) require_rejected_cleanly(r, covered), ++count;
  for (const auto& r : token_rejections<float>("float")) require_rejected_cleanly(r, covered), ++count;
  for (const auto& r : token_rejections<double>("double")) require_rejected_cleanly(r, covered), ++count;
  for (auto code = static_cast<int>(lens::error_code::size_mismatch);
       code <= static_cast<int>(lens::error_code::advantage_overflow);
       ++code) {
    INFO("error code " << code << " (" << text(static_cast<lens::error_code>(code)) << ")");
    REQUIRE(covered.count(static_cast<lens::error_code>(code)) == 1);
  }
  SUCCEED(count << " rejections checked");
}

TEST_CASE("a token row sum that overflows double is reported on its first column", "[validation]") {
  token_call<double> call;
  call.settings = lens::presets::verl_grpo();
  call.token_rewards[3] = 1e308;
  call.token_rewards[4] = 1e308;
  bool untouched = false;
  REQUIRE(call.run(untouched) == "lens: token_rewards[3] " + text(lens::error_code::not_finite) + " (row sum overflows)");
  REQUIRE(untouched);
}

namespace {
template <class Call>
std::string lens_test_message(Call&& call) {
  try {
    call();
  } catch (const lens::invalid_argument& e) {
    return e.what();
  }
  return {};
}
}  // namespace

TEST_CASE("messages quote integers exactly, however large (offsets, lengths)", "[validation]") {
  // Found by the fuzzer: an offset near INT64_MAX went through a double on its way into the message.
  const std::vector<double> scores{1, 0};
  const std::vector<double> sums{-1, -1};
  std::vector<double> out(2, 7.0);
  const std::int64_t huge = std::numeric_limits<std::int64_t>::max();
  const std::vector<std::int64_t> offsets{0, huge};
  const std::vector<std::int64_t> lengths{1, 1};
  const std::string offsets_message = lens_test_message([&] {
    lens::compute_lens_advantages(lens::sequence_inputs<double>{scores, sums, lengths}, lens::offset_groups{offsets},
                                  lens::span<double>(out));
  });
  REQUIRE(offsets_message == "lens: groups.offsets[1] " + text(lens::error_code::bad_offsets) +
                                 " (last offset 9223372036854775807 does not cover N = 2)");
  const std::vector<double> big_sums{1e300, -1};
  const std::vector<std::int64_t> long_lengths{huge, 1};
  const std::string length_message = lens_test_message([&] {
    lens::compute_lens_advantages(lens::sequence_inputs<double>{scores, big_sums, long_lengths}, lens::fixed_groups{2},
                                  lens::span<double>(out));
  });
  REQUIRE(length_message.find("over 9223372036854775807 tokens") != std::string::npos);
  REQUIRE(out[0] == 7.0);
}

TEST_CASE("every row is validated, not only the first", "[validation]") {
  // A bad value in the last row of a large batch is still found.
  token_call<float> call;
  call.n = 4096;
  call.token_rewards.assign(4096 * 3, 0.0f);
  call.logprobs.assign(4096 * 3, -1.0f);
  call.mask.assign(4096 * 3, 1);
  call.num_outputs = 4096;
  call.num_token_outputs = 4096 * 3;
  call.logprobs[4095 * 3 + 2] = std::numeric_limits<float>::infinity();
  bool untouched = false;
  REQUIRE(call.run(untouched) == "lens: logprobs[12287] " + text(lens::error_code::not_finite) + " (row 4095, column 2)");
  REQUIRE(untouched);
}

TEST_CASE("inputs at the edge of the rules are accepted", "[validation]") {
  bool untouched = true;
  SECTION("log-probabilities within the tolerance above 0 are read as 0") {
    sequence_call call;
    call.logprob_sums[2] = 5e-5f;  // length 1, tolerance 1e-4
    REQUIRE(call.run(untouched).empty());
    token_call<float> tokens;
    tokens.logprobs[0] = 1e-4f;
    REQUIRE(tokens.run(untouched).empty());
    // ...and give the same advantages as exactly 0.
    std::vector<float> logprobs_at_zero{0, -1, -2, -3};
    std::vector<float> logprobs_above{5e-5f, -1, -2, -3};
    const std::vector<float> scores{0, 0, 1, 0};
    const std::vector<std::int64_t> lengths{1, 1, 1, 1};
    std::vector<float> a(4), b(4);
    lens::compute_advantages(lens::sequence_inputs<float>{scores, logprobs_at_zero, lengths}, lens::fixed_groups{4},
                             lens::span<float>(a));
    lens::compute_advantages(lens::sequence_inputs<float>{scores, logprobs_above, lengths}, lens::fixed_groups{4},
                             lens::span<float>(b));
    REQUIRE(a == b);
  }
  SECTION("the GRPO family ignores log-probabilities and lengths entirely") {
    sequence_call call;
    call.settings = lens::presets::verl_grpo();
    call.logprob_sums = {static_cast<float>(nan_value), 7, 0, 0, 0, 0};
    call.lengths = {0, -5, 0, 0, 0, 0};
    call.scores = {-4, 100, 3, 0, 0, 2};  // any finite score
    REQUIRE(call.run(untouched).empty());
    token_call<float> tokens;
    tokens.settings = lens::presets::rloo();
    tokens.give_logprobs = false;
    tokens.token_rewards[0] = -50;
    REQUIRE(tokens.run(untouched).empty());
  }
  SECTION("empty groups in offsets and an empty batch") {
    sequence_call call;
    call.layout = 1;
    call.offsets = {0, 0, 3, 3, 6, 6};
    REQUIRE(call.run(untouched).empty());
    const std::vector<float> none;
    const std::vector<std::int64_t> zero_offset{0};
    std::vector<float> out;
    const auto summary = lens::compute_advantages(lens::sequence_inputs<float>{none, none, {}},
                                                  lens::offset_groups{zero_offset}, lens::span<float>(out));
    REQUIRE(summary.num_samples == 0);
    REQUIRE(summary.num_groups == 0);
    REQUIRE(summary.negative_group_fraction == 0.0);
  }
  SECTION("rewards exactly 0 and 1 and tolerance 0") {
    sequence_call call;
    call.settings.logprob_tolerance = 0;
    call.logprob_sums[2] = 0;
    REQUIRE(call.run(untouched).empty());
  }
}

namespace {

/// Per-sample call in precision Real on offsets {0, 2, ..., N}; returns the
/// message ("" when accepted), the advantages, and whether a rejection left
/// them and the statistics untouched.
template <class Real>
std::string run_pairs(const std::vector<double>& scores, const lens::advantage_settings& settings,
                      std::vector<double>& advantages, bool& untouched) {
  const std::vector<Real> values(scores.begin(), scores.end());
  const std::vector<Real> sums(scores.size(), Real(-1));
  const std::vector<std::int64_t> lengths(scores.size(), 1);
  std::vector<std::int64_t> offsets;
  for (std::size_t k = 0; k <= scores.size(); k += 2) offsets.push_back(static_cast<std::int64_t>(k));
  std::vector<Real> out(scores.size(), Real(sentinel));
  std::vector<lens::group_statistics> stats(1);
  std::string message;
  try {
    lens::compute_advantages(lens::sequence_inputs<Real>{values, sums, lengths}, lens::offset_groups{offsets},
                             lens::span<Real>(out), settings, &stats);
  } catch (const lens::invalid_argument& e) {
    message = e.what();
  }
  untouched = stats.size() == 1;
  for (Real a : out) untouched = untouched && a == Real(sentinel);
  advantages.assign(out.begin(), out.end());
  return message;
}

/// Whether message reports advantage_overflow for the given group.
bool overflow_in_group(const std::string& message, int group) {
  return message.rfind("lens: groups[" + std::to_string(group) + "] " + text(lens::error_code::advantage_overflow), 0) ==
         0;
}

}  // namespace

TEST_CASE("advantages beyond the output type are rejected before any write, naming the group", "[validation][overflow]") {
  std::vector<double> advantages;
  bool untouched = false;

  SECTION("RLOO: s minus the mean of the others, 6e38, fits double but not float") {
    // Dr. GRPO on the same pair gives +-3e38, which float holds: accepted.
    const std::vector<double> pair{0, 1, 3e38, -3e38};
    REQUIRE(run_pairs<float>(pair, lens::presets::dr_grpo(), advantages, untouched).empty());
    REQUIRE(advantages[2] == Approx(3e38));
    const std::vector<double> wider{0, 1, 3e38, -3e38, 3e38, -3e38, 3.3e38, -3.3e38};
    lens::advantage_settings rloo = lens::presets::rloo();
    REQUIRE(overflow_in_group(run_pairs<float>(wider, rloo, advantages, untouched), 1));
    REQUIRE(untouched);
    REQUIRE(run_pairs<double>(wider, rloo, advantages, untouched).empty());
    REQUIRE(advantages[2] == Approx(6e38));
    REQUIRE(advantages[7] == Approx(-6.6e38));
  }
  SECTION("LENS: alpha 1e300 scales a negative group beyond float") {
    lens::advantage_settings settings;
    settings.alpha = 1e300;
    const std::vector<double> rewards{0, 0, 1, 0};
    const std::vector<float> values(rewards.begin(), rewards.end());
    const std::vector<float> sums{-0.1f, -3.0f, -1.0f, -2.0f};
    const std::vector<std::int64_t> lengths{1, 1, 1, 1};
    std::vector<float> out(4, sentinel);
    try {
      lens::compute_advantages(lens::sequence_inputs<float>{values, sums, lengths}, lens::fixed_groups{2},
                               lens::span<float>(out), settings);
      FAIL("accepted");
    } catch (const lens::invalid_argument& e) {
      REQUIRE(overflow_in_group(e.what(), 0));
    }
    REQUIRE(out == std::vector<float>(4, sentinel));
  }
  SECTION("epsilon 0 and a spread whose variance underflows double") {
    lens::advantage_settings settings = lens::presets::verl_grpo();
    settings.epsilon = 0;
    const std::vector<double> scores{0, 1, 0, 5e-324};
    const std::string message = run_pairs<double>(scores, settings, advantages, untouched);
    REQUIRE(overflow_in_group(message, 1));
    REQUIRE(untouched);
    settings.epsilon = 1e-6;  // any epsilon a trainer uses keeps it finite (and ~0)
    REQUIRE(run_pairs<double>(scores, settings, advantages, untouched).empty());
    REQUIRE(std::abs(advantages[3]) < 1e-300);
  }
  SECTION("double scores whose squared spread overflows: the std would be inf and the advantages silently 0") {
    const std::vector<double> scores{0, 1, 1e300, -1e300};
    REQUIRE(overflow_in_group(run_pairs<double>(scores, lens::presets::verl_grpo(), advantages, untouched), 1));
    REQUIRE(untouched);
    // 1e150 squared still fits: accepted and exact.
    const std::vector<double> large{0, 1, 1e150, -1e150};
    REQUIRE(run_pairs<double>(large, lens::presets::verl_grpo(), advantages, untouched).empty());
    REQUIRE(advantages[2] == Approx(1 / std::sqrt(2.0)));
    REQUIRE(advantages[3] == Approx(-1 / std::sqrt(2.0)));
  }
}
