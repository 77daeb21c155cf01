"""Permission patterns, the Authority a caller holds, and the ownership rule."""

from __future__ import annotations

import pytest

from idgate.core.errors import InvalidInput
from idgate.core.rbac import (
    Authority,
    InvalidPermission,
    InvalidRoleName,
    claims_authority,
    covers,
    has_permission,
    may_act_on,
    normalize_permissions,
    permissions_claim,
    uncovered,
    validate_permission,
    validate_role_name,
)
from idgate.core.tokens.access import AccessClaims


@pytest.mark.parametrize(
    ("granted", "requested", "expected"),
    [
        ("posts:delete", "posts:delete", True),
        ("posts:delete", "posts:read", False),
        ("posts:*", "posts:delete", True),
        ("posts:*", "posts:comments:delete", True),
        ("posts:*", "posts", False),
        ("posts:*", "postsx:delete", False),
        ("*", "anything:at:all", True),
        ("*", "*", True),
        ("posts:*:read", "posts:42:read", True),
        ("posts:*:read", "posts:42:write", False),
        ("posts:*:read", "posts:42:read:more", False),
        ("posts", "posts:delete", False),
        # requested patterns (a key's scopes against its owner's permissions)
        ("posts:*", "posts:*", True),
        ("*", "posts:*", True),
        ("posts:read", "posts:*", False),
        ("posts:*:read", "posts:*", False),
        ("posts:*:read", "posts:*:read", True),
        ("posts:a:read", "posts:*:read", False),
    ],
)
def test_covers(granted: str, requested: str, expected: bool) -> None:
    assert covers(granted, requested) is expected


def test_has_permission_and_uncovered() -> None:
    granted = ("posts:*", "reports:read")
    assert has_permission(granted, "posts:delete")
    assert not has_permission(granted, "reports:write")
    assert not has_permission((), "posts:read")  # deny by default
    assert uncovered(granted, ["posts:read", "reports:*", "admin:users"]) == [
        "reports:*",
        "admin:users",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "Posts:Delete",
        "posts::delete",
        "posts:",
        ":posts",
        "posts:de lete",
        "po*sts",
        "a" * 129,
        "a:b:c:d:e:f:g:h:i",
        "posts:délete",
        "-posts",
    ],
)
def test_invalid_permissions_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(InvalidPermission) as caught:
        validate_permission(bad)
    assert isinstance(caught.value, InvalidInput) and caught.value.detail


def test_concrete_permission_can_be_demanded() -> None:
    assert validate_permission("posts:*") == "posts:*"
    with pytest.raises(InvalidPermission):
        validate_permission("posts:*", allow_patterns=False)
    assert normalize_permissions(["b:x", "a:y", "b:x"]) == ("a:y", "b:x")


@pytest.mark.parametrize("bad", ["", "A", "admin role", "1abc", "x", "a" * 65, "rôle"])
def test_invalid_role_names(bad: str) -> None:
    with pytest.raises(InvalidRoleName):
        validate_role_name(bad)
    assert validate_role_name("moderator") == "moderator"


def test_scopes_narrow_permissions() -> None:
    unscoped = Authority(("posts:*",))
    assert unscoped.allows("posts:delete")
    scoped = Authority(("posts:*",), scopes=("posts:read",))
    assert scoped.allows("posts:read") and not scoped.allows("posts:delete")
    # A scope cannot add what the permissions lack.
    assert not Authority(("posts:read",), scopes=("*",)).allows("posts:delete")
    # An empty scope list allows nothing; no scopes at all (None) does not narrow.
    assert not Authority(("*",), scopes=()).allows("posts:read")


def test_ownership_rule() -> None:
    nobody = Authority(())
    moderator = Authority(("posts:delete",))
    assert may_act_on(nobody, "alice", "alice", "posts:delete")
    assert not may_act_on(nobody, "alice", "bob", "posts:delete")
    assert may_act_on(moderator, "alice", "bob", "posts:delete")
    assert not may_act_on(nobody, "alice", None, "posts:delete")


def test_empty_actor_is_never_an_owner() -> None:
    assert not may_act_on(Authority(()), "", None, "x:y")
    assert not may_act_on(Authority(()), "", "", "x:y")


def _claims(**extra: object) -> AccessClaims:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    scope = extra.pop("scope", ())
    assert isinstance(scope, tuple)
    return AccessClaims(
        subject="u",
        jti="j",
        issued_at=now,
        expires_at=now,
        scope=scope,
        roles=("user",),
        extra=extra,
    )


def test_authority_from_token_claims() -> None:
    authority = claims_authority(_claims(permissions=["posts:*"]))
    assert authority.allows("posts:delete") and authority.has_role("user")
    narrowed = claims_authority(_claims(permissions=["posts:*"], scope=("posts:read",)))
    assert narrowed.allows("posts:read") and not narrowed.allows("posts:delete")
    assert claims_authority(_claims()).permissions == ()
    # A malformed claim grants nothing rather than failing open.
    assert permissions_claim("posts:*") == ()
    assert permissions_claim(["posts:*", 3]) == ()
    assert permissions_claim(["Posts:*"]) == ()
