"""Measure the energy of a command: ``python -m carbonshift.accounting.probe --out F -- CMD``.

The service wraps each job's command with this probe (locally and inside a Slurm batch script,
so it runs where the job runs, on the job's GPUs). The probe starts the command as its child in
the same process group (signals sent to the group reach both; a SIGTERM or SIGINT sent to the
probe alone is passed on), reads the best meter present for the child's process tree and the
GPUs in ``CUDA_VISIBLE_DEVICES`` (:func:`~carbonshift.accounting.meters.select_meter`), and
writes what it read to ``--out`` as JSON: cumulative energy readings (epoch seconds, joules),
the meter and how it measured, and the command's exit status. The file is rewritten atomically
every ``--flush-every`` seconds, so a probe killed with SIGKILL leaves its readings so far.
``{attempt}`` in ``--out`` becomes ``$CARBONSHIFT_ATTEMPT`` (a restarted job's attempts each
get their own file). The probe writes nothing to the command's output unless ``--say``
asks for one closing line on stderr. It exits with the command's status (128 + N when a signal N ended
it; 127/126 when it could not be run, as a shell does).

:func:`read_probe_file` and :func:`combine` read the files back into one
:class:`~carbonshift.accounting.profile.PowerProfile` for accounting.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from carbonshift.accounting.meters.base import MeterInfo, PowerMeter, Reading
from carbonshift.accounting.meters.select import select_meter
from carbonshift.accounting.profile import PowerProfile
from carbonshift.errors import CarbonshiftError, DataError, UsageError

__all__ = ["ProbeRun", "combine", "main", "read_probe_file", "write_probe_file"]

FORMAT = "carbonshift-probe/1"


@dataclass(frozen=True, slots=True)
class ProbeRun:
    """One measured run (one attempt): readings, the meter, the command's exit status."""

    times_s: np.ndarray
    energy_j: np.ndarray
    meter: MeterInfo
    exit_code: int | None
    complete: bool
    pue: float = 1.0

    @property
    def energy_kwh(self) -> float:
        return (
            float(self.energy_j[-1] - self.energy_j[0]) * self.pue / 3.6e6
            if self.energy_j.size
            else 0.0
        )


def write_probe_file(
    path: Path,
    readings: Sequence[Reading],
    meter: MeterInfo,
    *,
    command: Sequence[str],
    exit_code: int | None,
    complete: bool,
    pue: float = 1.0,
) -> None:
    """Write (atomically) what a probe read."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "command": list(command),
        "pid": os.getpid(),
        "host": os.uname().nodename,
        "exit_code": exit_code,
        "complete": complete,
        "pue": pue,
        "meter": meter.to_dict(),
        "readings": [[r.time_s, r.energy_j] for r in readings],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_probe_file(path: Path) -> ProbeRun:
    """A probe's file read back; :class:`DataError` naming the file when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
        raw = np.array(data["readings"], dtype=np.float64).reshape(-1, 2)
        meter = MeterInfo.from_dict(data["meter"])
        code = data.get("exit_code")
        pue = float(data.get("pue", 1.0))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"{path}: not a readable probe file ({exc})",
            hint="it is written by python -m carbonshift.accounting.probe; remove it if corrupt",
        ) from None
    order = np.argsort(raw[:, 0], kind="stable")
    raw = raw[order]
    return ProbeRun(
        times_s=raw[:, 0],
        energy_j=raw[:, 1],
        meter=meter,
        exit_code=None if code is None else int(code),
        complete=bool(data.get("complete", False)),
        pue=pue,
    )


def combine(runs: Sequence[ProbeRun]) -> PowerProfile | None:
    """One power profile over every run in time order (zero power between runs), PUE applied.

    ``None`` when the runs hold fewer than two readings in all (nothing to integrate).
    """
    times: list[np.ndarray] = []
    energy: list[np.ndarray] = []
    offset = 0.0
    last_t = -np.inf
    for run in sorted(runs, key=lambda r: float(r.times_s[0]) if r.times_s.size else 0.0):
        if run.times_s.size < 2:
            continue
        keep = run.times_s > last_t
        t = run.times_s[keep]
        e = (np.maximum.accumulate(run.energy_j[keep]) - run.energy_j[keep][0]) * run.pue
        if t.size < 2:
            continue
        times.append(t)
        energy.append(e + offset)
        offset += float(e[-1])
        last_t = float(t[-1])
    if not times:
        return None
    return PowerProfile.from_meter_readings(np.concatenate(times), np.concatenate(energy))


def meter_of(runs: Sequence[ProbeRun]) -> MeterInfo | None:
    """The meter of the runs (the first one's; a note when attempts used different meters)."""
    if not runs:
        return None
    first = runs[0].meter
    names = sorted({r.meter.describe() for r in runs})
    if len(names) > 1:
        notes = [*first.notes, f"attempts were measured differently: {'; '.join(names)}"]
        return MeterInfo.from_dict({**first.to_dict(), "notes": notes})
    return first


