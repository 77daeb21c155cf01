"""Migrations and models agree, on every backend, and migrate down and up cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DatabaseError

from idgate.store import migrate, schema_version
from idgate.store.db import create_engine
from idgate.store.models import Base


async def _diff(url: str) -> list[object]:
    engine = create_engine(url)

    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_models_match_the_migrations(database_url: str) -> None:
    assert await _diff(database_url) == []
    assert await migrate.current_revisions(database_url) == migrate.head_revisions(database_url)


def test_the_light_schema_check_knows_the_newest_migration(database_url: str) -> None:
    """``idgate serve`` checks the schema without Alembic (store/schema_version.py): its revision
    must be the head Alembic computes from the migration scripts. Adding a migration without
    updating ``HEAD_REVISION`` fails here."""

    assert migrate.head_revisions(database_url) == {schema_version.HEAD_REVISION}
    assert schema_version.is_up_to_date(database_url)
    migrate.downgrade(database_url, "0003")
    assert not schema_version.is_up_to_date(database_url)
    migrate.downgrade(database_url, "base")
    assert not schema_version.is_up_to_date(database_url)
    migrate.upgrade(database_url)
    assert schema_version.is_up_to_date(database_url)


def test_downgrade_to_nothing_and_back(database_url: str) -> None:
    import asyncio

    migrate.downgrade(database_url, "base")
    assert asyncio.run(_tables(database_url)) <= {"alembic_version"}
    migrate.upgrade(database_url)
    assert migrate.is_up_to_date(database_url)
    assert {"users", "roles", "user_roles", "audit_events"} <= asyncio.run(_tables(database_url))


def test_a_database_never_migrated_is_not_up_to_date(tmp_path: Path) -> None:
    import asyncio

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert asyncio.run(schema_version.current_revisions(url)) == set()
    assert not schema_version.is_up_to_date(url)


def test_the_light_check_reads_a_sqlite_file_without_sqlalchemy(database_url: str) -> None:
    """``idgate serve`` checks a SQLite file with ``sqlite3`` alone: with several workers nothing
    starts before the check, and importing SQLAlchemy was most of its time."""
    if not database_url.startswith("sqlite"):
        assert schema_version.sqlite_file_revisions(database_url) is None  # SQLAlchemy's job
        return
    code = (
        "import sys; from idgate.store import schema_version as s; "
        f"print(s.is_up_to_date({database_url!r}), 'sqlalchemy' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["True", "False"]
    migrate.downgrade(database_url, "0003")
    assert schema_version.sqlite_file_revisions(database_url) == {"0003"}
    assert not schema_version.is_up_to_date(database_url)


def test_the_light_check_creates_no_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    assert schema_version.sqlite_file_revisions(f"sqlite+aiosqlite:///{path}") == set()
    assert not schema_version.is_up_to_date(f"sqlite+aiosqlite:///{path}")
    assert not path.exists()


def test_sqlite_urls_the_light_check_does_not_parse_go_to_sqlalchemy(tmp_path: Path) -> None:
    """Query strings, escapes and in-memory databases are SQLAlchemy's to interpret."""
    path = tmp_path / "idgate.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    for url in (
        f"sqlite+aiosqlite:///{path}?timeout=5",
        f"sqlite+aiosqlite:///{str(path).replace('/', '%2F', 1)}",
        "sqlite+aiosqlite:///:memory:",
        "sqlite://",
    ):
        assert schema_version.sqlite_file_revisions(url) is None, url
    assert schema_version.is_up_to_date(f"sqlite+aiosqlite:///{path}?timeout=5")


def test_a_file_that_is_not_a_database_is_reported_by_sqlalchemy(tmp_path: Path) -> None:
    """The light check does not turn an unreadable file into "not migrated": SQLAlchemy opens
    it and raises, as it did before the light check read SQLite files."""
    path = tmp_path / "idgate.db"
    path.write_bytes(b"not a database" * 100)
    url = f"sqlite+aiosqlite:///{path}"
    assert schema_version.sqlite_file_revisions(url) is None
    with pytest.raises(DatabaseError):
        schema_version.is_up_to_date(url)
