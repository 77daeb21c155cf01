"""The real thing: `idgate migrate` and `idgate serve` in a subprocess, then the README's curl
flow against it over TCP, exactly as a new user runs it after `make run`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import free_port, serve

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("server")
    port = free_port()
    env = {
        **os.environ,
        "IDGATE_ENVIRONMENT": "test",
        "IDGATE_BCRYPT_COST": "4",
        "IDGATE_PORT": str(port),
        "IDGATE_ISSUER": f"http://127.0.0.1:{port}",
    }
    env = {k: v for k, v in env.items() if not k.startswith("IDGATE_TEST_")}
    idgate = str(Path(sys.executable).with_name("idgate"))
    subprocess.run([idgate, "migrate"], cwd=workdir, env=env, check=True, capture_output=True)
    base = f"http://127.0.0.1:{port}"
    with serve([idgate, "serve"], cwd=workdir, env=env, base=base, capture_stderr=True) as served:
        yield base
    # Every line the server wrote to stderr is one JSON object (structured logs).
    for line in served.stderr.splitlines():
        if line.strip():
            json.loads(line)
    assert (workdir / "data" / "keys" / "keyset.json").exists()
    assert oct((workdir / "data").stat().st_mode & 0o777) == "0o700"
    assert oct((workdir / "data" / "idgate.db").stat().st_mode & 0o777) == "0o600"


def readme_commands() -> list[str]:
    """The curl commands of the README's tutorial section, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("<!-- tutorial-flow -->")[1].split("<!-- /tutorial-flow -->")[0]
    commands = []
    for block in re.findall(r"```(?:sh|bash|console)\n(.*?)```", section, re.S):
        joined = block.replace("\\\n", " ")
        commands += [
            line.strip() for line in joined.splitlines() if line.strip().startswith("curl")
        ]
    return commands


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_readme_tutorial_flow_with_curl(server: str) -> None:
    commands = readme_commands()
    assert len(commands) >= 5
    token = None
    outputs = []
    for command in commands:
        command = command.replace("http://127.0.0.1:8000", server)
        if token:
            command = command.replace("$TOKEN", token)
        if "TOKEN=$(" in command or command.startswith("TOKEN="):
            pytest.fail("keep the README's curl lines standalone")
        result = subprocess.run(
            ["sh", "-c", command + " -s -w '\\n%{http_code}'"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        body, _, status = result.stdout.rpartition("\n")
        outputs.append((command, int(status), body))
        if "/login " in command and int(status) == 200:
            token = json.loads(body)["access_token"]
    statuses = [status for _, status, _ in outputs]
    assert statuses[:5] == [201, 200, 200, 401, 200], outputs


def test_served_headers_and_errors(server: str) -> None:
    r = httpx.get(f"{server}/public")
    assert "server" not in r.headers
    assert r.headers["x-content-type-options"] == "nosniff"
    r = httpx.post(
        f"{server}/login", content=b"{" * 100_000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    r = httpx.request("TRACE", f"{server}/")
    assert r.status_code == 405


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_readme_token_commands_with_curl(server: str) -> None:
    text = (ROOT / "README.md").read_text()
    commands = [
        line.split("  #")[0].strip()  # without a trailing shell comment
        for line in text.splitlines()
        if line.strip().startswith("curl") and ("/token/refresh" in line or "/logout" in line)
    ]
    assert len(commands) == 3
    credentials = {"username": "readme-tokens", "password": "correct horse battery staple"}
    httpx.post(f"{server}/register", json=credentials)
    for command in commands:
        pair = httpx.post(f"{server}/login", json=credentials).json()  # a fresh session each
        result = subprocess.run(
            [
                "sh",
                "-c",
                command.replace("http://127.0.0.1:8000", server) + " -s -w '\\n%{http_code}'",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env={**os.environ, "TOKEN": pair["access_token"], "REFRESH": pair["refresh_token"]},
        )
        status = int(result.stdout.rpartition("\n")[2])
        assert status == (200 if "/token/refresh" in command else 204), (command, result.stdout)
