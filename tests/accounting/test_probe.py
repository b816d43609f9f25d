"""The energy probe the service wraps around each job: real subprocesses, a declared-power
meter (so the expected energy is exact), exit codes and signals passed through, files read
back and joined across attempts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from carbonshift.accounting.meters.base import MeterInfo, Reading
from carbonshift.accounting.probe import (
    ProbeRun,
    combine,
    read_probe_file,
    write_probe_file,
)
from carbonshift.errors import DataError

PROBE = [sys.executable, "-m", "carbonshift.accounting.probe"]


def _run(tmp_path: Path, *cmd: str, extra: tuple[str, ...] = ()) -> tuple[int, str, Path]:
    out = tmp_path / "energy" / "attempt-{attempt}.json"
    args = [*PROBE, "--out", str(out), "--interval", "0.1", "--meter", "model", *extra]
    done = subprocess.run(
        [*args, "--", *cmd],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CARBONSHIFT_ATTEMPT": "2"},
    )
    return done.returncode, done.stderr, tmp_path / "energy" / "attempt-2.json"


def test_probe_passes_exit_code_and_records_declared_power_exactly(tmp_path: Path) -> None:
    code, err, path = _run(
        tmp_path,
        "sh",
        "-c",
        "sleep 0.6; exit 3",
        extra=("--power-w", "120", "--pue", "1.5", "--say"),
    )
    assert code == 3, err
    run = read_probe_file(path)
    assert run.complete and run.exit_code == 3
    assert run.meter.name == "model" and not run.meter.measured
    # a start reading, samples while it runs, a stop reading
    assert (np.diff(run.times_s) > 0).all() and run.times_s.size >= 3
    span_s = float(run.times_s[-1] - run.times_s[0])
    # the first reading comes once the meter is chosen, a moment after the command started
    # (longer on a loaded machine), so the span is a little under the command's 0.6 s at most
    assert 0.3 < span_s < 30
    # a constant 120 W: the counter is 120 J per second; the PUE multiplies it
    assert run.energy_kwh == pytest.approx(120.0 * span_s * 1.5 / 3.6e6, rel=1e-9)
    assert "carbonshift: energy" in err


def test_probe_forwards_sigterm_and_still_writes_its_file(tmp_path: Path) -> None:
    out = tmp_path / "a.json"
    proc = subprocess.Popen(
        [*PROBE, "--out", str(out), "--interval", "0.1", "--meter", "model", "--", "sleep", "30"],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert out.exists(), "the probe writes its file as soon as the command started"
    assert read_probe_file(out).complete is False
    proc.send_signal(signal.SIGTERM)  # to the probe alone, not the group
    code = proc.wait(timeout=20)
    assert code == 128 + signal.SIGTERM
    run = read_probe_file(out)
    assert run.complete and run.exit_code == 128 + signal.SIGTERM


def test_probe_reports_a_command_that_cannot_run_and_bad_options(tmp_path: Path) -> None:
    code, err, _ = _run(tmp_path, "/nonexistent/tool")
    assert code == 127 and "command not found" in err
    code, err, _ = _run(tmp_path)
    assert code == 2 and "give it after --" in err
    code, err, _ = _run(tmp_path, "true", extra=("--pue", "0.5"))
    assert code == 2 and "--pue" in err and "Traceback" not in err


def test_read_probe_file_names_a_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "attempt-1.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="attempt-1.json"):
        read_probe_file(bad)
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="format"):
        read_probe_file(bad)


def _file_run(tmp_path: Path, name: str, t0: float, seconds: int, power_w: float) -> ProbeRun:
    readings = [Reading(t0 + k, power_w * k) for k in range(seconds + 1)]
    info = MeterInfo(name="model", measured=False, method="test")
    path = tmp_path / name
    write_probe_file(path, readings, info, command=["x"], exit_code=0, complete=True)
    return read_probe_file(path)


def test_combine_joins_attempts_with_nothing_drawn_between_them(tmp_path: Path) -> None:
    first = _file_run(tmp_path, "a.json", 1000.0, 10, 100.0)  # 1000 J
    second = _file_run(tmp_path, "b.json", 1100.0, 5, 300.0)  # 1500 J, 90 s later
    profile = combine([second, first])  # any order
    assert profile is not None
    assert profile.start_s == 1000.0 and profile.end_s == 1105.0
    assert profile.energy_kwh == pytest.approx(2500.0 / 3.6e6)
    steps = profile.per_step(1010, 90)  # [920, 1010), [1010, 1100) = the pause, [1100, 1190)
    assert steps.energy_kwh * 3.6e6 == pytest.approx([1000.0, 0.0, 1500.0], abs=1e-6)
    assert combine([]) is None
