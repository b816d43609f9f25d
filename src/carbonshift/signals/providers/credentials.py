"""Credentials for providers: environment variables first, then a config file. Never printed.

The config file is TOML (``$CARBONSHIFT_CONFIG``, else ``~/.config/carbonshift/config.toml``)
with a ``[credentials]`` table whose keys are the same names as the environment variables::

    [credentials]
    ELECTRICITYMAPS_TOKEN = "..."
    WATTTIME_USERNAME = "..."
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from carbonshift.errors import MissingCredentialError, UsageError

__all__ = ["Secret", "config_path", "get_credential"]


class Secret:
    """A string that never shows itself in ``repr``, ``str``, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The raw value, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def config_path() -> Path:
    env = os.environ.get("CARBONSHIFT_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path("~/.config/carbonshift/config.toml").expanduser()


def _from_config(name: str) -> str | None:
    path = config_path()
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"config file {path}: cannot be read ({type(exc).__name__})",
            hint="fix its TOML syntax or point CARBONSHIFT_CONFIG elsewhere",
        ) from None
    table = data.get("credentials", {})
    value = table.get(name) if isinstance(table, dict) else None
    return str(value) if value else None


def get_credential(name: str, *, provider: str, purpose: str = "token") -> Secret:
    """The credential ``name`` from the environment or the config file, or a clear error."""
    value = os.environ.get(name) or _from_config(name)
    if not value:
        raise MissingCredentialError(
            f"{provider}: no {purpose} configured",
            hint=f"set the environment variable {name} or add it under [credentials] in {config_path()}",
        )
    return Secret(value)
