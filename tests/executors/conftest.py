"""Fixtures for the executor tests: a controllable clock and a real throwaway Slurm cluster.

The Slurm fixture FAILS (it does not skip) when Slurm is not installed: a skipped test would
hide that the executor was never exercised. Install Slurm with ``.ci/slurm.sh``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from executors.helpers_executors import FakeClock
from executors.slurm_cluster import ClusterError, SlurmCluster


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    try:
        cluster = SlurmCluster.start()
    except ClusterError as exc:
        pytest.fail(f"cannot start the test Slurm cluster: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()
