// A toy batch of three problems, G = 4 answers each, one of them a negative
// group. Prints GRPO and LENS advantages side by side: GRPO gives the negative
// group nothing, LENS penalises its confident mistakes most.
#include <cmath>
#include <cstdio>
#include <vector>

#include "lens/lens.hpp"

int main() {
  const std::size_t group_size = 4;
  // rewards: problem 0 mixed, problem 1 negative (all wrong), problem 2 mixed
  const std::vector<float> rewards{1, 0, 0, 1, /**/ 0, 0, 0, 0, /**/ 0, 1, 0, 0};
  // per-answer length-normalised confidence pbar and length n; l = n * log pbar
  const std::vector<double> confidence{0.9, 0.6, 0.8, 0.7, /**/ 0.95, 0.5, 0.85, 0.3, /**/ 0.9, 0.4, 0.6, 0.7};
  const std::vector<std::int64_t> lengths{12, 30, 25, 18, /**/ 20, 40, 22, 35, /**/ 15, 28, 33, 19};
  std::vector<float> logprob_sums;
  for (std::size_t i = 0; i < confidence.size(); ++i)
    logprob_sums.push_back(static_cast<float>(static_cast<double>(lengths[i]) * std::log(confidence[i])));

  const lens::sequence_inputs<float> inputs{rewards, logprob_sums, lengths};
  std::vector<float> grpo(rewards.size()), lens_advantages(rewards.size());
  std::vector<lens::group_statistics> groups;
  const lens::batch_summary grpo_summary =
      lens::compute_grpo_advantages(inputs, lens::fixed_groups{group_size}, lens::span<float>(grpo));
  const lens::batch_summary lens_summary =
      lens::compute_lens_advantages(inputs, lens::fixed_groups{group_size}, lens::span<float>(lens_advantages), {}, &groups);

  std::printf("problem  answer  reward  confidence      GRPO      LENS\n");
  for (std::size_t i = 0; i < rewards.size(); ++i) {
    const std::size_t g = i / group_size;
    std::printf("%7zu  %6zu  %6.0f  %10.2f  %8.4f  %8.4f%s\n", g, i % group_size, double(rewards[i]), confidence[i],
                double(grpo[i]), double(lens_advantages[i]), groups[g].negative && i % group_size == 0 ? "   <- negative group" : "");
  }
  std::printf("\nLENS difficulty D per problem: %.3f %.3f %.3f\n", groups[0].difficulty, groups[1].difficulty,
              groups[2].difficulty);
  std::printf("negative group fraction: %.2f\n", lens_summary.negative_group_fraction);
  std::printf("samples carrying gradient: GRPO %.0f%%, LENS %.0f%%\n", 100 * grpo_summary.gradient_sample_fraction,
              100 * lens_summary.gradient_sample_fraction);
  return 0;
}
