// lens/math/dataset.hpp: reads the MATH data set (Hendrycks et al., 2021) from
// JSON Lines. Needs nlohmann_json (Debian nlohmann-json3-dev); the reward
// headers do not.
//
// Two record formats are accepted, detected per line:
//   train.jsonl / test.jsonl: problem, level ("Level 1".."Level 5" or
//     "Level ?"), type, solution, unique_id; the answer is extracted from the
//     solution's last \boxed{} / \fbox{} (empty when there is none: two train
//     records, train/number_theory/7115.json and 7117.json, end in `\boxed{}`);
//   math500.jsonl: problem, solution, answer, subject, level (integer 1..5),
//     unique_id.
// Blank lines are skipped. Anything else wrong throws lens::invalid_argument
// naming the file, the line and the field.
#pragma once

#include <lens/core/errors.hpp>
#include <lens/math/extract.hpp>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace lens::math {

struct problem_record {
  std::string problem;
  int level = 0;  // 1..5; 0 = unknown ("Level ?" in the original data)
  std::string subject;
  std::string answer;  // the reference final answer (raw LaTeX)
  std::string solution;
  std::string unique_id;
};

/// The MATH folder: the environment variable LENS_MATH_DATA_DIR when set and
/// not empty, else the compile definition LENS_MATH_DATA_DIR when defined,
/// else "../shared/data/math" (relative to the working directory).
inline std::string default_data_dir() {
  if (const char* env = std::getenv("LENS_MATH_DATA_DIR"); env != nullptr && *env != '\0') return env;
#ifdef LENS_MATH_DATA_DIR
  return LENS_MATH_DATA_DIR;
#else
  return "../shared/data/math";
#endif
}

namespace detail {

[[noreturn]] inline void dataset_error(const std::string& path, std::size_t line, const std::string& what) {
  throw lens::invalid_argument("lens: " + path + ":" + std::to_string(line) + ": " + what);
}

inline std::string string_field(const nlohmann::json& record, const char* field, const std::string& path,
                                std::size_t line) {
  const auto it = record.find(field);
  if (it == record.end()) dataset_error(path, line, std::string("missing field \"") + field + "\"");
  if (!it->is_string()) dataset_error(path, line, std::string("field \"") + field + "\" is not a string");
  return it->get<std::string>();
}

inline int parse_level(const nlohmann::json& value, const std::string& path, std::size_t line) {
  if (value.is_number_integer()) {
    const auto level = value.get<long long>();
    if (level < 1 || level > 5) dataset_error(path, line, "field \"level\" is " + std::to_string(level) + ", not 1..5");
    return static_cast<int>(level);
  }
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text == "Level ?") return 0;
    if (text.size() == 7 && text.compare(0, 6, "Level ") == 0 && text[6] >= '1' && text[6] <= '5') return text[6] - '0';
    dataset_error(path, line, "field \"level\" is \"" + text + "\", not \"Level 1\"..\"Level 5\" or \"Level ?\"");
  }
  dataset_error(path, line, "field \"level\" is neither an integer nor a string");
}

}  // namespace detail

/// Every record of a MATH JSONL file, in file order.
inline std::vector<problem_record> load_jsonl(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw lens::invalid_argument("lens: cannot open MATH file \"" + path + "\"");
  std::vector<problem_record> records;
  std::string text;
  std::size_t line = 0;
  while (std::getline(file, text)) {
    ++line;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json record;
    try {
      record = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& error) {
      detail::dataset_error(path, line, std::string("not valid JSON (") + error.what() + ")");
    }
    if (!record.is_object()) detail::dataset_error(path, line, "not a JSON object");
    problem_record out;
    out.problem = detail::string_field(record, "problem", path, line);
    out.solution = detail::string_field(record, "solution", path, line);
    out.unique_id = detail::string_field(record, "unique_id", path, line);
    const auto level = record.find("level");
    if (level == record.end()) detail::dataset_error(path, line, "missing field \"level\"");
    out.level = detail::parse_level(*level, path, line);
    if (record.contains("answer")) {  // MATH-500
      out.answer = detail::string_field(record, "answer", path, line);
      out.subject = detail::string_field(record, "subject", path, line);
    } else {  // original train/test
      out.subject = detail::string_field(record, "type", path, line);
      // Two train solutions have an empty `\boxed{}`: the record loads with an
      // empty answer (every reward against it is 0) rather than failing the file.
      if (auto answer = extract_answer(out.solution)) out.answer = std::move(*answer);
    }
    records.push_back(std::move(out));
  }
  if (file.bad()) throw lens::invalid_argument("lens: error reading MATH file \"" + path + "\"");
  return records;
}

}  // namespace lens::math
