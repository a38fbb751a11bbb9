#!/usr/bin/env bash
# Installs what Outflow needs, builds it, and starts `outflow serve` on its
# embedded default: SQLite under ./data, listening on 127.0.0.1:8080.
# Creates the secret key on first use (data/secret.key).
# Extra arguments go to `outflow serve` (e.g. --addr 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
data_dir="${OUTFLOW_DATA_DIR:-./data}"
# The key that encrypts account credentials: made once, kept in the data directory
# (back it up with the data; docs/secrets.md). OUTFLOW_SECRET_KEY overrides it.
if [[ -z "${OUTFLOW_SECRET_KEY:-}" ]]; then
  build/outflow keygen --data-dir "$data_dir" --if-missing
fi
exec build/outflow serve --data-dir "$data_dir" "$@"
