"""An account's current state for the per-request bearer check, read as cheaply as the database
allows.

Every bearer request checks that its account is still enabled and that the token was not revoked
(SECURITY.md JW-06, JW-10). The check must see the database as it is at that moment, so it is never
cached; it is made cheap instead (measured in docs/benchmarks.md):

* **SQLite**: through aiosqlite each statement is a round trip to a helper thread (a few hundred
  microseconds each, several per request), while a primary-key lookup in SQLite itself takes
  microseconds. So the lookup runs with the standard ``sqlite3`` module on the calling thread.
  The database is in WAL mode, where readers never wait for writers; should it be busy anyway
  (recovery after a crash), the reader gives up at once (busy timeout 0) and the caller reads
  through its unit of work instead.
* **PostgreSQL**: one statement on a small asyncpg pool of its own,
  so the check never queues behind requests that hold the main pool's connections (logins wait
  for the hashing pool with their unit of work open). The pool does not reset a connection's
  session when the check gives it back: the check changes no session state, and asyncpg's
  default reset is a second statement, and a second round trip, on every bearer request.

On both, the account, its roles and the token's deny-list entry (when the deny-list is the
database's) come from one statement.
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
# One statement for the account, its roles (joined with a separator no role name contains:
# role names are validated in core/rbac.py) and, when the deny-list of store/revocations.py
# (SqlRevocationList, keyed on (jti, issuer)) is in the database, the token's entry in it: each
# statement costs a round of sqlite3's machinery on the event loop's thread (a few microseconds
# in a tight loop, about 30 in a served process between other requests).
_SQLITE_USER = """
SELECT username, password_hash, created_at, disabled, revoked_before,
       (SELECT group_concat(role, ' ') FROM user_roles WHERE user_id = users.id), {denied}
FROM users WHERE id = :id
"""
_SQLITE_DENIED = "EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = :jti AND issuer = :issuer)"
_POSTGRES_USER = """
SELECT u.username, u.password_hash, u.created_at, u.disabled, u.revoked_before,
       array_remove(array_agg(r.role), NULL) AS roles, {denied} AS denied
FROM users u LEFT JOIN user_roles r ON r.user_id = u.id
WHERE u.id = $1
GROUP BY u.id
"""
_POSTGRES_DENIED = "EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2 AND issuer = $3)"
#: What a statement selects in place of the deny-list answer when it is not asked there.
_NOT_ASKED = "FALSE"
_SQLITE_ACCOUNT = _SQLITE_USER.format(denied=_NOT_ASKED)
_SQLITE_ACCOUNT_AND_DENIAL = _SQLITE_USER.format(denied=_SQLITE_DENIED)
_POSTGRES_ACCOUNT = _POSTGRES_USER.format(denied=_NOT_ASKED)
_POSTGRES_ACCOUNT_AND_DENIAL = _POSTGRES_USER.format(denied=_POSTGRES_DENIED)
#: Connections of the PostgreSQL pool of each process; a check holds one for one statement.
POSTGRES_POOL_SIZE = 4


def _utc(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


async def _nothing_to_reset(connection: object) -> None:
    """The reader's connections only ever run one read-only statement at a time: no SET, LISTEN,
    advisory lock, cursor or prepared transaction to undo. (asyncpg still rolls back a
    transaction left open, before it calls this.)"""


class UserStateReader:
    """Reads an account as committed right now, with its roles, and the deny-list entry of one
    access token.

    ``sqlite_file``: read that SQLite database directly. ``postgres_dsn``: read PostgreSQL through
    a pool of its own. With neither, read through the caller's unit of work.
    ``deny_list_in_database``: the deny-list is the database's table, read in the same statement
    as the account; otherwise (Redis) it is asked through the unit of work.
    """

    def __init__(
        self,
        *,
        sqlite_file: Path | None = None,
        postgres_dsn: str | None = None,
        deny_list_in_database: bool = True,
    ):
        self._path = sqlite_file
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._dsn = postgres_dsn
        self._pool: Any = None
        self._pool_lock = asyncio.Lock()
        self._deny_list_in_database = deny_list_in_database

    async def state(
        self, uow: UnitOfWork, user_id: uuid.UUID, issuer: str, jti: str
    ) -> tuple[User | None, bool]:
        """Return the account (None if there is none) and whether the access token ``(issuer,
        jti)`` is on the deny-list (asked only for an enabled account): the bearer check's
        :data:`~idgate.core.tokens.service.AccessStateReader`."""
        in_database = self._deny_list_in_database
        found = await self._read(user_id, (issuer, jti) if in_database else None)
        if found is None:
            user = await uow.users.get(user_id)
            denied = False
        else:
            user, denied = found
        if user is None or user.disabled or (found is not None and in_database):
            return user, denied
        return user, await uow.revocations.is_revoked(issuer, jti)

    async def _read(
        self, user_id: uuid.UUID, token: tuple[str, str] | None
    ) -> tuple[User | None, bool] | None:
        """Read directly: (account, denied), or None when there is no direct way right now."""
        if self._path is not None:
            try:
                return self._sqlite(self._path, user_id, token)
            except sqlite3.OperationalError as exc:
                log.info("direct SQLite read unavailable, using the unit of work: %s", exc)
        if self._dsn is not None:
            return await self._postgres(self._dsn, user_id, token)
        return None

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

    def _sqlite(
        self, path: Path, user_id: uuid.UUID, token: tuple[str, str] | None
    ) -> tuple[User | None, bool]:
        connection = self._connection(path)
        if token is None:
            statement, parameters = _SQLITE_ACCOUNT, {"id": user_id.hex}
        else:
            issuer, jti = token
            statement = _SQLITE_ACCOUNT_AND_DENIAL
            parameters = {"id": user_id.hex, "issuer": issuer, "jti": jti}
        row = connection.execute(statement, parameters).fetchone()
        if row is None:
            return None, False
        username, password_hash, created_at, disabled, revoked_before, roles, denied = row
        created = _utc(created_at)
        assert created is not None
        user = User(
            id=user_id,
            username=username,
            password_hash=password_hash,
            created_at=created,
            disabled=bool(disabled),
            roles=tuple(sorted(roles.split(" "))) if roles else (),
            revoked_before=_utc(revoked_before),
        )
        return user, bool(denied)

    async def _postgres(
        self, dsn: str, user_id: uuid.UUID, token: tuple[str, str] | None
    ) -> tuple[User | None, bool]:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    import asyncpg  # type: ignore[import-untyped]

                    self._pool = await asyncpg.create_pool(
                        dsn, min_size=1, max_size=POSTGRES_POOL_SIZE, reset=_nothing_to_reset
                    )
        if token is None:
            row = await self._pool.fetchrow(_POSTGRES_ACCOUNT, user_id)
        else:
            issuer, jti = token
            row = await self._pool.fetchrow(_POSTGRES_ACCOUNT_AND_DENIAL, user_id, jti, issuer)
        if row is None:
            return None, False
        user = User(
            id=user_id,
            username=row["username"],
            password_hash=row["password_hash"],
            created_at=row["created_at"].astimezone(UTC),
            disabled=row["disabled"],
            roles=tuple(sorted(row["roles"])),
            revoked_before=row["revoked_before"] and row["revoked_before"].astimezone(UTC),
        )
        return user, bool(row["denied"])

    async def aclose(self) -> None:
        """Close every connection this reader opened."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
