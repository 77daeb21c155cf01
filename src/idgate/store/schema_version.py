"""Is the database's schema the one this idgate needs? Answered without loading Alembic.

``idgate serve`` asks this before it starts; with several workers nothing else can start until
it has answered, and importing Alembic (with its migration scripts) took a third of the start-up
of a two-worker server (docs/benchmarks.md). So the newest migration's revision is written here,
and ``tests/store/test_migrations.py`` fails when it differs from what Alembic computes from the
scripts. Applying migrations is still Alembic's job (:mod:`idgate.store.migrate`).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from idgate.store.db import create_engine

#: The revision of the newest migration in ``store/migrations/versions`` (update it with each one).
HEAD_REVISION = "0009"


async def current_revisions(url: str) -> set[str]:
    """Return the revisions the database is at: empty when it was never migrated."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            if not await connection.run_sync(_has_version_table):
                return set()  # a database never migrated
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


def _has_version_table(connection: Connection) -> bool:
    return inspect(connection).has_table("alembic_version")


def is_up_to_date(url: str) -> bool:
    """Return whether the database is at :data:`HEAD_REVISION`, and only there."""
    return asyncio.run(current_revisions(url)) == {HEAD_REVISION}
