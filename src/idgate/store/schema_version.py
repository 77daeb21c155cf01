"""Is the database's schema the one this idgate needs? Answered without loading Alembic.

``idgate serve`` asks this before it starts; with several workers nothing else can start until
it has answered, and importing Alembic (with its migration scripts) took a third of the start-up
of a two-worker server (docs/benchmarks.md). So the newest migration's revision is written here,
and ``tests/store/test_migrations.py`` fails when it differs from what Alembic computes from the
scripts. Applying migrations is still Alembic's job (:mod:`idgate.store.migrate`).

A SQLite file (the default database) is read with the standard library's ``sqlite3``, read-only:
importing SQLAlchemy for one row took 0.3 s of that same wait. Other databases go through
SQLAlchemy, which the workers load anyway.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: The revision of the newest migration in ``store/migrations/versions`` (update it with each one).
HEAD_REVISION = "0009"


#: A SQLite file URL, as ``Settings.resolved_database_url`` writes it: no query string, no
#: escapes, not in memory. Anything else is left to SQLAlchemy.
_SQLITE_FILE = re.compile(r"sqlite(\+aiosqlite|\+pysqlite)?:///(?P<path>[^?%]+)")


async def current_revisions(url: str) -> set[str]:
    """Return the revisions the database is at: empty when it was never migrated."""
    from sqlalchemy import text

    from idgate.store.db import create_engine

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
    from sqlalchemy import inspect

    return inspect(connection).has_table("alembic_version")


def sqlite_file_revisions(url: str) -> set[str] | None:
    """Return the revisions of the SQLite file behind ``url``, read with ``sqlite3``; None when
    ``url`` names no plain SQLite file or the file cannot be read this way.

    The file is opened read-only: a missing one is reported as never migrated, not created.
    """
    match = _SQLITE_FILE.fullmatch(url)
    if match is None or match["path"] == ":memory:":
        return None
    path = Path(match["path"])
    if not path.is_file():
        return set()
    try:
        connection = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
        if found is None:
            return set()
        return {row[0] for row in connection.execute("SELECT version_num FROM alembic_version")}
    except sqlite3.Error:
        return None  # let SQLAlchemy open it, and report what is wrong as it always has
    finally:
        connection.close()


def is_up_to_date(url: str) -> bool:
    """Return whether the database is at :data:`HEAD_REVISION`, and only there."""
    revisions = sqlite_file_revisions(url)
    if revisions is None:
        revisions = asyncio.run(current_revisions(url))
    return revisions == {HEAD_REVISION}
