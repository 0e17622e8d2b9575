#!/usr/bin/env bash
# The README's quick-start snippet must be the one tests/core/test_readme_quickstart.cpp
# compiles and checks (between its example-begin/example-end markers).
set -euo pipefail
tested=$(sed -n '/example-begin quick-start/,/example-end quick-start/p' tests/core/test_readme_quickstart.cpp \
  | sed '1d;$d' | sed 's/^  //')
documented=$(awk '/^## Quick start/{f=1} f&&/^```cpp/{c=1;next} c&&/^```/{exit} c' README.md \
  | grep -v '^#include' | sed '/./,$!d')
if [ "$tested" != "$documented" ]; then
  echo "README quick start differs from tests/core/test_readme_quickstart.cpp:"
  diff <(echo "$tested") <(echo "$documented") || true
  exit 1
fi
echo "README quick start matches the tested snippet"
