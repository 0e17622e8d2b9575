#!/usr/bin/env bash
# The test suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
# LibTorch is left out: Debian's libtorch is not built with sanitizers.
set -euo pipefail
# LENS_CPU_PLAIN_INLINE: at -O0 the forced inlining of the CPU kernels made
# this build take 25 minutes (lens/cpu/packet.hpp); the optimised fuzz and
# TSan stages still run the inlined, dispatched AVX2 path.
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -DLENS_CPU_PLAIN_INLINE"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DLENS_BUILD_BENCH=OFF -DLENS_BUILD_EXAMPLES=OFF -DLENS_WITH_TORCH=OFF -DLENS_ENABLE_CUDA=OFF
cmake --build build-asan -j "${LENS_JOBS:-2}"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "${LENS_JOBS:-2}"
