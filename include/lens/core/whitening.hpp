// lens/core/whitening.hpp: REINFORCE++'s batch whitening over tokens, written
// once (verl's verl_F.masked_whiten with shift_mean=True, which verl's
// REINFORCE++ and REINFORCE++-baseline estimators apply to their advantages):
//   mean = sum(x * mask) / (M + 1e-8),   M = number of unmasked tokens
//   var  = sum((x - mean)^2 * mask) / (M + 1e-8) * M / (M - 1)
//   x'   = (x - mean) * rsqrt(var + 1e-8)
// The sums are taken in double by the caller in two passes (the mean first,
// then centred squares), so a near-constant batch has no cancellation.
#pragma once

#include <math.h>

#include "lens/core/config.hpp"

namespace lens {
namespace core {

/// verl's constants: added to the token count and to the variance.
constexpr double whitening_count_epsilon = 1e-8;
constexpr double whitening_variance_epsilon = 1e-8;

/// x' = (x - centre) * scale.
struct whitening_transform {
  double centre = 0;
  double scale = 1;
};

/// The mean from the first pass: the masked sum and the token count M.
LENS_HD double whitening_mean(double masked_sum, double count) {
  return masked_sum / (count + whitening_count_epsilon);
}

/// The transform from the mean and the second pass's sum of centred squares
/// over unmasked tokens. count >= 2 (verl raises otherwise; so does lens, at
/// the boundary).
LENS_HD whitening_transform make_whitening(double mean, double centred_squares, double count) {
  whitening_transform t;
  t.centre = mean;
  const double variance = centred_squares / (count + whitening_count_epsilon) * (count / (count - 1.0));
  t.scale = 1.0 / sqrt(variance + whitening_variance_epsilon);
  return t;
}

LENS_HD double whiten(const whitening_transform& t, double x) { return (x - t.centre) * t.scale; }

}  // namespace core
}  // namespace lens
