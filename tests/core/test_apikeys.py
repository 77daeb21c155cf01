"""The API-key format: 256 random bits, a recognisable prefix, a checksum, stored as SHA-256."""

from __future__ import annotations

import base64
import hashlib
import re

from idgate.core.apikeys import (
    KEY_LENGTH,
    KEY_PATTERN,
    PREFIX,
    checksum,
    generate_key,
    hash_key,
    is_well_formed,
)


def test_keys_are_unique_high_entropy_and_unstructured() -> None:
    keys = [generate_key() for _ in range(100)]
    assert len(set(keys)) == 100
    randoms = [k[len(PREFIX) : -6] for k in keys]
    for key, random_part in zip(keys, randoms, strict=True):
        assert key.startswith("idg_") and len(key) == KEY_LENGTH == 53
        assert len(random_part) >= 43
        assert len(base64.urlsafe_b64decode(random_part + "=")) == 32  # 256 bits
        assert KEY_PATTERN.fullmatch(key) and is_well_formed(key)
    # No structure beyond the prefix: the random parts share no common prefix or suffix.
    assert len({r[:3] for r in randoms}) > 50 and len({r[-3:] for r in randoms}) > 50


def test_checksum_catches_typos_and_random_strings() -> None:
    key = generate_key()
    body, check = key[:-6], key[-6:]
    assert checksum(body) == check
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:] + check
    assert not is_well_formed(flipped)
    assert not is_well_formed(key[:-1])
    assert not is_well_formed("idg_" + "A" * 49)
    assert not is_well_formed("ghp_" + key[4:])
    assert not is_well_formed(key + " ")


def test_a_scanner_finds_keys_in_text() -> None:
    key = generate_key()
    text = f"config:\n  token = '{key}'\n  other = idg_short\n"
    found = [m.group(0) for m in re.finditer(r"\bidg_[A-Za-z0-9_-]{43}[0-9A-Za-z]{6}\b", text)]
    assert [f for f in found if is_well_formed(f)] == [key]


def test_stored_form_is_sha256() -> None:
    key = generate_key()
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert key not in hash_key(key)
