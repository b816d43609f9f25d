"""Running the backends' command-line tools: argument vectors, timeouts, clear errors.

No shell is ever involved. A missing program raises :class:`BackendMissingError`, a timeout
:class:`CommandTimeoutError` and a non-zero exit :class:`CommandFailedError` whose message ends
with the command's last line on stderr (Slurm's tools put the reason there).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from carbonshift.executors.errors import (
    BackendMissingError,
    CommandFailedError,
    CommandTimeoutError,
)

__all__ = ["CommandRunner", "last_line"]


def last_line(text: str) -> str:
    """The last non-blank line of ``text``, stripped ('' when there is none)."""
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""


@dataclass(frozen=True)
class CommandRunner:
    """Runs one family of tools: ``bin_dir`` (or PATH) to find them, ``env`` to run them with.

    ``env`` is the complete environment of the commands (``None``: inherit this process's).
    """

    bin_dir: Path | None = None
    env: Mapping[str, str] | None = None
    timeout_s: float = 30.0
    install_hint: str = "install it or configure the folder holding it"
    _resolved: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def program(self, name: str) -> str:
        """The full path of tool ``name``; raises :class:`BackendMissingError` if absent."""
        found = self._resolved.get(name)
        if found is not None:
            return found
        if self.bin_dir is not None:
            candidate = self.bin_dir / name
            path = str(candidate) if candidate.is_file() else None
        else:
            search = None if self.env is None else self.env.get("PATH")
            path = shutil.which(name, path=search)
        if path is None:
            where = f"in {self.bin_dir}" if self.bin_dir is not None else "on PATH"
            raise BackendMissingError(f"{name} not found {where}", hint=self.install_hint)
        self._resolved[name] = path
        return path

    def run(
        self, args: Sequence[str], *, timeout_s: float | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` (``args[0]`` is a tool name); return the finished process.

        With ``check`` (the default) a non-zero exit raises :class:`CommandFailedError`.
        """
        argv = [self.program(args[0]), *args[1:]]
        limit_s = self.timeout_s if timeout_s is None else timeout_s
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                env=None if self.env is None else dict(self.env),
                timeout=limit_s,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
            raise CommandTimeoutError(
                f"{args[0]} did not answer within {limit_s:g} s: {' '.join(args)}",
                hint="is the daemon up? raise the command timeout if it is just slow",
                argv=argv,
                stderr=stderr,
            ) from None
        except OSError as exc:
            raise BackendMissingError(
                f"cannot run {argv[0]}: {exc.strerror or exc}", hint=self.install_hint
            ) from None
        if check and done.returncode != 0:
            detail = last_line(done.stderr) or last_line(done.stdout) or "no error message"
            raise CommandFailedError(
                f"{args[0]} failed (exit {done.returncode}): {detail}",
                argv=argv,
                returncode=done.returncode,
                stderr=done.stderr,
            )
        return done
