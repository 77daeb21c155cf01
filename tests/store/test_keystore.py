"""Signing keys on disk: owner-only files, reused across restarts, reloaded when rotated."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from idgate.core.clock import FixedClock
from idgate.core.tokens.keys import new_signing_key, private_key_to_pem
from idgate.store.keystore import FileKeyStore
from idgate.store.secrets_dir import read_or_create_secret, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_first_run_generates_private_files_and_restarts_reuse_them(
    tmp_path: Path, alg: str
) -> None:
    directory = tmp_path / "keys"
    first = FileKeyStore(directory, FixedClock()).ensure(alg)  # type: ignore[arg-type]
    assert mode(directory) == 0o700
    pem = directory / f"{first.active.kid}.pem"
    assert mode(pem) == 0o600 and mode(directory / "keyset.json") == 0o600
    second = FileKeyStore(directory, FixedClock()).ensure(alg)  # type: ignore[arg-type]
    assert second.active.kid == first.active.kid
    assert list(second.keys) == [first.active.kid]


def test_a_changed_manifest_is_picked_up_without_restart(tmp_path: Path) -> None:
    clock = FixedClock()
    store = FileKeyStore(tmp_path / "keys", clock, check_interval=timedelta(0))
    old = store.ensure("EdDSA").active
    new = new_signing_key("EdDSA", clock.now())
    write_private(tmp_path / "keys" / f"{new.kid}.pem", private_key_to_pem(new.private_key))  # type: ignore[arg-type]
    manifest = json.loads((tmp_path / "keys" / "keyset.json").read_text())
    manifest["keys"].append(
        {"kid": new.kid, "alg": "EdDSA", "created_at": clock.now().isoformat(), "retire_at": None}
    )
    manifest["active"] = new.kid
    write_private(tmp_path / "keys" / "keyset.json", json.dumps(manifest).encode())
    os.utime(tmp_path / "keys" / "keyset.json", ns=(1, 10**18))
    current = store.current()
    assert current.active.kid == new.kid
    assert current.get(old.kid) is not None


def test_a_manifest_cannot_point_outside_its_folder(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys", FixedClock())
    store.ensure("EdDSA")
    manifest = json.loads((tmp_path / "keys" / "keyset.json").read_text())
    manifest["keys"][0]["kid"] = "../../etc/passwd"
    manifest["active"] = "../../etc/passwd"
    write_private(tmp_path / "keys" / "keyset.json", json.dumps(manifest).encode())
    with pytest.raises(ValueError, match="invalid kid"):
        store.reload()


def _make_secret(directory: str, queue: multiprocessing.Queue[bytes]) -> None:
    queue.put(read_or_create_secret(Path(directory) / "pepper"))


def test_concurrent_first_runs_agree_on_one_secret(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[bytes] = context.Queue()
    processes = [
        context.Process(target=_make_secret, args=(str(tmp_path), queue)) for _ in range(4)
    ]
    for process in processes:
        process.start()
    secrets = {queue.get(timeout=60) for _ in processes}
    for process in processes:
        process.join(timeout=60)
    assert len(secrets) == 1
    assert mode(tmp_path / "pepper") == 0o600


@pytest.mark.parametrize(
    ("first", "second"), [("EdDSA", None), ("ES256", "RS256"), ("RS256", "EdDSA")]
)
def test_rotation_keeps_the_previous_key_verifying_until_it_retires(
    tmp_path: Path, first: str, second: str | None
) -> None:
    clock = FixedClock()
    store = FileKeyStore(tmp_path / "keys", clock, check_interval=timedelta(0))
    old = store.ensure(first).active  # type: ignore[arg-type]
    rotation = store.rotate(second, overlap=timedelta(minutes=16))  # type: ignore[arg-type]
    assert rotation.previous.kid == old.kid
    assert rotation.new.alg == (second or first)
    assert rotation.previous_retires_at == clock.now() + timedelta(minutes=16)
    keys = store.current()
    assert keys.active.kid == rotation.new.kid
    assert keys.get(old.kid) is not None
    assert {k["kid"] for k in keys.jwks()["keys"]} == {old.kid, rotation.new.kid}
    assert [(k.kid, k.status) for k in store.describe()] == [
        (old.kid, "verify-only"),
        (rotation.new.kid, "active"),
    ]
    assert mode(tmp_path / "keys" / f"{rotation.new.kid}.pem") == 0o600
    # At its retirement time the old key leaves the set: no JWKS entry, no verification.
    clock.advance(timedelta(minutes=16))
    keys = store.current()
    assert keys.get(old.kid) is None
    assert [k["kid"] for k in keys.jwks()["keys"]] == [rotation.new.kid]
    assert [k.status for k in store.describe()] == ["retired", "active"]
    # The next rotation deletes it, file and all.
    third = store.rotate(None, overlap=timedelta(minutes=16))
    assert third.deleted == (old.kid,)
    assert not (tmp_path / "keys" / f"{old.kid}.pem").exists()
    assert [k.kid for k in store.describe()] == [rotation.new.kid, third.new.kid]


def test_retiring_at_once_and_never_later_than_planned(tmp_path: Path) -> None:
    clock = FixedClock()
    store = FileKeyStore(tmp_path / "keys", clock)
    first = store.ensure("EdDSA").active
    second = store.rotate(None, overlap=timedelta(0))
    assert store.current().get(first.kid) is None  # a leaked key: gone at once
    third = store.rotate(None, overlap=timedelta(minutes=16))
    assert third.previous.kid == second.new.kid
    assert store.current().get(second.new.kid) is not None
    with pytest.raises(ValueError, match="negative"):
        store.rotate(None, overlap=timedelta(seconds=-1))
    with pytest.raises(ValueError, match="not kept in the key store"):
        store.rotate("HS256", overlap=timedelta(0))


def test_a_running_server_sees_a_rotation_after_its_check_interval(tmp_path: Path) -> None:
    clock = FixedClock()
    server = FileKeyStore(tmp_path / "keys", clock)  # checks once a second, on its clock
    old = server.ensure("EdDSA").active
    assert server.current().active.kid == old.kid
    rotation = FileKeyStore(tmp_path / "keys", clock).rotate(None, overlap=timedelta(minutes=16))
    assert server.current().active.kid == old.kid  # not checked yet
    clock.advance(seconds=1)
    current = server.current()
    assert current.active.kid == rotation.new.kid
    assert current.get(old.kid) is not None
