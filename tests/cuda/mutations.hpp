// tests/cuda/mutations.hpp: the bad inputs both GPU-side suites (the Thrust
// path on OpenMP, the CUDA kernels) feed in, each a small change to a good
// ragged batch, and the helper that reads the message a call throws. Each
// backend must throw the CPU backend's exact message and write nothing.
#pragma once

#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "cuda/batches.hpp"
#include "lens/core/errors.hpp"

namespace lens_test {

struct batch_mutation {
  const char* what;
  std::function<void(batch&)> apply;
};

/// The message a call throws as lens::invalid_argument, or "" when it does not throw.
inline std::string message_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const lens::invalid_argument& e) {
    return e.what();
  }
  return "";
}

/// Bad token-level inputs. `good` needs a row with at least 3 response tokens
/// and a masked position, and at least 4 groups.
inline std::vector<batch_mutation> bad_token_inputs(const batch& good) {
  const std::size_t t = good.num_tokens;
  std::size_t row = 0;
  while (!(good.lengths[row] >= 3 && std::size_t(good.lengths[row]) < t)) ++row;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  return {
      {"NaN score", [](batch& b) { b.scores[3] = NAN; }},
      {"reward above 1", [](batch& b) { b.scores[2] = 1.5f; }},
      {"mask value 2", [=](batch& b) { b.mask[row * t + 1] = 2; }},
      {"empty response", [=](batch& b) { for (std::size_t c = 0; c < t; ++c) b.mask[row * t + c] = 0; }},
      {"NaN logprob", [=](batch& b) { b.logprobs[row * t + 2] = nan; }},
      {"inf logprob", [=](batch& b) { b.logprobs[row * t + 1] = -INFINITY; }},
      {"logprob above 0", [=](batch& b) { b.logprobs[row * t + 1] = 0.5f; }},
      {"every logprob above 0", [](batch& b) { for (auto& v : b.logprobs) v = 0.5f; }},
      {"two bad rows, the later first in the row", [=](batch& b) {
         b.logprobs[(row + 1) * t] = 0.5f;
         b.logprobs[row * t + 2] = 0.5f;
       }},
      {"offsets[0] != 0", [](batch& b) { b.offsets[0] = 1; }},
      {"decreasing offsets", [](batch& b) { std::swap(b.offsets[2], b.offsets[3]); }},
      {"last offset short", [](batch& b) { b.offsets.back() -= 1; }},
      {"bad offsets and a bad logprob", [=](batch& b) {
         b.offsets[0] = 1;
         b.logprobs[row * t + 1] = 0.5f;
       }},
  };
}

/// Bad per-sample inputs.
inline std::vector<batch_mutation> bad_sequence_inputs() {
  return {
      {"inf score", [](batch& b) { b.scores[4] = INFINITY; }},
      {"negative reward", [](batch& b) { b.scores[1] = -0.5f; }},
      {"negative length", [](batch& b) { b.lengths[2] = -1; }},
      {"zero length", [](batch& b) { b.lengths[5] = 0; }},
      {"NaN logprob sum", [](batch& b) { b.logprob_sums[3] = NAN; }},
      {"logprob sum above 0", [](batch& b) { b.logprob_sums[3] = 2.0f; }},
      {"a bad score beats an earlier bad length", [](batch& b) {
         b.lengths[0] = 0;
         b.scores[5] = 2.0f;
       }},
  };
}

}  // namespace lens_test
