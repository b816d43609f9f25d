"""Reading a job's output files: whole, or the last bytes of a large one."""

from __future__ import annotations

import os
from pathlib import Path

from carbonshift.errors import UsageError

__all__ = ["pick_stream", "read_log"]


def pick_stream(stream: str, stdout: Path, stderr: Path) -> Path:
    """The file of ``stream`` ("stdout" or "stderr"); anything else is a usage error."""
    if stream == "stdout":
        return stdout
    if stream == "stderr":
        return stderr
    raise UsageError(f"stream must be 'stdout' or 'stderr', not {stream!r}")


def read_log(path: Path, tail_bytes: int | None = None) -> str:
    """The text of ``path`` ('' if it does not exist yet), or its last ``tail_bytes`` bytes.

    Bytes that are not UTF-8 (or a character cut by the tail) are replaced, never raised on.
    """
    if tail_bytes is not None and tail_bytes < 0:
        raise UsageError(f"tail_bytes must not be negative, not {tail_bytes}")
    try:
        with open(path, "rb") as fh:
            if tail_bytes is not None:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(0, size - tail_bytes))
            data = fh.read()
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", errors="replace")
