#!/usr/bin/env bash
# The README's main command: installs what is missing (scripts/setup.sh),
# builds only the MATH example, and trains the same small policy with GRPO and
# with LENS advantages on the same seeds, printing a progress line per step and
# a pass@1 / pass@G table at the end.
#
#   scripts/run-example.sh                          # the default run (a few minutes on 2 cores)
#   scripts/run-example.sh --seeds 5 --steps 400    # any math_rl flag; --help lists them
#
# Writes out/math_rl/ (git-ignored): math_rl_steps.csv (every step),
# math_rl_eval.csv, math_rl_table.md and math_rl_curves.png.
# Needs the MATH data in ../shared/data/math beside the checkout (or pass
# --data DIR). A CUDA LibTorch is used when CMake finds it first, e.g.
#   CMAKE_PREFIX_PATH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') scripts/run-example.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash scripts/setup.sh

echo "run-example: configuring and building examples/math_rl in build-example/"
cmake -S . -B build-example -DCMAKE_BUILD_TYPE=Release \
  -DLENS_BUILD_TESTS=OFF -DLENS_BUILD_BENCH=OFF -DLENS_BUILD_EXAMPLES=ON -DLENS_BUILD_FUZZERS=OFF \
  -DLENS_BUILD_OMP_THRUST=OFF -DLENS_WITH_TORCH=ON >/dev/null
targets=$(cmake --build build-example --target help)
if ! grep -qw math_rl <<<"$targets"; then
  echo "run-example: examples/math_rl is not configured: LibTorch, CLI11 or nlohmann_json is missing" \
       "(bash scripts/setup.sh installs them; for another LibTorch set CMAKE_PREFIX_PATH)" >&2
  exit 1
fi
cmake --build build-example --target math_rl -j "${LENS_JOBS:-$(nproc)}"
echo "run-example: built in $(( $(date +%s) - start )) s"

./build-example/examples/math_rl/math_rl --out out/math_rl "$@"
echo "run-example: finished in $(( $(date +%s) - start )) s; results in out/math_rl/"
