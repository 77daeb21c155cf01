"""Session settings: defaults from SECURITY.md §3, durations in seconds, safe bounds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from idgate.config import Settings


def make(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_defaults(tmp_path: Path) -> None:
    settings = make(tmp_path)
    assert settings.session_store == "database"
    assert settings.session_idle_timeout == timedelta(minutes=30)
    assert settings.session_absolute_timeout == timedelta(hours=12)
    assert settings.session_reauth_window == timedelta(minutes=10)


def test_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDGATE_SESSION_IDLE_TIMEOUT", "900")
    monkeypatch.setenv("IDGATE_SESSION_ABSOLUTE_TIMEOUT", "PT8H")
    settings = make(tmp_path)
    assert settings.session_idle_timeout == timedelta(minutes=15)
    assert settings.session_absolute_timeout == timedelta(hours=8)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"session_idle_timeout": 30}, "at least 1 minute"),
        ({"session_idle_timeout": 7200, "session_absolute_timeout": 3600}, "at most"),
        ({"session_absolute_timeout": 40 * 86400}, "30 days"),
        ({"session_reauth_window": -1}, "session_reauth_window"),
        ({"session_store": "redis"}, "IDGATE_REDIS_URL"),
        ({"session_store": "memcached"}, "session_store"),
    ],
)
def test_refused_values(tmp_path: Path, values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make(tmp_path, **values)
