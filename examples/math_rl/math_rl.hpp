// examples/math_rl/math_rl.hpp: the pieces of the MATH policy-gradient example,
// wired the way a real trainer wires them: a small character-level policy,
// group rollouts at temperature 1, the verifiable reward (lens::math::reward),
// advantages from lens::torch (GRPO or LENS), and lens's fused PPO-clip loss
// (lens::torch::policy_loss) with token-level aggregation. main.cpp drives it; tests/torch/test_math_rl.cpp
// runs three steps of a tiny configuration.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "lens/math.hpp"
#include "lens/math/dataset.hpp"
#include "lens/torch.hpp"
#include "lens/torch/policy_loss.hpp"

namespace math_rl {

// ------------------------------------------------------------------ tokens
// Answers are printable ASCII, one token per character, plus end and start.
constexpr std::int64_t end_token = 0;    // ends an answer; also the padding after it
constexpr std::int64_t start_token = 1;  // the decoder's first input
constexpr std::int64_t first_char_token = 2;
constexpr std::int64_t vocabulary_size = first_char_token + 95;  // ' ' .. '~'

inline std::int64_t token_of(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u < 32 || u > 126) u = '?';
  return first_char_token + (u - 32);
}
inline char char_of(std::int64_t token) { return static_cast<char>(32 + token - first_char_token); }

/// What the policy's answer looks like to the verifier: the final answer in a
/// \boxed{}, as a MATH solution ends.
inline std::string as_model_output(const std::string& answer) { return "\\boxed{" + answer + "}"; }

