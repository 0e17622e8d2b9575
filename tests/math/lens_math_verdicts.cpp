// lens_math_verdicts: lens::math::reward over JSON lines, for the differential
// test against Math-Verify (tests/math/differential) and bench/math.
//
//   stdin:  one JSON object per line, {"output": "...", "reference": "..."}
//   stdout: one verdict per input line, `1` or `0`, in order
//   stderr: one final JSON line {"checks": n, "seconds": t, "checks_per_second": r,
//           "wall_seconds": w, "repeat": k}: the CPU time (std::clock, one
//           thread) spent in lens::math::reward alone (parsing the JSON is not
//           counted) over k passes of the whole input, and the wall time. CPU
//           time, as Google Benchmark reports, so a shared machine does not
//           count other processes' time.
// Options: --no-bare-fallback, --no-expressions, --rounded-decimals (the
// reward_settings fields), --repeat K (time K passes; verdicts printed once).
// Exit status 2 on a bad line or option, naming the line.
#include <lens/math.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  lens::math::reward_settings settings;
  long repeat = 1;
  for (int k = 1; k < argc; ++k) {
    const std::string arg = argv[k];
    if (arg == "--no-bare-fallback") {
      settings.bare_answer_fallback = false;
    } else if (arg == "--no-expressions") {
      settings.expression_layer = false;
    } else if (arg == "--rounded-decimals") {
      settings.accept_rounded_decimals = true;
    } else if (arg == "--repeat" && k + 1 < argc) {
      repeat = std::strtol(argv[++k], nullptr, 10);
      if (repeat < 1) repeat = 1;
    } else {
      std::cerr << "lens_math_verdicts: unknown option " << arg << "\n";
      return 2;
    }
  }
  std::vector<std::string> outputs;
  std::vector<std::string> references;
  std::string line;
  std::size_t number = 0;
  while (std::getline(std::cin, line)) {
    ++number;
    if (line.empty()) continue;
    try {
      const auto record = nlohmann::json::parse(line);
      outputs.push_back(record.at("output").get<std::string>());
      references.push_back(record.at("reference").get<std::string>());
    } catch (const std::exception& error) {
      std::cerr << "lens_math_verdicts: line " << number << ": " << error.what() << "\n";
      return 2;
    }
  }
  std::vector<char> verdicts(outputs.size(), 0);
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  for (long pass = 0; pass < repeat; ++pass) {
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      verdicts[k] = lens::math::reward(outputs[k], references[k], settings) == 1.0f ? 1 : 0;
    }
  }
  const double seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  const double wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string out;
  out.reserve(verdicts.size() * 2);
  for (char v : verdicts) {
    out += v ? '1' : '0';
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  const double checks = static_cast<double>(outputs.size()) * static_cast<double>(repeat);
  nlohmann::json timing = {{"checks", checks},
                           {"seconds", seconds},
                           {"checks_per_second", seconds > 0 ? checks / seconds : 0.0},
                           {"wall_seconds", wall_seconds},
                           {"repeat", repeat}};
  std::cerr << timing.dump() << "\n";
  return 0;
}
