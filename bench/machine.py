"""What the benchmark ran on: CPU, memory, kernel, Python and the versions that matter."""

from __future__ import annotations

import os
import platform
import subprocess
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
