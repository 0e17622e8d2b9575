// lens/math.hpp: the MATH reward (answer extraction, normalisation,
// equivalence, reward) with no dependency beyond the standard library.
// The data loader is separate: <lens/math/dataset.hpp> (needs nlohmann_json).
#pragma once

#include <lens/math/equivalence.hpp>
#include <lens/math/expression.hpp>
#include <lens/math/extract.hpp>
#include <lens/math/normalize.hpp>
#include <lens/math/reward.hpp>
#include <lens/math/settings.hpp>
