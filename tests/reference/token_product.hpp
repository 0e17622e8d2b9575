// tests/reference/token_product.hpp: verl's token broadcast,
// `advantages.unsqueeze(-1) * response_mask`, written as a plain product in
// float, and a Catch2 check that a backend's [N x T] output has exactly its
// bits (so a masked token of a negative advantage must be -0.0, not +0.0).
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace lens_reference {

/// Requires token_advantages[i * t + c] to equal float(mask[i * t + c]) *
/// advantages[i] bit for bit. Returns how many tokens are -0.0 (masked under a
/// negative advantage): callers require some, else the sign went unchecked.
template <class Mask>
std::size_t require_verl_token_bits(const std::vector<float>& token_advantages, const std::vector<float>& advantages,
                             const Mask* mask, std::size_t n, std::size_t t) {
  REQUIRE(token_advantages.size() == n * t);
  REQUIRE(advantages.size() == n);
  std::size_t negative_zeros = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t c = 0; c < t; ++c) {
      const float expected = static_cast<float>(mask[i * t + c]) * advantages[i];
      const float actual = token_advantages[i * t + c];
      std::uint32_t expected_bits, actual_bits;
      std::memcpy(&expected_bits, &expected, 4);
      std::memcpy(&actual_bits, &actual, 4);
      if (expected_bits != actual_bits) {
        INFO("row " << i << ", column " << c << ": " << actual << " (signbit " << std::signbit(actual)
                    << "), expected " << expected << " (signbit " << std::signbit(expected) << ")");
        REQUIRE(expected_bits == actual_bits);
      }
      negative_zeros += expected == 0.0f && std::signbit(expected);
    }
  }
  return negative_zeros;
}

}  // namespace lens_reference
