"""What every CLI command shares: one-line errors with exit codes, output helpers, paths."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from carbonshift.errors import CarbonshiftError

__all__ = ["console", "err_console", "fail", "guarded", "store_dir"]

P = ParamSpec("P")
R = TypeVar("R")

console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, *, code: int = 2) -> typer.Exit:
    """Print one line on stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn carbonshift errors into one clear line and their exit code; no traceback unless
    ``CARBONSHIFT_DEBUG=1``."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CarbonshiftError as exc:
            if os.environ.get("CARBONSHIFT_DEBUG"):
                raise
            raise fail(exc.one_line(), code=exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", code=130) from None

    return wrapper


def store_dir(option: Path | None) -> Path:
    """The signal store: ``--store``, else ``$CARBONSHIFT_STORE``, else the user data folder."""
    if option is not None:
        return option
    env = os.environ.get("CARBONSHIFT_STORE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "carbonshift" / "signals"


def is_tty() -> bool:
    return sys.stdout.isatty()


def echo_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2) + "\n")
