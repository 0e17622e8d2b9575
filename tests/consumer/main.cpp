// Built against the installed package: checks one LENS worked example.
#include <lens/lens.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  const std::vector<double> rewards{0, 0, 0, 0};
  std::vector<double> logprob_sums;
  for (double p : {0.90, 0.80, 0.85, 0.60}) logprob_sums.push_back(std::log(p));
  const std::vector<std::int64_t> lengths{1, 1, 1, 1};
  std::vector<double> advantages(4);
  lens::compute_lens_advantages(lens::sequence_inputs<double>{rewards, logprob_sums, lengths}, lens::fixed_groups{4},
                                lens::span<double>(advantages));
  const double expected[] = {-0.0125822, -0.0000822, -0.0060033, 0.0186678};  // docs/ALGORITHM.md section 7
  for (int i = 0; i < 4; ++i) {
    if (std::abs(advantages[i] - expected[i]) > 1e-6) {
      std::printf("consumer: advantage %d is %.7f, expected %.7f\n", i, advantages[i], expected[i]);
      return 1;
    }
  }
  static_assert(LENS_VERSION >= 100, "lens/version.hpp comes with lens/lens.hpp");
  std::printf("consumer: lens %s found through find_package; LENS worked example reproduced\n", LENS_VERSION_STRING);
  return 0;
}
