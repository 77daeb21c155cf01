"""Signing keys as files in ``<data dir>/keys``: one PEM per key plus ``keyset.json``.

``keyset.json`` names the active key and when older keys retire. A running server re-reads it when
it changes, so a key rotated from the CLI takes effect without a restart.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

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


class FileKeyStore:
    """A :class:`~idgate.core.tokens.keys.KeyProvider` backed by the data directory."""

    def __init__(self, directory: Path, clock: Clock, *, check_interval: float = 1.0) -> None:
        self.directory = ensure_private_dir(directory)
        self._clock = clock
        self._check_interval = check_interval
        self._lock = threading.Lock()
        self._keyset: KeySet | None = None
        self._mtime_ns = -1
        self._checked_at = 0.0

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST

    def ensure(self, alg: Algorithm) -> KeySet:
        """Load the key set, generating a first ``alg`` key if there is none yet."""
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise ValueError(f"{alg} keys are not kept in the key store")
        with locked(self.directory):
            if not self.manifest_path.exists():
                key = new_signing_key(alg, self._clock.now())
                self._write_key(key)
                self._write_manifest({"active": key.kid, "keys": [_entry(key)]})
        return self.reload()

    def current(self) -> KeySet:
        """Return the key set, re-reading it if the manifest changed (checked once a second)."""
        now = time.monotonic()
        if self._keyset is not None and now - self._checked_at < self._check_interval:
            return self._keyset
        with self._lock:
            self._checked_at = now
            try:
                mtime = self.manifest_path.stat().st_mtime_ns
            except FileNotFoundError:
                mtime = -1
            if self._keyset is None or mtime != self._mtime_ns:
                return self.reload()
            return self._keyset

    def reload(self) -> KeySet:
        manifest = self._read_manifest()
        keys = [self._read_key(entry) for entry in manifest["keys"]]
        self._keyset = KeySet(keys, manifest["active"])
        self._mtime_ns = self.manifest_path.stat().st_mtime_ns
        self._checked_at = time.monotonic()
        return self._keyset

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
        retire_at = entry.get("retire_at")
        return SigningKey(
            kid=entry["kid"],
            alg=alg,
            private_key=private_key_from_pem(pem, alg),
            created_at=datetime.fromisoformat(entry["created_at"]),
            retire_at=datetime.fromisoformat(retire_at) if retire_at else None,
        )


def _entry(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "created_at": key.created_at.isoformat(),
        "retire_at": key.retire_at.isoformat() if key.retire_at else None,
    }