# ---------------------------------------------------------------------------------- the probe


class _Probe:
    def __init__(self, args: argparse.Namespace, command: list[str]) -> None:
        self.args = args
        self.command = command
        attempt = os.environ.get("CARBONSHIFT_ATTEMPT", "1") or "1"
        self.out = Path(str(args.out).replace("{attempt}", attempt))
        self.readings: list[Reading] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None

    def _forward(self, signum: int, _frame: object) -> None:
        child = self.child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    def _meter(self, pid: int) -> PowerMeter:
        a = self.args
        try:
            return select_meter(
                a.meter,
                gpus=a.gpus.split(",") if a.gpus else None,
                pids=[pid],
                exclusive=a.exclusive,
                power_w=a.power_w,
                tdp_w=a.tdp_w,
            )
        except CarbonshiftError as exc:
            print(f"carbonshift probe: {exc}; using the declared model", file=sys.stderr)
            return select_meter("model", pids=[pid], power_w=a.power_w, tdp_w=a.tdp_w)

    def _sample(self, meter: PowerMeter) -> None:
        last_flush = time.monotonic()
        while not self.stop.wait(self.args.interval):
            try:
                reading = meter.read()
            except Exception as exc:  # a failed read must not end the job
                print(f"carbonshift probe: meter read failed ({exc})", file=sys.stderr)
                continue
            with self.lock:
                self.readings.append(reading)
            if time.monotonic() - last_flush >= self.args.flush_every:
                self._write(meter, None, complete=False)
                last_flush = time.monotonic()

    def _write(self, meter: PowerMeter, exit_code: int | None, *, complete: bool) -> None:
        with self.lock:
            readings = list(self.readings)
        try:
            write_probe_file(
                self.out,
                readings,
                meter.info(),
                command=self.command,
                exit_code=exit_code,
                complete=complete,
                pue=self.args.pue,
            )
        except OSError as exc:
            print(f"carbonshift probe: cannot write {self.out} ({exc})", file=sys.stderr)

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(signum, self._forward)
        try:
            self.child = subprocess.Popen(self.command)
        except FileNotFoundError:
            print(f"carbonshift probe: {self.command[0]}: command not found", file=sys.stderr)
            return 127
        except PermissionError:
            print(f"carbonshift probe: {self.command[0]}: permission denied", file=sys.stderr)
            return 126
        meter = self._meter(self.child.pid)
        self.readings.append(meter.start())
        self._write(meter, None, complete=False)
        sampler = threading.Thread(target=self._sample, args=(meter,), daemon=True)
        sampler.start()
        code = self.child.wait()
        self.stop.set()
        sampler.join(timeout=max(5.0, 2 * self.args.interval))
        with self.lock:
            self.readings.append(meter.stop())
        status = code if code >= 0 else 128 - code
        self._write(meter, status, complete=True)
        if self.args.say:
            kwh = (self.readings[-1].energy_j - self.readings[0].energy_j) * self.args.pue / 3.6e6
            info = meter.info().describe()
            print(f"carbonshift: energy {kwh:.6g} kWh ({info})", file=sys.stderr)
        return status


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m carbonshift.accounting.probe",
        description="Run a command and record its energy (see the module docstring).",
    )
    p.add_argument("--out", required=True, help="JSON file to write ({attempt} allowed)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between readings")
    p.add_argument("--flush-every", type=float, default=30.0, help="seconds between rewrites")
    p.add_argument("--meter", default="auto", help="auto, nvml, rapl or model")
    p.add_argument("--gpus", default=None, help="GPU indices/UUIDs (default CUDA_VISIBLE_DEVICES)")
    p.add_argument("--exclusive", action="store_true", help="the job has the machine alone")
    p.add_argument("--power-w", type=float, default=None, help="declared power (model meter)")
    p.add_argument("--tdp-w", type=float, default=None, help="TDP for the utilisation model")
    p.add_argument("--pue", type=float, default=1.0, help="power usage effectiveness (>= 1)")
    p.add_argument("--say", action="store_true", help="print the energy on stderr at the end")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    try:
        if not command:
            raise UsageError("command: give it after --", hint="probe --out f.json -- sleep 1")
        if not args.interval > 0:
            raise UsageError("--interval: must be positive", hint="e.g. --interval 1")
        if not args.pue >= 1.0:
            raise UsageError(f"--pue: {args.pue} is below 1", hint="a PUE is at least 1.0")
    except UsageError as exc:
        print(f"carbonshift probe: {exc}", file=sys.stderr)
        return 2
    return _Probe(args, command).run()


if __name__ == "__main__":
    sys.exit(main())
