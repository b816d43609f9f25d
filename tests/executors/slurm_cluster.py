"""A throwaway single-machine Slurm cluster for tests: two partitions on two fake nodes.

Follows the project's components notes (Slurm 22.05 on Debian): a **private** munged (its own
socket, so a system munged is neither needed nor disturbed), ``slurmctld -c`` and one
``slurmd -N NODE`` per fake node, on free TCP ports, all files in one temp folder (mode 755,
because munged runs as the munge user). ``MinJobAge=3600`` keeps finished jobs visible and
``SchedulerParameters=sched_interval=1,bf_interval=1`` makes scheduling passes frequent.
Stopping runs ``scontrol shutdown`` and kills only the processes this cluster started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ZONES = {"DE": "DE", "FR": "FR"}
NODES = {"DE": "de1", "FR": "fr1"}
MUNGED = "/usr/sbin/munged"


class ClusterError(RuntimeError):
    """The cluster could not be started; the message says why and what to do."""


def missing_programs() -> list[str]:
    names = ["slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo", "munge"]
    missing = [name for name in names if shutil.which(name) is None]
    if not Path(MUNGED).exists():
        missing.append(MUNGED)
    return missing


def _free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sockets.append(sock)
        ports.append(sock.getsockname()[1])
    for sock in sockets:
        sock.close()
    return ports


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@dataclass
class SlurmCluster:
    root: Path
    partitions: dict[str, str] = field(default_factory=lambda: dict(ZONES))

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf), "TZ": "UTC"}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=30, check=check
        )

    # -- start ----------------------------------------------------------------------------

    @classmethod
    def start(cls) -> SlurmCluster:
        missing = missing_programs()
        if missing:
            raise ClusterError(
                f"Slurm/munge programs missing: {', '.join(missing)}; run .ci/slurm.sh "
                "(apt-get install slurm-wlm munge) before the tests"
            )
        if os.geteuid() != 0:
            raise ClusterError("starting a test Slurm cluster needs root (munged runs as munge)")
        root = Path(tempfile.mkdtemp(prefix="carbonshift-slurm-"))
        root.chmod(0o755)
        cluster = cls(root)
        try:
            cluster._start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _start(self) -> None:
        for sub in ("state", "log", *(f"spool/{n}" for n in NODES.values())):
            (self.root / sub).mkdir(parents=True)
        munge_dir = self.root / "munge"
        munge_dir.mkdir(mode=0o755)
        shutil.chown(munge_dir, "munge", "munge")
        munge_dir.chmod(0o755)
        subprocess.run(
            [
                "runuser", "-u", "munge", "--", MUNGED,
                f"--socket={munge_dir / 'munge.sock'}",
                f"--pid-file={munge_dir / 'munged.pid'}",
                f"--log-file={munge_dir / 'munged.log'}",
                f"--seed-file={munge_dir / 'munged.seed'}",
            ],
            check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        self._write_conf()
        self.run("slurmctld", "-c", "-f", str(self.conf))
        for node in NODES.values():
            self.run("slurmd", "-f", str(self.conf), "-N", node)
        self._wait_idle(timeout_s=30.0)

    def _write_conf(self) -> None:
        host = socket.gethostname().split(".")[0]
        ctld_port, *node_ports = _free_ports(1 + len(NODES))
        r = self.root
        lines = [
            "ClusterName=cstest",
            f"SlurmctldHost={host}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"AuthInfo=socket={r / 'munge' / 'munge.sock'}",
            "CredType=cred/munge",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}/%n",
            f"SlurmctldPidFile={r / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'slurmd-%n.pid'}",
            f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={r / 'log'}/slurmd-%n.log",
            f"SlurmctldPort={ctld_port}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/backfill",
            "SchedulerParameters=sched_interval=1,bf_interval=1",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            f"JobCompType=jobcomp/filetxt\nJobCompLoc={r / 'log' / 'jobcomp.txt'}",
            "MpiDefault=none",
            "ReturnToService=2",
            "MinJobAge=3600",
            "KillWait=2",
        ]
        for (zone, node), port in zip(NODES.items(), node_ports, strict=True):
            lines.append(
                f"NodeName={node} NodeHostname={host} NodeAddr=127.0.0.1 Port={port} "
                "CPUs=2 RealMemory=2000"
            )
            lines.append(f"PartitionName={ZONES[zone]} Nodes={node} MaxTime=INFINITE State=UP")
        self.conf.write_text("\n".join(lines) + "\n")

    def _wait_idle(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        seen = ""
        while time.monotonic() < deadline:
            done = self.run("sinfo", "-h", "-N", "-o", "%N %T", check=False)
            seen = done.stdout.strip() + done.stderr.strip()
            states = dict(line.split() for line in done.stdout.splitlines() if line.strip())
            if done.returncode == 0 and all(states.get(n) == "idle" for n in NODES.values()):
                return
            time.sleep(0.2)
        raise ClusterError(
            f"Slurm nodes not idle after {timeout_s:g} s: {seen!r}\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 15) -> str:
        out = []
        for log in sorted((self.root / "log").glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)

    # -- stop -----------------------------------------------------------------------------

    def _pids(self) -> list[int]:
        files = [
            self.root / "slurmctld.pid",
            *(self.root / f"slurmd-{n}.pid" for n in NODES.values()),
        ]
        return [pid for pid in map(_pid, files) if pid is not None]

    def stop(self) -> None:
        pids = self._pids()
        if self.conf.exists():
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self.run("scancel", "--user=root", check=False)  # this cluster's jobs only
                self.run("scontrol", "shutdown", check=False)
        deadline = time.monotonic() + 5.0
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        munged = _pid(self.root / "munge" / "munged.pid")
        for pid in [p for p in pids if _alive(p)] + ([munged] if munged else []):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL if pid != munged else signal.SIGTERM)
        shutil.rmtree(self.root, ignore_errors=True)
