"""``idgate audit``: the security events, filtered by user, type and time."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from idgate.app import create_app
from idgate.cli import app
from idgate.cli.audit import parse_moment
from idgate.config import Settings
from idgate.core.audit import AuditEventType
from tests.helpers import GOOD_PASSWORD

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "IDGATE_ENVIRONMENT": "test",
        "IDGATE_BCRYPT_COST": "4",
        "IDGATE_DATA_DIR": str(tmp_path / "data"),
        "IDGATE_DATABASE_URL": database_url,
    }


@pytest.fixture
async def history(env: dict[str, str]) -> None:
    """Alice registers, fails, is throttled, logs in; bob registers; one injection attempt."""
    settings = Settings(
        _env_file=None,
        environment="test",
        bcrypt_cost=4,
        data_dir=Path(env["IDGATE_DATA_DIR"]),
        database_url=env["IDGATE_DATABASE_URL"],
        rate_limits={"login.ip": "off"},
        login_throttle_free_failures=2,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("198.51.100.4", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for name in ("alice", "bob"):
                await client.post("/register", json={"username": name, "password": GOOD_PASSWORD})
            for _ in range(3):
                await client.post("/login", json={"username": "alice", "password": "nope"})
            await client.post(
                "/login",
                json={"username": "x\n2026 INFO login.succeeded", "password": "y"},
                headers={"User-Agent": "evil\x1b[31m"},
            )


def invoke(env: dict[str, str], *args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["audit", "--json", *args], env=env)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


@pytest.mark.usefixtures("history")
def test_filters(env: dict[str, str]) -> None:
    everything = invoke(env)
    assert [e["event"] for e in everything][::-1] == [
        "user.registered",
        "user.registered",
        "login.failed",
        "login.failed",
        "login.throttled",
        "login.failed",
    ]
    alice = invoke(env, "--user", "Alice")
    assert {e["event"] for e in alice} == {"user.registered", "login.failed", "login.throttled"}
    by_id = invoke(env, "--user", str(alice[0]["subject_id"]))
    assert by_id == alice
    failed = invoke(env, "--type", "login.failed", "--type", "login.throttled", "--limit", "2")
    assert [e["event"] for e in failed] == ["login.failed", "login.throttled"]
    assert failed[0]["ip"] == "198.51.100.4" and failed[0]["outcome"] == "failure"
    assert invoke(env, "--since", "1h", "--type", "user.registered")[0]["event"] == (
        "user.registered"
    )
    assert invoke(env, "--until", "1h") == []
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert invoke(env, "--since", later) == []


@pytest.mark.usefixtures("history")
def test_table_output_is_escaped(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["audit"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("AT (UTC)") and len(lines) == 7
    assert "login.throttled" in result.output and "198.51.100.4" in result.output
    assert "\x1b" not in result.output and "nope" not in result.output


def test_empty_log_and_unknown_user(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["migrate"], env=env).exit_code == 0
    result = runner.invoke(app, ["audit"], env=env)
    assert result.exit_code == 0 and "no events" in result.output
    result = runner.invoke(app, ["audit", "--user", "nobody"], env=env)
    assert result.exit_code == 1 and "no user named 'nobody'" in result.output


def test_bad_times_are_explained(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["audit", "--since", "yesterday"], env=env)
    assert result.exit_code == 2 and "ISO 8601" in result.output


def test_list_types() -> None:
    result = runner.invoke(app, ["audit", "--list-types"])
    assert result.exit_code == 0
    assert set(result.output.split()) == {t.value for t in AuditEventType}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", datetime(2026, 1, 1, 11, 30, tzinfo=UTC)),
        ("1h", datetime(2026, 1, 1, 11, tzinfo=UTC)),
        ("7d", datetime(2025, 12, 25, 12, tzinfo=UTC)),
        ("2w", datetime(2025, 12, 18, 12, tzinfo=UTC)),
        ("90s", datetime(2026, 1, 1, 11, 58, 30, tzinfo=UTC)),
        ("2026-01-01T10:00:00Z", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("2026-01-01T10:00:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("2026-01-01T12:00:00+02:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
    ],
)
def test_parse_moment(text: str, expected: datetime) -> None:
    assert parse_moment(text, datetime(2026, 1, 1, 12, tzinfo=UTC)) == expected


def test_the_audit_log_cannot_be_changed_over_http(tmp_path: Path) -> None:
    # AU-04: there is no endpoint that modifies (or even serves) the audit log.
    application = create_app(Settings(_env_file=None, environment="test", data_dir=tmp_path))
    paths = {getattr(route, "path", "") for route in application.routes}
    assert not any("audit" in path for path in paths)


@pytest.mark.redis
async def test_unthrottle_lifts_the_throttle(
    env: dict[str, str], redis_url: str, redis_prefix: str
) -> None:
    env = {**env, "IDGATE_REDIS_URL": redis_url, "IDGATE_REDIS_PREFIX": redis_prefix}
    settings = Settings(
        _env_file=None,
        environment="test",
        bcrypt_cost=4,
        data_dir=Path(env["IDGATE_DATA_DIR"]),
        database_url=env["IDGATE_DATABASE_URL"],
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        rate_limits={"login.ip": "off"},
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("198.51.100.4", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            good = {"username": "alice", "password": GOOD_PASSWORD}
            await client.post("/register", json=good)
            for _ in range(5):
                await client.post("/login", json={"username": "alice", "password": "nope"})
            assert (await client.post("/login", json=good)).status_code == 429
            result = await asyncio.to_thread(
                runner.invoke, app, ["users", "unthrottle", "alice"], env=env
            )
            assert result.exit_code == 0, result.output
            assert (await client.post("/login", json=good)).status_code == 200
    events = await asyncio.to_thread(invoke, env, "--type", "login.unthrottled")
    assert events[0]["details"] == {"username": "alice"}


def test_unthrottle_needs_redis(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["users", "unthrottle", "alice"], env=env)
    assert result.exit_code == 2 and "restart the server" in result.output
