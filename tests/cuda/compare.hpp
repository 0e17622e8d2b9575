// tests/cuda/compare.hpp: Catch2 checks that two backends agree on the batch
// summary and the per-group statistics, shared by the OpenMP and CUDA tests.
#pragma once

#include <catch2/catch.hpp>

#include <vector>

#include "lens/core/views.hpp"

namespace lens_test {

inline void require_same_statistics(const std::vector<lens::group_statistics>& a, const std::vector<lens::group_statistics>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t g = 0; g < a.size(); ++g) {
    INFO("group " << g);
    REQUIRE(a[g].group_id == b[g].group_id);
    REQUIRE(a[g].size == b[g].size);
    REQUIRE(a[g].num_correct == b[g].num_correct);
    REQUIRE(a[g].negative == b[g].negative);
    REQUIRE(a[g].zero_variance == b[g].zero_variance);
    REQUIRE(a[g].mean == Approx(b[g].mean).margin(1e-12));
    REQUIRE(a[g].std == Approx(b[g].std).margin(1e-12));
    REQUIRE(a[g].difficulty == Approx(b[g].difficulty).margin(1e-300));
  }
}

inline void require_same_summary(const lens::batch_summary& a, const lens::batch_summary& b) {
  REQUIRE(a.num_samples == b.num_samples);
  REQUIRE(a.num_groups == b.num_groups);
  REQUIRE(a.num_negative_groups == b.num_negative_groups);
  REQUIRE(a.num_zero_variance_groups == b.num_zero_variance_groups);
  REQUIRE(a.num_nonzero_advantages == b.num_nonzero_advantages);
}

}  // namespace lens_test
