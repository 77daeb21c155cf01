"""What the benchmark ran on: CPU, memory, kernel, Python and the versions that matter."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.ceiling import cpu_count
from bench.wrk import wrk_path

PACKAGES = (
    "idgate", "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "sqlalchemy",
    "aiosqlite", "asyncpg", "bcrypt", "pyjwt", "cryptography", "fastapi-users", "pwdlib",
)  # fmt: skip


def describe() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor(),
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    ram_gb = int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024 / 1024
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    wrk = subprocess.run(  # noqa: S603 - wrk's version line
        [wrk_path(), "-v"], capture_output=True, text=True, check=False
    )
    return {
        "cpu": model,
        "cpus": cpu_count(),
        "ram_gb": round(ram_gb, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "",
        "versions": versions,
        "load_average_at_start": list(os.getloadavg()),
    }


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot; steal time (another guest's) is not ours."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq = fields[:7]
    busy = user + nice + system + irq + softirq
    return busy, busy + idle + iowait


def wait_quiet(limit: float = 60.0, busy_below: float = 0.25, window: float = 0.5) -> float:
    """Wait until this machine's CPUs are mostly idle; return the seconds waited.

    A server that was flooded goes on hashing the logins it had queued after the load generator
    stops (with several workers, in every worker): whatever is measured next would share the
    cores with that. Quiet means less than ``busy_below`` of all cores busy over ``window``
    seconds; after ``limit`` seconds the run goes on regardless (the wait is bounded).
    """
    started = time.monotonic()
    busy, total = _cpu_times()
    while time.monotonic() - started < limit:
        time.sleep(window)
        now_busy, now_total = _cpu_times()
        fraction = (now_busy - busy) / max(now_total - total, 1)
        busy, total = now_busy, now_total
        if fraction < busy_below:
            break
    return round(time.monotonic() - started, 2)
