// tests/torch/test_torch.cpp: lens::torch, the LibTorch adapter. Results are
// pinned against the worked examples of docs/ALGORITHM.md and the independent scalar
// reference; every rejected input is checked for a message naming the argument.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "lens/torch.hpp"
#include "reference/scalar_reference.hpp"

namespace {

using Catch::Matchers::Contains;

/// One-token answers: log-prob log(pbar[i]) at column i % T, mask 1 there only;
/// every other column holds garbage that masking must hide.
struct one_token_batch {
  at::Tensor rewards, mask, index, logprobs;
};

one_token_batch make_one_token_batch(const std::vector<double>& scores, const std::vector<double>& pbar,
                                     std::int64_t num_tokens, std::int64_t group_id) {
  const auto n = static_cast<std::int64_t>(scores.size());
  one_token_batch b;
  b.rewards = torch::zeros({n, num_tokens}, torch::kFloat32);
  b.mask = torch::zeros({n, num_tokens}, torch::kInt64);
  b.logprobs = torch::full({n, num_tokens}, std::nan(""), torch::kFloat32);
  b.index = torch::full({n}, group_id, torch::kInt64);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t column = i % num_tokens;
    b.rewards[i][column] = scores[static_cast<std::size_t>(i)];
    b.mask[i][column] = 1;
    b.logprobs[i][column] = std::log(pbar[static_cast<std::size_t>(i)]);
  }
  return b;
}

void require_close(const at::Tensor& actual, const std::vector<double>& expected, double tolerance) {
  const at::Tensor a = actual.to(torch::kFloat64).contiguous();
  REQUIRE(a.numel() == static_cast<std::int64_t>(expected.size()));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("index " << i);
    REQUIRE(a[static_cast<std::int64_t>(i)].item<double>() == Approx(expected[i]).margin(tolerance));
  }
}

std::string message_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const lens::invalid_argument& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

}  // namespace

TEST_CASE("LENS worked example, negative group, through tensors", "[torch]") {
  // docs/ALGORITHM.md section 7: pbar = [0.90, 0.80, 0.85, 0.60], all wrong.
  const auto b = make_one_token_batch({0, 0, 0, 0}, {0.90, 0.80, 0.85, 0.60}, 3, 7);
  std::vector<lens::group_statistics> stats;
  const auto out = lens::torch::compute_lens_advantages(b.rewards, b.mask, b.index, b.logprobs, {}, &stats);
  require_close(out.advantages, {-0.0125822, -0.0000822, -0.0060033, 0.0186678}, 2e-7);
  REQUIRE(out.advantages.scalar_type() == torch::kFloat32);
  REQUIRE(out.token_advantages.sizes() == torch::IntArrayRef({4, 3}));
  // Token advantages are A_i where the mask is 1 and exactly 0 elsewhere.
  const at::Tensor expected_tokens = out.advantages.unsqueeze(1) * b.mask.to(torch::kFloat32);
  REQUIRE(torch::equal(out.token_advantages, expected_tokens));
  REQUIRE(out.summary.num_groups == 1);
  REQUIRE(out.summary.num_negative_groups == 1);
  REQUIRE(out.summary.num_nonzero_advantages == 4);
  REQUIRE(stats.size() == 1);
  REQUIRE(stats[0].group_id == 7);
  REQUIRE(stats[0].difficulty == Approx(1.8).epsilon(1e-6));

  // GRPO throws the same group away: every advantage exactly 0.
  const auto grpo = lens::torch::compute_grpo_advantages(b.rewards, b.mask, b.index);
  REQUIRE(torch::count_nonzero(grpo.advantages).item<std::int64_t>() == 0);
  REQUIRE(grpo.summary.num_nonzero_advantages == 0);
}

TEST_CASE("GRPO worked example (verl defaults), scores given per sample", "[torch]") {
  const at::Tensor scores = torch::tensor({1.0, 0.0, 0.0, 1.0}, torch::kFloat64);
  const at::Tensor mask = torch::ones({4, 2}, torch::kBool);
  const at::Tensor index = torch::tensor({3, 3, 3, 3}, torch::kInt64);
  const auto out = lens::torch::compute_grpo_advantages(scores, mask, index);
  REQUIRE(out.advantages.scalar_type() == torch::kFloat64);
  require_close(out.advantages, {0.8660239, -0.8660239, -0.8660239, 0.8660239}, 1e-7);
  require_close(out.token_advantages.select(1, 1), {0.8660239, -0.8660239, -0.8660239, 0.8660239}, 1e-7);
}

