"""The example runs next to the guard tests' live idgate app: the same fixtures."""

from __future__ import annotations

from tests.guard.conftest import link, make_guard

__all__ = ["link", "make_guard"]
