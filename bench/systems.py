"""The systems under test: how to start each one, seed its user, and what each scenario sends."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy.engine import make_url

from bench.wrk import Request

ROOT = Path(__file__).resolve().parents[1]
USERNAME = "bench-user"
EMAIL = "bench-user@example.com"
PASSWORD = "correct horse battery staple, benchmarked"  # noqa: S105 - a benchmark account
NOT_BUILT = "n/a (not built yet)"
#: The bench measures capacity: idgate's protections against abuse would turn a login flood from
#: one address, for one account, into 429s. Per-IP limits are turned off, and the per-account
#: throttle (which counts a login as a failure until its password checks out) lets 99 logins of
#: the bench's account run at once. Applied where the setting exists.
RELAXED_IDGATE_SETTINGS = {
    "rate_limits_enabled": "false",
    "login_throttle_free_failures": "99",
    "login_lockout_failures": "100",
}


@dataclass
class Context:
    """What every system is started with."""

    run_dir: Path
    bcrypt_cost: int
    workers: int
    postgres_url: str | None = None
    redis_url: str | None = None
    #: Extra IDGATE_* settings for idgate (e.g. relaxed rate limits: the bench measures capacity).
    idgate_env: dict[str, str] = field(default_factory=dict)
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def python(self) -> str:
        return sys.executable


class System:
    """One server to measure. Subclasses say how to run it and what each scenario requests."""

    key = ""
    label = ""

    def unavailable(self, ctx: Context) -> str | None:
        """Return why this system cannot run here, or None when it can."""
        return None

    def cwd(self, workdir: Path) -> Path:
        """Where the server runs: the repository, so that ``bench.apps`` imports."""
        return ROOT

    def prepare(self, ctx: Context, workdir: Path) -> None:
        """Create what the server needs before it starts (schema, tables)."""

    def cleanup(self, ctx: Context) -> None:
        """Remove what :meth:`prepare` created outside ``workdir``."""

    def command(self, ctx: Context, workdir: Path, port: int) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def seed(self, client: httpx.Client) -> None:
        """Create the benchmark's account (over HTTP, as a user would)."""

    def login_request(self) -> Request | str:
        return NOT_BUILT

    def access_token(self, client: httpx.Client) -> str:
        """A bearer token for the protected scenarios ("" for a system without logins)."""
        request = self.login_request()
        if isinstance(request, str):
            return ""
        response = client.request(
            request.method,
            request.path,
            content=request.body,
            headers={"content-type": request.content_type},
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def requests(self, token: str) -> dict[str, Request | str]:
        """What each scenario sends; a string says why the scenario does not apply."""
        raise NotImplementedError

    def refresh_tokens(self, client: httpx.Client, count: int) -> list[str] | str:
        """``count`` fresh refresh tokens (one family each), or why there are none."""
        return "n/a (no refresh tokens)"


def _uvicorn(ctx: Context, app: str, port: int) -> list[str]:
    # The comparators run as their users run them, minus uvicorn's access log (so the ceiling is
    # a ceiling); uvicorn[standard] picks uvloop and httptools for every system alike.
    return [
        ctx.python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(ctx.workers), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def _json_credentials(path: str, username: str = USERNAME) -> Request:
    body = json.dumps({"username": username, "password": PASSWORD})
    return Request("POST", path, body=body, content_type="application/json")


class Idgate(System):
    """idgate as ``idgate serve`` runs it, on SQLite, or on PostgreSQL + Redis."""

    def __init__(self, postgres: bool = False, source: Path | None = None) -> None:
        self.postgres = postgres
        self.key = "idgate-pg" if postgres else "idgate"
        self.label = "idgate (PostgreSQL + Redis)" if postgres else "idgate (SQLite)"
        self.database: str | None = None
        #: Where the server listens once started (the guard's issuer).
        self.base_url: str | None = None
        #: Another checkout of idgate to run instead of this one (``--compare``): before/after.
        self.source = source
        if source is not None:
            self.key += "-compare"
            self.label += f" at {source.name}"

    def cwd(self, workdir: Path) -> Path:
        return workdir  # never the repository: a developer's .env there must not apply

    def unavailable(self, ctx: Context) -> str | None:
        if self.postgres and not (ctx.postgres_url and ctx.redis_url):
            return "n/a (PostgreSQL + Redis not configured: --postgres URL --redis URL)"
        return None

    def _env(self, ctx: Context, workdir: Path, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDGATE_")}
        if self.source is not None:
            env["PYTHONPATH"] = str(self.source / "src")
        env |= {
            # Bcrypt costs below 10 (smoke runs) are only accepted in the test environment.
            "IDGATE_ENVIRONMENT": "test" if ctx.bcrypt_cost < 10 else "development",
            "IDGATE_DATA_DIR": str(workdir / "data"),
            "IDGATE_HOST": "127.0.0.1",
            "IDGATE_PORT": str(port),
            "IDGATE_ISSUER": f"http://127.0.0.1:{port}",
            "IDGATE_BCRYPT_COST": str(ctx.bcrypt_cost),
            "IDGATE_WORKERS": str(ctx.workers),
        }
        if self.postgres:
            assert ctx.postgres_url and ctx.redis_url
            self.database = self.database or f"idgate_bench_{uuid.uuid4().hex[:10]}"
            url = make_url(ctx.postgres_url).set(drivername="postgresql", database=self.database)
            env["IDGATE_DATABASE_URL"] = url.render_as_string(hide_password=False)
            env["IDGATE_REDIS_URL"] = ctx.redis_url
            env["IDGATE_REDIS_PREFIX"] = f"idgate-bench:{uuid.uuid4().hex[:10]}:"
        env |= {
            f"IDGATE_{name.upper()}": value
            for name, value in RELAXED_IDGATE_SETTINGS.items()
            if name in _idgate_settings(self.source)
        }
        return env | ctx.idgate_env

    def prepare(self, ctx: Context, workdir: Path) -> None:
        env = self._env(ctx, workdir, 0)
        if self.postgres:
            assert self.database is not None
            _pg_execute(ctx, f'CREATE DATABASE "{self.database}"')
        idgate = str(Path(ctx.python).with_name("idgate"))
        subprocess.run(  # noqa: S603 - our own command
            [idgate, "migrate"], env=env, cwd=workdir, check=True, capture_output=True
        )

    def cleanup(self, ctx: Context) -> None:
        if self.database is not None:
            _pg_execute(ctx, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def command(self, ctx: Context, workdir: Path, port: int) -> tuple[list[str], dict[str, str]]:
        if self.base_url is None:  # the first start; restarts (start-up timing) keep the first
            self.base_url = f"http://127.0.0.1:{port}"
        return [str(Path(ctx.python).with_name("idgate")), "serve"], self._env(ctx, workdir, port)

    def seed(self, client: httpx.Client) -> None:
        request = _json_credentials("/register")
        response = client.post(
            request.path, content=request.body, headers={"content-type": request.content_type}
        )
        response.raise_for_status()

    def login_request(self) -> Request:
        return _json_credentials("/login")

    def requests(self, token: str) -> dict[str, Request | str]:
        return {
            "public": Request("GET", "/public"),
            "protected": Request("GET", "/profile", token=token),
            "login": self.login_request(),
            "jwks": Request("GET", "/.well-known/jwks.json"),
        }

    def refresh_tokens(self, client: httpx.Client, count: int) -> list[str] | str:
        tokens = []
        for _ in range(count):
            request = self.login_request()
            answer = client.post(
                request.path, content=request.body, headers={"content-type": "application/json"}
            ).json()
            if "refresh_token" not in answer:
                return NOT_BUILT
            tokens.append(answer["refresh_token"])
        probe = client.post("/token/refresh", json={"refresh_token": tokens[0]})
        if probe.status_code == 404:
            return NOT_BUILT
        if probe.status_code != 200 or "refresh_token" not in probe.json():
            return f"n/a (POST /token/refresh answered {probe.status_code})"
        tokens[0] = probe.json()["refresh_token"]
        return tokens


def _idgate_settings(source: Path | None) -> set[str]:
    """The names of idgate's settings, in this checkout or in ``source``."""
    code = "from idgate.config import Settings; print(*Settings.model_fields)"
    env = os.environ | ({"PYTHONPATH": str(source / "src")} if source is not None else {})
    names = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    return set(names.split())


def _pg_execute(ctx: Context, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    assert ctx.postgres_url is not None
    url = make_url(ctx.postgres_url)

    async def execute() -> None:
        connection = await asyncpg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            database=url.database or "postgres",
            timeout=10,
        )
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute())


class Guard(System):
    """A route of another service protected by ``idgate.guard`` (verifies tokens from the JWKS of
    the idgate on SQLite that the bench started; ``apps/guard_app.py``)."""

    key = "guard"
    label = "idgate.guard route"

    def __init__(self, idgate: Idgate) -> None:
        self.idgate = idgate

    def unavailable(self, ctx: Context) -> str | None:
        if importlib.util.find_spec("idgate.guard") is None:
            return NOT_BUILT
        if self.idgate.base_url is None:
            return "n/a (needs the idgate system)"
        return None

    def command(self, ctx: Context, workdir: Path, port: int) -> tuple[list[str], dict[str, str]]:
        assert self.idgate.base_url is not None
        env = os.environ | {"BENCH_IDGATE_ISSUER": self.idgate.base_url}
        return _uvicorn(ctx, "bench.apps.guard_app:app", port), env

    def access_token(self, client: httpx.Client) -> str:
        # Tokens come from idgate; the guarded service only verifies them.
        with httpx.Client(base_url=self.idgate.base_url or "", timeout=120) as idgate:
            return self.idgate.access_token(idgate)

    def requests(self, token: str) -> dict[str, Request | str]:
        return {
            "public": Request("GET", "/public"),
            "protected": Request("GET", "/profile", token=token),
            "login": "n/a (idgate logs in: see idgate)",
            "jwks": "n/a (idgate publishes it: see idgate)",
        }


class Tutorial(System):
    key = "tutorial"
    label = "tutorial app (bcrypt, HS256, dict)"

    def command(self, ctx: Context, workdir: Path, port: int) -> tuple[list[str], dict[str, str]]:
        env = os.environ | {
            "BENCH_JWT_SECRET": ctx.jwt_secret,
            "BENCH_BCRYPT_COST": str(ctx.bcrypt_cost),
            "BENCH_SEED_USERNAME": USERNAME,
            "BENCH_SEED_PASSWORD": PASSWORD,
        }
        return _uvicorn(ctx, "bench.apps.tutorial:app", port), env

    def login_request(self) -> Request:
        return _json_credentials("/login")

    def requests(self, token: str) -> dict[str, Request | str]:
        return {
            "public": Request("GET", "/public"),
            "protected": Request("GET", "/profile", token=token),
            "login": self.login_request(),
            "jwks": "n/a (HS256 shared secret, no JWKS)",
        }


class FastapiUsers(System):
    key = "fastapi-users"
    label = "fastapi-users (JWT, SQLite)"

    def _env(self, ctx: Context, workdir: Path) -> dict[str, str]:
        return os.environ | {
            "BENCH_JWT_SECRET": ctx.jwt_secret,
            "BENCH_BCRYPT_COST": str(ctx.bcrypt_cost),
            "BENCH_DB_PATH": str(workdir / "users.db"),
        }

    def prepare(self, ctx: Context, workdir: Path) -> None:
        subprocess.run(  # noqa: S603 - our own command
            [ctx.python, "-m", "bench.apps.fastapi_users_app"],
            env=self._env(ctx, workdir),
            cwd=ROOT,
            check=True,
            capture_output=True,
        )

    def command(self, ctx: Context, workdir: Path, port: int) -> tuple[list[str], dict[str, str]]:
        return _uvicorn(ctx, "bench.apps.fastapi_users_app:app", port), self._env(ctx, workdir)

    def seed(self, client: httpx.Client) -> None:
        client.post(
            "/auth/register", json={"email": EMAIL, "password": PASSWORD}
        ).raise_for_status()

    def login_request(self) -> Request:
        body = f"username={quote(EMAIL)}&password={quote(PASSWORD)}"
        return Request(
            "POST", "/auth/jwt/login", body=body, content_type="application/x-www-form-urlencoded"
        )

    def requests(self, token: str) -> dict[str, Request | str]:
        return {
            "public": Request("GET", "/public"),
            "protected": Request("GET", "/profile", token=token),
            "login": self.login_request(),
            "jwks": "n/a (HS256 shared secret, no JWKS)",
        }


class Bare(System):
    key = "bare"
    label = "bare FastAPI (no auth: the ceiling)"

    def command(self, ctx: Context, workdir: Path, port: int) -> tuple[list[str], dict[str, str]]:
        return _uvicorn(ctx, "bench.apps.bare:app", port), dict(os.environ)

    def requests(self, token: str) -> dict[str, Request | str]:
        return {
            "public": Request("GET", "/public"),
            # The ceiling of a protected route is the same async route without any auth.
            "protected": Request("GET", "/public"),
            "login": "n/a (no auth)",
            "jwks": "n/a (no auth)",
        }


def all_systems(compare: Path | None = None) -> list[System]:
    """Every system, in table order; ``compare`` adds idgate run from another checkout."""
    idgate = Idgate()
    if compare is None:
        idgates: list[System] = [idgate, Idgate(postgres=True)]
    else:
        idgates = [idgate, Idgate(source=compare), Idgate(postgres=True)]
        idgates.append(Idgate(postgres=True, source=compare))
    return [*idgates, Guard(idgate), Tutorial(), FastapiUsers(), Bare()]
