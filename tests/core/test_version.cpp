// LENS_VERSION (lens/version.hpp) is the CMake project's version, and the
// umbrella header carries it.
#include <catch2/catch.hpp>

#include <string>

#include "lens/lens.hpp"

TEST_CASE("LENS_VERSION matches the CMake project version", "[version]") {
  CHECK(std::string(LENS_VERSION_STRING) == LENS_TEST_PROJECT_VERSION);
  CHECK(std::to_string(LENS_VERSION_MAJOR) + "." + std::to_string(LENS_VERSION_MINOR) + "." +
            std::to_string(LENS_VERSION_PATCH) ==
        LENS_TEST_PROJECT_VERSION);
  CHECK(LENS_VERSION == LENS_VERSION_MAJOR * 10000 + LENS_VERSION_MINOR * 100 + LENS_VERSION_PATCH);
}
