// examples/math_rl/main.cpp: policy-gradient RL on MATH with LibTorch, GRPO
// and LENS side by side on the same seeds and budget. Prints a progress line
// per step and a pass@1 / pass@G table at the end; writes a CSV of every step,
// the evaluation CSV, the table (Markdown) and a PNG of the training curves.
//
//   math_rl                         # the default: warm start, then GRPO and LENS, same seed
//   math_rl --algorithm lens --steps 500 --seeds 3 --out out/long
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "math_rl.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct settings {
  std::string algorithm = "both";
  std::int64_t group_size = 8;
  std::int64_t problems_per_step = 16;
  int steps = 300;
  double learning_rate = 1e-3;
  double alpha = 0.25;
  int inner_epochs = 2;
  std::uint64_t seed = 1;
  int seeds = 3;
  std::string data_dir = lens::math::default_data_dir();
  std::size_t subset = 512;
  std::string levels = "1,2,3,4,5";
  std::size_t answer_digits = 3;
  int warm_epochs = 20;
  double warm_learning_rate = 3e-3;
  std::int64_t max_answer_chars = 8;
  int threads = 1;
  std::string device = "auto";
  std::string out_dir = "out";
  int log_every = 1;
  bool evaluate_math500 = true;
};

std::string format_duration(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  std::ostringstream out;
  out << s / 60 << ':' << std::setw(2) << std::setfill('0') << s % 60;
  return out.str();
}

std::vector<int> parse_levels(const std::string& text) {
  std::vector<int> levels;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const int level = std::stoi(item);
    if (level < 1 || level > 5) throw CLI::ValidationError("--levels", "each level must be 1..5, got " + item);
    levels.push_back(level);
  }
  if (levels.empty()) throw CLI::ValidationError("--levels", "give at least one level");
  return levels;
}

/// The MATH files this example reads, or a message that names them.
void require_data(const std::string& dir) {
  namespace fs = std::filesystem;
  std::string missing;
  for (const char* name : {"train.jsonl", "math500.jsonl"})
    if (!fs::is_regular_file(fs::path(dir) / name)) missing += std::string(missing.empty() ? "" : ", ") + name;
  if (!missing.empty())
    throw std::runtime_error("MATH data not found: " + dir + " lacks " + missing +
                             ". Expected train.jsonl (MATH train split, 7,500 records) and math500.jsonl "
                             "(MATH-500) in that folder, as in ../shared/data/math beside the repository; "
                             "pass --data DIR or set LENS_MATH_DATA_DIR.");
}

struct evaluation_row {
  std::uint64_t seed;
  std::string policy;  // warm, grpo, lens
  std::string split;   // train, math500
  math_rl::pass_rates rates;
};

/// Mean over seeds of pass@1 / pass@k for one policy and split.
struct averaged {
  double pass_at_1[6] = {}, pass_at_k[6] = {};
  std::int64_t count[6] = {};
  int runs = 0;
};

std::map<std::pair<std::string, std::string>, averaged> average(const std::vector<evaluation_row>& rows) {
  std::map<std::pair<std::string, std::string>, averaged> out;
  for (const auto& row : rows) {
    auto& a = out[{row.policy, row.split}];
    for (int level = 0; level <= 5; ++level) {
      a.pass_at_1[level] += row.rates.pass_at_1[level];
      a.pass_at_k[level] += row.rates.pass_at_k[level];
      a.count[level] = row.rates.count[level];
    }
    ++a.runs;
  }
  for (auto& entry : out)
    for (int level = 0; level <= 5; ++level) {
      entry.second.pass_at_1[level] /= entry.second.runs;
      entry.second.pass_at_k[level] /= entry.second.runs;
    }
  return out;
}

