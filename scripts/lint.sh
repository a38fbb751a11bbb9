#!/usr/bin/env bash
# Checks formatting (clang-format) and naming and common bugs (clang-tidy) on src/.
# Usage: scripts/lint.sh [--fix]   (needs a configured build/ for compile_commands.json)
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files 'src/*.h' 'src/*.cc')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i $files
else
  clang-format --dry-run --Werror $files
fi
clang-tidy -p build --quiet $(git ls-files 'src/*.cc' | grep -v _test.cc) 2>/dev/null | grep -E "warning:|error:" || true