TEMPLATE_TEST_CASE("matches the scalar reference on random shuffled batches, every mask dtype", "[torch]", float,
                   double) {
  const auto real_type = std::is_same<TestType, double>::value ? torch::kFloat64 : torch::kFloat32;
  const double tolerance = std::is_same<TestType, double>::value ? 1e-10 : 2e-5;
  std::mt19937_64 rng(20251008);
  const std::vector<torch::Dtype> mask_types = {torch::kBool,    torch::kUInt8,   torch::kInt32,
                                                torch::kInt64,   torch::kFloat32, torch::kFloat64};
  for (const torch::Dtype mask_type : mask_types) {
    for (int trial = 0; trial < 5; ++trial) {
      const std::int64_t num_groups = 1 + static_cast<std::int64_t>(rng() % 6);
      const std::int64_t group_size = 1 + static_cast<std::int64_t>(rng() % 8);
      const std::int64_t n = num_groups * group_size, t = 1 + static_cast<std::int64_t>(rng() % 9);
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      std::vector<double> scores(n), sums(n), lengths(n);
      std::vector<std::int64_t> ids(n);
      at::Tensor rewards = torch::zeros({n, t}, torch::kFloat64);
      at::Tensor logprobs = torch::zeros({n, t}, torch::kFloat64);
      at::Tensor mask = torch::zeros({n, t}, torch::kFloat64);
      for (std::int64_t i = 0; i < n; ++i) ids[i] = 1000 + (i % num_groups) * 17;  // interleaved groups
      std::shuffle(ids.begin(), ids.end(), rng);
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t length = 1 + static_cast<std::int64_t>(rng() % t);
        scores[i] = unit(rng) < 0.3 ? 1.0 : 0.0;
        rewards[i][length - 1] = scores[i];  // verl puts the outcome on the last response token
        double sum = 0;
        for (std::int64_t c = 0; c < t; ++c) {
          const double lp = c < length ? std::log(0.05 + 0.95 * unit(rng)) : 0.0;
          logprobs[i][c] = c < length ? lp : 5.0;  // 5.0: garbage above 0 that the mask must hide
          mask[i][c] = c < length ? 1.0 : 0.0;
          sum += c < length ? static_cast<double>(static_cast<TestType>(lp)) : 0.0;
        }
        sums[i] = sum;
        lengths[i] = static_cast<double>(length);
      }
      const at::Tensor index = torch::tensor(ids, torch::kInt64);
      const at::Tensor typed_rewards = rewards.to(real_type), typed_logprobs = logprobs.to(real_type);
      const at::Tensor typed_mask = mask.to(mask_type);
      for (const lens::advantage_settings& settings :
           {lens::presets::lens(), lens::presets::verl_grpo(), lens::presets::trl_grpo(), lens::presets::rloo()}) {
        INFO("mask dtype " << mask_type << ", trial " << trial << ", estimator " << static_cast<int>(settings.kind));
        const auto expected = lens_reference::compute(scores, sums, lengths, ids, settings);
        const auto out = lens::torch::compute_advantages(typed_rewards, typed_mask, index, typed_logprobs, settings);
        require_close(out.advantages, expected.advantages, tolerance);
        const at::Tensor expected_tokens = out.advantages.unsqueeze(1) * typed_mask.to(real_type);
        REQUIRE(torch::equal(out.token_advantages, expected_tokens));
      }
      // Inputs are read, never written.
      REQUIRE(torch::equal(typed_logprobs, logprobs.to(real_type)));
      REQUIRE(torch::equal(typed_rewards, rewards.to(real_type)));
    }
  }
}

TEST_CASE("an empty batch gives empty outputs", "[torch]") {
  const auto out = lens::torch::compute_lens_advantages(torch::zeros({0, 4}), torch::zeros({0, 4}, torch::kBool),
                                                        torch::zeros({0}, torch::kInt64), torch::zeros({0, 4}));
  REQUIRE(out.advantages.numel() == 0);
  REQUIRE(out.token_advantages.sizes() == torch::IntArrayRef({0, 4}));
  REQUIRE(out.summary.num_samples == 0);
}

