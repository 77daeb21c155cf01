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


def test_guard_all_is_complete_and_sorted() -> None:
    import idgate.guard

    assert idgate.guard.__all__ == sorted(idgate.guard.__all__)
    for name in idgate.guard.__all__:
        assert getattr(idgate.guard, name) is not None


#: What a service using idgate.guard need not install: the server's own dependencies.
SERVER_PACKAGES = (
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "asyncpg",
    "redis",
    "pydantic_settings",
    "typer",
    "uvicorn",
    "jinja2",
    "limits",
    "structlog",
    "argon2",
    "zxcvbn",
    "authlib",
    "joserfc",
    "httpx2",
)
SERVER_MODULES = (
    "idgate.app",
    "idgate.cli",
    "idgate.config",
    "idgate.logs",
    "idgate.oauth",
    "idgate.services",
    "idgate.store",
    "idgate.web",
)


def test_importing_the_guard_does_not_import_the_server() -> None:
    code = (
        "import sys, idgate.guard; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('idgate') "
        "or m.split('.')[0] in " + repr(SERVER_PACKAGES) + ")))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout.split()
    assert not [m for m in loaded if m.split(".")[0] in SERVER_PACKAGES]
    assert not [m for m in loaded if m.startswith(SERVER_MODULES)]
    assert "idgate.guard.guard" in loaded


def test_the_guard_works_without_the_server_dependencies_installed() -> None:
    # A service with only FastAPI, PyJWT, cryptography and httpx: every other package of the
    # server (and the optional ones FastAPI and cryptography use when present) is made
    # impossible to import, and the guard still verifies a token.
    code = f"""
import asyncio, importlib.abc, sys
BLOCKED = {(*SERVER_PACKAGES, "bcrypt", "multipart", "python_multipart")!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
        return None
sys.meta_path.insert(0, Block())
import jwt
from idgate.guard import Guard
secret = b"s" * 32
guard = Guard("https://id.example.com", "idgate", shared_secret=secret)
from idgate.core.tokens.keys import hmac_signing_key
kid = hmac_signing_key(secret, __import__("datetime").datetime.now()).kid
now = int(__import__("time").time())
token = jwt.encode(
    {{"iss": "https://id.example.com", "aud": "idgate", "sub": "alice", "iat": now, "nbf": now,
      "exp": now + 60, "jti": "1"}},
    secret, algorithm="HS256", headers={{"kid": kid, "typ": "at+jwt"}},
)
print(asyncio.run(guard.verify_token(token)).subject)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "alice"
