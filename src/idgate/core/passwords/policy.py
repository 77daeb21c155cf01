"""The password policy of NIST SP 800-63B 5.1.1.2, with the reasons it must give.

What it checks, and nothing more (no composition rules, no forced rotation):

* length in Unicode code points after NFKC normalisation: at least ``min_length`` (15 by
  default, never below 8) and at most ``max_length`` (at least 64; the cap bounds hashing cost);
* no NUL characters (an all-NUL password would be an ambiguous secret);
* not a common or breached password, and not built from sequences, repeats, keyboard walks or
  dictionary words that an attacker tries first: the password lists and pattern matchers of the
  maintained ``zxcvbn`` package, checked offline;
* not built from context words: the product name and the account's own username;
* not in the operator's own breached-password corpus, when one is configured
  (:class:`PasswordBlocklist`, e.g. the Have I Been Pwned SHA-1 file, checked offline).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Protocol

from idgate.core.errors import WeakPassword
from idgate.core.passwords.hashers import normalize_password

#: Words of the service itself that no password should be built from (NIST: "context-specific").
PRODUCT_WORDS = ("idgate",)

# zxcvbn estimates how many guesses an attacker needs; below this a password falls to an
# online-throttled attack plus a modest offline budget. 10**8 is zxcvbn's "somewhat guessable" line.
DEFAULT_MIN_GUESSES = 10**8

# zxcvbn's matchers are quadratic in the input; it refuses input longer than this.
_ZXCVBN_MAX = 72


@cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _estimate(password: str, user_inputs: list[str]) -> dict[str, Any]:
    from zxcvbn import zxcvbn

    result: dict[str, Any] = zxcvbn(password, user_inputs=user_inputs, max_length=_ZXCVBN_MAX)
    return result


class PasswordBlocklist(Protocol):
    """A corpus of breached passwords. ``idgate.store.blocklist`` reads one from a local file.

    Example::

        class SetBlocklist:
            def __init__(self, words): self.words = frozenset(words)
            def contains(self, password): return password in self.words
    """

    def contains(self, password: str) -> bool:
        """Return whether ``password`` (exactly as given) is in the corpus."""
        ...


class PasswordPolicy:
    """Decides whether a new password may be set; raises :class:`WeakPassword` with the reason."""

    def __init__(
        self,
        min_length: int = 15,
        max_length: int = 1024,
        *,
        min_guesses: int = DEFAULT_MIN_GUESSES,
        check_common: bool = True,
        blocklists: Sequence[PasswordBlocklist] = (),
    ) -> None:
        if min_length < 8:
            raise ValueError("the minimum password length may not be below 8 (NIST SP 800-63B)")
        if max_length < 64 or max_length < min_length:
            raise ValueError("the maximum password length must be at least 64 and the minimum")
        self.min_length = min_length
        self.max_length = max_length
        self.min_guesses = min_guesses
        self.check_common = check_common
        self.blocklists = tuple(blocklists)

    def check(self, password: str, *, context: Iterable[str] = ()) -> None:
        """Raise :class:`WeakPassword` naming the first rule ``password`` breaks."""
        normalized = normalize_password(password)
        length = len(normalized)
        if length < self.min_length:
            raise WeakPassword(f"Password must be at least {self.min_length} characters long.")
        if length > self.max_length:
            raise WeakPassword(f"Password must be at most {self.max_length} characters long.")
        if "\x00" in normalized:
            raise WeakPassword("Password must not contain NUL characters.")
        for blocklist in self.blocklists:
            # Both forms: lists hold passwords as people typed them, before normalisation.
            if any(blocklist.contains(form) for form in {password, normalized}):
                raise WeakPassword(
                    "This password appears in a list of passwords exposed in data breaches."
                )
        if not self.check_common:
            return
        folded = normalized.casefold()
        if folded in _common_passwords():
            raise WeakPassword(
                "This password is too common: it appears in lists of leaked passwords."
            )
        words = [w.casefold() for w in (*PRODUCT_WORDS, *context) if w and len(w) >= 3]
        remainder = folded
        for word in words:
            remainder = remainder.replace(word, "")
        if len(remainder) < 8 and remainder != folded:
            raise WeakPassword(
                "Password must not be built from your username or the name of this service."
            )
        if length > _ZXCVBN_MAX:
            if len(set(folded)) < 5:
                raise WeakPassword("Password is too repetitive.")
            return
        estimate = _estimate(normalized, words)
        if float(estimate["guesses"]) < self.min_guesses:
            feedback = estimate.get("feedback") or {}
            reason = feedback.get("warning") or "It follows a pattern that is easy to guess."
            raise WeakPassword(f"This password is too easy to guess. {reason}".strip())
