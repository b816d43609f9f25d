"""``Workload``: the jobs a comparison replays, as parallel arrays (one entry per job).

Three sources:

- :func:`regular_workload`: one job every ``every`` in ``[from, to)`` (``--every 1h --duration
  1h --slack 24h``);
- :func:`read_jobs_file` with a DESIGN job CSV: ``job_id``, ``submit_time`` (ISO UTC),
  ``duration_s`` and optional ``deadline`` (ISO UTC) or ``slack_s``, ``gpus``, ``power_w``,
  ``interruptible`` (0/1), ``zone``;
- :func:`read_jobs_file` with a GPU cluster trace (``data/jobs/philly.csv.gz``,
  ``alibaba_gpu_v2023.csv.gz``) whose ``submit_time`` is **seconds since the trace start**:
  the arrivals are anchored at ``anchor`` (default ``--from``), ``num_gpus`` becomes ``gpus``.

Jobs without a deadline or slack get the default slack; jobs without ``power_w`` draw
``gpus × power_per_gpu_w`` (default :data:`DEFAULT_GPU_POWER_W`; at least one GPU's worth).
Reductions in percent do not depend on the power; grams do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from carbonshift.errors import DataError, DataFileError, UsageError
from carbonshift.signals.series import FloatArray, IntArray
from carbonshift.timeutil import format_time, from_epoch_s

__all__ = [
    "DEFAULT_GPU_POWER_W",
    "Workload",
    "concat",
    "read_jobs_file",
    "regular_workload",
]

DEFAULT_GPU_POWER_W = 300.0
"""Declared draw per GPU when a job gives no ``power_w`` (a data-centre GPU under load)."""

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Workload:
    """Jobs as arrays; times in epoch seconds. ``zone`` is the job's home zone ("" = any)."""

    job_id: npt.NDArray[np.str_]
    submit_s: IntArray
    duration_s: IntArray
    deadline_s: IntArray
    power_w: FloatArray
    gpus: IntArray
    interruptible: BoolArray
    zone: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.submit_s.size)

    def take(self, index: IntArray | BoolArray) -> Workload:
        """The jobs selected by ``index`` (positions or a mask)."""
        return Workload(
            self.job_id[index],
            self.submit_s[index],
            self.duration_s[index],
            self.deadline_s[index],
            self.power_w[index],
            self.gpus[index],
            self.interruptible[index],
            self.zone[index],
        )

    @property
    def latest_start_s(self) -> IntArray:
        return self.deadline_s - self.duration_s

    @property
    def energy_kwh(self) -> FloatArray:
        return self.power_w * self.duration_s / 3.6e6

    def in_period(self, from_s: int, to_s: int) -> Workload:
        """The jobs arriving in ``[from_s, to_s)``."""
        return self.take((self.submit_s >= from_s) & (self.submit_s < to_s))

    def with_interruptible(self) -> Workload:
        return replace(self, interruptible=np.ones(len(self), dtype=bool))

    def check_within(self, data_start_s: int, data_end_s: int, *, trim: bool) -> Workload:
        """Jobs whose window ``[submit, deadline)`` lies inside the data; the others are an
        error, or dropped with ``trim``."""
        outside = (self.submit_s < data_start_s) | (self.deadline_s > data_end_s)
        if not outside.any():
            return self
        if trim:
            return self.take(~outside)
        j = int(np.argmax(outside))
        raise DataError(
            f"job {self.job_id[j]} (and {int(outside.sum()) - 1} more): its window "
            f"{format_time(from_epoch_s(int(self.submit_s[j])))}.."
            f"{format_time(from_epoch_s(int(self.deadline_s[j])))} runs past the data "
            f"({format_time(from_epoch_s(data_start_s))}..{format_time(from_epoch_s(data_end_s))})",
            hint="end --to earlier, shorten --slack, or pass --trim to drop those jobs",
        )


def concat(parts: Sequence[Workload]) -> Workload:
    """The jobs of ``parts``, in order."""
    names = [f.name for f in fields(Workload)]
    return Workload(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))


def _check_positive(duration_s: int, slack_s: int) -> None:
    if duration_s <= 0:
        raise UsageError("--duration: must be positive", hint="e.g. 1h")
    if slack_s < 0:
        raise UsageError("--slack: must not be negative", hint="e.g. 24h")


def regular_workload(
    from_s: int,
    to_s: int,
    every_s: int,
    duration_s: int,
    slack_s: int,
    *,
    power_w: float = DEFAULT_GPU_POWER_W,
    gpus: int = 1,
) -> Workload:
    """One job every ``every_s`` from ``from_s`` (inclusive) to ``to_s`` (exclusive)."""
    if every_s <= 0:
        raise UsageError("--every: must be positive", hint="e.g. 1h")
    _check_positive(duration_s, slack_s)
    submit = np.arange(from_s, to_s, every_s, dtype=np.int64)
    n = submit.size
    return Workload(
        job_id=np.array([str(i) for i in range(n)], dtype=np.str_),
        submit_s=submit,
        duration_s=np.full(n, duration_s, dtype=np.int64),
        deadline_s=submit + slack_s + duration_s,
        power_w=np.full(n, float(power_w)),
        gpus=np.full(n, gpus, dtype=np.int64),
        interruptible=np.zeros(n, dtype=bool),
        zone=np.full(n, "", dtype=np.str_),
    )


