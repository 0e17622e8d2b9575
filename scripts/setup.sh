#!/usr/bin/env bash
# Installs, from Debian's archive, every package lens needs to build, test,
# benchmark and run its examples. Idempotent: installs only what is missing,
# and runs `apt-get update` at most once per machine (or when a package is not
# found in the current lists).
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libeigen3-dev          # CPU backend
  catch2                 # tests (Catch2 2.13)
  libbenchmark-dev       # bench/
  nlohmann-json3-dev     # MATH data loader
  libcli11-dev           # example command lines
  libtorch-dev           # LibTorch example, torch adapter, LibTorch baseline
  libopenblas0-openmp    # LibTorch's BLAS: Debian's default reference BLAS makes its matmuls ~20x slower
  gnuplot-nox            # plots of the example and the benchmarks
  clang libclang-rt-14-dev  # libFuzzer targets and sanitizer runtimes
  python3 python3-venv python3-dev  # the Python package's virtual environment and extension build (scripts/ci/40-python.sh)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "lens setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/lists/.lens-apt-updated
if [ ! -e "$stamp" ] || ! "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" touch "$stamp" || true
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