/// The side-by-side table, in Markdown (prints well in a terminal too).
std::string results_table(const std::vector<evaluation_row>& rows, const std::vector<std::string>& policies,
                          std::int64_t k, const std::string& caption) {
  const auto means = average(rows);
  auto label = [](const std::string& policy) {
    return policy == "warm" ? std::string("warm start") : policy == "grpo" ? std::string("GRPO") : std::string("LENS");
  };
  std::ostringstream out;
  out << caption << "\n\n| split | level | problems |";
  for (const auto& p : policies) out << ' ' << label(p) << " pass@1 | " << label(p) << " pass@" << k << " |";
  out << "\n| --- | --- | ---: |";
  for (std::size_t i = 0; i < policies.size(); ++i) out << " ---: | ---: |";
  out << '\n';
  for (const std::string split : {"train", "math500"}) {
    const auto any = means.find({policies.front(), split});
    if (any == means.end()) continue;
    for (int level = 0; level <= 5; ++level) {
      if (any->second.count[level] == 0) continue;
      out << "| " << (split == "train" ? "training problems" : "MATH-500") << " | "
          << (level == 0 ? std::string("all") : std::to_string(level)) << " | " << any->second.count[level] << " |";
      for (const auto& p : policies) {
        const auto& a = means.at({p, split});
        out << std::fixed << std::setprecision(1) << ' ' << 100 * a.pass_at_1[level] << " | "
            << 100 * a.pass_at_k[level] << " |";
      }
      out << '\n';
    }
  }
  return out.str();
}

void write_evaluation_csv(const std::string& path, const std::vector<evaluation_row>& rows) {
  std::ofstream out(path);
  out << "seed,policy,split,level,problems,k,pass_at_1,pass_at_k\n";
  for (const auto& row : rows)
    for (int level = 0; level <= 5; ++level)
      if (row.rates.count[level] > 0)
        out << row.seed << ',' << row.policy << ',' << row.split << ',' << (level == 0 ? "all" : std::to_string(level))
            << ',' << row.rates.count[level] << ',' << row.rates.k << ',' << row.rates.pass_at_1[level] << ','
            << row.rates.pass_at_k[level] << '\n';
}

/// Curves for the plot: per algorithm and step, the mean over seeds, then a
/// trailing mean over `window` steps (single rollouts are noisy).
void write_curves(const std::string& path, const std::vector<math_rl::step_record>& records, int steps, int window) {
  const std::vector<std::string> algorithms = {"grpo", "lens"};
  // sums[algorithm][step][metric], counts[algorithm][step]
  std::vector<std::vector<std::array<double, 3>>> sums(2, std::vector<std::array<double, 3>>(steps + 1, {0, 0, 0}));
  std::vector<std::vector<int>> counts(2, std::vector<int>(steps + 1, 0));
  for (const auto& r : records) {
    const int a = r.algorithm == "grpo" ? 0 : 1;
    if (r.step > steps) continue;
    sums[a][r.step][0] += r.mean_reward;
    sums[a][r.step][1] += r.negative_group_fraction;
    sums[a][r.step][2] += r.gradient_sample_fraction;
    counts[a][r.step] += 1;
  }
  std::ofstream out(path);
  out << "# step grpo_reward grpo_negative grpo_gradient lens_reward lens_negative lens_gradient (trailing mean over "
      << window << " steps, mean over seeds)\n";
  for (int step = 1; step <= steps; ++step) {
    out << step;
    for (int a = 0; a < 2; ++a) {
      std::array<double, 3> total = {0, 0, 0};
      int used = 0;
      for (int s = std::max(1, step - window + 1); s <= step; ++s) {
        if (counts[a][s] == 0) continue;
        for (int m = 0; m < 3; ++m) total[m] += sums[a][s][m] / counts[a][s];
        ++used;
      }
      for (int m = 0; m < 3; ++m) {
        if (used == 0) out << " NaN";
        else out << ' ' << total[m] / used;
      }
    }
    out << '\n';
  }
}

