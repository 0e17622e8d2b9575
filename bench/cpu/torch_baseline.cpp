// bench/cpu/torch_baseline.cpp: the LibTorch baseline, written the way Python
// trainers vectorise GRPO today, and LENS in the same style:
//   - fixed groups: view(-1, G) and per-row reductions (TRL, OpenRLHF);
//   - offsets: repeat_interleave(counts) to a group index, then index_add /
//     scatter_reduce (the ragged form);
//   - ids: torch.unique(return_inverse, return_counts), then index_add /
//     scatter_reduce (verl's vectorised GRPO);
//   - token level: scores = token_level_rewards.sum(-1) (verl), or the masked
//     sum of log-probs for LENS, and adv.unsqueeze(-1) * mask at the end.
// Every op allocates its result, as eager PyTorch does. Before timing, each
// case checks that LibTorch and lens agree on every output and aborts if not.
#include <torch/torch.h>

#include <limits>

#include "bench_cases.hpp"

namespace lens_bench {
namespace {

using torch::Tensor;

/// Per-group reductions over [M, G] rows (fixed groups): results keep the
/// group dimension, so broadcasting does the expand.
struct fixed_grouping {
  std::int64_t group_size;
  Tensor shape(const Tensor& x) const { return x.view({-1, group_size}); }
  Tensor sum(const Tensor& x) const { return x.sum(1, true); }
  Tensor amax(const Tensor& x) const { return x.amax(1, true); }
  Tensor expand(const Tensor& v) const { return v; }
  Tensor count(const Tensor& like) const { return torch::full({1, 1}, static_cast<double>(group_size), like.options()); }
  Tensor flat(const Tensor& x) const { return x.reshape({-1}); }
};

/// Per-group reductions by a group index per sample (offsets and ids).
struct scatter_grouping {
  Tensor index;   // [N] group of each sample
  Tensor counts;  // [num_groups] int64
  std::int64_t num_groups;
  Tensor shape(const Tensor& x) const { return x; }
  Tensor sum(const Tensor& x) const { return torch::zeros({num_groups}, x.options()).index_add_(0, index, x); }
  Tensor amax(const Tensor& x) const {
    return torch::full({num_groups}, -std::numeric_limits<double>::infinity(), x.options())
        .scatter_reduce_(0, index, x, "amax", true);
  }
  Tensor expand(const Tensor& v) const { return v.index_select(0, index); }
  Tensor count(const Tensor& like) const { return counts.to(like.scalar_type()); }
  Tensor flat(const Tensor& x) const { return x; }
};

scatter_grouping from_offsets(const Tensor& offsets) {
  const Tensor counts = offsets.diff();
  return {torch::repeat_interleave(counts), counts, counts.size(0)};
}

scatter_grouping from_ids(const Tensor& ids) {
  Tensor unique, inverse, counts;
  std::tie(unique, inverse, counts) = torch::_unique2(ids, /*sorted=*/true, /*return_inverse=*/true,
                                                      /*return_counts=*/true);
  return {inverse, counts, unique.size(0)};
}

/// verl's GRPO: (s - mean) / (std + eps), unbiased std; a singleton gets mean 0, std 1.
template <class Grouping>
Tensor grpo(const Grouping& g, const Tensor& scores, double epsilon) {
  const Tensor s = g.shape(scores);
  const Tensor count = g.count(s);
  const Tensor mean = g.sum(s) / count;
  const Tensor deviation = s - g.expand(mean);
  const Tensor std = (g.sum(deviation * deviation) / (count - 1)).sqrt();
  const Tensor singleton = g.expand(count == 1);
  const Tensor advantages =
      torch::where(singleton, s / (1 + epsilon), deviation / (g.expand(std) + epsilon));
  return g.flat(advantages);
}

/// LENS (docs/ALGORITHM.md section 3, defaults) in tensor ops: log-space difficulty via a
/// masked logsumexp per group, calibrated rewards, then GRPO normalisation
/// for mixed groups and alpha * (r~ - mean) for negative ones.
template <class Grouping>
Tensor lens_advantages(const Grouping& g, const Tensor& rewards, const Tensor& logprob_sums, const Tensor& lengths,
                       const lens::advantage_settings& settings) {
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor r = g.shape(rewards);
  const Tensor l = g.shape(logprob_sums);
  const Tensor log_conf = (l / g.shape(lengths)).clamp_max(0);
  const Tensor log_prob = l.clamp_max(0);  // raw sequence probability (the default)
  const Tensor count = g.count(r);
  const Tensor log_floor = g.amax(log_conf) + std::log(settings.floor_factor);
  const Tensor correct = r > 0;
  const Tensor term = torch::where(correct, r.log() - log_prob, torch::full({}, -inf, r.options()));
  const Tensor term_max = g.amax(term);
  const Tensor mixed = term_max > -inf;
  const Tensor safe_max = torch::where(mixed, term_max, torch::zeros({}, r.options()));
  const Tensor term_sum = g.sum((term - g.expand(safe_max)).exp());
  const Tensor log_importance = count.log() - (safe_max + term_sum.log());
  const Tensor log_difficulty = torch::where(mixed, torch::maximum(log_importance, log_floor), log_floor);
  const Tensor u = (log_conf - g.expand(log_difficulty)).exp();
  const Tensor shaped = r - (1 - r) * (u / (1 - u)) / g.expand(count);
  const Tensor mean = g.sum(shaped) / count;
  const Tensor deviation = shaped - g.expand(mean);
  const Tensor std = (g.sum(deviation * deviation) / (count - 1)).sqrt();
  const Tensor scale = torch::where(mixed, 1 / (std + settings.epsilon), torch::full({}, settings.alpha, r.options()));
  const Tensor singleton_scale = torch::where(mixed, torch::full({}, 1 / (1 + settings.epsilon), r.options()),
                                              torch::full({}, settings.alpha, r.options()));
  const Tensor advantages = torch::where(g.expand(count == 1), shaped * g.expand(singleton_scale),
                                         deviation * g.expand(scale));
  return g.flat(advantages);
}

Tensor blob(const void* data, std::int64_t size, torch::ScalarType type) {
  return torch::from_blob(const_cast<void*>(data), {size}, torch::TensorOptions().dtype(type));
}

/// One call of the baseline: per-sample advantages [N] (sequence level) or
/// token advantages [N x T] (token level).
Tensor run_torch(const case_inputs& in) {
  torch::NoGradGuard no_grad;
  const case_spec& s = in.spec;
  const auto n = static_cast<std::int64_t>(s.num_samples), t = static_cast<std::int64_t>(s.num_tokens);
  const auto settings = s.settings();
  const bool is_lens = s.kind == lens::estimator::lens;

  Tensor scores, logprob_sums, lengths, mask;
  if (s.lvl == level::sequence) {
    scores = blob(in.scores.data(), n, torch::kFloat);
    if (is_lens) {
      logprob_sums = blob(in.logprob_sums.data(), n, torch::kFloat);
      lengths = blob(in.lengths.data(), n, torch::kLong);
    }
  } else {
    mask = blob(in.mask.data(), n * t, torch::kUInt8).view({n, t});
    if (is_lens) {
      scores = blob(in.scores.data(), n, torch::kFloat);
      const Tensor logprobs = blob(in.logprobs.data(), n * t, torch::kFloat).view({n, t});
      logprob_sums = (logprobs * mask).sum(-1);
      lengths = mask.sum(-1);
    } else {
      scores = blob(in.token_rewards.data(), n * t, torch::kFloat).view({n, t}).sum(-1);
    }
  }

  auto compute = [&](const auto& grouping) {
    return is_lens ? lens_advantages(grouping, scores, logprob_sums, lengths, settings)
                   : grpo(grouping, scores, settings.epsilon);
  };
  Tensor advantages;
  switch (s.layout) {
    case layout_kind::fixed: advantages = compute(fixed_grouping{static_cast<std::int64_t>(s.group_size)}); break;
    case layout_kind::offsets:
      advantages = compute(from_offsets(blob(in.offsets.data(), static_cast<std::int64_t>(in.offsets.size()), torch::kLong)));
      break;
    case layout_kind::ids: advantages = compute(from_ids(blob(in.ids.data(), n, torch::kLong))); break;
  }
  if (s.lvl == level::token) return advantages.unsqueeze(-1) * mask;
  return advantages;
}

void bench_torch(benchmark::State& state, case_spec spec) {
  torch::set_num_threads(bench_threads());
  case_inputs& in = inputs_for(spec);
  {
    // Honesty check: the baseline must compute what lens computes.
    run_lens(in);
    const Tensor result = run_torch(in).contiguous();
    const std::vector<float>& expected = spec.lvl == level::token ? in.token_advantages : in.advantages;
    if (static_cast<std::size_t>(result.numel()) != expected.size()) {
      std::fprintf(stderr, "bench: LibTorch baseline returned %lld values, expected %zu\n",
                   static_cast<long long>(result.numel()), expected.size());
      std::abort();
    }
    require_close("LibTorch baseline", spec, result.data_ptr<float>(), expected.data(), expected.size(), 1e-4, 1e-3);
  }
  for (auto _ : state) {
    Tensor result = run_torch(in);
    benchmark::DoNotOptimize(result.data_ptr());
  }
  set_counters(state, spec);
}

}  // namespace

bool torch_available() { return true; }

void register_torch_case(const case_spec& spec) {
  configure(benchmark::RegisterBenchmark(spec.name("torch").c_str(), bench_torch, spec), spec);
}

}  // namespace lens_bench
