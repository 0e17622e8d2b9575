// bench/cpu/torch_unavailable.cpp: linked instead of torch_baseline.cpp when
// LibTorch is not found; the suite then runs without the LibTorch baseline.
#include "bench_cases.hpp"

namespace lens_bench {
bool torch_available() { return false; }
void register_torch_case(const case_spec&) {}
}  // namespace lens_bench
