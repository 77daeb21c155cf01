"""An account's current state read from SQLite without leaving the event loop.

Every bearer request checks that its account is still enabled and that the token was not revoked
(SECURITY.md JW-06): the check must see the database as it is at that moment, so it is not
cached. Through aiosqlite each statement is a round trip to a helper thread (a few hundred
microseconds each, several per request, measured in docs/benchmarks.md), while a primary-key
lookup in SQLite itself takes microseconds. So this reader runs that one lookup with the standard
``sqlite3`` module on the calling thread. The database is in WAL mode, where readers never wait
for writers; should it be busy anyway (recovery after a crash), the reader gives up at once
(busy timeout 0) and the caller reads through its unit of work instead.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from idgate.core.models import User
from idgate.core.ports import UnitOfWork

log = logging.getLogger("idgate.store")

# The columns SqlUserRepository.get maps (store/models/users.py); the SQLite formats are
# SQLAlchemy's: Uuid as 32 hex digits, DateTime as ISO text in UTC, Boolean as 0/1.
_USER = (
    "SELECT username, password_hash, created_at, disabled, revoked_before FROM users WHERE id = ?"
)
_ROLES = "SELECT role FROM user_roles WHERE user_id = ? ORDER BY role"


def _utc(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


class UserStateReader:
    """Reads an account as committed right now: from the SQLite file, else through ``uow``."""

    def __init__(self, sqlite_file: Path | None) -> None:
        self._path = sqlite_file
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    async def current(self, uow: UnitOfWork, user_id: uuid.UUID) -> User | None:
        """Return the account with its roles, or None if there is no such account."""
        if self._path is not None:
            try:
                return self._read(self._path, user_id)
            except sqlite3.OperationalError as exc:
                log.info("direct SQLite read unavailable, using the unit of work: %s", exc)
        return await uow.users.get(user_id)

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

    def _read(self, path: Path, user_id: uuid.UUID) -> User | None:
        connection = self._connection(path)
        row = connection.execute(_USER, (user_id.hex,)).fetchone()
        if row is None:
            return None
        username, password_hash, created_at, disabled, revoked_before = row
        roles = tuple(role for (role,) in connection.execute(_ROLES, (user_id.hex,)))
        created = _utc(created_at)
        assert created is not None
        return User(
            id=user_id,
            username=username,
            password_hash=password_hash,
            created_at=created,
            disabled=bool(disabled),
            roles=roles,
            revoked_before=_utc(revoked_before),
        )

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()
