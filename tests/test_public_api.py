from __future__ import annotations

import subprocess
import sys

import idgate


def test_all_is_complete_and_sorted() -> None:
    assert idgate.__all__ == sorted(idgate.__all__)
    for name in idgate.__all__:
        assert getattr(idgate, name) is not None


def test_importing_idgate_does_not_import_the_server() -> None:
    code = (
        "import sys, idgate; "
        "print(any(m.startswith(('sqlalchemy', 'fastapi')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
