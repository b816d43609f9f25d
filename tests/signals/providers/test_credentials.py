from __future__ import annotations

from pathlib import Path

import pytest

from carbonshift.errors import MissingCredentialError, UsageError
from carbonshift.signals.providers.credentials import Secret, get_credential


def test_secret_never_shows_itself() -> None:
    s = Secret("hunter2")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and "hunter2" not in f"{s}"
    assert s.reveal() == "hunter2"


def test_env_wins_then_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[credentials]\nMY_TOKEN = "from-file"\n')
    monkeypatch.setenv("CARBONSHIFT_CONFIG", str(cfg))
    monkeypatch.delenv("MY_TOKEN", raising=False)
    assert get_credential("MY_TOKEN", provider="p").reveal() == "from-file"
    monkeypatch.setenv("MY_TOKEN", "from-env")
    assert get_credential("MY_TOKEN", provider="p").reveal() == "from-env"


def test_missing_credential_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARBONSHIFT_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.delenv("MY_TOKEN", raising=False)
    with pytest.raises(
        MissingCredentialError, match="set the environment variable MY_TOKEN"
    ) as err:
        get_credential("MY_TOKEN", provider="Example")
    assert err.value.exit_code == 2


def test_broken_config_file_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[credentials\nbroken")
    monkeypatch.setenv("CARBONSHIFT_CONFIG", str(cfg))
    monkeypatch.delenv("MY_TOKEN", raising=False)
    with pytest.raises(UsageError, match="cannot be read"):
        get_credential("MY_TOKEN", provider="p")
