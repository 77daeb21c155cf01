"""An account's current state for the per-request bearer check, read as cheaply as the database
allows.

Every bearer request checks that its account is still enabled and that the token was not revoked
(SECURITY.md JW-06). The check must see the database as it is at that moment, so it is never
cached; it is made cheap instead (measured in docs/benchmarks.md):

* **SQLite**: through aiosqlite each statement is a round trip to a helper thread (a few hundred
  microseconds each, several per request), while a primary-key lookup in SQLite itself takes
  microseconds. So the lookup runs with the standard ``sqlite3`` module on the calling thread.
  The database is in WAL mode, where readers never wait for writers; should it be busy anyway
  (recovery after a crash), the reader gives up at once (busy timeout 0) and the caller reads
  through its unit of work instead.
* **PostgreSQL**: one statement (account and roles together) on a small asyncpg pool of its own,
  so the check never queues behind requests that hold the main pool's connections (logins wait
  for the hashing pool with their unit of work open).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from idgate.core.models import User
from idgate.core.ports import UnitOfWork

log = logging.getLogger("idgate.store")

# The columns SqlUserRepository.get maps (store/models/users.py); the SQLite formats are
# SQLAlchemy's: Uuid as 32 hex digits, DateTime as ISO text in UTC, Boolean as 0/1.
# One statement for the account and its roles (joined with a separator no role name contains:
# role names are validated in core/rbac.py), as on PostgreSQL: each statement costs a round of
# sqlite3's machinery on the event loop's thread.
_SQLITE_USER = """
SELECT username, password_hash, created_at, disabled, revoked_before,
       (SELECT group_concat(role, ' ') FROM user_roles WHERE user_id = users.id)
FROM users WHERE id = ?
"""
# The logout deny-list of store/revocations.py (SqlRevocationList), keyed on (jti, issuer).
_SQLITE_REVOKED = "SELECT 1 FROM revoked_tokens WHERE jti = ? AND issuer = ?"
_POSTGRES_USER = """
SELECT u.username, u.password_hash, u.created_at, u.disabled, u.revoked_before,
       array_remove(array_agg(r.role), NULL) AS roles
FROM users u LEFT JOIN user_roles r ON r.user_id = u.id
WHERE u.id = $1
GROUP BY u.id
"""
#: Connections of the PostgreSQL pool of each process; a check holds one for one statement.
POSTGRES_POOL_SIZE = 4


def _utc(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


class UserStateReader:
    """Reads an account as committed right now, with its roles.

    ``sqlite_file``: read that SQLite database directly. ``postgres_dsn``: read PostgreSQL through
    a pool of its own. With neither, read through the caller's unit of work.
    """

    def __init__(self, *, sqlite_file: Path | None = None, postgres_dsn: str | None = None):
        self._path = sqlite_file
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._dsn = postgres_dsn
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()

    async def current(self, uow: UnitOfWork, user_id: uuid.UUID) -> User | None:
        """Return the account with its roles, or None if there is no such account."""
        if self._path is not None:
            try:
                return self._sqlite(self._path, user_id)
            except sqlite3.OperationalError as exc:
                log.info("direct SQLite read unavailable, using the unit of work: %s", exc)
        if self._dsn is not None:
            return await self._postgres(self._dsn, user_id)
        return await uow.users.get(user_id)

    async def is_revoked(self, uow: UnitOfWork, issuer: str, jti: str) -> bool:
        """Return whether the access token ``(issuer, jti)`` is on the database deny-list.

        Only for a deny-list kept in the database; one kept in Redis is asked through ``uow``.
        """
        if self._path is not None:
            try:
                connection = self._connection(self._path)
                return connection.execute(_SQLITE_REVOKED, (jti, issuer)).fetchone() is not None
            except sqlite3.OperationalError as exc:
                log.info("direct SQLite read unavailable, using the unit of work: %s", exc)
        return await uow.revocations.is_revoked(issuer, jti)

    def _connection(self, path: Path) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # One connection per thread (the event loop's); timeout=0: never wait for a lock.
            connection = sqlite3.connect(
                path, timeout=0, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA query_only = ON")
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    def _sqlite(self, path: Path, user_id: uuid.UUID) -> User | None:
        connection = self._connection(path)
        row = connection.execute(_SQLITE_USER, (user_id.hex,)).fetchone()
        if row is None:
            return None
        username, password_hash, created_at, disabled, revoked_before, roles = row
        created = _utc(created_at)
        assert created is not None
        return User(
            id=user_id,
            username=username,
            password_hash=password_hash,
            created_at=created,
            disabled=bool(disabled),
            roles=tuple(sorted(roles.split(" "))) if roles else (),
            revoked_before=_utc(revoked_before),
        )

    async def _postgres(self, dsn: str, user_id: uuid.UUID) -> User | None:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    import asyncpg  # type: ignore[import-untyped]

                    self._pool = await asyncpg.create_pool(
                        dsn, min_size=1, max_size=POSTGRES_POOL_SIZE
                    )
        row = await self._pool.fetchrow(_POSTGRES_USER, user_id)
        if row is None:
            return None
        return User(
            id=user_id,
            username=row["username"],
            password_hash=row["password_hash"],
            created_at=row["created_at"].astimezone(UTC),
            disabled=row["disabled"],
            roles=tuple(sorted(row["roles"])),
            revoked_before=row["revoked_before"] and row["revoked_before"].astimezone(UTC),
        )

    async def aclose(self) -> None:
        """Close every connection this reader opened."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