/// The PNG, through gnuplot when it is installed (scripts/setup.sh installs it).
bool plot_curves(const std::string& data_path, const std::string& png_path, const std::string& title, int window) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) return false;
  const std::string script_path = png_path.substr(0, png_path.size() - 4) + ".gp";
  std::ofstream gp(script_path);
  gp << "set terminal pngcairo size 1500,450 font ',11'\n"
     << "set output '" << png_path << "'\n"
     << "set multiplot layout 1,3 title '" << title << "'\n"
     << "set grid\nset xlabel 'step'\nset key bottom right\nset yrange [0:*]\n"
     << "set title 'mean reward of the rollouts (" << window << "-step mean)'\n"
     << "plot '" << data_path << "' using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'GRPO', "
     << "'' using 1:5 with lines lw 2 lc rgb '#d62728' title 'LENS'\n"
     << "set title 'fraction of negative groups (all G wrong)'\nset key top right\n"
     << "plot '" << data_path << "' using 1:3 with lines lw 2 lc rgb '#1f77b4' title 'GRPO', "
     << "'' using 1:6 with lines lw 2 lc rgb '#d62728' title 'LENS'\n"
     << "set title 'fraction of samples that carry gradient'\nset yrange [0:1.05]\nset key bottom right\n"
     << "plot '" << data_path << "' using 1:4 with lines lw 2 lc rgb '#1f77b4' title 'GRPO', "
     << "'' using 1:7 with lines lw 2 lc rgb '#d62728' title 'LENS'\n"
     << "unset multiplot\n";
  gp.close();
  return std::system(("gnuplot '" + script_path + "'").c_str()) == 0;
}

