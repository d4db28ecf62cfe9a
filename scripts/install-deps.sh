#!/usr/bin/env bash
# Installs the Debian 12 packages pg_segments needs to build, test and run, when missing.
set -euo pipefail

PACKAGES=(
  g++ make cmake clang libclang-rt-14-dev
  postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-contrib
  libpq-dev libgtest-dev libbenchmark-dev
)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "pg_segments: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "pg_segments: run as root, or install them first: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
