"""RT-04 against the real thing: `idgate serve` with two worker processes on SQLite and
PostgreSQL, and twenty threads sending one refresh token at the same moment over TCP."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import GOOD_PASSWORD
from tests.live import free_port, serve


@pytest.fixture
def live_server(tmp_path: Path, database_url: str) -> Iterator[str]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDGATE_")},
        "IDGATE_ENVIRONMENT": "test",
        "IDGATE_BCRYPT_COST": "4",
        "IDGATE_DATA_DIR": str(tmp_path / "data"),
        "IDGATE_DATABASE_URL": database_url,
        "IDGATE_PORT": str(port),
        "IDGATE_ISSUER": f"http://127.0.0.1:{port}",
        "IDGATE_LOG_LEVEL": "WARNING",
    }
    idgate = str(Path(sys.executable).with_name("idgate"))
    base = f"http://127.0.0.1:{port}"
    # Two workers import the whole app at once: allow for a slow, shared machine.
    with serve(
        [idgate, "serve", "--workers", "2"], cwd=tmp_path, env=env, base=base, start_timeout=60
    ) as served:
        yield served.base


def test_twenty_simultaneous_refreshes_over_tcp(live_server: str) -> None:
    credentials = {"username": "alice", "password": GOOD_PASSWORD}
    assert httpx.post(f"{live_server}/register", json=credentials).status_code == 201
    refresh_token = httpx.post(f"{live_server}/login", json=credentials).json()["refresh_token"]
    parties = 20
    barrier = threading.Barrier(parties)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(timeout=60) as client:  # one connection per thread
            client.get(f"{live_server}/health")  # connected before the barrier
            barrier.wait(timeout=60)
            response = client.post(
                f"{live_server}/token/refresh", json={"refresh_token": refresh_token}
            )
        with lock:
            results.append(response)

    threads = [threading.Thread(target=send) for _ in range(parties)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == parties
    statuses = [r.status_code for r in results]
    assert statuses.count(200) == 1, [r.text for r in results]
    assert all(r.json()["code"] == "invalid_grant" for r in results if r.status_code != 200)