int run(const settings& s) {
  const auto run_start = clock_type::now();
  torch::set_num_threads(s.threads);
  torch::Device device(torch::kCPU);
  if (s.device == "cuda" || (s.device == "auto" && torch::cuda::is_available())) device = torch::Device(torch::kCUDA);
  std::cout << "math_rl: device " << device << (device.is_cuda() ? "" : " (" + std::to_string(s.threads) + " threads)")
            << ", advantages on " << (device.is_cuda() && lens::torch::has_cuda_backend ? "the GPU" : "the CPU")
            << " (lens::torch)\n";

  require_data(s.data_dir);
  const std::vector<int> levels = parse_levels(s.levels);
  math_rl::policy_options model_options;
  model_options.max_answer_chars = s.max_answer_chars;
  const auto all_train = lens::math::load_jsonl(s.data_dir + "/train.jsonl");
  const math_rl::problem_set train = math_rl::make_problem_set(
      math_rl::select_training_problems(all_train, s.subset, levels, s.answer_digits), model_options.buckets);
  if (train.records.empty()) throw std::runtime_error("no training problem matches --levels and --answer-digits");
  math_rl::problem_set math500;
  if (s.evaluate_math500)
    math500 = math_rl::make_problem_set(lens::math::load_jsonl(s.data_dir + "/math500.jsonl"), model_options.buckets);
  std::cout << "math_rl: " << train.records.size() << " training problems (levels " << s.levels << ", integer answers of "
            << "at most " << s.answer_digits << " digits) from " << s.data_dir << "/train.jsonl; "
            << (s.evaluate_math500 ? std::to_string(math500.records.size()) + " MATH-500 problems for evaluation"
                                   : std::string("MATH-500 evaluation off"))
            << '\n';

  std::vector<math_rl::algorithm> algorithms;
  if (s.algorithm == "grpo" || s.algorithm == "both") algorithms.push_back(math_rl::algorithm::grpo);
  if (s.algorithm == "lens" || s.algorithm == "both") algorithms.push_back(math_rl::algorithm::lens);
  const long total_steps = static_cast<long>(algorithms.size()) * s.steps * s.seeds;
  long steps_done = 0;
  double step_seconds_total = 0;

  std::filesystem::create_directories(s.out_dir);
  std::vector<math_rl::step_record> records;
  std::vector<evaluation_row> evaluations;
  const std::int64_t k = s.group_size;
  auto evaluate_all = [&](math_rl::policy& model, std::uint64_t seed, const std::string& policy_name) {
    torch::manual_seed(seed * 7919 + 3);  // the same sampling stream for every policy of a seed
    evaluations.push_back({seed, policy_name, "train", math_rl::evaluate(model, train, k)});
    if (s.evaluate_math500) evaluations.push_back({seed, policy_name, "math500", math_rl::evaluate(model, math500, k)});
    const auto& t = evaluations[evaluations.size() - (s.evaluate_math500 ? 2 : 1)].rates;
    std::cout << "  eval " << std::left << std::setw(10) << policy_name << std::right << std::fixed
              << std::setprecision(1) << " training problems pass@1 " << 100 * t.pass_at_1[0] << "%  pass@" << k
              << ' ' << 100 * t.pass_at_k[0] << "%";
    if (s.evaluate_math500) {
      const auto& m = evaluations.back().rates;
      std::cout << "   MATH-500 pass@1 " << 100 * m.pass_at_1[0] << "%  pass@" << k << ' ' << 100 * m.pass_at_k[0]
                << "%";
    }
    std::cout << std::endl;
  };

  for (int seed_offset = 0; seed_offset < s.seeds; ++seed_offset) {
    const std::uint64_t seed = s.seed + static_cast<std::uint64_t>(seed_offset);
    torch::manual_seed(seed);
    math_rl::policy warm(model_options);
    warm->to(device);
    const auto warm_begin = clock_type::now();
    const double warm_loss = math_rl::warm_start(warm, train, s.warm_epochs, s.warm_learning_rate, 64, seed);
    std::cout << "seed " << seed << ": supervised warm start, " << s.warm_epochs << " epochs on the reference answers, "
              << "final loss " << std::setprecision(3) << warm_loss << ", "
              << format_duration(std::chrono::duration<double>(clock_type::now() - warm_begin).count()) << '\n';
    evaluate_all(warm, seed, "warm");

    for (const auto kind : algorithms) {
      math_rl::policy model(model_options);
      model->to(device);
      math_rl::copy_parameters(model, warm);
      math_rl::rl_options options;
      options.kind = kind;
      options.group_size = s.group_size;
      options.problems_per_step = s.problems_per_step;
      options.inner_epochs = s.inner_epochs;
      options.learning_rate = s.learning_rate;
      options.alpha = s.alpha;
      options.seed = seed;
      torch::manual_seed(seed * 7919 + 1);  // both algorithms sample the same first rollout
      math_rl::trainer trainer(model, train, options);
      std::cout << "seed " << seed << ": " << math_rl::label_of(kind) << ", " << s.steps << " steps of "
                << s.problems_per_step << " problems x " << s.group_size << " samples\n";
      for (int step = 1; step <= s.steps; ++step) {
        const math_rl::step_record r = trainer.step();
        records.push_back(r);
        ++steps_done;
        step_seconds_total += r.step_seconds;
        if (step % s.log_every == 0 || step == s.steps) {
          const double elapsed = std::chrono::duration<double>(clock_type::now() - run_start).count();
          const double left = step_seconds_total / static_cast<double>(steps_done) *
                              static_cast<double>(total_steps - steps_done);
          std::printf("  %s seed %llu step %4d/%d  reward %.3f  negative groups %.2f  with gradient %.2f  "
                      "loss %+.4f  %6.0f samples/s  elapsed %s  left ~%s\n",
                      math_rl::label_of(kind), static_cast<unsigned long long>(seed), step, s.steps, r.mean_reward,
                      r.negative_group_fraction, r.gradient_sample_fraction, r.loss, r.samples_per_second,
                      format_duration(elapsed).c_str(), format_duration(left).c_str());
          std::fflush(stdout);
        }
      }
      evaluate_all(trainer.model(), seed, math_rl::name_of(kind));
    }
  }

  // ---- outputs
  const std::string steps_csv = s.out_dir + "/math_rl_steps.csv";
  const std::string eval_csv = s.out_dir + "/math_rl_eval.csv";
  const std::string table_md = s.out_dir + "/math_rl_table.md";
  const std::string curves = s.out_dir + "/math_rl_curves.dat";
  const std::string png = s.out_dir + "/math_rl_curves.png";
  math_rl::write_steps_csv(steps_csv, records);
  write_evaluation_csv(eval_csv, evaluations);
  const int window = std::max(1, std::min(10, s.steps / 10));
  write_curves(curves, records, s.steps, window);

  std::vector<std::string> policies = {"warm"};
  for (const auto kind : algorithms) policies.push_back(math_rl::name_of(kind));
  std::ostringstream caption;
  caption << "pass@1 and pass@" << k << " in %, " << k << " samples per problem at temperature 1, "
          << (s.seeds == 1 ? "seed " + std::to_string(s.seed)
                           : "mean of seeds " + std::to_string(s.seed) + ".." + std::to_string(s.seed + s.seeds - 1))
          << "; " << s.steps << " RL steps of " << s.problems_per_step << " problems x " << s.group_size
          << " samples after a " << s.warm_epochs << "-epoch warm start";
  const std::string table = results_table(evaluations, policies, k, caption.str());
  std::ofstream(table_md) << table;
  std::cout << '\n' << table << '\n';

  std::ostringstream title;
  title << "math\\_rl: " << train.records.size() << " MATH training problems, G = " << s.group_size << ", "
        << s.problems_per_step << " problems per step, " << s.seeds << " seed(s)";
  const bool plotted = plot_curves(curves, png, title.str(), window);
  std::cout << "wrote " << steps_csv << " (every step), " << eval_csv << ", " << table_md;
  if (plotted) std::cout << " and " << png;
  else std::cout << "; no plot (gnuplot not found: bash scripts/setup.sh installs it)";
  std::cout << "\ntotal " << format_duration(std::chrono::duration<double>(clock_type::now() - run_start).count())
            << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  CLI::App app{"Policy-gradient RL on MATH with LibTorch: GRPO vs LENS advantages from lens::torch"};
  app.add_option("--algorithm", s.algorithm, "grpo, lens, or both (one after the other, same seed and warm start)")
      ->check(CLI::IsMember({"grpo", "lens", "both"}))
      ->capture_default_str();
  app.add_option("-G,--group-size", s.group_size, "samples per problem (G)")->check(CLI::Range(2, 64))->capture_default_str();
  app.add_option("-P,--problems-per-step", s.problems_per_step, "problems per RL step")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--steps", s.steps, "RL steps per algorithm and seed")->check(CLI::Range(1, 1000000))->capture_default_str();
  app.add_option("--lr", s.learning_rate, "Adam learning rate of the RL phase")->capture_default_str();
  app.add_option("--alpha", s.alpha, "LENS negative-group scale")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--inner-epochs", s.inner_epochs, "PPO passes over each rollout")->check(CLI::Range(1, 100))->capture_default_str();
  app.add_option("--seed", s.seed, "first seed")->capture_default_str();
  app.add_option("--seeds", s.seeds, "number of seeds (seed, seed+1, ...); the table shows their mean")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--data", s.data_dir, "MATH folder holding train.jsonl and math500.jsonl")->capture_default_str();
  app.add_option("--subset", s.subset, "training problems (a fixed subset with short integer answers)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--levels", s.levels, "MATH levels of the training problems, comma-separated")->capture_default_str();
  app.add_option("--answer-digits", s.answer_digits, "training answers: integers of at most this many digits")
      ->check(CLI::Range(1, 20))
      ->capture_default_str();
  app.add_option("--warm-epochs", s.warm_epochs, "supervised warm-start epochs on the reference answers")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_option("--warm-lr", s.warm_learning_rate, "Adam learning rate of the warm start")->capture_default_str();
  app.add_option("--max-answer-chars", s.max_answer_chars, "longest answer the policy writes")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--threads", s.threads, "CPU threads for LibTorch (1 is fastest for these small matrices, and safe on a busy machine)")->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--device", s.device, "auto (GPU when LibTorch sees one), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--out", s.out_dir, "output folder for the CSVs, the table and the plot")->capture_default_str();
  app.add_option("--log-every", s.log_every, "print a progress line every this many steps")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_flag("!--no-math500", s.evaluate_math500, "skip the MATH-500 evaluation");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(s);
  } catch (const std::exception& e) {
    std::cerr << "math_rl: error: " << e.what() << '\n';
    return 2;
  }
}
