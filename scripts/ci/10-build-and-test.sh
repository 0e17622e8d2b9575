#!/usr/bin/env bash
# Release build of everything (tests, benchmarks, examples) and the full ctest run.
set -euo pipefail
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "${LENS_JOBS:-2}"
ctest --test-dir build --output-on-failure -j "${LENS_JOBS:-2}"
