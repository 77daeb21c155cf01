"""Migrations and models agree, on every backend, and migrate down and up cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from idgate.store import migrate
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


def test_downgrade_to_nothing_and_back(database_url: str) -> None:
    import asyncio

    migrate.downgrade(database_url, "base")
    assert asyncio.run(_tables(database_url)) <= {"alembic_version"}
    migrate.upgrade(database_url)
    assert migrate.is_up_to_date(database_url)
    assert {"users", "roles", "user_roles", "audit_events"} <= asyncio.run(_tables(database_url))
