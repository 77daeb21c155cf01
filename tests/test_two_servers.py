"""Two `idgate serve` processes sharing one database and one Redis: one global set of limits.

Each request alternates between the servers, as a load balancer would send them; the per-IP
limit, the per-account throttle and device tokens must behave as if there were one server
(SECURITY.md LG-07).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import GOOD_PASSWORD
from tests.live import free_port

pytestmark = pytest.mark.redis


def start(env: dict[str, str], workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    idgate = str(Path(sys.executable).with_name("idgate"))
    process = subprocess.Popen(
        [idgate, "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return process, f"http://127.0.0.1:{port}"


def wait_ready(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
        if process.poll() is not None:
            break
    process.kill()
    pytest.fail(f"idgate serve did not start: {process.communicate()[1].decode()[-2000:]}")


@pytest.fixture
def servers(
    tmp_path: Path, database_url: str, redis_url: str, redis_prefix: str
) -> Iterator[list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGATE_")}
    env |= {
        "IDGATE_ENVIRONMENT": "test",
        "IDGATE_BCRYPT_COST": "4",
        "IDGATE_DATA_DIR": str(tmp_path / "data"),
        "IDGATE_DATABASE_URL": database_url,
        "IDGATE_REDIS_URL": redis_url,
        "IDGATE_REDIS_PREFIX": redis_prefix,
        "IDGATE_ISSUER": "http://127.0.0.1:8000",
        # The test plays the load balancer: it reports a client address per request.
        "IDGATE_TRUSTED_PROXIES": "127.0.0.1",
        "IDGATE_RATE_LIMITS": '{"login.ip": "6/minute"}',
    }
    started = [start(env, tmp_path) for _ in range(2)]
    try:
        for process, base in started:
            wait_ready(process, base)
        yield [base for _, base in started]
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def login(base: str, username: str, password: str, ip: str, **extra: str) -> httpx.Response:
    return httpx.post(
        f"{base}/login",
        json={"username": username, "password": password, **extra},
        headers={"X-Forwarded-For": ip},
        timeout=10,
    )


def test_limits_are_global_across_servers(servers: list[str]) -> None:
    a, b = servers
    # The per-IP limit: 6 a minute in total, whichever server answers.
    statuses = [
        login(servers[n % 2], f"user{n}", "wrong password", "198.51.100.1").status_code
        for n in range(6)
    ]
    assert statuses == [401] * 6
    for base in (a, b):
        r = login(base, "user9", "wrong password", "198.51.100.1")
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 60

    # The per-account throttle: failures on either server count for both.
    r = httpx.post(
        f"{a}/register",
        json={"username": "alice", "password": GOOD_PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.2"},
    )
    assert r.status_code == 201, r.text
    device_token = login(b, "alice", GOOD_PASSWORD, "198.51.100.3").json()["device_token"]
    statuses = [
        login(servers[n % 2], "alice", "wrong password", f"192.0.2.{n + 1}").status_code
        for n in range(5)
    ]
    assert statuses == [401] * 5
    for base in (a, b):
        r = login(base, "alice", GOOD_PASSWORD, "198.51.100.4")
        assert r.status_code == 429 and r.json()["code"] == "login_throttled"

    # The device token from one server exempts its owner on the other.
    r = login(a, "alice", GOOD_PASSWORD, "198.51.100.5", device_token=device_token)
    assert r.status_code == 200, r.text


def test_a_logout_on_one_server_ends_the_access_token_on_the_other(servers: list[str]) -> None:
    a, b = servers
    ip = {"X-Forwarded-For": "198.51.100.20"}
    r = httpx.post(f"{a}/register", json={"username": "bob", "password": GOOD_PASSWORD}, headers=ip)
    assert r.status_code == 201, r.text
    tokens = login(a, "bob", GOOD_PASSWORD, "198.51.100.20").json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}", **ip}
    assert httpx.get(f"{b}/profile", headers=bearer).status_code == 200
    r = httpx.post(f"{a}/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer)
    assert r.status_code == 204, r.text
    # The deny-list is the shared database's (the default, with Redis too): the next request
    # to either server is refused (JW-10).
    for base in (b, a):
        r = httpx.get(f"{base}/profile", headers=bearer)
        assert r.status_code == 401 and r.json()["code"] == "invalid_token", r.text
