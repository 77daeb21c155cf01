"""A quick run of the benchmark (``python -m bench --smoke``): every system starts, every scenario
sends requests and gets answers, and the tables come out. Speed is not asserted here: the numbers
of a one-second run on a busy CI machine mean nothing; ``make bench`` measures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, PG_URL, REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = [
    "public",
    "protected",
    "login",
    "refresh",
    "jwks",
    "probe_idle",
    "probe_flood",
    "login_flood",
]
#: What each system must measure; the rest of its rows say why not ("n/a (...)").
IDGATE = {"public", "protected", "login", "refresh", "jwks", "probe_idle", "probe_flood"}
MEASURED = {
    "idgate": IDGATE | {"login_flood"},
    "guard": {"public", "protected"},
    "tutorial": {"public", "protected", "login", "probe_idle", "probe_flood", "login_flood"},
    "fastapi-users": {"public", "protected", "login", "probe_idle", "probe_flood", "login_flood"},
    "bare": {"public", "protected"},
}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        if IN_CI:
            pytest.fail("wrk is not installed: .ci/run installs it with `make bench-tools`")
        pytest.skip("wrk is not installed (make bench-tools)")
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "bench", "--smoke", "--out", str(out)]
    if PG_URL and REDIS_URL:
        command += ["--postgres", PG_URL, "--redis", REDIS_URL]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGATE_")}
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [json_file] = out.glob("*-smoke.json")
    data: dict[str, Any] = json.loads(json_file.read_text())
    data["table"] = next(out.glob("*-smoke.md")).read_text()
    return data


def test_every_system_answers_every_scenario_it_supports(smoke: dict[str, Any]) -> None:
    measured = dict(MEASURED)
    if PG_URL and REDIS_URL:
        measured["idgate-pg"] = MEASURED["idgate"]
    for scenario in SCENARIOS:
        for system, scenarios in measured.items():
            cell = smoke["results"][scenario][system]
            if scenario not in scenarios:
                assert cell["status"] == "n/a" and cell["reason"].startswith("n/a")
                continue
            assert cell["status"] == "ok", (scenario, system, cell)
            for run in cell["runs"]:
                assert run["requests"] > 0, (scenario, system, run)
                if scenario not in {"probe_flood", "login_flood"}:
                    assert sum(run["errors"].values()) == 0, (scenario, system, run)


def test_the_tables_have_every_row_and_ratio(smoke: dict[str, Any]) -> None:
    table: str = smoke["table"]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    for label in ("public route", "protected route (bearer token)", "login (bcrypt cost 4)"):
        for system in smoke["systems"].values():
            assert any(row.startswith(f"| {label} | {system['label']} |") for row in rows)
    ratios = {row["ratio"] for row in smoke["ratios"]}
    assert "idgate (SQLite): protected / bare FastAPI ceiling" in ratios
    assert "idgate (SQLite): protected / tutorial app" in ratios
    assert "idgate (SQLite): login / bcrypt ceiling" in ratios
    assert "idgate (SQLite): protected p99 during login flood / idle p99" in ratios
    assert "idgate.guard route: protected / bare FastAPI ceiling" in ratios
    assert smoke["bcrypt_ceiling"]["checks_per_second"] > 0
    assert all(run["checks"] > 0 for run in smoke["bcrypt_ceiling"]["runs"])
    for key in ("idgate", "tutorial", "fastapi-users", "bare"):
        system = smoke["systems"][key]
        assert system["startup_s"] > 0 and system["rss_idle_mb"] > 0
        assert system["rss_loaded_mb"] >= system["rss_idle_mb"]
    assert smoke["machine"]["cpus"] >= 1 and smoke["machine"]["wrk"].startswith("wrk")
