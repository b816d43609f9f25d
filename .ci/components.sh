#!/usr/bin/env bash
# The real components the tests run (each test fixture fails, never skips, when one is
# missing): Slurm + munge, headless Chromium, PostgreSQL server binaries, all from Debian.
# Idempotent: installs only what is missing (with apt-get, which needs root); starts no
# daemon (the tests start throwaway Slurm and PostgreSQL clusters themselves).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "components.sh: missing ${need[*]}; installing needs root (apt-get install ${need[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
bash .ci/slurm.sh
