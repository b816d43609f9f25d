"""The supervisor of one local job attempt; a separate process that outlives its launcher.

Run as ``python -I -S local_wrapper.py JOB_DIR ATTEMPT`` (or ``python -m
carbonshift.executors.local_wrapper ...``). It is **standard library only**, so it starts in
tens of milliseconds without importing the package. The launcher (:class:`LocalExecutor`)
starts it in a new session, with the job's environment, and waits only for its first process:

1. The first process forks the supervisor and exits as soon as the supervisor has written the
   attempt's run record (or died trying), so the supervisor is re-parented away from the
   launcher and survives it being killed with SIGKILL.
2. The supervisor starts the command in its own session and process group (so signals reach
   the whole tree), stdout/stderr appended to the job's files.
3. It polls the child every 50 ms: it counts run time (time the group is stopped by SIGSTOP
   does not count), kills the group once ``max_runtime_s`` is spent (SIGTERM, then SIGKILL
   after ``kill_grace_s``: outcome ``timeout``), and on SIGTERM to itself stops the group the
   same way (outcome ``terminated``: the launcher records why, a cancel or a restart-pause).
4. It writes ``attempt-N.json`` atomically (temp file + rename) when the child started and
   when it ended: pids, start ticks (to detect pid reuse), times as epoch seconds, exit code or
   signal, outcome, reason. That file is how any later process learns what happened.

A command that cannot be executed ends the attempt with outcome ``launch_failed`` and exit code
127 (not found) or 126 (not executable), as a shell would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = [
    "CONTROL_FILE",
    "JOB_FILE",
    "POLL_S",
    "atomic_write_json",
    "attempt_file",
    "is_stopped",
    "main",
    "proc_start_ticks",
    "read_json",
]

JOB_FILE = "job.json"
CONTROL_FILE = "control.json"
WRAPPER_LOG = "wrapper.log"
POLL_S = 0.05


def attempt_file(job_dir: Path, attempt: int) -> Path:
    return job_dir / f"attempt-{attempt}.json"


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or ``None`` when the file does not exist."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data


def _proc_stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3 onwards), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def proc_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None without /proc or process)."""
    fields = _proc_stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def is_stopped(pid: int) -> bool:
    """True while the process is stopped by a signal (SIGSTOP) or traced."""
    fields = _proc_stat_fields(pid)
    return fields is not None and bool(fields) and fields[0] in ("T", "t")


class _Supervisor:
    def __init__(self, job_dir: Path, attempt: int) -> None:
        self.job_dir = job_dir
        self.attempt = attempt
        self.path = attempt_file(job_dir, attempt)
        self.stop_requested = False
        self.record: dict[str, Any] = {
            "attempt": attempt,
            "wrapper_pid": os.getpid(),
            "wrapper_start_ticks": proc_start_ticks(os.getpid()),
            "outcome": "starting",
        }

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stop_requested = True

    def write(self, **fields: Any) -> None:
        self.record.update(fields)
        atomic_write_json(self.path, self.record)

    def run(self, ready_fd: int) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        job = read_json(self.job_dir / JOB_FILE)
        if job is None:
            raise FileNotFoundError(f"{self.job_dir / JOB_FILE} is missing")
        child = self._launch(job)
        os.write(ready_fd, b"1")
        os.close(ready_fd)
        if child is not None:
            self._watch(child, job)

    def _launch(self, job: dict[str, Any]) -> subprocess.Popen[bytes] | None:
        command = [str(a) for a in job["command"]]
        cwd = job.get("cwd")
        started = time.time()
        control = read_json(self.job_dir / CONTROL_FILE) or {}
        if control.get("cancelled"):  # cancelled by another process while this one launched
            self.write(
                outcome="terminated", reason="cancelled before launch", ended_epoch_s=started
            )
            return None
        try:
            out_path, err_path = Path(job["stdout"]), Path(job["stderr"])
            out_path.parent.mkdir(parents=True, exist_ok=True)
            err_path.parent.mkdir(parents=True, exist_ok=True)
            with open(out_path, "ab") as out, open(err_path, "ab") as err:
                child = subprocess.Popen(
                    command,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as exc:
            if cwd is not None and exc.filename == cwd:
                reason, code = f"working directory {cwd} cannot be used: {exc.strerror}", 126
            elif isinstance(exc, FileNotFoundError):
                reason, code = f"command not found: {command[0]}", 127
            elif isinstance(exc, PermissionError):
                reason, code = f"command not executable: {command[0]}", 126
            else:
                name = exc.filename or command[0]
                reason, code = f"cannot start {command[0]}: {exc.strerror} ({name})", 126
            self.write(
                outcome="launch_failed",
                exit_code=code,
                reason=reason,
                started_epoch_s=started,
                ended_epoch_s=time.time(),
            )
            return None
        self.write(
            outcome="running",
            pid=child.pid,
            pgid=child.pid,
            child_start_ticks=proc_start_ticks(child.pid),
            started_epoch_s=started,
        )
        return child

    def _watch(self, child: subprocess.Popen[bytes], job: dict[str, Any]) -> None:
        limit_s = job.get("max_runtime_s")
        grace_s = float(job.get("kill_grace_s", 10.0))
        running_s = 0.0
        last = time.monotonic()
        outcome, reason = "exited", ""
        while child.poll() is None:
            now = time.monotonic()
            if not is_stopped(child.pid):
                running_s += now - last
            last = now
            if self.stop_requested:
                outcome, reason = "terminated", "stopped on request"
                self._terminate(child, grace_s)
                break
            if limit_s is not None and running_s >= float(limit_s):
                outcome = "timeout"
                reason = f"ran longer than max_runtime_s={float(limit_s):g}; killed"
                self._terminate(child, grace_s)
                break
            time.sleep(POLL_S)
        code = child.wait()
        if outcome == "exited":
            reason = f"exit code {code}" if code >= 0 else f"killed by signal {-code}"
        self.write(
            outcome=outcome,
            exit_code=code if code >= 0 else None,
            signal=-code if code < 0 else None,
            reason=reason,
            running_s=round(running_s, 3),
            ended_epoch_s=time.time(),
        )

    @staticmethod
    def _signal_group(pgid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)

    def _terminate(self, child: subprocess.Popen[bytes], grace_s: float) -> None:
        """SIGTERM the group (waking it if stopped), SIGKILL it after the grace period."""
        self._signal_group(child.pid, signal.SIGTERM)
        self._signal_group(child.pid, signal.SIGCONT)
        try:
            child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self._signal_group(child.pid, signal.SIGKILL)
            child.wait()
        self._signal_group(child.pid, signal.SIGKILL)  # stragglers left in the group


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: local_wrapper.py JOB_DIR ATTEMPT", file=sys.stderr)
        return 2
    job_dir, attempt = Path(args[0]).resolve(), int(args[1])
    read_fd, ready_fd = os.pipe()
    if os.fork() > 0:  # first process: report whether the supervisor got going, then leave
        os.close(ready_fd)
        started = os.read(read_fd, 1)
        return 0 if started else 1
    os.close(read_fd)
    supervisor = _Supervisor(job_dir, attempt)
    try:
        supervisor.run(ready_fd)
    except BaseException as exc:
        traceback.print_exc()
        with contextlib.suppress(OSError):
            supervisor.write(
                outcome="wrapper_error",
                reason=f"supervisor error: {exc!r}",
                ended_epoch_s=time.time(),
            )
        os._exit(1)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
