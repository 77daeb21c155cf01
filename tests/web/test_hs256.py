"""HS256 is an explicit opt-in: it works, and its secret never appears in the JWKS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from idgate.app import create_app
from idgate.config import Settings
from tests.helpers import login_token, register

SECRET = "a-sufficiently-long-random-secret-for-hs256-0123456789"


@pytest.fixture
async def hs_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        settings.model_copy(
            update={
                "jwt_algorithm": "HS256",
                "jwt_secret": __import__("pydantic").SecretStr(SECRET),
            }
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_hs256_flow(hs_client: httpx.AsyncClient) -> None:
    await register(hs_client)
    token = await login_token(hs_client)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert (
        await hs_client.get("/profile", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    assert (await hs_client.get("/.well-known/jwks.json")).json() == {"keys": []}
    forged = jwt.encode(
        jwt.decode(token, options={"verify_signature": False}),
        "x" * 32,
        algorithm="HS256",
        headers={"kid": jwt.get_unverified_header(token)["kid"], "typ": "at+jwt"},
    )
    r = await hs_client.get("/profile", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
