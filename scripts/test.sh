#!/usr/bin/env bash
# Installs what Outflow needs, builds it with warnings as errors, and runs the whole
# test suite: unit tests (label unit) and black-box tests of the real binary (e2e).
# Extra arguments go to ctest (e.g. -L unit, -R e2e_crash).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh -DOUTFLOW_WERROR=ON
cd "${OUTFLOW_BUILD_DIR:-build}"
ctest --output-on-failure -j2 --timeout 900 "$@"
