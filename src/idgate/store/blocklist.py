"""Breached-password corpora from local files, checked offline (SECURITY.md PW-08, §3).

Two formats, told apart by the first line:

* **SHA-1, sorted by hash**: lines ``<40 hex digits>[:<count>]`` in ascending order, as in the
  Have I Been Pwned "Pwned Passwords" download ("SHA-1, ordered by hash"). The file is never
  loaded: each lookup is a binary search over the file (about 35 reads for 35 GB), so the full
  corpus of breached passwords can be used on a small machine. The password is hashed with SHA-1
  only to find it in the file, as the corpus itself requires.
* **Plain text**: one password per line, loaded into memory; right for lists of up to a few
  hundred thousand entries (an organisation's own banned words, a top-N list).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from idgate.core.passwords.policy import PasswordBlocklist

_HASH_LINE = re.compile(rb"^[0-9A-Fa-f]{40}(:\d+)?\r?$")


class SortedSha1File:
    """A file of SHA-1 hashes in ascending order, searched without loading it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size

    def _key_at(self, handle: int, position: int) -> bytes | None:
        """Return the hash of the first line starting at or after ``position``."""
        offset = position
        if position > 0:
            # Back up one byte and skip to the end of that line: a line starting exactly at
            # ``position`` is then the one we read.
            offset = position - 1
            chunk = os.pread(handle, 4096, offset)
            newline = chunk.find(b"\n")
            while newline < 0 and chunk:
                offset += len(chunk)
                chunk = os.pread(handle, 4096, offset)
                newline = chunk.find(b"\n")
            if newline < 0:
                return None
            offset += newline + 1
        line = os.pread(handle, 41, offset)
        if len(line) < 40:
            return None
        return line[:40].upper()

    def contains(self, password: str) -> bool:
        target = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
        key = target.encode()
        handle = os.open(self.path, os.O_RDONLY)
        try:
            low, high = 0, self.size
            while low < high:
                middle = (low + high) // 2
                found = self._key_at(handle, middle)
                if found is not None and found < key:
                    low = middle + 1
                else:
                    high = middle
            return self._key_at(handle, low) == key
        finally:
            os.close(handle)


class PlainBlocklist:
    """Passwords one per line, held in memory."""

    def __init__(self, path: Path) -> None:
        with path.open(encoding="utf-8", errors="replace") as handle:
            self.words = frozenset(line.rstrip("\r\n") for line in handle if line.strip())

    def contains(self, password: str) -> bool:
        return password in self.words


def open_blocklist(path: Path) -> PasswordBlocklist:
    """Open the corpus at ``path`` in the format its first line shows."""
    if not path.is_file():
        raise ValueError(f"the password blocklist {path} does not exist or is not a file")
    with path.open("rb") as handle:
        first = handle.readline()
    if _HASH_LINE.match(first.rstrip(b"\n")):
        return SortedSha1File(path)
    return PlainBlocklist(path)
