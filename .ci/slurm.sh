#!/usr/bin/env bash
# Install Slurm (slurmctld, slurmd, clients) and munge for tests/executors, if missing.
# Idempotent: does nothing when slurmctld is already on PATH. Starts no daemon: the pytest
# session fixture in tests/executors/conftest.py starts a throwaway cluster and stops it.
set -euo pipefail

if { command -v slurmctld || [ -x /usr/sbin/slurmctld ]; } >/dev/null 2>&1 && [ -x /usr/sbin/munged ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "slurm.sh: Slurm is missing and installing it needs root (apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
# Debian's postinst creates /etc/munge/munge.key (0600, munge); make sure it exists.
if [ ! -s /etc/munge/munge.key ]; then
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile=/etc/munge/munge.key
  else
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0600 /etc/munge/munge.key
fi
command -v slurmctld >/dev/null
