"""Starting servers, timing their first answer, measuring their memory, stopping them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """A server process (and its uvicorn workers), logging to ``log_path``."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log_path: Path):
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.started = time.perf_counter()
        # Its own session, so that stop() can end the workers it forks and nothing else.
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            command,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, url: str, timeout: float = 60.0) -> float:
        """Poll ``url`` until it answers 200; return the seconds since the process started."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        return time.perf_counter() - self.started
                time.sleep(0.01)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"server did not answer {url} within {timeout:.0f} s:\n{tail}")

    def worker_rss_mb(self) -> list[float]:
        """The resident memory of each process that serves requests, in MB.

        uvicorn with several workers runs a supervisor and one child per worker: the children
        serve. With one worker, the process itself serves.
        """
        children = _descendants(self.process.pid)
        workers = [pid for pid in children if b"spawn_main" in _cmdline(pid)]
        return [_rss_mb(pid) for pid in (workers or [self.process.pid])]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self._log.close()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name (field 2) may hold spaces; the parent pid follows its ')'.
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found += children
        frontier += children
    return found
