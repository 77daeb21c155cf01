"""The run's steps: every protected measurement sends a token taken for it, never a stale one."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, ClassVar, cast

import httpx
import pytest

from bench import cli, processes, systems, wrk


class Issuer(systems.System):
    """A system whose logins hand out ``token-1``, ``token-2``, ... (its tokens expire)."""

    key = "issuer"
    label = "issuer"

    def __init__(self) -> None:
        self.issued = 0
        #: Statuses the next logins answer before one succeeds (a server shedding logins).
        self.refusals: list[int] = []

    def access_token(self, client: httpx.Client) -> str:
        if self.refusals:
            response = httpx.Response(
                self.refusals.pop(0),
                headers={"retry-after": "1"},
                request=httpx.Request("POST", "http://127.0.0.1:9/login"),
            )
            response.raise_for_status()
        self.issued += 1
        return f"token-{self.issued}"

    def requests(self, token: str) -> dict[str, wrk.Request | str]:
        return {
            "protected": wrk.Request("GET", "/profile", token=token),
            "login": wrk.Request("POST", "/login", body="{}", content_type="application/json"),
        }


class RecordingWrk:
    """Stands in for a wrk process: records what it was asked to send."""

    sent: ClassVar[list[wrk.Request]] = []

    def __init__(self, base_url: str, request: wrk.Request, **options: Any) -> None:
        self.sent.append(request)

    def result(self) -> wrk.Load:
        return wrk.Load(requests=1, duration_s=1.0, connections=1, errors={"status": 0})


class Workers:
    def worker_rss_mb(self) -> list[float]:
        return [1.0]


SLEPT: list[float] = []


@pytest.fixture
def entry(monkeypatch: pytest.MonkeyPatch) -> cli.Running:
    RecordingWrk.sent = []
    SLEPT.clear()
    monkeypatch.setattr(wrk, "WrkRun", RecordingWrk)
    monkeypatch.setattr(cli, "drain", lambda entry: 0.0)
    monkeypatch.setattr(time, "sleep", SLEPT.append)
    system = Issuer()
    with httpx.Client() as client:
        token = system.access_token(client)
    server = cast(processes.Server, Workers())  # no process: the steps only read its memory
    return cli.Running(system, server, "http://127.0.0.1:9", token, system.requests(token))


def _args() -> argparse.Namespace:
    return cli.parse_args(["--duration", "1", "--warmup", "0", "--out", str(Path("unused"))])


def test_each_protected_run_logs_in_again_first(entry: cli.Running) -> None:
    results: dict[str, Any] = {scenario: {} for scenario in ("protected",)}
    step = cli.simple("protected", renew=True)
    step(entry, _args(), results)
    step(entry, _args(), results)
    assert [request.token for request in RecordingWrk.sent] == ["token-2", "token-3"]
    assert len(results["protected"]["issuer"]["runs"]) == 2


def test_the_probe_during_a_flood_sends_a_fresh_token(entry: cli.Running) -> None:
    results: dict[str, Any] = {s: {} for s in ("probe_idle", "probe_flood", "login_flood")}
    cli.probe_and_flood(entry, _args(), results)
    probes = [request.token for request in RecordingWrk.sent if request.path == "/profile"]
    assert probes == ["token-2", "token-2"]  # idle, then during the flood: one login apart


def test_a_step_without_renew_keeps_the_token_it_has(entry: cli.Running) -> None:
    results: dict[str, Any] = {"protected": {}}
    cli.simple("protected")(entry, _args(), results)
    assert [request.token for request in RecordingWrk.sent] == ["token-1"]


def test_a_login_shed_by_a_busy_server_is_retried_after_its_pause(entry: cli.Running) -> None:
    issuer = cast(Issuer, entry.system)
    issuer.refusals = [503, 503]
    entry.renew_token()
    assert entry.token == "token-2" and SLEPT == [1.0, 1.0]


def test_a_login_refused_for_another_reason_stops_the_run(entry: cli.Running) -> None:
    issuer = cast(Issuer, entry.system)
    issuer.refusals = [401]
    with pytest.raises(httpx.HTTPStatusError):
        entry.renew_token()
    assert SLEPT == []
