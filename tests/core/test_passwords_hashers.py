from __future__ import annotations

import threading
import unicodedata

import bcrypt
import pytest

from idgate.core.passwords.hashers import (
    Argon2idHasher,
    BcryptHasher,
    LegacyBcryptHasher,
    PasswordHashers,
    Pepper,
    normalize_password,
)

PEPPER = Pepper.from_secret(b"p" * 32)
OTHER_PEPPER = Pepper.from_secret(b"q" * 32)


def hashers(cost: int = 4, peppers: list[Pepper] | None = None) -> PasswordHashers:
    return PasswordHashers(
        [
            BcryptHasher(peppers or [PEPPER], cost=cost, allow_low_cost=True),
            LegacyBcryptHasher(),
            Argon2idHasher(memory_cost=8, time_cost=1),
        ]
    )


def test_hash_is_self_describing_and_salted() -> None:
    h = hashers()
    first, second = h.hash("same password"), h.hash("same password")
    assert first.startswith(f"bcrypt-hmac-sha384${PEPPER.id}$$2b$04$")
    assert first != second
    assert "same password" not in first


@pytest.mark.parametrize(
    "password",
    [
        "A" * 72 + "Zq9!",  # past bcrypt's 72-byte limit
        "ü" * 64,  # 128 bytes of UTF-8
        "x" * 1024,
        "abc\x00" + "defghijklmnopqrstuvw",
        "emoji 🔐 and 漢字 password",
    ],
)
def test_every_character_is_significant(password: str) -> None:
    h = hashers()
    encoded = h.hash(password)
    assert h.verify(password, encoded).ok
    assert not h.verify(password[:-1], encoded).ok
    assert not h.verify(password[:-1] + chr(ord(password[-1]) + 1), encoded).ok


def test_no_truncation_at_72_bytes() -> None:
    h = hashers()
    encoded = h.hash("A" * 72 + "Zq9!")
    assert not h.verify("A" * 72, encoded).ok
    assert not h.verify("A" * 72 + "Zq9?", encoded).ok


def test_nul_bytes_are_significant() -> None:
    h = hashers()
    encoded = h.hash("abc\x00xyz-long-enough")
    assert not h.verify("abc", encoded).ok
    assert not h.verify("abc\x00xyz-long-enougH", encoded).ok


def test_case_matters() -> None:
    h = hashers()
    encoded = h.hash("Mixed Case Password")
    assert not h.verify("MIXED CASE PASSWORD", encoded).ok


def test_unicode_normalisation_makes_composed_and_decomposed_equal() -> None:
    composed = "long password with \u00e4 inside"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    h = hashers()
    encoded = h.hash(composed)
    assert h.verify(decomposed, encoded).ok
    assert not h.verify(composed.replace("\u00e4", "o"), encoded).ok
    assert normalize_password("\uff21") == "A"  # full-width A


def test_rehash_when_cost_rises() -> None:
    old = hashers(cost=4).hash("a password")
    newer = hashers(cost=5)
    result = newer.verify("a password", old)
    assert result.ok and result.needs_rehash
    assert not newer.verify("a password", newer.hash("a password")).needs_rehash


def test_rehash_when_pepper_rotates_old_pepper_still_verifies() -> None:
    old = hashers(peppers=[PEPPER]).hash("a password")
    rotated = hashers(peppers=[OTHER_PEPPER, PEPPER])
    result = rotated.verify("a password", old)
    assert result.ok and result.needs_rehash


def test_unknown_pepper_fails_closed() -> None:
    encoded = hashers(peppers=[OTHER_PEPPER]).hash("a password")
    assert not hashers(peppers=[PEPPER]).verify("a password", encoded).ok


def test_imported_plain_bcrypt_verifies_and_asks_for_rehash() -> None:
    legacy = bcrypt.hashpw(b"imported password", bcrypt.gensalt(4)).decode()
    h = hashers()
    result = h.verify("imported password", legacy)
    assert result.ok and result.needs_rehash
    assert not h.verify("imported passwore", legacy).ok
    # A password past 72 bytes can never match a raw bcrypt hash: refused, not truncated.
    long_legacy = bcrypt.hashpw(b"B" * 72, bcrypt.gensalt(4)).decode()
    assert not h.verify("B" * 72 + "extra", long_legacy).ok


def test_argon2id_hashes_verify_and_migrate_to_bcrypt() -> None:
    encoded = Argon2idHasher(memory_cost=8, time_cost=1).hash("argon password")
    h = hashers()
    result = h.verify("argon password", encoded)
    assert result.ok and result.needs_rehash
    assert not h.verify("argon passwore", encoded).ok


@pytest.mark.parametrize(
    "garbage", ["", "plain", "bcrypt-hmac-sha384$", "bcrypt-hmac-sha384$zz$nothing", "$2b$04$bad"]
)
def test_corrupt_hashes_fail_closed(garbage: str) -> None:
    assert not hashers().verify("anything", garbage).ok


def test_dummy_verify_costs_a_real_check() -> None:
    # It runs a real bcrypt check against a real hash: it must not fail on any input.
    for password in ("whatever", "x" * 5000, "\x00", ""):
        hashers().dummy_verify(password)


def test_cost_floor() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        BcryptHasher([PEPPER], cost=9)
    assert BcryptHasher([PEPPER], cost=10).cost == 10
    with pytest.raises(ValueError):
        Pepper.from_secret(b"short")
    assert "secret" not in repr(PEPPER) or "***" in repr(PEPPER)


class CountingHasher(BcryptHasher):
    """A bcrypt hasher that counts the hashes it makes."""

    def __init__(self) -> None:
        super().__init__([PEPPER], cost=4, allow_low_cost=True)
        self.made = 0

    def hash(self, password: str) -> str:
        self.made += 1
        return super().hash(password)


def test_the_unknown_account_hash_is_made_once_and_not_at_construction() -> None:
    """Every worker builds its hashers at start-up; at cost 12 a hash there took a fifth of a
    second of each start. It is made on first need (or by ``prepare``), once, even when several
    hashing threads need it at the same moment."""
    counting = CountingHasher()
    h = PasswordHashers([counting])
    assert counting.made == 0
    threads = [threading.Thread(target=h.dummy_verify, args=("guess",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    h.prepare()
    h.dummy_verify("another guess")
    assert counting.made == 1
    prepared = PasswordHashers([counting])
    prepared.prepare()
    assert counting.made == 2
