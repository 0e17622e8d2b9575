// reward() throughput on MATH-500-shaped model outputs, one core.
//
// Outputs are made from the 500 MATH-500 reference solutions, four per problem:
//   correct    the solution as written (ends in \boxed{answer});
//   perturbed  the boxed answer changed (a digit bumped, or "+1" appended);
//   minerva    no box: "... Final Answer: The final answer is $answer$. I hope it is correct.";
//   truncated  the last 40 bytes cut off (often an unclosed box: no answer).
// BM_reward_short_mix is the realistic mix of issue 14 (most answers short and
// structured): per problem a two-sentence output ending in the boxed answer, the
// same with the answer perturbed, the bare answer alone, and the bare answer
// perturbed. BM_reward_expressions times pairs that only the expression layer
// decides (reordered, factored, scaled equations, oriented inequalities), and
// their near misses, to show its cost per check.
// Run: build-math/bench/math/lens_math_reward_bench  (env LENS_MATH_DATA_DIR overrides the data folder)
#include <lens/math.hpp>
#include <lens/math/dataset.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

namespace {

struct scored_output {
  std::string output;
  std::string reference;
};

std::string perturb(std::string answer) {
  for (std::size_t k = answer.size(); k-- > 0;) {
    if (answer[k] >= '0' && answer[k] <= '9') {
      answer[k] = answer[k] == '9' ? '0' : static_cast<char>(answer[k] + 1);
      return answer;
    }
  }
  return answer + "+1";
}

const std::vector<scored_output>& outputs(const std::string& kind) {
  static std::vector<std::pair<std::string, std::vector<scored_output>>> cache;
  for (const auto& entry : cache) {
    if (entry.first == kind) return entry.second;
  }
  std::vector<scored_output> made;
  const auto records = lens::math::load_jsonl(lens::math::default_data_dir() + "/math500.jsonl");
  for (const auto& record : records) {
    const std::string boxed = "\\boxed{" + record.answer + "}";
    const std::size_t at = record.solution.rfind(boxed);
    std::string output = record.solution;
    if (kind == "perturbed" && at != std::string::npos) {
      output.replace(at, boxed.size(), "\\boxed{" + perturb(record.answer) + "}");
    } else if (kind == "minerva" && at != std::string::npos) {
      output.replace(at, boxed.size(), record.answer);
      output += "\nFinal Answer: The final answer is $" + record.answer + "$. I hope it is correct.";
    } else if (kind == "truncated") {
      output.resize(output.size() > 40 ? output.size() - 40 : 0);
    }
    made.push_back({std::move(output), record.answer});
  }
  cache.emplace_back(kind, std::move(made));
  return cache.back().second;
}

/// The timed loop every reward benchmark runs: lens::math::reward over the
/// items, checks and bytes a second, and the fraction scored correct.
template <class Items>
void time_rewards(benchmark::State& state, const Items& items) {
  double correct = 0;
  std::size_t bytes = 0;
  for (const auto& item : items) bytes += item.output.size();
  for (auto _ : state) {
    correct = 0;
    for (const auto& item : items) {
      const float r = lens::math::reward(item.output, item.reference);
      benchmark::DoNotOptimize(r);
      correct += r;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(items.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
  state.counters["fraction_correct"] = correct / static_cast<double>(items.size());
}

void run(benchmark::State& state, const std::string& kind) {
  const std::vector<scored_output>* data = nullptr;
  try {
    data = &outputs(kind);
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
    return;
  }
  time_rewards(state, *data);
}

void BM_reward_correct(benchmark::State& state) { run(state, "correct"); }
void BM_reward_perturbed(benchmark::State& state) { run(state, "perturbed"); }
void BM_reward_minerva(benchmark::State& state) { run(state, "minerva"); }
void BM_reward_truncated(benchmark::State& state) { run(state, "truncated"); }

// The same outputs interleaved: correct, perturbed, Minerva-style, truncated.
void BM_reward_mixed(benchmark::State& state) {
  static std::vector<scored_output> mixed;
  if (mixed.empty()) {
    try {
      for (const char* kind : {"correct", "perturbed", "minerva", "truncated"}) {
        for (const auto& item : outputs(kind)) mixed.push_back(item);
      }
    } catch (const std::exception& error) {
      state.SkipWithError(error.what());
      return;
    }
  }
  time_rewards(state, mixed);
}

const std::vector<scored_output>& short_mix() {
  static std::vector<scored_output> mix;
  if (!mix.empty()) return mix;
  for (const auto& record : lens::math::load_jsonl(lens::math::default_data_dir() + "/math500.jsonl")) {
    const std::string wrong = perturb(record.answer);
    mix.push_back({"We simplify and check the result.\nTherefore the final answer is $\\boxed{" + record.answer + "}$.",
                   record.answer});
    mix.push_back({"We simplify and check the result.\nTherefore the final answer is $\\boxed{" + wrong + "}$.",
                   record.answer});
    mix.push_back({record.answer, record.answer});
    mix.push_back({wrong, record.answer});
  }
  return mix;
}

void BM_reward_short_mix(benchmark::State& state) {
  const std::vector<scored_output>* data = nullptr;
  try {
    data = &short_mix();
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
    return;
  }
  time_rewards(state, *data);
}

void BM_reward_expressions(benchmark::State& state) {
  static const std::vector<scored_output> pairs = {
      {"\\boxed{-6 + 3x + x^3}", "x^3+3x-6"},          {"\\boxed{ab+5b+2a+10}", "(a+5)(b+2)"},
      {"\\boxed{2(k+1)}", "2k+2"},                     {"\\boxed{\\frac{9a+11}{20}}", "\\frac{11+9a}{20}"},
      {"\\boxed{\\frac{\\cos x}{\\sin x}}", "\\cot x"},   {"\\boxed{\\tan^2 y + 1}", "\\sec^2 y"},
      {"\\boxed{2x + 3 = y}", "y = 3 + 2x"},           {"\\boxed{2x + 4y - 3 = 0}", "y = -\\frac12 x + \\frac34"},
      {"\\boxed{-x > -1}", "x < 1"},                   {"\\boxed{5 \\geq x}", "x \\leq 5"},
      {"\\boxed{x^3+3x+6}", "x^3+3x-6"},               {"\\boxed{(a+2)(b+5)}", "(a+5)(b+2)"},
      {"\\boxed{2x}", "x^2"},                          {"\\boxed{x}", "\\sqrt{x^2}"},
      {"\\boxed{y = 2x - 3}", "y = 2x + 3"},           {"\\boxed{x > 1}", "x < 1"},
  };
  time_rewards(state, pairs);
}

void BM_is_equivalent_answers(benchmark::State& state) {
  const std::vector<scored_output>* data = nullptr;
  try {
    data = &outputs("correct");
  } catch (const std::exception& error) {
    state.SkipWithError(error.what());
    return;
  }
  for (auto _ : state) {
    for (const auto& item : *data) benchmark::DoNotOptimize(lens::math::is_equivalent(item.reference, item.reference));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(data->size()));
}

}  // namespace

BENCHMARK(BM_reward_correct);
BENCHMARK(BM_reward_perturbed);
BENCHMARK(BM_reward_minerva);
BENCHMARK(BM_reward_truncated);
BENCHMARK(BM_reward_mixed);
BENCHMARK(BM_reward_short_mix);
BENCHMARK(BM_reward_expressions);
BENCHMARK(BM_is_equivalent_answers);

BENCHMARK_MAIN();
