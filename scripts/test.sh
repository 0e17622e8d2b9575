#!/usr/bin/env bash
# Builds and runs every test of lens on a fresh machine: installs what is
# missing (scripts/setup.sh), then runs each stage in scripts/ci/ in order
# (normal build + ctest, sanitizer build, installed-package consumer, CUDA
# compile, Thrust-on-OpenMP parity, fuzzers, ThreadSanitizer, ...).
# Any failing stage fails the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LENS_JOBS=${LENS_JOBS:-$(nproc)}
start=$(date +%s)
for stage in scripts/ci/[0-9]*.sh; do
  echo "=================== ${stage} ==================="
  t0=$(date +%s)
  bash "$stage"
  echo "=================== ${stage}: passed in $(( $(date +%s) - t0 )) s"
done
echo "all stages passed in $(( $(date +%s) - start )) s"
