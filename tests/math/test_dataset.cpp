// The JSONL loader on small records written here, in the formats of
// train/test.jsonl and math500.jsonl; no dependency on the real data.
#include <lens/core/errors.hpp>
#include <lens/math/dataset.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>  // getpid

namespace {

// A file in the temp folder, removed at the end of the test.
class temp_file {
 public:
  explicit temp_file(const std::string& content) {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("lens_math_dataset_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".jsonl"))
                .string();
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~temp_file() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const std::string train_line =
    R"({"problem": "What is $1+1$?", "level": "Level 2", "type": "Prealgebra", )"
    R"("solution": "We add: $1+1=\\boxed{2}$.", "unique_id": "train/prealgebra/1.json"})";
const std::string unknown_level_line =
    R"({"problem": "p", "level": "Level ?", "type": "Geometry", )"
    R"("solution": "So it is $\\boxed{\\frac{1}{2}}$.", "unique_id": "train/geometry/9.json"})";
const std::string math500_line =
    R"j({"problem": "Find $x$.", "solution": "Thus $x = \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$.", )j"
    R"j("answer": "\\left( 3, \\frac{\\pi}{2} \\right)", "subject": "Precalculus", "level": 5, )j"
    R"j("unique_id": "test/precalculus/807.json"})j";

std::string error_of(const std::string& content) {
  temp_file file(content);
  try {
    (void)lens::math::load_jsonl(file.path());
  } catch (const lens::invalid_argument& error) {
    return error.what();
  }
  return "<no error>";
}

}  // namespace

TEST_CASE("load_jsonl reads the train/test format and extracts the answer", "[math][dataset]") {
  temp_file file(train_line + "\n\n" + unknown_level_line + "\n");
  const auto records = lens::math::load_jsonl(file.path());
  REQUIRE(records.size() == 2);
  CHECK(records[0].problem == "What is $1+1$?");
  CHECK(records[0].level == 2);
  CHECK(records[0].subject == "Prealgebra");
  CHECK(records[0].answer == "2");
  CHECK(records[0].solution == "We add: $1+1=\\boxed{2}$.");
  CHECK(records[0].unique_id == "train/prealgebra/1.json");
  // "Level ?" loads with level 0 instead of being dropped.
  CHECK(records[1].level == 0);
  CHECK(records[1].answer == "\\frac{1}{2}");
  CHECK(records[1].subject == "Geometry");
}

TEST_CASE("load_jsonl reads the MATH-500 format and keeps its answer field", "[math][dataset]") {
  temp_file file(math500_line + "\r\n" + train_line);  // CRLF and no final newline
  const auto records = lens::math::load_jsonl(file.path());
  REQUIRE(records.size() == 2);
  CHECK(records[0].level == 5);
  CHECK(records[0].subject == "Precalculus");
  CHECK(records[0].answer == "\\left( 3, \\frac{\\pi}{2} \\right)");
  CHECK(records[0].unique_id == "test/precalculus/807.json");
  CHECK(records[1].answer == "2");
}

TEST_CASE("load_jsonl loads a solution without a box with an empty answer", "[math][dataset]") {
  temp_file file(
      R"({"problem": "p", "level": "Level 1", "type": "Algebra", "solution": "There are $\\boxed{}$ primes.", "unique_id": "u"})");
  const auto records = lens::math::load_jsonl(file.path());
  REQUIRE(records.size() == 1);
  CHECK(records[0].answer.empty());
}

TEST_CASE("load_jsonl names the file and line of bad input", "[math][dataset]") {
  CHECK_THAT(error_of(train_line + "\n{not json\n"), Catch::Contains(":2: not valid JSON"));
  CHECK_THAT(error_of("[1, 2]\n"), Catch::Contains(":1: not a JSON object"));
  CHECK_THAT(error_of(R"({"level": "Level 1", "type": "A", "solution": "\\boxed{1}", "unique_id": "u"})"),
             Catch::Contains(":1: missing field \"problem\""));
  CHECK_THAT(error_of(train_line + "\n" +
                      R"({"problem": "p", "level": "Level 7", "type": "A", "solution": "\\boxed{1}", "unique_id": "u"})"),
             Catch::Contains(":2: field \"level\" is \"Level 7\""));
  CHECK_THAT(error_of(R"({"problem": "p", "level": 9, "subject": "A", "answer": "1", "solution": "s", "unique_id": "u"})"),
             Catch::Contains("field \"level\" is 9, not 1..5"));
  CHECK_THAT(error_of(R"({"problem": "p", "level": 3, "answer": "1", "solution": "s", "unique_id": "u"})"),
             Catch::Contains("missing field \"subject\""));
  CHECK_THAT(error_of(R"({"problem": 5, "level": 3, "subject": "A", "answer": "1", "solution": "s", "unique_id": "u"})"),
             Catch::Contains("field \"problem\" is not a string"));
  CHECK(error_of(train_line) == "<no error>");
  temp_file bad("\n" + train_line + "\n\"unterminated\n");
  CHECK_THROWS_WITH(lens::math::load_jsonl(bad.path()), Catch::Contains(bad.path() + ":3:"));
  CHECK_THROWS_AS(lens::math::load_jsonl("/nonexistent/lens/math.jsonl"), lens::invalid_argument);
  CHECK_THROWS_WITH(lens::math::load_jsonl("/nonexistent/lens/math.jsonl"), Catch::Contains("/nonexistent/lens/math.jsonl"));
}

TEST_CASE("default_data_dir prefers the environment variable", "[math][dataset]") {
  ::setenv("LENS_MATH_DATA_DIR", "/tmp/some/math", 1);
  CHECK(lens::math::default_data_dir() == "/tmp/some/math");
  ::unsetenv("LENS_MATH_DATA_DIR");
  // This test is built without the compile definition: the documented default.
  CHECK(lens::math::default_data_dir() == "../shared/data/math");
}
