"""Breached-password files: the HIBP SHA-1 format by binary search, and plain lists."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import httpx
import pytest

from idgate.app import create_app
from idgate.config import Settings
from idgate.core.errors import WeakPassword
from idgate.core.passwords.policy import PasswordPolicy
from idgate.store.blocklist import PlainBlocklist, SortedSha1File, open_blocklist

BREACHED = ["correct horse battery staple", "Tr0ub4dor&3-is-long", "пароль-пароль-пароль"]


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest().upper()


def hibp_file(path: Path, passwords: list[str], noise: int = 5000, newline: str = "\r\n") -> Path:
    rng = random.Random(7)
    hashes = {sha1(p) for p in passwords}
    hashes |= {f"{rng.getrandbits(160):040X}" for _ in range(noise)}
    lines = [f"{h}:{rng.randint(1, 10**6)}" for h in sorted(hashes)]
    path.write_text(newline.join(lines) + newline)
    return path


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_sorted_sha1_file_finds_every_entry_and_nothing_else(tmp_path: Path, newline: str) -> None:
    path = hibp_file(tmp_path / "pwned.txt", BREACHED, newline=newline)
    corpus = open_blocklist(path)
    assert isinstance(corpus, SortedSha1File)
    for password in BREACHED:
        assert corpus.contains(password)
    for password in ("correct horse battery stapler", "", "x" * 100):
        assert not corpus.contains(password)


def test_every_line_is_reachable(tmp_path: Path) -> None:
    # Only known passwords, so the first and the last line are among them.
    passwords = [f"password number {n}" for n in range(300)]
    corpus = open_blocklist(hibp_file(tmp_path / "all.txt", passwords, noise=0))
    assert all(corpus.contains(p) for p in passwords)
    assert not any(corpus.contains(f"password number {n}") for n in range(300, 400))


def test_tiny_and_edge_files(tmp_path: Path) -> None:
    one = hibp_file(tmp_path / "one.txt", ["only one"], noise=0)
    assert open_blocklist(one).contains("only one")
    assert not open_blocklist(one).contains("another")
    no_newline = tmp_path / "nonl.txt"
    no_newline.write_text(sha1("last line"))
    assert open_blocklist(no_newline).contains("last line")


def test_plain_lists(tmp_path: Path) -> None:
    path = tmp_path / "banned.txt"
    path.write_text("acme corporation rocks\r\n\nSummer2026Summer2026\n")
    corpus = open_blocklist(path)
    assert isinstance(corpus, PlainBlocklist)
    assert corpus.contains("Summer2026Summer2026") and corpus.contains("acme corporation rocks")
    assert not corpus.contains("summer2026summer2026")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        open_blocklist(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="password_blocklist_file"):
        Settings(_env_file=None, password_blocklist_file=tmp_path / "nope.txt")


def test_the_policy_refuses_breached_passwords_with_the_reason(tmp_path: Path) -> None:
    corpus = open_blocklist(hibp_file(tmp_path / "pwned.txt", ["a breached passphrase here"]))
    policy = PasswordPolicy(blocklists=[corpus])
    with pytest.raises(WeakPassword, match="exposed in data breaches"):
        policy.check("a breached passphrase here")
    # Found in the form the person typed it, even when normalisation changes it.
    decomposed = "cafe\u0301 au lait every morning"
    policy = PasswordPolicy(
        blocklists=[open_blocklist(hibp_file(tmp_path / "nfd.txt", [decomposed]))]
    )
    with pytest.raises(WeakPassword, match="breaches"):
        policy.check(decomposed)
    policy.check("an unbreached passphrase here")


async def test_registration_uses_the_configured_corpus(settings: Settings, tmp_path: Path) -> None:
    path = hibp_file(tmp_path / "pwned.txt", ["purple elephants dance at dawn"])
    app = create_app(settings.model_copy(update={"password_blocklist_file": path}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        r = await client.post(
            "/register",
            json={"username": "alice", "password": "purple elephants dance at dawn"},
        )
        assert r.status_code == 422
        assert r.json() == {
            "code": "weak_password",
            "detail": "This password appears in a list of passwords exposed in data breaches.",
        }
        ok = await client.post(
            "/register", json={"username": "alice", "password": "purple elephants dance at dusk"}
        )
        assert ok.status_code == 201
