"""docs/guard.md stays true to the library: every argument and dependency is documented."""

from __future__ import annotations

import inspect
from pathlib import Path

from idgate.guard import Guard, Principal

DOC = (Path(__file__).resolve().parents[2] / "docs" / "guard.md").read_text()


def test_every_guard_argument_is_documented() -> None:
    parameters = list(inspect.signature(Guard.__init__).parameters)[1:]
    assert [name for name in parameters if f"| `{name}` |" not in DOC] == []


def test_every_dependency_and_principal_member_is_documented() -> None:
    for name in ("principal", "optional_principal", "user", "authenticated", "require_permission"):
        assert f"guard.{name}" in DOC
    for name in ("require_scope", "require_role"):
        assert f"guard.{name}(" in DOC
    public = [name for name in dir(Principal) if not name.startswith("_")]
    assert [name for name in public if f"`{name}" not in DOC] == []
