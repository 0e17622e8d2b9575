#!/usr/bin/env bash
# libFuzzer on the advantage API (fuzz/advantages): a clang build with ASan +
# UBSan, run for about 60 s on a copy of the committed seed corpus. Any crash,
# sanitizer report, timeout or broken invariant (finite outputs, agreement with
# the scalar reference, outputs untouched on rejection, accepted exactly when
# the documented rules say so) fails the stage and leaves the input in
# $LENS_FUZZ_ARTIFACTS (default build-fuzz/artifacts) to become a regression test.
set -euo pipefail
build=build-fuzz
budget=${LENS_FUZZ_ADVANTAGES_SECONDS:-60}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DLENS_BUILD_FUZZERS=ON -DLENS_BUILD_TESTS=OFF -DLENS_BUILD_BENCH=OFF -DLENS_BUILD_EXAMPLES=OFF \
  -DLENS_WITH_TORCH=OFF -DLENS_ENABLE_CUDA=OFF -DLENS_BUILD_OMP_THRUST=OFF
cmake --build "$build" -j "${LENS_JOBS:-2}" --target lens_advantages_fuzzer
fuzzer="$PWD/$build/fuzz/advantages/lens_advantages_fuzzer"
artifacts=${LENS_FUZZ_ARTIFACTS:-$PWD/$build/artifacts}
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r fuzz/advantages/corpus "$work/corpus"
# -timeout: a 10 s input would mean a non-linear path (N <= 90, T <= 12 here).
(cd "$work" && LENS_FUZZ_STATS=1 "$fuzzer" corpus -max_total_time="$budget" -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts/" -print_final_stats=1)
echo "fuzz-advantages: no findings in ${budget} s"
