#!/usr/bin/env bash
# Installs lens into a temporary prefix and builds tests/consumer, a separate
# project that uses find_package(lens CONFIG REQUIRED), then runs it: once
# with lens::lens only (no CUDA, no Eigen needed), and, where nvcc is found,
# once more with the CUDA consumer of lens::cuda, which runs only on a machine
# with a GPU (elsewhere it is compiled and linked, and exits with 77).
set -euo pipefail
prefix=$(mktemp -d)
trap 'rm -rf "$prefix" build-consumer build-consumer-cuda build-install' EXIT
cmake -S . -B build-install -DLENS_BUILD_TESTS=OFF -DLENS_BUILD_BENCH=OFF -DLENS_BUILD_EXAMPLES=OFF \
  -DLENS_WITH_TORCH=OFF -DLENS_ENABLE_CUDA=OFF -DCMAKE_INSTALL_PREFIX="$prefix"
cmake --install build-install
cmake -S tests/consumer -B build-consumer -DCMAKE_PREFIX_PATH="$prefix"
cmake --build build-consumer
./build-consumer/lens_consumer
nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if [ -x "$nvcc" ]; then
  cmake -S tests/consumer -B build-consumer-cuda -DCMAKE_PREFIX_PATH="$prefix" -DLENS_CONSUMER_CUDA=ON \
    -DCMAKE_CUDA_COMPILER="$nvcc"
  cmake --build build-consumer-cuda
  status=0
  ./build-consumer-cuda/lens_consumer_cuda || status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 77 ]; then exit "$status"; fi
else
  echo "consumer: nvcc not found; the CUDA consumer is skipped"
fi
