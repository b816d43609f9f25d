"""The GPU script runs a real training loop on a GPU; here (no GPU) it says so and exits 0."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_track.py"


def has_cuda() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    torch = importlib.import_module("torch")
    return bool(torch.cuda.is_available())


@pytest.mark.skipif(has_cuda(), reason="a GPU is present: the script would train for a minute")
def test_no_gpu_prints_a_clean_line_and_exits_0() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--seconds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("no GPU (") and lines[0].endswith(")")
    assert "Traceback" not in proc.stderr
