"""The access-token deny-list (``core.ports.RevocationList``) in the database, the default.

It joins the request's transaction. The one in Redis (``IDGATE_REVOCATION_STORE=redis``) is
``store.redis_revocations``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from idgate.core.clock import Clock
from idgate.core.tokens.refresh import LiveAccessToken
from idgate.store.models import RevokedTokenRow


class SqlRevocationList:
    """Deny-list rows in ``revoked_tokens``, primary key (jti, issuer); expired rows are purged."""

    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def revoke(self, issuer: str, tokens: Sequence[LiveAccessToken]) -> None:
        now = self._clock.now()
        live = {t.jti: t.expires_at for t in tokens if t.expires_at > now}
        await self._session.execute(
            delete(RevokedTokenRow)
            .where(RevokedTokenRow.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        if not live:
            return
        values = [
            {"jti": jti, "issuer": issuer, "expires_at": expires, "revoked_at": now}
            for jti, expires in live.items()
        ]
        # Two requests may revoke the same token at once (a double logout, two reuse
        # detections): the second insert is a no-op, not an integrity error.
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self._session.execute(insert(RevokedTokenRow).values(values).on_conflict_do_nothing())

    async def is_revoked(self, issuer: str, jti: str) -> bool:
        found = await self._session.scalar(
            select(RevokedTokenRow.jti).where(
                RevokedTokenRow.jti == jti, RevokedTokenRow.issuer == issuer
            )
        )
        return found is not None
