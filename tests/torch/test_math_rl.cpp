// tests/torch/test_math_rl.cpp: three steps of the MATH example's loop
// (examples/math_rl/math_rl.hpp) on a tiny MATH-format file: the loss is
// finite, LENS moves the parameters even when every group is negative, GRPO
// gives every sample of a negative group exactly 0 while LENS penalises the
// confident ones most, and the step CSV is written.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <string>
#include <vector>

// LibTorch first: c10 defines its own CHECK, which Catch must redefine.
#include "math_rl.hpp"

#include <catch2/catch.hpp>

namespace {

math_rl::problem_set tiny_training_set(const math_rl::policy_options& options) {
  const auto records = lens::math::load_jsonl(std::string(LENS_TORCH_TEST_DATA) + "/train.jsonl");
  return math_rl::make_problem_set(math_rl::select_training_problems(records, 8, {1, 2, 3, 4, 5}, 3),
                                   options.buckets);
}

math_rl::policy_options tiny_policy() {
  math_rl::policy_options o;
  o.buckets = 256;
  o.problem_dim = 16;
  o.char_dim = 8;
  o.hidden = 32;
  o.max_answer_chars = 4;
  return o;
}

std::vector<torch::Tensor> snapshot(math_rl::policy& model) {
  std::vector<torch::Tensor> copy;
  for (const auto& p : model->parameters()) copy.push_back(p.detach().clone());
  return copy;
}

double largest_change(math_rl::policy& model, const std::vector<torch::Tensor>& before) {
  double change = 0;
  const auto now = model->parameters();
  for (std::size_t i = 0; i < now.size(); ++i)
    change = std::max(change, (now[i].detach() - before[i]).abs().max().item<double>());
  return change;
}

}  // namespace

TEST_CASE("the tiny data set loads and keeps the short integer answers", "[torch][math_rl]") {
  const auto set = tiny_training_set(tiny_policy());
  REQUIRE(set.records.size() == 8);  // 11 of 12 records qualify (not 5/6); the subset keeps 8
  for (const auto& r : set.records) CHECK(math_rl::is_short_integer(r.answer, 3));
  CHECK(math_rl::is_short_integer("-5", 3));
  CHECK_FALSE(math_rl::is_short_integer("\\frac{5}{6}", 3));
  CHECK_FALSE(math_rl::is_short_integer("1234", 3));
  CHECK_FALSE(math_rl::is_short_integer("-", 3));
}

TEST_CASE("negative groups: GRPO gives exactly 0, LENS penalises confident mistakes most", "[torch][math_rl]") {
  torch::manual_seed(11);
  const auto options = tiny_policy();
  const auto train = tiny_training_set(options);
  math_rl::policy model(options);  // untrained: its random answers are (almost surely) all wrong
  math_rl::rl_options rl;
  rl.group_size = 4;
  rl.problems_per_step = 4;
  math_rl::trainer trainer(model, train, rl);
  const math_rl::rollout batch = trainer.collect();
  REQUIRE(batch.tokens.sizes() == torch::IntArrayRef({16, options.max_answer_chars + 1}));

  const auto grpo = math_rl::compute_advantages(batch, math_rl::algorithm::grpo, 0.25);
  const auto lens = math_rl::compute_advantages(batch, math_rl::algorithm::lens, 0.25);
  REQUIRE(grpo.summary.num_groups == 4);
  REQUIRE(grpo.summary.num_negative_groups >= 1);
  REQUIRE(lens.summary.num_negative_groups == grpo.summary.num_negative_groups);

  // Per-sample confidence pbar_i = exp(mean log-prob over the response).
  const torch::Tensor pbar = torch::exp((batch.old_log_probs * batch.response_mask).sum(1) / batch.response_mask.sum(1));
  const torch::Tensor lens_token_sum = lens.token_advantages.sum(1);
  int negative_groups_checked = 0;
  for (std::int64_t g = 0; g < 4; ++g) {
    bool any_correct = false;
    for (std::int64_t i = g * 4; i < g * 4 + 4; ++i) any_correct = any_correct || batch.rewards[i] > 0;
    if (any_correct) continue;
    ++negative_groups_checked;
    double lens_sum = 0;
    for (std::int64_t i = g * 4; i < g * 4 + 4; ++i) {
      INFO("sample " << i << " answer \"" << batch.answers[i] << "\"");
      CHECK(grpo.advantages[i].item<float>() == 0.0f);
      CHECK(torch::count_nonzero(grpo.token_advantages[i]).item<std::int64_t>() == 0);
      CHECK(lens.advantages[i].item<float>() != 0.0f);
      // Token advantages are the sample's advantage on each response token.
      CHECK(lens_token_sum[i].item<float>() ==
            Approx(lens.advantages[i].item<float>() * batch.response_mask[i].sum().item<float>()));
      lens_sum += lens.advantages[i].item<double>();
      for (std::int64_t j = g * 4; j < g * 4 + 4; ++j)
        if (pbar[i].item<double>() > pbar[j].item<double>() + 1e-6)
          CHECK(lens.advantages[i].item<float>() < lens.advantages[j].item<float>());
    }
    CHECK(lens_sum == Approx(0.0).margin(1e-6));  // de-meaned within the group
  }
  REQUIRE(negative_groups_checked == static_cast<int>(grpo.summary.num_negative_groups));
}