def _bad(path: Path, why: str) -> DataFileError:
    return DataFileError(
        f"--jobs {path}: {why}",
        hint="columns: job_id, submit_time (ISO UTC, or seconds since the trace start with "
        "--anchor), duration_s, optional deadline or slack_s, gpus, power_w, interruptible, zone",
    )


def _numeric(path: Path, frame: pd.DataFrame, column: str) -> FloatArray:
    raw = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(raw) & frame[column].notna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad)) + 2
        raise _bad(path, f"row {row}: {column} {frame[column].iloc[row - 2]!r} is not a number")
    return raw


def _times(path: Path, frame: pd.DataFrame, column: str) -> IntArray:
    parsed = pd.to_datetime(frame[column], utc=True, errors="coerce", format="ISO8601")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad)) + 2
        raise _bad(path, f"row {row}: {column} {frame[column].iloc[row - 2]!r} is not an ISO time")
    naive = parsed.dt.tz_convert(None).to_numpy().astype("datetime64[s]")
    return np.asarray(naive.astype(np.int64), dtype=np.int64)


def read_jobs_file(
    path: Path,
    *,
    anchor_s: int,
    default_slack_s: int | None,
    power_per_gpu_w: float = DEFAULT_GPU_POWER_W,
) -> Workload:
    """Read a job CSV (DESIGN format or a relative-time GPU trace; see the module notes).

    Zero-length jobs (a few in the Philly trace) and jobs without a duration (pending pods)
    are dropped. ``default_slack_s`` is used for jobs without a deadline or slack (``None``:
    such jobs are an error).
    """
    if not path.is_file():
        raise UsageError(f"--jobs: {path} is not a file", hint="give a job CSV")
    try:
        frame = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot be read as CSV ({str(exc).splitlines()[0]})") from None
    for need in ("submit_time", "duration_s"):
        if need not in frame.columns:
            raise _bad(path, f"no {need} column")
    if frame.empty:
        raise _bad(path, "no jobs")
    duration = _numeric(path, frame, "duration_s")
    keep = ~np.isnan(duration) & (duration > 0)
    frame = frame.loc[keep].reset_index(drop=True)
    duration = duration[keep]
    if frame.empty:
        raise _bad(path, "no job with a positive duration_s")
    submit_raw = frame["submit_time"]
    relative = pd.api.types.is_numeric_dtype(submit_raw)
    if relative:
        submit = anchor_s + np.round(_numeric(path, frame, "submit_time")).astype(np.int64)
    else:
        submit = _times(path, frame, "submit_time")
    dur = np.round(duration).astype(np.int64)
    dur = np.maximum(dur, 1)
    n = len(frame)
    deadline = np.full(n, -1, dtype=np.int64)
    if "deadline" in frame.columns:
        has = frame["deadline"].notna().to_numpy()
        if has.any():
            deadline[has] = _times(path, frame.loc[has].reset_index(drop=True), "deadline")
    if "slack_s" in frame.columns:
        slack = _numeric(path, frame, "slack_s")
        has = ~np.isnan(slack)
        if (has & (deadline >= 0)).any():
            raise _bad(path, "a row gives both deadline and slack_s; give one")
        if (slack[has] < 0).any():
            raise _bad(path, "slack_s must not be negative")
        deadline[has] = submit[has] + np.round(slack[has]).astype(np.int64) + dur[has]
    missing = deadline < 0
    if missing.any():
        if default_slack_s is None:
            raise UsageError(
                f"--jobs {path}: some jobs have no deadline or slack_s",
                hint="pass --slack (e.g. 24h) to give them one",
            )
        deadline[missing] = submit[missing] + default_slack_s + dur[missing]
    if (deadline < submit + dur).any():
        j = int(np.argmax(deadline < submit + dur))
        raise _bad(path, f"row {j + 2}: the deadline comes before submit + duration")
    gpus_col = "gpus" if "gpus" in frame.columns else "num_gpus" if "num_gpus" in frame else None
    gpus = (
        np.nan_to_num(_numeric(path, frame, gpus_col), nan=1.0).astype(np.int64)
        if gpus_col
        else np.ones(n, dtype=np.int64)
    )
    power = np.maximum(gpus, 1) * power_per_gpu_w
    if "power_w" in frame.columns:
        given = _numeric(path, frame, "power_w")
        power = np.where(np.isnan(given), power, given)
    interruptible = np.zeros(n, dtype=bool)
    if "interruptible" in frame.columns:
        interruptible = np.nan_to_num(_numeric(path, frame, "interruptible")) != 0
    zone = (
        frame["zone"].fillna("").astype(str).to_numpy(dtype=np.str_)
        if "zone" in frame.columns
        else np.full(n, "", dtype=np.str_)
    )
    ids = (
        frame["job_id"].astype(str).to_numpy(dtype=np.str_)
        if "job_id" in frame.columns
        else np.array([str(i) for i in range(n)], dtype=np.str_)
    )
    order = np.argsort(submit, kind="stable")
    return Workload(
        ids, submit, dur, deadline, power.astype(np.float64), gpus, interruptible, zone
    ).take(order)
