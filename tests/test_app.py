"""The application's life: what its start and stop do to the process."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI

from idgate.app import create_app
from idgate.config import Settings


async def test_a_started_app_keeps_its_start_up_objects_out_of_the_collector(
    settings: Settings,
) -> None:
    """A full collection that scans everything built at start-up stalled every request for 80
    to 170 ms during a login flood (docs/benchmarks.md): the app freezes it once started."""
    gc.unfreeze()
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0


_LOADED = (
    "from idgate.app import create_app_from_env; create_app_from_env(); import sys; "
    "print(sorted(m for m in ('redis', 'authlib', 'httpx2') if m in sys.modules))"
)


@pytest.mark.parametrize(
    ("extra", "loaded"),
    [
        ({}, []),
        ({"IDGATE_REDIS_URL": "redis://127.0.0.1:6379/0"}, ["redis"]),
        (
            {"IDGATE_GITHUB_CLIENT_ID": "id", "IDGATE_GITHUB_CLIENT_SECRET": "secret"},
            ["authlib", "httpx2"],
        ),
    ],
)
def test_a_worker_loads_redis_and_the_social_login_client_only_when_configured(
    tmp_path: Path, extra: dict[str, str], loaded: list[str]
) -> None:
    """Each worker of ``idgate serve`` imports the whole application when it starts; redis-py and
    authlib's client were a fifth of that for servers that use neither (docs/benchmarks.md)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGATE_")}
    env |= {"IDGATE_ENVIRONMENT": "test", "IDGATE_DATA_DIR": str(tmp_path)} | extra
    result = subprocess.run(
        [sys.executable, "-c", _LOADED], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == repr(loaded)
