"""Shared fixtures: settings, a migrated database per test (SQLite, and PostgreSQL when
configured), the app with its lifespan, and an httpx client talking to it in-process.

PostgreSQL runs when ``IDGATE_TEST_DATABASE_URL`` names a server (any database on it; tests create
and drop their own). With ``CI=true`` the suite refuses to run without it, and fails if the server
cannot be reached: CI must never silently skip a backend.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.clock import FixedClock
from idgate.store import migrate

PG_URL = os.environ.get("IDGATE_TEST_DATABASE_URL", "").strip()
REDIS_URL = os.environ.get("IDGATE_TEST_REDIS_URL", "").strip()
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI and not PG_URL:
        raise pytest.UsageError("CI=true but IDGATE_TEST_DATABASE_URL is not set")


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No IDGATE_* variable of the developer's shell may change what a test sees."""
    for name in list(os.environ):
        if name.startswith("IDGATE_") and not name.startswith("IDGATE_TEST_"):
            monkeypatch.delenv(name)


# --- databases -----------------------------------------------------------------------------


def _pg_admin_url() -> str:
    return make_url(PG_URL).set(drivername="postgresql+asyncpg").render_as_string(False)


async def _pg_execute(statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(PG_URL)
    connection = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
        timeout=10,
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _pg_database_url(name: str) -> str:
    return make_url(_pg_admin_url()).set(database=name).render_as_string(False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database that each test clones (CREATE DATABASE ... TEMPLATE)."""
    if not PG_URL:
        pytest.skip("PostgreSQL is not configured (IDGATE_TEST_DATABASE_URL)")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"idgate_tpl_{worker}_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # CI must fail here, never skip
        pytest.fail(f"PostgreSQL at IDGATE_TEST_DATABASE_URL is unreachable: {exc!r}")
    try:
        migrate.upgrade(_pg_database_url(name))
        yield name
    finally:
        asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("template") / "idgate.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database for one test."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "db" / "idgate.db"
        path.parent.mkdir(mode=0o700)
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"idgate_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield _pg_database_url(name)
    finally:
        asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- the application -----------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    """The test Redis (IDGATE_TEST_REDIS_URL); tests give it a unique ``redis_prefix``.

    With ``CI=true`` a missing or unreachable Redis fails the test instead of skipping it.
    """
    if not REDIS_URL:
        if IN_CI:
            pytest.fail("CI=true but IDGATE_TEST_REDIS_URL is not set")
        pytest.skip("Redis is not configured (IDGATE_TEST_REDIS_URL)")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at IDGATE_TEST_REDIS_URL is unreachable: {exc!r}")
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    prefix = f"idgate-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    if REDIS_URL:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
        except redis.RedisError:
            pass
        finally:
            client.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        bcrypt_cost=4,
        issuer="http://testserver",
    )


@pytest.fixture
async def app(settings: Settings, clock: FixedClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
