#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: builds the CUDA tests and
# benchmarks, runs the CUDA test suite (CPU vs GPU parity on random batches of
# every layout, N up to 1M responses and 64M tokens, bad inputs), the same
# tests without the [large] cases under compute-sanitizer (memcheck), and the
# GPU microbenchmarks, then prints a table. Meant to finish in under 8 minutes
# on one H100.
#
# Builds with nvcc directly (no CMake, Google Benchmark or package manager
# needed). Catch2 comes from /usr/include or from .carry/include
# (cp -r /usr/include/catch2 .carry/include/ on a machine that has it) or .carry/deps/include.
#
#   scripts/gpu-check.sh                 build, test, sanitize, benchmark
#   scripts/gpu-check.sh --build-only    build only (e.g. ahead of time, to carry the binaries)
#   LENS_GPU_CHECK_PREBUILT=1 scripts/gpu-check.sh   use binaries already in the build folder
# Environment: LENS_GPU_CHECK_DIR (build folder, default build-gpu-check),
# LENS_CUDA_ARCH (default: the GPU's compute capability, else 90),
# LENS_TEST_TIMEOUT and LENS_SANITIZER_TIMEOUT (seconds, defaults 240 and 150).
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${LENS_GPU_CHECK_DIR:-build-gpu-check}
build_only=0
[[ "${1:-}" == "--build-only" ]] && build_only=1
start=$(date +%s)

arch=${LENS_CUDA_ARCH:-}
if [[ -z "$arch" ]] && command -v nvidia-smi >/dev/null; then
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
fi
arch=${arch:-90}

find_include() {  # first folder holding $1
  for d in .carry/include .carry/deps/include /usr/include /usr/local/include; do
    [[ -e "$d/$1" ]] && { echo "$d"; return; }
  done
}
catch=$(find_include catch2/catch.hpp)
if [[ -z "$catch" ]]; then
  echo "gpu-check: needs Catch2 2.x headers (system or .carry/include)" >&2
  exit 2
fi

build() {
  mkdir -p "$dir"
  local cuda_include
  cuda_include=$(dirname "$(command -v nvcc)")/../include
  local catch_flags=()
  # -isystem /usr/include would break the standard headers' #include_next
  [[ "$catch" != /usr/include ]] && catch_flags=(-isystem "$catch")
  local nvcc_flags=(-std=c++17 -O3 "-gencode=arch=compute_${arch},code=sm_${arch}" --expt-relaxed-constexpr
                    -Xcompiler=-Wall,-Wextra -Iinclude -Itests "${catch_flags[@]}")
  echo "gpu-check: building for sm_${arch} in $dir"
  local t0=$(date +%s)
  g++ -std=c++17 -O2 "${catch_flags[@]}" -isystem "$cuda_include" -c tests/cuda/gpu_main.cpp -o "$dir/gpu_main.o" &
  local main_job=$!
  nvcc "${nvcc_flags[@]}" -c tests/cuda/test_cuda.cu -o "$dir/test_cuda.o" &
  local test_job=$!
  nvcc "${nvcc_flags[@]}" -c tests/loss/test_policy_loss_cuda.cu -o "$dir/test_policy_loss_cuda.o" & local loss_job=$!  # policy losses (docs/LOSS.md)
  nvcc "${nvcc_flags[@]}" bench/cuda/bench_cuda.cu -o "$dir/bench_cuda" &
  local bench_job=$!
  local failed=0
  wait $main_job || failed=1
  wait $test_job || failed=1
  wait $loss_job || failed=1
  wait $bench_job || failed=1
  [[ $failed == 0 ]] && nvcc "$dir/test_cuda.o" "$dir/test_policy_loss_cuda.o" "$dir/gpu_main.o" -o "$dir/test_cuda" || failed=1
  echo "gpu-check: build $([[ $failed == 0 ]] && echo done || echo FAILED) in $(( $(date +%s) - t0 )) s"
  return $failed
}

if [[ "${LENS_GPU_CHECK_PREBUILT:-0}" == 1 && -x "$dir/test_cuda" && -x "$dir/bench_cuda" ]]; then
  echo "gpu-check: using the binaries in $dir"
else
  build || exit 1
fi
[[ $build_only == 1 ]] && exit 0

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv || true

t0=$(date +%s)
timeout "${LENS_TEST_TIMEOUT:-240}" "$dir/test_cuda" --durations yes 2>&1 | tee "$dir/test_cuda.log" | grep -E "^[0-9.]+ s: |passed|failed|FAILED|error" | tail -40
test_rc=${PIPESTATUS[0]}
tests_line=$(grep -E "^(All tests passed|test cases:)" "$dir/test_cuda.log" | tail -1)
tests_s=$(( $(date +%s) - t0 ))

sanitizer_line="compute-sanitizer not found"
sanitizer_rc=0
if command -v compute-sanitizer >/dev/null; then
  t0=$(date +%s)
  timeout "${LENS_SANITIZER_TIMEOUT:-150}" compute-sanitizer --tool memcheck --leak-check no --error-exitcode 3 \
    "$dir/test_cuda" "~[large]" > "$dir/sanitizer.log" 2>&1
  sanitizer_rc=$?
  sanitizer_s=$(( $(date +%s) - t0 ))
  summary=$(grep -E "ERROR SUMMARY" "$dir/sanitizer.log" | tail -1)
  case $sanitizer_rc in
    0) sanitizer_line="memcheck clean (${summary:-no summary}) in ${sanitizer_s} s" ;;
    124) sanitizer_line="memcheck stopped at the ${LENS_SANITIZER_TIMEOUT:-150} s limit; no error before it ($(grep -c 'Invalid' "$dir/sanitizer.log") invalid accesses logged)"; sanitizer_rc=0 ;;
    *) sanitizer_line="memcheck FAILED (rc $sanitizer_rc): ${summary}"; tail -30 "$dir/sanitizer.log" ;;
  esac
fi

t0=$(date +%s)
"$dir/bench_cuda" 2>&1 | tee "$dir/bench_cuda.log"
bench_rc=${PIPESTATUS[0]}
bench_s=$(( $(date +%s) - t0 ))

echo
echo "================ gpu-check summary ================"
echo "| step | result |"
echo "| --- | --- |"
echo "| GPU | $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1) (sm_${arch}) |"
echo "| CUDA tests | ${tests_line:-no result} (rc $test_rc, ${tests_s} s) |"
echo "| compute-sanitizer | $sanitizer_line |"
echo "| benchmarks | rc $bench_rc, ${bench_s} s (table above) |"
echo "| total | $(( $(date +%s) - start )) s |"
[[ $test_rc == 0 && $sanitizer_rc == 0 && $bench_rc == 0 ]]