TEST_CASE("three steps of each algorithm: finite loss, parameters, CSV", "[torch][math_rl]") {
  const auto options = tiny_policy();
  const auto train = tiny_training_set(options);
  torch::manual_seed(5);
  math_rl::policy initial(options);
  std::vector<math_rl::step_record> records;

  for (const auto kind : {math_rl::algorithm::grpo, math_rl::algorithm::lens}) {
    INFO("algorithm " << math_rl::name_of(kind));
    math_rl::policy model(options);
    math_rl::copy_parameters(model, initial);
    const auto before = snapshot(model);
    REQUIRE(largest_change(model, before) == 0.0);
    math_rl::rl_options rl;
    rl.kind = kind;
    rl.group_size = 4;
    rl.problems_per_step = 4;
    rl.seed = 3;
    torch::manual_seed(17);  // both algorithms see the same first rollout
    math_rl::trainer trainer(model, train, rl);
    double gradient_fraction = 0;
    for (int step = 1; step <= 3; ++step) {
      const auto r = trainer.step();
      CHECK(r.step == step);
      CHECK(std::isfinite(r.loss));
      CHECK(r.mean_reward >= 0.0);
      CHECK(r.samples_per_second > 0.0);
      gradient_fraction += r.gradient_sample_fraction;
      records.push_back(r);
    }
    const double change = largest_change(trainer.model(), before);
    if (kind == math_rl::algorithm::lens) {
      // From a random policy every group is negative: LENS learns anyway.
      CHECK(gradient_fraction > 0.0);
      CHECK(change > 1e-6);
    } else if (gradient_fraction == 0.0) {
      // GRPO on all-negative rollouts: zero advantages, so Adam does not move.
      CHECK(change == 0.0);
    } else {
      CHECK(change > 1e-6);
    }
  }

  const std::string path =
      (std::filesystem::temp_directory_path() / ("math_rl_steps_" + std::to_string(::getpid()) + ".csv")).string();
  math_rl::write_steps_csv(path, records);
  std::ifstream in(path);
  std::string header, line;
  std::getline(in, header);
  CHECK(header.rfind("algorithm,seed,step,mean_reward,negative_group_fraction,gradient_sample_fraction,loss", 0) == 0);
  int rows = 0, lens_rows = 0;
  while (std::getline(in, line)) {
    ++rows;
    lens_rows += line.rfind("lens,3,", 0) == 0;
  }
  CHECK(rows == 6);
  CHECK(lens_rows == 3);
  std::filesystem::remove(path);
}
