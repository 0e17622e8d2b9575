// lens/core/half.hpp: every float16 and bfloat16 bit pattern converts to float
// and back unchanged (NaNs stay NaN), and float -> 16 bits rounds to nearest
// even, checked against values worked out by hand; the CPU backend reads
// 16-bit log-probs as their float values.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "lens/core/half.hpp"
#include "lens/lens.hpp"

TEST_CASE("float16 and bfloat16 round-trip every bit pattern", "[half]") {
  for (std::uint32_t bits = 0; bits <= 0xffffu; ++bits) {
    lens::float16 h;
    h.bits = static_cast<std::uint16_t>(bits);
    const float f = h;
    if (std::isnan(f)) {
      CHECK(std::isnan(float(lens::float16(f))));
    } else {
      REQUIRE(lens::float16(f).bits == bits);
    }
    lens::bfloat16 b;
    b.bits = static_cast<std::uint16_t>(bits);
    const float g = b;
    if (std::isnan(g)) CHECK(std::isnan(float(lens::bfloat16(g))));
    else REQUIRE(lens::bfloat16(g).bits == bits);
  }
}

TEST_CASE("16-bit values by hand", "[half]") {
  CHECK(float(lens::float16(1.0f)) == 1.0f);
  CHECK(lens::float16(1.0f).bits == 0x3c00u);
  CHECK(lens::float16(-2.0f).bits == 0xc000u);
  CHECK(lens::float16(65504.0f).bits == 0x7bffu);              // largest finite
  CHECK(lens::float16(65520.0f).bits == 0x7c00u);              // rounds to inf
  CHECK(float(lens::float16(std::ldexp(1.0f, -24))) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(lens::float16(1.0f + std::ldexp(1.0f, -11)).bits == 0x3c00u);  // halfway: to even
  CHECK(lens::float16(1.0f + 3 * std::ldexp(1.0f, -11)).bits == 0x3c02u);
  CHECK(lens::bfloat16(1.0f).bits == 0x3f80u);
  CHECK(lens::bfloat16(1.0f + std::ldexp(1.0f, -8)).bits == 0x3f80u);  // halfway: to even
  CHECK(lens::bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)).bits == 0x3f82u);
}

TEST_CASE("the CPU backend reads bfloat16 log-probs as their float values", "[half]") {
  const std::size_t n = 4, t = 3;
  const std::vector<float> rewards{1, 0, 0, 0};
  const std::vector<float> logp{-0.1f, -0.7f, -2.5f, -1.0f, -0.3f, -0.2f, -4.0f, -0.05f, -1.5f, -0.9f, -0.4f, -3.0f};
  const std::vector<std::uint8_t> mask(n * t, 1);
  std::vector<lens::bfloat16> low;
  std::vector<float> exact;
  for (float v : logp) {
    low.emplace_back(v);
    exact.push_back(low.back());
  }
  lens::token_inputs<lens::bfloat16, std::uint8_t, float> in16{n, t, rewards.data(), nullptr, low.data(), mask.data()};
  lens::token_inputs<float, std::uint8_t, float> in32{n, t, rewards.data(), nullptr, exact.data(), mask.data()};
  std::vector<float> a16(n), a32(n);
  lens::compute_lens_advantages(in16, lens::fixed_groups{4}, lens::span<float>(a16), lens::span<float>());
  lens::compute_lens_advantages(in32, lens::fixed_groups{4}, lens::span<float>(a32), lens::span<float>());
  CHECK(a16 == a32);
  CHECK(a16[0] > 0);
}
