"""FederationService on the in-memory store: pending authorizations, what an upstream identity
signs in to, the email-linking rule, linking and unlinking."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from idgate.core.clock import FixedClock
from idgate.core.errors import NotFound
from idgate.core.federation import (
    FederationService,
    IdentityLinkedElsewhere,
    LastLoginMethod,
    ProviderAlreadyLinked,
    SocialLoginRefused,
    SocialStateInvalid,
    UpstreamIdentity,
    username_base,
)
from idgate.core.ids import sha256_hex
from idgate.core.models import RequestOrigin, User
from idgate.store.memory import MemoryStore, MemoryUnitOfWork

ORIGIN = RequestOrigin(ip="192.0.2.1", user_agent="ua/1", request_id="r1")
GH = UpstreamIdentity("github", "1", "octo@example.com", True, "octocat", "The Octocat")
ACME = UpstreamIdentity("acme", "a-1", "octo@example.com", True, "octo", None)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def service(clock: FixedClock, link: bool = False) -> FederationService:
    return FederationService(clock, link_verified_email=link)


async def sign_in(store: MemoryStore, svc: FederationService, upstream: UpstreamIdentity) -> User:
    async with MemoryUnitOfWork(store) as uow:
        user = await svc.sign_in(uow, upstream, ORIGIN)
        await uow.commit()
    return user


def events(store: MemoryStore) -> list[tuple[str, str | None]]:
    return [(e.type, e.reason) for e in store.audit]


# --- pending authorizations -------------------------------------------------------------------


async def test_a_state_is_taken_once_by_its_own_session_and_provider(
    store: MemoryStore, clock: FixedClock
) -> None:
    svc = service(clock)
    async with MemoryUnitOfWork(store) as uow:
        started = await svc.begin(uow, "session-a", "github", next_path="/account/password")
        await uow.commit()
    pending = started.pending
    assert pending.key == sha256_hex(started.state) and started.state not in repr(started)
    assert 43 <= len(pending.code_verifier) <= 128 and pending.nonce != started.state
    async with MemoryUnitOfWork(store) as uow:
        taken = await svc.resume(uow, "session-a", "github", started.state, ORIGIN)
        await uow.commit()
    assert taken.next_path == "/account/password"
    async with MemoryUnitOfWork(store) as uow:
        with pytest.raises(SocialStateInvalid) as refused:
            await svc.resume(uow, "session-a", "github", started.state, ORIGIN)
    assert refused.value.reason == "unknown_state"


@pytest.mark.parametrize(
    ("session", "provider", "state", "advance", "reason"),
    [
        ("session-b", "github", None, 0, "other_session"),
        (None, "github", None, 0, "other_session"),
        ("session-a", "acme", None, 0, "wrong_provider"),
        ("session-a", "github", None, 601, "expired_state"),
        ("session-a", "github", "", 0, "missing_state"),
        ("session-a", "github", "x" * 600, 0, "missing_state"),
        ("session-a", "github", "forged", 0, "unknown_state"),
    ],
)
async def test_a_state_out_of_place_is_refused_and_audited(
    store: MemoryStore,
    clock: FixedClock,
    session: str | None,
    provider: str,
    state: str | None,
    advance: int,
    reason: str,
) -> None:
    svc = service(clock)
    async with MemoryUnitOfWork(store) as uow:
        started = await svc.begin(uow, "session-a", "github")
        await uow.commit()
    clock.advance(seconds=advance)
    async with MemoryUnitOfWork(store) as uow:
        with pytest.raises(SocialStateInvalid) as refused:
            await svc.resume(
                uow, session, provider, started.state if state is None else state, ORIGIN
            )
        await uow.commit()
    assert refused.value.reason == reason
    assert events(store) == [("social.login_failed", reason)]


async def test_expired_pending_authorizations_are_purged(
    store: MemoryStore, clock: FixedClock
) -> None:
    svc = service(clock)
    async with MemoryUnitOfWork(store) as uow:
        await svc.begin(uow, "s", "github")
        clock.advance(seconds=601)
        await svc.begin(uow, "s", "github")
        await uow.commit()
    assert len(store.pending) == 1


# --- signing in ---------------------------------------------------------------------------------


async def test_a_new_identity_creates_a_password_less_account(
    store: MemoryStore, clock: FixedClock
) -> None:
    user = await sign_in(store, service(clock), GH)
    assert user.username == "octocat" and user.password_hash is None and user.roles == ("user",)
    again = await sign_in(store, service(clock), GH)
    assert again.id == user.id and len(store.users) == 1
    assert events(store) == [
        ("user.registered", None),
        ("social.identity_linked", "new_account"),
        ("social.login_succeeded", None),
        ("social.login_succeeded", None),
    ]


async def test_the_profile_is_refreshed_at_each_login(
    store: MemoryStore, clock: FixedClock
) -> None:
    await sign_in(store, service(clock), GH)
    clock.advance(seconds=60)
    await sign_in(
        store, service(clock), UpstreamIdentity("github", "1", "new@example.com", False, "renamed")
    )
    (identity,) = store.identities.values()
    assert (identity.email, identity.email_verified, identity.login) == (
        "new@example.com",
        False,
        "renamed",
    )
    assert identity.last_login_at == clock.now()


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        (GH, "octocat"),
        (UpstreamIdentity("google", "1", "jane.doe@example.com", True), "jane.doe"),
        (UpstreamIdentity("google", "1", None, False, None, "Jane Q. Doe"), "Jane-Q.-Doe"),
        (UpstreamIdentity("google", "1", "a@b.c", False, "<script>", None), "script"),
        (UpstreamIdentity("acme", "1", "x@y.z", False, "--", "!"), "acme-user"),
    ],
)
def test_usernames_come_from_the_login_the_email_or_the_name(
    upstream: UpstreamIdentity, expected: str
) -> None:
    assert username_base(upstream) == expected


async def test_email_links_only_when_allowed_verified_and_vouched_for_by_another_provider(
    store: MemoryStore, clock: FixedClock
) -> None:
    first = await sign_in(store, service(clock, link=True), GH)
    # Off: a new account, even with the same verified address.
    other = await sign_in(store, service(clock), ACME)
    assert other.id != first.id
    # On, but the same provider's other account with that address is another person.
    same_provider = UpstreamIdentity("github", "2", "octo@example.com", True, "octo2")
    assert (await sign_in(store, service(clock, link=True), same_provider)).id != first.id
    # On, unverified: new account.
    unverified = UpstreamIdentity("google", "g", "octo@example.com", False)
    assert (await sign_in(store, service(clock, link=True), unverified)).id != first.id


async def test_email_links_to_the_one_account_that_has_it_verified(
    store: MemoryStore, clock: FixedClock
) -> None:
    first = await sign_in(store, service(clock, link=True), GH)
    linked = await sign_in(store, service(clock, link=True), ACME)
    assert linked.id == first.id
    assert ("social.identity_linked", "verified_email") in events(store)


async def test_email_does_not_link_when_several_accounts_have_it(
    store: MemoryStore, clock: FixedClock
) -> None:
    await sign_in(store, service(clock), GH)
    await sign_in(store, service(clock), ACME)  # a second account with the address (linking off)
    google = UpstreamIdentity("google", "g", "octo@example.com", True)
    user = await sign_in(store, service(clock, link=True), google)
    assert len(store.users) == 3 and user.username == "octo-2"  # a third, new account


async def test_a_disabled_account_is_refused(store: MemoryStore, clock: FixedClock) -> None:
    user = await sign_in(store, service(clock), GH)
    async with MemoryUnitOfWork(store) as uow:
        await uow.users.set_disabled(user.id, True)
        await uow.commit()
    async with MemoryUnitOfWork(store) as uow:
        with pytest.raises(SocialLoginRefused):
            await service(clock).sign_in(uow, GH, ORIGIN)
        await uow.commit()
    assert events(store)[-1] == ("social.login_failed", "account_disabled")


# --- linking and unlinking ---------------------------------------------------------------------


async def test_link_and_unlink_rules(store: MemoryStore, clock: FixedClock) -> None:
    svc = service(clock)
    user = await sign_in(store, svc, GH)
    someone = await sign_in(store, svc, UpstreamIdentity("acme", "taken", None, False, "zed"))
    async with MemoryUnitOfWork(store) as uow:
        assert await svc.link(uow, user, ACME, ORIGIN) is True
        assert await svc.link(uow, user, ACME, ORIGIN) is False  # already linked to this user
        with pytest.raises(IdentityLinkedElsewhere):
            await svc.link(uow, user, UpstreamIdentity("acme", "taken"), ORIGIN)
        with pytest.raises(ProviderAlreadyLinked):
            await svc.link(uow, user, UpstreamIdentity("github", "99"), ORIGIN)
        await uow.commit()
    identities = {i.provider: i for i in store.identities.values() if i.user_id == user.id}
    async with MemoryUnitOfWork(store) as uow:
        with pytest.raises(NotFound):  # not theirs
            (theirs,) = [i for i in store.identities.values() if i.user_id == someone.id]
            await svc.unlink(uow, user, theirs.id, ORIGIN)
        with pytest.raises(NotFound):
            await svc.unlink(uow, user, uuid.uuid4(), ORIGIN)
        await svc.unlink(uow, user, identities["github"].id, ORIGIN)
        with pytest.raises(LastLoginMethod):
            await svc.unlink(uow, user, identities["acme"].id, ORIGIN)
        await uow.commit()
    assert [i.provider for i in store.identities.values() if i.user_id == user.id] == ["acme"]


async def test_an_account_with_a_password_may_unlink_everything(
    store: MemoryStore, clock: FixedClock
) -> None:
    svc = service(clock)
    alice = User(id=uuid.uuid4(), username="alice", password_hash="h", created_at=clock.now())
    async with MemoryUnitOfWork(store) as uow:
        await uow.users.add(alice, "alice")
        await svc.link(uow, alice, GH, ORIGIN)
        (identity,) = await svc.identities(uow, alice.id)
        await svc.unlink(uow, alice, identity.id, ORIGIN)
        assert await svc.identities(uow, alice.id) == []
