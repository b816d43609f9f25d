"""What the Slurm executor remembers about each job it submitted, in its state directory.

::

    STATE_DIR/slurm/
      TOKEN/job.sh, stdout, stderr      the batch script and default output files
      by-id/JOB_ID.json                 the record: spec, zone, paths, planned times, pause
                                        flag, and the terminal status once it was seen

Records are written atomically; a new executor on the same state directory reads them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from carbonshift.executors.local_wrapper import atomic_write_json, read_json
from carbonshift.executors.spec import JobSpec
from carbonshift.executors.status import ExecutorStatus
from carbonshift.timeutil import from_epoch_s

__all__ = ["SlurmRecord", "SlurmRecords"]


def _time(value: Any) -> datetime | None:
    return None if value is None else from_epoch_s(float(value))


@dataclass(frozen=True, slots=True)
class SlurmRecord:
    """One submitted job; ``paused`` is True while it is requeued-and-held by :meth:`pause`."""

    job_id: str
    token: str
    spec: JobSpec
    zone: str
    stdout: Path
    stderr: Path
    start_at: datetime
    max_runtime_s: float | None = None
    deadline: datetime | None = None
    paused: bool = False
    final: ExecutorStatus | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "token": self.token,
            "spec": self.spec.to_dict(),
            "zone": self.zone,
            "stdout": str(self.stdout),
            "stderr": str(self.stderr),
            "start_at_epoch_s": self.start_at.timestamp(),
            "max_runtime_s": self.max_runtime_s,
            "deadline_epoch_s": None if self.deadline is None else self.deadline.timestamp(),
            "paused": self.paused,
            "final": None if self.final is None else self.final.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SlurmRecord:
        start = _time(data["start_at_epoch_s"])
        assert start is not None
        limit = data.get("max_runtime_s")
        final = data.get("final")
        return cls(
            job_id=str(data["job_id"]),
            token=str(data["token"]),
            spec=JobSpec.from_dict(data["spec"]),
            zone=str(data["zone"]),
            stdout=Path(data["stdout"]),
            stderr=Path(data["stderr"]),
            start_at=start,
            max_runtime_s=None if limit is None else float(limit),
            deadline=_time(data.get("deadline_epoch_s")),
            paused=bool(data.get("paused", False)),
            final=None if final is None else ExecutorStatus.from_dict(final),
        )


class SlurmRecords:
    """The records folder; ``load`` returns None for a job submitted elsewhere."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.by_id = root / "by-id"

    def folder(self, token: str) -> Path:
        return self.root / token

    def load(self, job_id: str) -> SlurmRecord | None:
        if not job_id.isdigit():
            return None
        data = read_json(self.by_id / f"{job_id}.json")
        return None if data is None else SlurmRecord.from_dict(data)

    def save(self, record: SlurmRecord) -> None:
        self.by_id.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.by_id / f"{record.job_id}.json", record.to_dict())
