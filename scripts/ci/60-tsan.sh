#!/usr/bin/env bash
# ThreadSanitizer: builds only the thread-safety test (concurrent calls on
# shared inputs, private outputs) with -fsanitize=thread and runs it; any
# reported data race fails the stage.
set -euo pipefail
flags="-fsanitize=thread -fno-omit-frame-pointer -g -O1"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
  -DLENS_BUILD_TESTS=ON -DLENS_BUILD_BENCH=OFF -DLENS_BUILD_EXAMPLES=OFF -DLENS_WITH_TORCH=OFF \
  -DLENS_ENABLE_CUDA=OFF -DLENS_BUILD_OMP_THRUST=OFF -DLENS_BUILD_FUZZERS=OFF
cmake --build build-tsan --target test_reliability_threads -j "${LENS_JOBS:-2}"
TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./build-tsan/tests/reliability/test_reliability_threads