TEST_CASE("rejected tensors name the argument and the fix", "[torch]") {
  const at::Tensor rewards = torch::zeros({4, 3});
  const at::Tensor mask = torch::ones({4, 3}, torch::kBool);
  const at::Tensor index = torch::zeros({4}, torch::kInt64);
  const at::Tensor logprobs = torch::full({4, 3}, -0.5);
  auto lens_call = [&](const at::Tensor& r, const at::Tensor& m, const at::Tensor& i, const at::Tensor& l) {
    return [=] { lens::torch::compute_lens_advantages(r, m, i, l); };
  };

  CHECK_THAT(message_of(lens_call(rewards, mask, index, logprobs.to(torch::kFloat16))),
             Contains("old_log_probs") && Contains("Half") && Contains("float32 or float64"));
  CHECK_THAT(message_of(lens_call(rewards, mask, index, logprobs.to(torch::kFloat64))),
             Contains("old_log_probs") && Contains("both as float32 or both as float64"));
  CHECK_THAT(message_of(lens_call(rewards.to(torch::kInt64), mask, index, logprobs)),
             Contains("token_level_rewards") && Contains("Long"));
  CHECK_THAT(message_of(lens_call(rewards, mask.to(torch::kFloat16), index, logprobs)),
             Contains("response_mask") && Contains("Half"));
  CHECK_THAT(message_of(lens_call(rewards, mask, index.to(torch::kInt32), logprobs)),
             Contains("group_index") && Contains("int64"));
  CHECK_THAT(message_of(lens_call(rewards, mask, index, at::Tensor())),
             Contains("old_log_probs") && Contains("undefined"));
  CHECK_THAT(message_of(lens_call(rewards, mask, torch::zeros({5}, torch::kInt64), logprobs)),
             Contains("group_index") && Contains("[5]") && Contains("must be 4"));
  CHECK_THAT(message_of(lens_call(rewards, mask, index, torch::zeros({4, 2}))),
             Contains("old_log_probs") && Contains("dimension 1 must be 3"));
  CHECK_THAT(message_of(lens_call(torch::zeros({4, 3, 1}), mask, index, logprobs)),
             Contains("token_level_rewards") && Contains("[4, 3, 1]"));
  CHECK_THAT(message_of(lens_call(rewards, mask, index, torch::full({3, 4}, -0.5).t())),
             Contains("old_log_probs") && Contains("not contiguous") && Contains(".contiguous()"));
  CHECK_THAT(message_of(lens_call(rewards, mask, index, logprobs.to(torch::kMeta))),
             Contains("old_log_probs") && Contains("meta") && Contains("one device"));
  CHECK_THAT(message_of(lens_call(rewards.to(torch::kMeta), mask.to(torch::kMeta), index.to(torch::kMeta),
                                  logprobs.to(torch::kMeta))),
             Contains("token_level_rewards") && Contains("cpu or cuda"));

  // Values are checked by the backend, which names the offending element.
  at::Tensor bad_logprobs = logprobs.clone();
  bad_logprobs[2][1] = 0.5;
  CHECK_THAT(message_of(lens_call(rewards, mask, index, bad_logprobs)),
             Contains("logprobs[7]") && Contains("row 2, column 1"));
  at::Tensor bad_mask = torch::ones({4, 3}, torch::kInt64);
  bad_mask[1][0] = 2;
  CHECK_THAT(message_of(lens_call(rewards, bad_mask, index, logprobs)), Contains("mask[3]"));

  // GRPO needs no log-probs: an undefined tensor is fine.
  CHECK_NOTHROW(lens::torch::compute_grpo_advantages(rewards, mask, index));
}

#if !defined(LENS_TORCH_CUDA_BACKEND)
TEST_CASE("CUDA tensors are rejected when built without the CUDA backend", "[torch][cuda]") {
  STATIC_REQUIRE(!lens::torch::has_cuda_backend);
  if (!torch::cuda::is_available()) {
    SUCCEED("no GPU here; the CUDA rejection path is compile-checked only");
    return;
  }
  const auto cuda = torch::Device(torch::kCUDA);
  const std::string message = message_of([&] {
    lens::torch::compute_lens_advantages(torch::zeros({2, 2}, cuda), torch::ones({2, 2}, cuda),
                                         torch::zeros({2}, torch::TensorOptions(cuda).dtype(torch::kInt64)),
                                         torch::zeros({2, 2}, cuda));
  });
  CHECK_THAT(message, Contains("no CUDA backend"));
}
#endif
