"""Error shape, security headers, discovery and health."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from idgate.app import create_app
from idgate.config import Settings

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/public"),
        ("GET", "/profile"),
        ("POST", "/login"),
        ("GET", "/nope"),
        ("GET", "/.well-known/jwks.json"),
        ("TRACE", "/"),
        ("GET", "/health"),
    ],
)
async def test_every_response_has_the_security_headers(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    r = await client.request(method, path)
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert r.headers["x-request-id"]
    assert "server" not in r.headers and "x-powered-by" not in r.headers
    assert "strict-transport-security" not in r.headers  # served over http here


async def test_credentials_are_never_cached(client: httpx.AsyncClient) -> None:
    r = await client.post("/login", json={"username": "x", "password": "y"})
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"


async def test_errors_share_one_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/nope")
    assert r.status_code == 404 and r.json() == {"code": "not_found", "detail": "Not Found"}
    r = await client.request("TRACE", "/public")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    r = await client.get("/.git/HEAD")
    assert r.status_code == 404


async def test_request_ids_are_echoed_only_when_safe(client: httpx.AsyncClient) -> None:
    r = await client.get("/public", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/public", headers={"X-Request-ID": "bad id\r\nSet-Cookie: x=y"[:20]})
    assert r.headers["x-request-id"] != "bad id"


async def test_jwks(client: httpx.AsyncClient) -> None:
    r = await client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=300"
    (key,) = r.json()["keys"]
    assert key["kty"] == "OKP" and key["alg"] == "EdDSA" and key["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(key)


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/health/ready")).json() == {"status": "ok"}


async def test_readiness_fails_when_the_database_is_gone(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        environment="test",
        data_dir=tmp_path,
        bcrypt_cost=4,
        database_url="postgresql://nobody@127.0.0.1:1/none",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/health/ready")
    assert r.status_code == 503 and r.json()["code"] == "unavailable"
    assert r.headers["retry-after"] == "5"


@pytest.mark.redis
async def test_readiness_checks_redis_when_configured(
    settings: Settings, redis_url: str, redis_prefix: str
) -> None:
    for url, expected in [(redis_url, 200), ("redis://127.0.0.1:1/0", 503)]:
        app = create_app(
            settings.model_copy(update={"redis_url": SecretStr(url), "redis_prefix": redis_prefix})
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                r = await c.get("/health/ready")
        assert r.status_code == expected, r.text
        if expected == 503:
            assert r.json()["detail"] == "Redis is not reachable."


async def test_unexpected_errors_are_a_generic_500(app: FastAPI) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail /etc/idgate")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"code": "internal_error", "detail": "Something went wrong on our side."}
    assert "secret internal detail" not in r.text and "Traceback" not in r.text


async def test_docs_in_development(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).status_code == 200
    r = await client.get("/docs")
    assert r.status_code == 200 and "cdn.jsdelivr.net" in r.headers["content-security-policy"]


def production_settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        _env_file=None,
        environment="production",
        data_dir=tmp_path,
        issuer="https://id.example.test",
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("docs_enabled", [None, True])
async def test_docs_are_off_in_production_unless_enabled(
    tmp_path: Path, docs_enabled: bool | None
) -> None:
    app = create_app(production_settings(tmp_path, docs_enabled=docs_enabled))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://id.example.test") as c:
            expected = 200 if docs_enabled else 404
            for path in ("/docs", "/redoc", "/openapi.json"):
                assert (await c.get(path)).status_code == expected
            r = await c.get("/public")
            assert r.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
