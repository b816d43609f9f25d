"""A throwaway PostgreSQL 15 cluster for tests (as the components notes describe).

``initdb`` and ``pg_ctl`` from ``/usr/lib/postgresql/15/bin`` run as the ``postgres`` user
(initdb refuses root) in a temp folder made world-traversable (mode 755), listening on
127.0.0.1 on a free port with its socket in that folder. :meth:`PgCluster.start` raises
:class:`ClusterError` with the fix when the binaries are missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from service.helpers_service import free_port

PG_BIN = Path(os.environ.get("CARBONSHIFT_PG_BIN", "/usr/lib/postgresql/15/bin"))


class ClusterError(RuntimeError):
    """The cluster could not be started; the message says why and what to do."""


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PgCluster:
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "pg" / "data"

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    @classmethod
    def start(cls) -> PgCluster:
        missing = [p for p in ("initdb", "pg_ctl") if not (PG_BIN / p).exists()]
        if missing:
            raise ClusterError(
                f"PostgreSQL binaries missing in {PG_BIN}: {', '.join(missing)}; install them "
                "(apt-get install postgresql-15) or set CARBONSHIFT_PG_BIN"
            )
        root = Path(tempfile.mkdtemp(prefix="carbonshift-pg-"))
        root.chmod(0o755)
        cluster = cls(root, free_port())
        try:
            (root / "pg").mkdir()
            if os.geteuid() == 0:
                shutil.chown(root / "pg", "postgres", "postgres")
            cluster._run(
                [str(PG_BIN / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U",
                 "postgres", "--no-sync", "-E", "UTF8"]
            )  # fmt: skip
            opts = (
                f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {root / 'pg'} "
                "-c fsync=off -c synchronous_commit=off -c max_connections=300"
            )
            cluster._run(
                [str(PG_BIN / "pg_ctl"), "-D", str(cluster.data), "-l",
                 str(root / "pg" / "server.log"), "-w", "-o", opts, "start"]
            )  # fmt: skip
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _run(self, args: list[str]) -> None:
        done = subprocess.run(_as_postgres(args), capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise ClusterError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-500:]}")

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                _as_postgres(
                    [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)
