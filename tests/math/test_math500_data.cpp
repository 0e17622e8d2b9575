// The bar on the real data: for all 500 MATH-500 records the answer extracted
// from `solution` is the `answer` field, and every answer is equivalent to
// itself. Also loads train/test in full. Reads default_data_dir() (CMake cache
// LENS_MATH_DATA_DIR, env LENS_MATH_DATA_DIR overrides); without the data it
// prints "SKIPPED: MATH data ..." and ctest reports the test as Skipped.
#include <lens/math.hpp>
#include <lens/math/dataset.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <iostream>
#include <string>

namespace {

bool data_file_present(const std::string& path) {
  if (std::filesystem::exists(path)) return true;
  const std::string message = "SKIPPED: MATH data file not found: " + path + " (set LENS_MATH_DATA_DIR)";
  std::cerr << message << "\n";
  WARN(message);
  return false;
}

}  // namespace

TEST_CASE("MATH-500: the answer extracted from every solution is the answer field", "[math][data]") {
  const std::string path = lens::math::default_data_dir() + "/math500.jsonl";
  if (!data_file_present(path)) return;
  const auto records = lens::math::load_jsonl(path);
  REQUIRE(records.size() == 500);
  int extracted_equal = 0;
  int self_equivalent = 0;
  for (const auto& record : records) {
    INFO(record.unique_id << ": answer " << record.answer);
    const auto extracted = lens::math::extract_answer(record.solution);
    REQUIRE(extracted.has_value());
    CHECK(*extracted == record.answer);
    extracted_equal += *extracted == record.answer;
    CHECK(lens::math::is_equivalent(record.answer, record.answer));
    self_equivalent += lens::math::is_equivalent(record.answer, record.answer);
    // The reference solution itself earns the reward.
    CHECK(lens::math::reward(record.solution, record.answer) == 1.0f);
    CHECK(record.level >= 1);
    CHECK(record.level <= 5);
  }
  std::cout << "MATH-500 extraction: " << extracted_equal << "/500 equal, " << self_equivalent
            << "/500 self-equivalent\n";
  CHECK(extracted_equal == 500);
}

TEST_CASE("MATH train and test load in full, unknown levels kept", "[math][data]") {
  const std::string dir = lens::math::default_data_dir();
  if (!data_file_present(dir + "/train.jsonl") || !data_file_present(dir + "/test.jsonl")) return;
  const auto train = lens::math::load_jsonl(dir + "/train.jsonl");
  const auto test = lens::math::load_jsonl(dir + "/test.jsonl");
  CHECK(train.size() == 7500);
  CHECK(test.size() == 5000);
  int unknown = 0;
  int without_answer = 0;
  for (const auto& record : train) {
    unknown += record.level == 0;
    without_answer += record.answer.empty();
  }
  for (const auto& record : test) {
    unknown += record.level == 0;
    without_answer += record.answer.empty();
  }
  CHECK(unknown == 2);         // the two "Level ?" train records (README)
  CHECK(without_answer == 2);  // train/number_theory/7115.json and 7117.json end in `\boxed{}`
}
