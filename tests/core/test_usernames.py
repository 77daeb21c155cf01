from __future__ import annotations

import pytest

from idgate.core.errors import InvalidUsername
from idgate.core.usernames import canonical_username, validate_username


@pytest.mark.parametrize(
    "variant", ["Alice", "ALICE", " alice ", "aLiCe", "\uff21\uff4c\uff49\uff43\uff45"]
)
def test_variants_share_one_canonical_form(variant: str) -> None:
    assert canonical_username(variant) == "alice"


def test_display_form_keeps_case_and_normalises() -> None:
    assert validate_username("  \uff22\uff4f\uff42.Smith ") == "Bob.Smith"
    assert validate_username("marie@example.test") == "marie@example.test"
    assert validate_username("Zoë_Ünal-42+x") == "Zoë_Ünal-42+x"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ab", "at least 3"),
        ("x" * 129, "at most 128"),
        ("alice smith", "only letters"),
        ("<img src=x onerror=alert(1)>", "only letters"),
        ("alice'--", "only letters"),
        ("a\nb\ncd", "only letters"),
        ("robert\x00", "only letters"),
    ],
)
def test_invalid_usernames_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidUsername, match=reason):
        validate_username(raw)
