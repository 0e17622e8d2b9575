// Catch2's runner for the CUDA tests: exits with 77 (ctest: skipped) when the
// machine has no CUDA device, so a CPU-only ctest run stays green.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cuda_runtime.h>

#include <cstdio>

int main(int argc, char** argv) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::puts("test_cuda: no CUDA device; skipped");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
