#!/usr/bin/env bash
# The Python package: a virtual environment (.venv, or $LENS_VENV) with the
# PyPI packages of python/requirements-test.txt (torch, verl, TRL,
# Math-Verify, ...), `pip install .` of lens itself, then pytest: the package's
# tests against verl's and TRL's own code (tests/python) and the MATH
# checker's differential test against Math-Verify (tests/math/differential).
set -euo pipefail
venv=${LENS_VENV:-$PWD/.venv}
python=${LENS_PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip
"${pip[@]}" install -q -r python/requirements-test.txt
"${pip[@]}" install -q --no-deps verl==0.9.1
# As a user would: a normal (non-editable) install, built by the project's CMake.
"${pip[@]}" install -q --no-build-isolation --force-reinstall --no-deps .
"$venv/bin/python" -c "import lens, sys; print('lens', lens.__version__, 'from', lens.__file__)"
# The MATH checker's command-line front end, for the differential test: from
# the Release build of stage 10 when there is one, else a small build of its own.
build=build
if [ ! -f "$build/CMakeCache.txt" ]; then
  build=build-python-tools
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLENS_TEST_FEATURES=math -DLENS_BUILD_BENCH=OFF \
    -DLENS_BUILD_EXAMPLES=OFF -DLENS_WITH_TORCH=OFF -DLENS_ENABLE_CUDA=OFF -DLENS_BUILD_OMP_THRUST=OFF
fi
cmake --build "$build" --target lens_math_verdicts -j "${LENS_JOBS:-2}"
export LENS_MATH_VERDICTS=$PWD/$build/tests/math/lens_math_verdicts
export PYTHONWARNINGS=ignore
# A missing tool, data set or package fails the run instead of skipping a test.
export CI=${CI:-1}
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/python tests/math/differential
