"""Fixtures of the service tests: a PostgreSQL cluster and a Slurm cluster (both FAIL, never
skip, when their programs are missing) and a manual-clock forecast zone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from executors.slurm_cluster import ClusterError as SlurmClusterError
from executors.slurm_cluster import SlurmCluster
from service.pg_cluster import ClusterError, PgCluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    try:
        cluster = PgCluster.start()
    except ClusterError as exc:
        pytest.fail(f"cannot start the test PostgreSQL cluster: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def slurm() -> Iterator[SlurmCluster]:
    try:
        cluster = SlurmCluster.start()
    except SlurmClusterError as exc:
        pytest.fail(f"cannot start the test Slurm cluster: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()
