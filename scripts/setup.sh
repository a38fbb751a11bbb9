#!/usr/bin/env bash
# Installs every Debian package that Outflow's build, tests and benchmarks need.
# Idempotent: when everything is already installed it does nothing (no apt-get update).
# Works as root on a fresh Debian 12; elsewhere prefix with sudo.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries (see ../shared/DESIGN.md)
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev libcurl4-openssl-dev libssl-dev
  libspdlog-dev libfmt-dev libcli11-dev libhowardhinnant-date-dev
  libsodium-dev libkainjow-mustache-dev
  # tests and benchmarks (python3-aiosmtpd: a real SMTP server for the email channel)
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-aiosmtpd openssl sqlite3 curl procps tzdata
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
