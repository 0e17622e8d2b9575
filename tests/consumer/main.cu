// Built against the installed package with lens::cuda: the CUDA backend
// reproduces one LENS worked example (docs/ALGORITHM.md section 7). Without a
// GPU it exits with 77 after printing why (CI then only compiles and links it).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include <lens/cuda/advantages.cuh>

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("consumer (cuda): built and linked; no GPU to run on\n");
    return 77;
  }
  const std::vector<float> rewards{0, 0, 0, 0};
  std::vector<float> logprob_sums;
  for (double p : {0.90, 0.80, 0.85, 0.60}) logprob_sums.push_back(static_cast<float>(std::log(p)));
  const std::vector<std::int64_t> lengths{1, 1, 1, 1};
  float *d_rewards = nullptr, *d_logprobs = nullptr, *d_advantages = nullptr;
  std::int64_t* d_lengths = nullptr;
  cudaMalloc(&d_rewards, 4 * sizeof(float));
  cudaMalloc(&d_logprobs, 4 * sizeof(float));
  cudaMalloc(&d_advantages, 4 * sizeof(float));
  cudaMalloc(&d_lengths, 4 * sizeof(std::int64_t));
  cudaMemcpy(d_rewards, rewards.data(), 4 * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(d_logprobs, logprob_sums.data(), 4 * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(d_lengths, lengths.data(), 4 * sizeof(std::int64_t), cudaMemcpyHostToDevice);
  lens::sequence_inputs<float> in;
  in.scores = lens::span<const float>(d_rewards, 4);
  in.logprob_sums = lens::span<const float>(d_logprobs, 4);
  in.response_lengths = lens::span<const std::int64_t>(d_lengths, 4);
  lens::cuda::compute_lens_advantages(in, lens::fixed_groups{4}, lens::span<float>(d_advantages, 4));
  std::vector<float> advantages(4);
  cudaMemcpy(advantages.data(), d_advantages, 4 * sizeof(float), cudaMemcpyDeviceToHost);
  const double expected[] = {-0.0125822, -0.0000822, -0.0060033, 0.0186678};
  for (int i = 0; i < 4; ++i) {
    if (std::abs(advantages[i] - expected[i]) > 1e-6) {
      std::printf("consumer (cuda): advantage %d is %.7f, expected %.7f\n", i, advantages[i], expected[i]);
      return 1;
    }
  }
  std::printf("consumer (cuda): lens::cuda found through find_package; LENS worked example reproduced on the GPU\n");
  return 0;
}
