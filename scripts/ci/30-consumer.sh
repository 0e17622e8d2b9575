#!/usr/bin/env bash
# Installs lens into a temporary prefix and builds tests/consumer, a separate
# project that uses find_package(lens CONFIG REQUIRED), then runs it.
set -euo pipefail
prefix=$(mktemp -d)
trap 'rm -rf "$prefix" build-consumer build-install' EXIT
cmake -S . -B build-install -DLENS_BUILD_TESTS=OFF -DLENS_BUILD_BENCH=OFF -DLENS_BUILD_EXAMPLES=OFF \
  -DLENS_WITH_TORCH=OFF -DLENS_ENABLE_CUDA=OFF -DCMAKE_INSTALL_PREFIX="$prefix"
cmake --install build-install
cmake -S tests/consumer -B build-consumer -DCMAKE_PREFIX_PATH="$prefix"
cmake --build build-consumer
./build-consumer/lens_consumer