// ------------------------------------------------------------------ problems
/// Hashed features of a problem's text: its whitespace-separated words and its
/// character trigrams (FNV-1a into `buckets`), deduplicated. Cheap to compute
/// and enough for a small model to tell training problems apart.
inline std::vector<std::int64_t> problem_features(const std::string& text, std::int64_t buckets) {
  auto hash = [](const char* data, std::size_t size, std::uint64_t salt) {
    std::uint64_t h = 1469598103934665603ull ^ salt;
    for (std::size_t i = 0; i < size; ++i) h = (h ^ static_cast<unsigned char>(data[i])) * 1099511628211ull;
    return h;
  };
  std::vector<std::int64_t> features;
  for (std::size_t i = 0; i + 3 <= text.size(); ++i)
    features.push_back(static_cast<std::int64_t>(hash(text.data() + i, 3, 3) % static_cast<std::uint64_t>(buckets)));
  std::size_t begin = 0;
  while (begin < text.size()) {
    while (begin < text.size() && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
    std::size_t end = begin;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    if (end > begin)
      features.push_back(static_cast<std::int64_t>(hash(text.data() + begin, end - begin, 1) %
                                                   static_cast<std::uint64_t>(buckets)));
    begin = end;
  }
  if (features.empty()) features.push_back(0);
  std::sort(features.begin(), features.end());
  features.erase(std::unique(features.begin(), features.end()), features.end());
  return features;
}

/// Problems with their precomputed features.
struct problem_set {
  std::vector<lens::math::problem_record> records;
  std::vector<std::vector<std::int64_t>> features;
};

inline problem_set make_problem_set(std::vector<lens::math::problem_record> records, std::int64_t buckets) {
  problem_set set;
  set.records = std::move(records);
  for (const auto& r : set.records) set.features.push_back(problem_features(r.problem, buckets));
  return set;
}

/// True for answers a character-level model can learn: an optional minus and
/// at most `max_digits` digits.
inline bool is_short_integer(const std::string& answer, std::size_t max_digits) {
  const std::size_t start = !answer.empty() && answer[0] == '-' ? 1 : 0;
  if (answer.size() == start || answer.size() - start > max_digits) return false;
  return std::all_of(answer.begin() + static_cast<std::ptrdiff_t>(start), answer.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

/// The training subset: records of the given levels whose answer is a short
/// integer, in a fixed shuffled order (the same for every seed, so runs with
/// different seeds train on the same problems), the first `subset_size`.
inline std::vector<lens::math::problem_record> select_training_problems(
    const std::vector<lens::math::problem_record>& records, std::size_t subset_size, const std::vector<int>& levels,
    std::size_t max_answer_digits) {
  std::vector<lens::math::problem_record> kept;
  for (const auto& r : records)
    if (std::find(levels.begin(), levels.end(), r.level) != levels.end() &&
        is_short_integer(r.answer, max_answer_digits))
      kept.push_back(r);
  std::mt19937_64 order(0x1e75);
  std::shuffle(kept.begin(), kept.end(), order);
  if (kept.size() > subset_size) kept.resize(subset_size);
  return kept;
}

// ------------------------------------------------------------------ policy
struct policy_options {
  std::int64_t buckets = 1 << 13;     ///< hashed problem features
  std::int64_t problem_dim = 64;      ///< problem vector
  std::int64_t char_dim = 32;         ///< answer character embedding
  std::int64_t hidden = 128;          ///< GRU state
  std::int64_t max_answer_chars = 8;  ///< answers longer than this are cut (T = max_answer_chars + 1)
};

/// A problem encoder (mean of hashed feature embeddings) and an
/// autoregressive character decoder (a GRU whose start state and every input
/// see the problem vector).
struct policy_impl : torch::nn::Module {
  explicit policy_impl(const policy_options& o)
      : options(o),
        features(register_module("features", torch::nn::EmbeddingBag(torch::nn::EmbeddingBagOptions(
                                                 o.buckets, o.problem_dim).mode(torch::kMean)))),
        to_state(register_module("to_state", torch::nn::Linear(o.problem_dim, o.hidden))),
        chars(register_module("chars", torch::nn::Embedding(vocabulary_size, o.char_dim))),
        decoder(register_module("decoder", torch::nn::GRU(torch::nn::GRUOptions(o.char_dim + o.problem_dim, o.hidden)
                                                                  .batch_first(true)))),
        head(register_module("head", torch::nn::Linear(o.hidden, vocabulary_size))) {}

  std::int64_t num_tokens() const { return options.max_answer_chars + 1; }

  /// [B, problem_dim] problem vectors for the problems `indices` of `set`.
  torch::Tensor encode(const problem_set& set, const std::vector<std::int64_t>& indices) {
    std::vector<std::int64_t> flat, offsets;
    for (const std::int64_t p : indices) {
      offsets.push_back(static_cast<std::int64_t>(flat.size()));
      const auto& f = set.features[static_cast<std::size_t>(p)];
      flat.insert(flat.end(), f.begin(), f.end());
    }
    const auto device = head->weight.device();
    return features(torch::tensor(flat, torch::kInt64).to(device), torch::tensor(offsets, torch::kInt64).to(device));
  }

  /// log pi(token_t | problem, tokens_<t) for every position of `tokens` [B, T]
  /// (teacher forcing); positions after the end token are computed but masked
  /// by the caller.
  torch::Tensor token_log_probs(const torch::Tensor& problem, const torch::Tensor& tokens) {
    const std::int64_t b = tokens.size(0), t = tokens.size(1);
    const torch::Tensor inputs =
        torch::cat({torch::full({b, 1}, start_token, tokens.options()), tokens.slice(1, 0, t - 1)}, 1);
    const torch::Tensor x = torch::cat({chars(inputs), problem.unsqueeze(1).expand({b, t, problem.size(1)})}, 2);
    const torch::Tensor states = std::get<0>(decoder(x, initial_state(problem)));
    return torch::log_softmax(head(states), -1).gather(2, tokens.unsqueeze(2)).squeeze(2);
  }

  /// Samples one answer per row of `problem` at `temperature`: tokens [B, T]
  /// (end token, then end-token padding), their log-probabilities under the
  /// sampling distribution [B, T] (0 after the end) and the response mask
  /// [B, T] (float 1 up to and including the end token).
  struct samples {
    torch::Tensor tokens, log_probs, mask;
  };
  samples sample(const torch::Tensor& problem, double temperature = 1.0) {
    torch::NoGradGuard no_grad;
    const std::int64_t b = problem.size(0), t = num_tokens();
    const auto long_options = torch::TensorOptions(problem.device()).dtype(torch::kInt64);
    torch::Tensor state = initial_state(problem);
    torch::Tensor previous = torch::full({b}, start_token, long_options);
    torch::Tensor finished = torch::zeros({b}, long_options.dtype(torch::kBool));
    std::vector<torch::Tensor> tokens, log_probs, mask;
    for (std::int64_t step = 0; step < t; ++step) {
      const torch::Tensor x = torch::cat({chars(previous), problem}, 1).unsqueeze(1);
      auto out = decoder(x, state);
      state = std::get<1>(out);
      const torch::Tensor log_p = torch::log_softmax(head(std::get<0>(out).squeeze(1)) / temperature, -1);
      torch::Tensor token = torch::multinomial(log_p.exp(), 1).squeeze(1);
      token = torch::where(finished, torch::full_like(token, end_token), token);
      const torch::Tensor alive = finished.logical_not();
      tokens.push_back(token);
      log_probs.push_back(log_p.gather(1, token.unsqueeze(1)).squeeze(1) * alive);
      mask.push_back(alive.to(torch::kFloat32));
      finished = finished.logical_or(token == end_token);
      previous = token;
    }
    return {torch::stack(tokens, 1), torch::stack(log_probs, 1), torch::stack(mask, 1)};
  }

  policy_options options;
  torch::nn::EmbeddingBag features;
  torch::nn::Linear to_state;
  torch::nn::Embedding chars;
  torch::nn::GRU decoder;
  torch::nn::Linear head;

 private:
  torch::Tensor initial_state(const torch::Tensor& problem) { return torch::tanh(to_state(problem)).unsqueeze(0); }
};
TORCH_MODULE_IMPL(policy, policy_impl);

/// Copies every parameter of `from` into `to` (same options): the RL runs of
/// both algorithms start from the same warm-started weights.
inline void copy_parameters(policy& to, const policy& from) {
  torch::NoGradGuard no_grad;
  const auto source = from->parameters();
  auto target = to->parameters();
  for (std::size_t i = 0; i < target.size(); ++i) target[i].copy_(source[i]);
}

/// The answer strings of sampled token rows (up to the end token).
inline std::vector<std::string> decode(const torch::Tensor& tokens) {
  const torch::Tensor cpu = tokens.to(torch::kCPU).contiguous();
  const std::int64_t b = cpu.size(0), t = cpu.size(1);
  const std::int64_t* data = cpu.data_ptr<std::int64_t>();
  std::vector<std::string> answers(static_cast<std::size_t>(b));
  for (std::int64_t i = 0; i < b; ++i)
    for (std::int64_t c = 0; c < t && data[i * t + c] != end_token; ++c)
      answers[static_cast<std::size_t>(i)] += data[i * t + c] >= first_char_token ? char_of(data[i * t + c]) : '?';
  return answers;
}

/// Answer + end token as a [T] row for teacher forcing (cut to T - 1 chars),
/// and its mask.
inline void encode_answer(const std::string& answer, std::int64_t t, std::int64_t* tokens, float* mask) {
  const auto chars = std::min<std::int64_t>(static_cast<std::int64_t>(answer.size()), t - 1);
  for (std::int64_t c = 0; c < t; ++c) {
    tokens[c] = c < chars ? token_of(answer[static_cast<std::size_t>(c)]) : end_token;
    mask[c] = c <= chars ? 1.0f : 0.0f;
  }
}

// ------------------------------------------------------------------ warm start
/// Supervised warm start on the reference answers of the training problems
/// (cross-entropy, token mean), so that RL starts from a policy that is right
/// sometimes and confidently wrong often. Returns the last epoch's mean loss.
inline double warm_start(policy& model, const problem_set& train, int epochs, double learning_rate,
                         std::int64_t batch_size, std::uint64_t seed) {
  if (epochs <= 0 || train.records.empty()) return 0.0;
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(learning_rate));
  std::vector<std::int64_t> order(train.records.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed ^ 0x5eedu);
  const std::int64_t t = model->num_tokens();
  const auto device = model->head->weight.device();
  double epoch_loss = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    int batches = 0;
    for (std::size_t begin = 0; begin < order.size(); begin += static_cast<std::size_t>(batch_size)) {
      const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(batch_size));
      const std::vector<std::int64_t> batch(order.begin() + static_cast<std::ptrdiff_t>(begin),
                                            order.begin() + static_cast<std::ptrdiff_t>(end));
      const auto b = static_cast<std::int64_t>(batch.size());
      torch::Tensor tokens = torch::empty({b, t}, torch::kInt64), mask = torch::empty({b, t}, torch::kFloat32);
      for (std::int64_t i = 0; i < b; ++i)
        encode_answer(train.records[static_cast<std::size_t>(batch[static_cast<std::size_t>(i)])].answer, t,
                      tokens.data_ptr<std::int64_t>() + i * t, mask.data_ptr<float>() + i * t);
      tokens = tokens.to(device);
      mask = mask.to(device);
      const torch::Tensor log_probs = model->token_log_probs(model->encode(train, batch), tokens);
      const torch::Tensor loss = -(log_probs * mask).sum() / mask.sum();
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    epoch_loss = loss_sum / batches;
  }
  return epoch_loss;
}

// ------------------------------------------------------------------ RL
enum class algorithm { grpo, lens };
inline const char* name_of(algorithm a) { return a == algorithm::grpo ? "grpo" : "lens"; }
inline const char* label_of(algorithm a) { return a == algorithm::grpo ? "GRPO" : "LENS"; }

struct rl_options {
  algorithm kind = algorithm::lens;
  std::int64_t group_size = 8;          ///< G samples per problem
  std::int64_t problems_per_step = 16;  ///< P problems per step
  int inner_epochs = 2;                 ///< PPO epochs over each rollout
  double learning_rate = 1e-3;          ///< Adam
  double clip = 0.2;                    ///< PPO clip range, as the paper (no KL term)
  double alpha = 0.25;                  ///< LENS negative-group scale
  double max_grad_norm = 1.0;
  double temperature = 1.0;
  std::uint64_t seed = 1;
};

/// One rollout in verl's layout, flattened as B = P * G rows of T tokens.
struct rollout {
  std::vector<std::int64_t> problems;  ///< [P] indices into the training set
  torch::Tensor tokens;                ///< [B, T] int64
  torch::Tensor old_log_probs;         ///< [B, T] float32, log pi_old of the sampled tokens (0 where masked)
  torch::Tensor response_mask;         ///< [B, T] float32
  torch::Tensor token_level_rewards;   ///< [B, T] float32: the outcome reward on the last response token
  torch::Tensor group_index;           ///< [B] int64: the problem's index, verl's uid
  std::vector<float> rewards;          ///< [B]
  std::vector<std::string> answers;    ///< [B]
};

/// Everything a progress line, the CSV and the plot need about one step.
struct step_record {
  std::string algorithm;
  std::uint64_t seed = 0;
  int step = 0;
  double mean_reward = 0;
  double negative_group_fraction = 0;
  double gradient_sample_fraction = 0;
  double loss = 0;
  double samples_per_second = 0;
  double step_seconds = 0;
};

/// The advantages of `batch` from lens::torch, on the batch's device. With
/// CUDA tensors and no CUDA backend compiled in, the [B, T] inputs (a few KB)
/// go to the CPU and the result comes back.
inline lens::torch::advantage_tensors compute_advantages(const rollout& batch, algorithm kind, double alpha) {
  const auto device = batch.token_level_rewards.device();
  const bool via_cpu = device.is_cuda() && !lens::torch::has_cuda_backend;
  auto here = [&](const torch::Tensor& t) { return via_cpu ? t.to(torch::kCPU) : t; };
  lens::torch::advantage_tensors out;
  if (kind == algorithm::lens) {
    lens::advantage_settings settings = lens::presets::lens();
    settings.alpha = alpha;
    out = lens::torch::compute_lens_advantages(here(batch.token_level_rewards), here(batch.response_mask),
                                               here(batch.group_index), here(batch.old_log_probs), settings);
  } else {
    out = lens::torch::compute_grpo_advantages(here(batch.token_level_rewards), here(batch.response_mask),
                                               here(batch.group_index));
  }
  if (via_cpu) {
    out.advantages = out.advantages.to(device);
    out.token_advantages = out.token_advantages.to(device);
  }
  return out;
}

/// The RL loop of one algorithm: rollout, reward, advantages, PPO-clip update.
class trainer {
 public:
  trainer(policy model, const problem_set& train, const rl_options& options)
      : model_(std::move(model)),
        train_(train),
        options_(options),
        optimizer_(model_->parameters(), torch::optim::AdamOptions(options.learning_rate)),
        order_rng_(options.seed) {
    order_.resize(train_.records.size());
    std::iota(order_.begin(), order_.end(), 0);
  }

  /// Samples G answers for each of the next P problems and scores them.
  rollout collect() {
    rollout batch;
    const auto p = std::min<std::int64_t>(options_.problems_per_step, static_cast<std::int64_t>(order_.size()));
    for (std::int64_t i = 0; i < p; ++i) batch.problems.push_back(next_problem());
    const std::int64_t g = options_.group_size;
    const auto device = model_->head->weight.device();
    {
      torch::NoGradGuard no_grad;
      const torch::Tensor problem = model_->encode(train_, batch.problems).repeat_interleave(g, 0);
      auto s = model_->sample(problem, options_.temperature);
      batch.tokens = s.tokens;
      batch.old_log_probs = s.log_probs;
      batch.response_mask = s.mask;
    }
    batch.answers = decode(batch.tokens);
    const std::int64_t b = p * g, t = batch.tokens.size(1);
    const torch::Tensor lengths = batch.response_mask.sum(1).to(torch::kInt64).to(torch::kCPU).contiguous();
    torch::Tensor rewards = torch::zeros({b, t}, torch::kFloat32);
    float* reward_rows = rewards.data_ptr<float>();
    std::vector<std::int64_t> ids(static_cast<std::size_t>(b));
    batch.rewards.resize(static_cast<std::size_t>(b));
    for (std::int64_t i = 0; i < b; ++i) {
      const std::int64_t problem = batch.problems[static_cast<std::size_t>(i / g)];
      const float r = lens::math::reward(as_model_output(batch.answers[static_cast<std::size_t>(i)]),
                                         train_.records[static_cast<std::size_t>(problem)].answer);
      batch.rewards[static_cast<std::size_t>(i)] = r;
      // verl: the outcome sits on the last response token.
      reward_rows[i * t + lengths.data_ptr<std::int64_t>()[i] - 1] = r;
      ids[static_cast<std::size_t>(i)] = problem;
    }
    batch.token_level_rewards = rewards.to(device);
    batch.group_index = torch::tensor(ids, torch::kInt64).to(device);
    return batch;
  }

  /// The PPO-clip loss -min(r A, clip(r, 1 - clip, 1 + clip) A), token-mean
  /// over the batch's response tokens (verl's "token-mean"), from lens's fused
  /// loss (lens::torch::policy_loss: TRL's two-sided clip without delta, its
  /// gradient computed in the forward pass). On CUDA without lens's CUDA
  /// backend the loss runs on CPU copies; autograd carries the gradient back.
  torch::Tensor policy_loss(const torch::Tensor& log_probs, const rollout& batch,
                            const torch::Tensor& token_advantages) const {
    lens::policy_loss_settings settings;
    settings.kind = lens::policy_loss_kind::two_sided;
    settings.clip_ratio_low = options_.clip;
    settings.clip_ratio_high = options_.clip;
    settings.aggregation = lens::loss_aggregation::token_mean;
    const bool via_cpu = log_probs.device().is_cuda() && !LENS_TORCH_POLICY_LOSS_HAS_CUDA;
    auto here = [&](const torch::Tensor& t) { return (via_cpu ? t.to(torch::kCPU) : t).contiguous(); };
    torch::Tensor loss = lens::torch::policy_loss(here(log_probs), here(batch.old_log_probs),
                                                  here(token_advantages.to(log_probs.scalar_type())),
                                                  here(batch.response_mask), settings)
                             .loss;
    return via_cpu ? loss.to(log_probs.device()) : loss;
  }

  /// PPO-clip on one rollout: `inner_epochs` full-batch passes of policy_loss.
  /// Returns the mean loss over the passes.
  double update(const rollout& batch, const torch::Tensor& token_advantages) {
    double loss_sum = 0;
    for (int epoch = 0; epoch < options_.inner_epochs; ++epoch) {
      const torch::Tensor problem =
          model_->encode(train_, batch.problems).repeat_interleave(options_.group_size, 0);
      const torch::Tensor log_probs = model_->token_log_probs(problem, batch.tokens);
      const torch::Tensor loss = policy_loss(log_probs, batch, token_advantages);
      optimizer_.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(model_->parameters(), options_.max_grad_norm);
      optimizer_.step();
      loss_sum += loss.item<double>();
    }
    return loss_sum / std::max(1, options_.inner_epochs);
  }

  /// One whole step: rollout, rewards, advantages, update.
  step_record step() {
    const auto start = std::chrono::steady_clock::now();
    const rollout batch = collect();
    const auto advantages = compute_advantages(batch, options_.kind, options_.alpha);
    step_record record;
    record.algorithm = name_of(options_.kind);
    record.seed = options_.seed;
    record.step = ++steps_done_;
    record.loss = update(batch, advantages.token_advantages);
    record.mean_reward =
        std::accumulate(batch.rewards.begin(), batch.rewards.end(), 0.0) / static_cast<double>(batch.rewards.size());
    record.negative_group_fraction = advantages.summary.negative_group_fraction;
    record.gradient_sample_fraction = advantages.summary.gradient_sample_fraction;
    record.step_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    record.samples_per_second = static_cast<double>(batch.rewards.size()) / record.step_seconds;
    return record;
  }

  policy& model() { return model_; }

 private:
  std::int64_t next_problem() {
    if (cursor_ == 0) std::shuffle(order_.begin(), order_.end(), order_rng_);
    const std::int64_t problem = order_[cursor_];
    cursor_ = (cursor_ + 1) % order_.size();
    return problem;
  }

  policy model_;
  const problem_set& train_;
  rl_options options_;
  torch::optim::Adam optimizer_;
  std::mt19937_64 order_rng_;
  std::vector<std::int64_t> order_;
  std::size_t cursor_ = 0;
  int steps_done_ = 0;
};

// ------------------------------------------------------------------ evaluation
/// pass@1 (mean fraction correct of k samples) and pass@k (any of k correct),
/// per MATH level (index 1..5; index 0 = every level).
struct pass_rates {
  std::int64_t k = 0;
  std::int64_t count[6] = {};
  double pass_at_1[6] = {};
  double pass_at_k[6] = {};
};

inline pass_rates evaluate(policy& model, const problem_set& set, std::int64_t k, std::int64_t problems_per_batch = 64,
                           double temperature = 1.0) {
  torch::NoGradGuard no_grad;
  pass_rates out;
  out.k = k;
  const auto n = static_cast<std::int64_t>(set.records.size());
  for (std::int64_t begin = 0; begin < n; begin += problems_per_batch) {
    std::vector<std::int64_t> batch;
    for (std::int64_t p = begin; p < std::min(n, begin + problems_per_batch); ++p) batch.push_back(p);
    const auto s = model->sample(model->encode(set, batch).repeat_interleave(k, 0), temperature);
    const std::vector<std::string> answers = decode(s.tokens);
    for (std::size_t j = 0; j < batch.size(); ++j) {
      const auto& record = set.records[static_cast<std::size_t>(batch[j])];
      int correct = 0;
      for (std::int64_t i = 0; i < k; ++i)
        correct += lens::math::reward(as_model_output(answers[j * static_cast<std::size_t>(k) + static_cast<std::size_t>(i)]),
                                      record.answer) > 0;
      auto add = [&](int level) {
        out.count[level] += 1;
        out.pass_at_1[level] += static_cast<double>(correct) / static_cast<double>(k);
        out.pass_at_k[level] += correct > 0 ? 1.0 : 0.0;
      };
      add(0);
      if (record.level >= 1 && record.level <= 5) add(record.level);
    }
  }
  for (int level = 0; level <= 5; ++level) {
    if (out.count[level] == 0) continue;
    out.pass_at_1[level] /= static_cast<double>(out.count[level]);
    out.pass_at_k[level] /= static_cast<double>(out.count[level]);
  }
  return out;
}

// ------------------------------------------------------------------ output
inline void write_steps_csv(const std::string& path, const std::vector<step_record>& records) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << "algorithm,seed,step,mean_reward,negative_group_fraction,gradient_sample_fraction,loss,"
         "samples_per_second,step_seconds\n";
  for (const auto& r : records)
    out << r.algorithm << ',' << r.seed << ',' << r.step << ',' << r.mean_reward << ',' << r.negative_group_fraction
        << ',' << r.gradient_sample_fraction << ',' << r.loss << ',' << r.samples_per_second << ','
        << r.step_seconds << '\n';
  if (!out) throw std::runtime_error("error writing " + path);
}

}  // namespace math_rl
