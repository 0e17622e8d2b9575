#!/usr/bin/env bash
# libFuzzer on the MATH reward (fuzz/math): a clang build with ASan + UBSan,
# run for about 60 s on a copy of the committed seed corpus. Any crash, leak,
# sanitizer report, timeout or broken invariant fails the stage.
set -euo pipefail
build=build-fuzz-math
budget=${LENS_FUZZ_MATH_SECONDS:-60}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DLENS_BUILD_FUZZERS=ON -DLENS_BUILD_TESTS=OFF -DLENS_BUILD_BENCH=OFF -DLENS_BUILD_EXAMPLES=OFF \
  -DLENS_WITH_TORCH=OFF -DLENS_ENABLE_CUDA=OFF
cmake --build "$build" -j "${LENS_JOBS:-2}" --target lens_math_reward_fuzzer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r fuzz/math/corpus "$work/corpus"
# -timeout: one input taking 10 s means a non-linear path; -max_len lets inputs
# grow to 64 KiB so the scanners see long texts as well as short ones.
(cd "$work" && "$OLDPWD/$build/fuzz/math/lens_math_reward_fuzzer" corpus \
  -max_total_time="$budget" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1)
echo "fuzz-math: no findings in ${budget} s"
