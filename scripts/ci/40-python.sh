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
export PYTHONWARNINGS=ignore
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/python
