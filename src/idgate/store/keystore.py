"""Signing keys as files in ``<data dir>/keys``: one PEM per key plus ``keyset.json``.

``keyset.json`` names the active key and when older keys retire. A running server re-reads it when
it changes, so a key rotated from the CLI takes effect without a restart.

Rotation (HD-08) generates a new key, makes it the active one, and gives the previous one a
retirement time: until then it still verifies and stays in the JWKS; from then on the key set
leaves it out, and the next rotation deletes its file. Every write happens under the directory's
lock and replaces files atomically, so a server reading the set never sees half a rotation.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from idgate.core.clock import Clock
from idgate.core.tokens.keys import (
    ASYMMETRIC_ALGORITHMS,
    Algorithm,
    KeySet,
    SigningKey,
    new_signing_key,
    private_key_from_pem,
    private_key_to_pem,
)
from idgate.store.secrets_dir import ensure_private_dir, locked, write_private

MANIFEST = "keyset.json"


KeyStatus = Literal["active", "verify-only", "retired"]


@dataclass(frozen=True)
class KeyInfo:
    """What ``idgate keys list`` shows about one key; never the key material."""

    kid: str
    alg: Algorithm
    created_at: datetime
    status: KeyStatus
    retire_at: datetime | None


@dataclass(frozen=True)
class Rotation:
    """The outcome of :meth:`FileKeyStore.rotate`."""

    new: SigningKey
    previous: SigningKey
    previous_retires_at: datetime
    deleted: tuple[str, ...]


class FileKeyStore:
    """A :class:`~idgate.core.tokens.keys.KeyProvider` backed by the data directory.

    ``check_interval``: how often (on the injected clock) a running server looks for a changed
    manifest. Keys past their retirement time are left out of :meth:`current` at once.
    """

    def __init__(
        self, directory: Path, clock: Clock, *, check_interval: timedelta = timedelta(seconds=1)
    ) -> None:
        self.directory = ensure_private_dir(directory)
        self._clock = clock
        self._check_interval = check_interval
        self._lock = threading.Lock()
        self._keyset: KeySet | None = None
        self._view: KeySet | None = None
        self._view_until: datetime | None = None
        self._signature: tuple[int, int, int] | None = None
        self._checked_at: datetime | None = None

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST

    def ensure(self, alg: Algorithm) -> KeySet:
        """Load the key set, generating a first ``alg`` key if there is none yet."""
        _require_asymmetric(alg)
        with locked(self.directory):
            if not self.manifest_path.exists():
                key = new_signing_key(alg, self._clock.now())
                self._write_key(key)
                self._write_manifest({"active": key.kid, "keys": [_entry(key)]})
        return self.reload()

    def current(self) -> KeySet:
        """Return the usable key set, re-reading the manifest if it changed.

        The manifest is checked at most once per ``check_interval``; retired keys are dropped as
        soon as the clock passes their retirement time.
        """
        now = self._clock.now()
        with self._lock:
            if self._keyset is None or self._due(now):
                self._checked_at = now
                if self._keyset is None or self._manifest_signature() != self._signature:
                    self._load()
            return self._usable(now)

    def reload(self) -> KeySet:
        """Re-read the manifest and keys now; return the usable key set."""
        with self._lock:
            self._load()
            return self._usable(self._clock.now())

    def describe(self) -> list[KeyInfo]:
        """Return every key in the manifest with its status at the clock's current time."""
        now = self._clock.now()
        manifest = self._read_manifest()
        infos = []
        for entry in manifest["keys"]:
            retire_at = _parse_time(entry.get("retire_at"))
            status: KeyStatus
            if entry["kid"] == manifest["active"]:
                status = "active"
            elif retire_at is not None and retire_at <= now:
                status = "retired"
            else:
                status = "verify-only"
            infos.append(
                KeyInfo(
                    kid=entry["kid"],
                    alg=entry["alg"],
                    created_at=datetime.fromisoformat(entry["created_at"]),
                    status=status,
                    retire_at=retire_at,
                )
            )
        return infos

    def rotate(self, alg: Algorithm | None, *, overlap: timedelta) -> Rotation:
        """Make a new key the active one; the previous one verifies for ``overlap`` more.

        ``alg`` defaults to the algorithm of the current active key. ``overlap`` must cover the
        longest lifetime of a token the previous key signed (access-token TTL plus leeway);
        ``timedelta(0)`` retires it at once (a compromised key). Keys already retired are
        deleted, file and all.
        """
        if overlap < timedelta(0):
            raise ValueError("the overlap cannot be negative")
        chosen: Algorithm = alg if alg is not None else self._active_algorithm()
        _require_asymmetric(chosen)
        # Generated before taking the lock (RSA takes a moment): servers reading the key set
        # wait on that lock.
        key = new_signing_key(chosen, self._clock.now())
        with locked(self.directory):
            manifest = self._read_manifest()
            now = self._clock.now()
            entries: list[dict[str, Any]] = manifest["keys"]
            previous_entry = next(e for e in entries if e["kid"] == manifest["active"])
            retires_at = now + overlap
            deleted = []
            kept: list[dict[str, Any]] = []
            for entry in entries:
                retire_at = _parse_time(entry.get("retire_at"))
                if entry is not previous_entry and retire_at is not None and retire_at <= now:
                    deleted.append(entry["kid"])
                    continue
                if entry is previous_entry:
                    # Never postpone a retirement already set to an earlier time.
                    entry["retire_at"] = min(retire_at or retires_at, retires_at).isoformat()
                kept.append(entry)
            self._write_key(key)
            kept.append(_entry(key))
            self._write_manifest({"active": key.kid, "keys": kept})
            for kid in deleted:
                self._key_path(kid).unlink(missing_ok=True)
            previous = self._read_key(previous_entry)
        self.reload()
        return Rotation(
            new=key,
            previous=previous,
            previous_retires_at=previous.retire_at or retires_at,
            deleted=tuple(deleted),
        )

    def _active_algorithm(self) -> Algorithm:
        manifest = self._read_manifest()
        alg: Algorithm = next(e["alg"] for e in manifest["keys"] if e["kid"] == manifest["active"])
        return alg

    def _due(self, now: datetime) -> bool:
        if self._checked_at is None:
            return True
        # abs(): a wall clock stepped backwards must not stop the checks.
        return abs(now - self._checked_at) >= self._check_interval

    def _usable(self, now: datetime) -> KeySet:
        assert self._keyset is not None
        if self._view is None or (self._view_until is not None and now >= self._view_until):
            self._view = self._keyset.usable_at(now)
            self._view_until = self._keyset.next_retirement(now)
        return self._view

    def _load(self) -> None:
        # Under the directory lock, so a rotation in another process is seen whole.
        with locked(self.directory):
            signature = self._manifest_signature()
            manifest = self._read_manifest()
            keys = [self._read_key(entry) for entry in manifest["keys"]]
        self._keyset = KeySet(keys, manifest["active"])
        self._signature = signature
        self._view = None

    def _manifest_signature(self) -> tuple[int, int, int] | None:
        try:
            stat = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        # The manifest is replaced, never edited, so a new inode means a new manifest even
        # where timestamps are coarse.
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _read_manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.manifest_path.read_text())
        return data

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        write_private(self.manifest_path, json.dumps(manifest, indent=2).encode())

    def _key_path(self, kid: str) -> Path:
        # kids are RFC 7638 thumbprints (base64url); refuse anything that could leave the folder.
        if not kid or not all(c.isalnum() or c in "-_" for c in kid):
            raise ValueError(f"invalid kid {kid!r} in the key manifest")
        return self.directory / f"{kid}.pem"

    def _write_key(self, key: SigningKey) -> None:
        if isinstance(key.private_key, bytes):
            raise ValueError("symmetric keys are not kept in the key store")
        write_private(self._key_path(key.kid), private_key_to_pem(key.private_key))

    def _read_key(self, entry: dict[str, Any]) -> SigningKey:
        alg: Algorithm = entry["alg"]
        pem = self._key_path(entry["kid"]).read_bytes()
        return SigningKey(
            kid=entry["kid"],
            alg=alg,
            private_key=private_key_from_pem(pem, alg),
            created_at=datetime.fromisoformat(entry["created_at"]),
            retire_at=_parse_time(entry.get("retire_at")),
        )


def _require_asymmetric(alg: str) -> None:
    if alg not in ASYMMETRIC_ALGORITHMS:
        raise ValueError(
            f"{alg} keys are not kept in the key store: choose one of "
            + ", ".join(ASYMMETRIC_ALGORITHMS)
        )


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _entry(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "created_at": key.created_at.isoformat(),
        "retire_at": key.retire_at.isoformat() if key.retire_at else None,
    }
