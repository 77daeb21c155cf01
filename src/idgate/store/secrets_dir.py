"""Secrets kept as files in the data directory, created on first run with owner-only permissions.

Files are created with ``O_EXCL`` and mode 0600 (the directory 0700) under an exclusive lock, so
several workers starting at once agree on one secret, and restarts reuse what the first run made.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if needed and return it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` across processes."""
    ensure_private_dir(directory)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def read_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """Return the secret stored at ``path``, generating it on first use."""
    with locked(path.parent):
        if path.exists():
            data = path.read_bytes()
            if len(data) < nbytes:
                raise ValueError(f"{path} holds a secret shorter than {nbytes} bytes")
            return data
        data = secrets.token_bytes(nbytes)
        write_private(path, data)
        return data
