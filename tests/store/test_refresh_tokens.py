"""Refresh-token repository and the SQL deny-list, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from idgate.core.clock import FixedClock
from idgate.core.models import User
from idgate.core.tokens.refresh import LiveAccessToken, RefreshFamily, RefreshToken
from idgate.store.uow import SqlUnitOfWork

ISSUER = "https://id.example.test"


async def make_user(uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock) -> User:
    user = User(id=uuid.uuid4(), username="alice", password_hash="h", created_at=clock.now())
    async with uow_factory() as uow:
        await uow.users.add(user, "alice")
        await uow.commit()
    return user


async def make_family(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock, user: User, n: int = 1
) -> tuple[RefreshFamily, list[RefreshToken]]:
    now = clock.now()
    family = RefreshFamily(
        id=uuid.uuid4(),
        user_id=user.id,
        client_id="idgate",
        created_at=now,
        expires_at=now + timedelta(days=30),
    )
    tokens = [
        RefreshToken(
            id=uuid.uuid4(),
            family_id=family.id,
            token_hash=uuid.uuid4().hex * 2,
            created_at=now,
            expires_at=now + timedelta(days=14),
            access_jti=uuid.uuid4().hex,
            access_expires_at=now + timedelta(minutes=15 * (i + 1)),
        )
        for i in range(n)
    ]
    async with uow_factory() as uow:
        await uow.refresh_tokens.add_family(family)
        for token in tokens:
            await uow.refresh_tokens.add(token)
        await uow.commit()
    return family, tokens


async def test_store_and_find_by_hash(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    user = await make_user(uow_factory, clock)
    family, (token,) = await make_family(uow_factory, clock, user)
    async with uow_factory() as uow:
        found = await uow.refresh_tokens.find(token.token_hash)
        assert found == (token, family)
        assert await uow.refresh_tokens.find("0" * 64) is None
        assert await uow.refresh_tokens.get_family(family.id) == family
        assert await uow.refresh_tokens.get_family(uuid.uuid4()) is None


async def test_mark_used_is_a_compare_and_set(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    user = await make_user(uow_factory, clock)
    _, (token,) = await make_family(uow_factory, clock, user)
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.mark_used(token.id, clock.now()) is True
        assert await uow.refresh_tokens.mark_used(token.id, clock.now()) is False
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.mark_used(token.id, clock.now()) is False
        found = await uow.refresh_tokens.find(token.token_hash)
        assert found is not None and found[0].used_at == clock.now()


async def test_revoking_families(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    user = await make_user(uow_factory, clock)
    one, tokens = await make_family(uow_factory, clock, user, n=3)
    two, _ = await make_family(uow_factory, clock, user)
    three, _ = await make_family(uow_factory, clock, user)
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.touch_family(one.id, clock.now()) is True
        assert await uow.refresh_tokens.revoke_family(one.id, clock.now(), "logout") is True
        assert await uow.refresh_tokens.revoke_family(one.id, clock.now(), "logout") is False
        assert await uow.refresh_tokens.touch_family(one.id, clock.now()) is False
        revoked = await uow.refresh_tokens.revoke_families_of(user.id, clock.now(), "logout_all")
        assert sorted(revoked) == sorted([two.id, three.id])
        assert await uow.refresh_tokens.revoke_families_of(user.id, clock.now(), "x") == []
        await uow.commit()
    async with uow_factory() as uow:
        family = await uow.refresh_tokens.get_family(one.id)
        assert family is not None and family.revoked_reason == "logout"
        family = await uow.refresh_tokens.get_family(two.id)
        assert family is not None and family.revoked_reason == "logout_all"
        # Only access tokens still valid at that moment need denying.
        clock.advance(timedelta(minutes=20))
        live = await uow.refresh_tokens.live_access_tokens([one.id], clock.now())
        assert sorted(t.jti for t in live) == sorted(t.access_jti for t in tokens[1:])
        assert await uow.refresh_tokens.live_access_tokens([], clock.now()) == []


async def test_purging_expired_families(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    user = await make_user(uow_factory, clock)
    old, (old_token,) = await make_family(uow_factory, clock, user)
    clock.advance(timedelta(days=10))
    _, (fresh_token,) = await make_family(uow_factory, clock, user)
    clock.advance(timedelta(days=21))
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.purge_expired(user.id, clock.now()) == 1
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.refresh_tokens.find(old_token.token_hash) is None
        assert await uow.refresh_tokens.get_family(old.id) is None
        assert await uow.refresh_tokens.find(fresh_token.token_hash) is not None


async def test_sql_deny_list(uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock) -> None:
    later = clock.now() + timedelta(minutes=15)
    async with uow_factory() as uow:
        await uow.revocations.revoke(ISSUER, [LiveAccessToken("jti-1", later)])
        # Revoking again (a double logout, concurrent reuse detections) is not an error.
        await uow.revocations.revoke(
            ISSUER, [LiveAccessToken("jti-1", later), LiveAccessToken("jti-2", later)]
        )
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.revocations.is_revoked(ISSUER, "jti-1")
        assert await uow.revocations.is_revoked(ISSUER, "jti-2")
        # Keyed on (issuer, jti): another issuer's token with the same jti is not denied.
        assert not await uow.revocations.is_revoked("https://other.example.test", "jti-1")
        assert not await uow.revocations.is_revoked(ISSUER, "jti-3")
    # Entries are purged once the token has expired; already-expired tokens are not stored.
    clock.advance(timedelta(minutes=16))
    async with uow_factory() as uow:
        await uow.revocations.revoke(ISSUER, [LiveAccessToken("old", clock.now())])
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.revocations.is_revoked(ISSUER, "jti-1")
        assert not await uow.revocations.is_revoked(ISSUER, "old")


async def test_sql_deny_list_rolls_back_with_its_unit_of_work(
    uow_factory: Callable[[], SqlUnitOfWork], clock: FixedClock
) -> None:
    async with uow_factory() as uow:
        await uow.revocations.revoke(
            ISSUER, [LiveAccessToken("jti-1", clock.now() + timedelta(minutes=1))]
        )
        await uow.rollback()
    async with uow_factory() as uow:
        assert not await uow.revocations.is_revoked(ISSUER, "jti-1")
