"""A real idgate server for tests that need one over TCP (browser, guard, server tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def live_server(workdir: Path, port: int | None = None, **settings: str) -> Iterator[str]:
    """Migrate and serve idgate from ``workdir`` on ``port`` (default: a free one) of
    127.0.0.1; yield its base URL.

    ``settings`` become ``IDGATE_*`` variables (``bcrypt_cost="4"``).
    """
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGATE_")}
    env.update(
        IDGATE_ENVIRONMENT="test",
        IDGATE_BCRYPT_COST="4",
        IDGATE_PORT=str(port),
        IDGATE_ISSUER=base,
    )
    env.update({f"IDGATE_{name.upper()}": value for name, value in settings.items()})
    idgate = str(Path(sys.executable).with_name("idgate"))
    subprocess.run([idgate, "migrate"], cwd=workdir, env=env, check=True, capture_output=True)
    with serve([idgate, "serve"], cwd=workdir, env=env, base=base) as served:
        yield served.base


@dataclass
class Served:
    """A server started by :func:`serve`; ``stderr`` is filled once it has stopped."""

    base: str
    stderr: str = ""


@contextmanager
def serve(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    base: str,
    start_timeout: float = 30,
    capture_stderr: bool = False,
) -> Iterator[Served]:
    """Run ``command`` (an ``idgate serve``), wait until ``base``/health answers, stop it on exit.

    With ``capture_stderr`` the server's standard error is kept in ``Served.stderr``.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture_stderr else subprocess.DEVNULL,
    )
    served = Served(base)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("idgate serve did not start")
            time.sleep(0.1)
        yield served
    finally:
        process.terminate()
        try:
            _, err = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        served.stderr = (err or b"").decode()
