"""Running wrk (Debian's ``wrk``) and reading the JSON line its Lua scripts print."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LUA_DIR = Path(__file__).resolve().parent / "lua"


class WrkMissing(RuntimeError):
    """wrk is not installed: ``make bench`` installs it (``apt-get install -y wrk``)."""


def wrk_path() -> str:
    """Return the wrk executable, or raise :class:`WrkMissing`."""
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed: run `make bench` or `apt-get install -y wrk`")
    return path


@dataclass
class Request:
    """What each wrk connection sends, over and over."""

    method: str
    path: str
    body: str = ""
    content_type: str = ""
    token: str = ""
    #: A file of refresh tokens, one per wrk thread: the requests rotate them (refresh.lua).
    tokens_file: str = ""


@dataclass
class Load:
    """One wrk run: how many requests completed, how fast, and the latency percentiles."""

    requests: int
    duration_s: float
    connections: int
    errors: dict[str, int] = field(default_factory=dict)
    latency_us: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def failed(self) -> int:
        """Requests answered with a non-2xx/3xx status, plus socket errors and timeouts."""
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rps": round(self.rps, 1)}


class WrkRun:
    """A wrk process started in the background; :meth:`result` waits for it and parses it."""

    def __init__(
        self,
        base_url: str,
        request: Request,
        *,
        duration: float,
        connections: int,
        threads: int,
        timeout: float,
        pause_ms: float = 0,
    ) -> None:
        self.connections = connections
        script = "refresh.lua" if request.tokens_file else "request.lua"
        env = {
            **os.environ,
            "BENCH_LUA_DIR": str(LUA_DIR),
            "BENCH_METHOD": request.method,
            "BENCH_BODY": request.body,
            "BENCH_CONTENT_TYPE": request.content_type,
            "BENCH_TOKEN": request.token,
            "BENCH_TOKENS_FILE": request.tokens_file,
            "BENCH_PAUSE_MS": f"{pause_ms:g}",
        }
        command = [
            wrk_path(),
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            f"--timeout={max(1, round(timeout))}s",
            "-s",
            str(LUA_DIR / script),
            base_url + request.path,
        ]
        self.deadline = duration + timeout + 30
        self.process = subprocess.Popen(  # noqa: S603 - our own arguments
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def result(self) -> Load:
        try:
            out, err = self.process.communicate(timeout=self.deadline)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
        for line in out.splitlines():
            if line.startswith("BENCH_JSON "):
                data = json.loads(line.removeprefix("BENCH_JSON "))
                return Load(
                    requests=data["requests"],
                    duration_s=data["duration_us"] / 1e6,
                    connections=self.connections,
                    errors=data["errors"],
                    latency_us=data["latency_us"],
                )
        raise RuntimeError(f"wrk printed no result (exit {self.process.returncode}): {err or out}")


def run(base_url: str, request: Request, **options: Any) -> Load:
    """Run wrk against ``base_url + request.path`` and return its result."""
    return WrkRun(base_url, request, **options).result()
