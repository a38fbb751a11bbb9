#!/usr/bin/env bash
# Installs what Outflow needs, builds it, and starts `outflow serve` on its
# embedded default: SQLite under ./data, listening on 127.0.0.1:8080.
# Extra arguments go to `outflow serve` (e.g. --addr 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/outflow serve --data-dir "${OUTFLOW_DATA_DIR:-./data}" "$@"
