"""Browser sessions in Redis, shared by every idgate instance (``IDGATE_SESSION_STORE=redis``).

Each session is one key, ``<prefix>session:<sha256 of the cookie>``, holding JSON and expiring
when the session would (idle or absolute timeout, whichever comes first), so Redis forgets dead
sessions by itself. A set per user, ``<prefix>user-sessions:<user id>``, lists the keys for the
account page and for revocation; members whose key has expired are pruned when it is read.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from idgate.core.sessions import BrowserSession
from idgate.store.redis import RedisKeys


def _dump(session: BrowserSession) -> bytes:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return json.dumps(
        {
            "public_id": str(session.public_id),
            "user_id": str(session.user_id) if session.user_id else None,
            "csrf_token": session.csrf_token,
            "created_at": iso(session.created_at),
            "last_seen_at": iso(session.last_seen_at),
            "expires_at": iso(session.expires_at),
            "signed_in_at": iso(session.signed_in_at),
            "authenticated_at": iso(session.authenticated_at),
            "ip": session.ip,
            "user_agent": session.user_agent,
        }
    ).encode()


def _load(key: str, raw: bytes | str) -> BrowserSession:
    data: dict[str, Any] = json.loads(raw)

    def when(name: str) -> datetime | None:
        value = data.get(name)
        return datetime.fromisoformat(value) if value else None

    created_at, last_seen_at, expires_at = (
        when("created_at"),
        when("last_seen_at"),
        when("expires_at"),
    )
    assert created_at and last_seen_at and expires_at
    return BrowserSession(
        key=key,
        public_id=uuid.UUID(data["public_id"]),
        user_id=uuid.UUID(data["user_id"]) if data.get("user_id") else None,
        csrf_token=data["csrf_token"],
        created_at=created_at,
        last_seen_at=last_seen_at,
        expires_at=expires_at,
        signed_in_at=when("signed_in_at"),
        authenticated_at=when("authenticated_at"),
        ip=data.get("ip"),
        user_agent=data.get("user_agent"),
    )


class RedisSessionRepository:
    """Implements :class:`idgate.core.ports.SessionRepository` on a shared Redis.

    Writes take effect at once, outside the request's database transaction: a logout or a
    revocation is seen by every instance immediately (SS-04).
    """

    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        self._redis = redis
        self._keys = keys

    def _session_key(self, key: str) -> str:
        return self._keys.key("session", key)

    def _user_key(self, user_id: uuid.UUID) -> str:
        return self._keys.key("user-sessions", str(user_id))

    async def add(self, session: BrowserSession, *, keep_until: datetime) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._session_key(session.key), _dump(session), pxat=keep_until)
            if session.user_id is not None:
                user_key = self._user_key(session.user_id)
                pipe.sadd(user_key, session.key)
                # The index lives as long as its longest-lived session could.
                pipe.pexpireat(user_key, session.expires_at, gt=True)
                pipe.pexpireat(user_key, session.expires_at, nx=True)
            await pipe.execute()

    async def get(self, key: str) -> BrowserSession | None:
        raw = await self._redis.get(self._session_key(key))
        return _load(key, raw) if raw is not None else None

    async def touch(self, session: BrowserSession, *, keep_until: datetime) -> None:
        # XX: never resurrect a session deleted meanwhile (a logout on another instance).
        await self._redis.set(
            self._session_key(session.key), _dump(session), pxat=keep_until, xx=True
        )

    async def delete(self, key: str) -> None:
        session = await self.get(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._session_key(key))
            if session is not None and session.user_id is not None:
                pipe.srem(self._user_key(session.user_id), key)
            await pipe.execute()

    async def list_for_user(self, user_id: uuid.UUID) -> Sequence[BrowserSession]:
        user_key = self._user_key(user_id)
        members = await self._redis.smembers(user_key)
        keys = sorted(k.decode() if isinstance(k, bytes) else k for k in members)
        if not keys:
            return []
        values = await self._redis.mget([self._session_key(k) for k in keys])
        sessions = [_load(k, v) for k, v in zip(keys, values, strict=True) if v is not None]
        gone = [k for k, v in zip(keys, values, strict=True) if v is None]
        if gone:
            await self._redis.srem(user_key, *gone)
        return sessions

    async def purge_expired(self, now: datetime) -> int:
        return 0  # Redis expires session keys by itself.
