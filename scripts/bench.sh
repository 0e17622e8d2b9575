#!/usr/bin/env bash
# The CPU benchmark suite in one command: configures build-bench (Release),
# builds bench/cpu's lens_bench_cpu, runs it (lens, the roofline copy, the
# scalar reference and the LibTorch baseline on the same inputs), then writes
# docs/BENCHMARKS_TABLE.md and docs/bench_scaling.png. About 10 minutes on a
# 2-core machine.
#
#   scripts/bench.sh                          the full suite, default flags
#   LENS_BENCH_NATIVE=1 scripts/bench.sh      -O3 -march=native (build-bench-native,
#                                             docs/BENCHMARKS_TABLE_native.md)
#   scripts/bench.sh --benchmark_filter=tok/  extra arguments go to the binary
#   LENS_BENCH_THREADS=n                      threads for lens (OpenMP builds) and LibTorch
set -euo pipefail
cd "$(dirname "$0")/.."

build=build-bench
suffix=""
native=OFF
if [[ "${LENS_BENCH_NATIVE:-0}" == 1 ]]; then
  build=build-bench-native
  suffix=_native
  native=ON
fi
jobs=${LENS_JOBS:-2}

log=$(mktemp)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLENS_BUILD_BENCH=ON -DLENS_BUILD_EXAMPLES=OFF \
  -DLENS_BENCH_NATIVE="$native" > "$log" 2>&1 || { cat "$log"; rm -f "$log"; exit 1; }
rm -f "$log"
cmake --build "$build" --target lens_bench_cpu -j "$jobs"

machine="$build/bench_machine.txt"
{
  lscpu | grep -E '^(Model name|Architecture|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|L1d|L2|L3)' \
    | sed 's/  */ /g'
  echo "memory: $(free -g | awk '/^Mem:/ {print $2}') GiB"
  echo "compiler: $(${CXX:-c++} --version | head -1)"
  echo "libtorch: $(dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null || echo unknown)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$machine"
cat "$machine"

json="$build/bench_cpu.json"
# 0.1 s per case is enough: the small cases run thousands of iterations, the
# largest (64M tokens) a few, and the ratios come from neighbouring runs.
"$build/bench/cpu/lens_bench_cpu" --benchmark_min_time=0.1 \
  --benchmark_out="$json" --benchmark_out_format=json "$@"

command="scripts/bench.sh${*:+ $*}"
[[ "$native" == ON ]] && command="LENS_BENCH_NATIVE=1 $command"
# Only a full default run refreshes the measured section of docs/BENCHMARKS.md.
doc=""
[[ "$native" == OFF && $# -eq 0 ]] && doc=docs/BENCHMARKS.md
python3 scripts/bench_report.py "$json" "$machine" "docs/BENCHMARKS_TABLE$suffix.md" "docs/bench_scaling$suffix.png" \
  "$command" $doc
