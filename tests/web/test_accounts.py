"""Registration and login over HTTP: the PW-, LG-, IN- and AU- items of SECURITY.md."""

from __future__ import annotations

import json
import logging
import secrets
import string
import unicodedata
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from idgate.app import create_app
from idgate.config import Settings
from idgate.services import Services
from tests.helpers import GOOD_PASSWORD, login_token, register


def services_of(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


async def login(client: httpx.AsyncClient, username: str, password: Any) -> httpx.Response:
    return await client.post("/login", json={"username": username, "password": password})


# --- registration -----------------------------------------------------------------------------


async def test_register_returns_the_account_without_secrets(client: httpx.AsyncClient) -> None:
    r = await register(client)
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "username", "roles", "created_at"}
    assert body["roles"] == ["user"]
    assert GOOD_PASSWORD not in r.text


@pytest.mark.parametrize("variant", ["alice", "ALICE", " Alice ", "\uff41\uff4c\uff49\uff43\uff45"])
async def test_duplicate_usernames_are_refused_case_insensitively(
    client: httpx.AsyncClient, variant: str
) -> None:
    assert (await register(client, "Alice")).status_code == 201
    r = await register(client, variant)
    assert r.status_code == 409
    assert r.json() == {"code": "username_taken", "detail": "This username is already taken."}
    # and both spellings log in to the one account
    assert await login_token(client, variant)


async def test_privileged_fields_are_ignored(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/register",
        json={
            "username": "mallory",
            "password": GOOD_PASSWORD,
            "roles": ["admin"],
            "role": "admin",
            "is_admin": True,
            "id": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert r.status_code == 201
    assert r.json()["roles"] == ["user"]
    assert r.json()["id"] != "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("username", "reason"),
    [("ab", "at least 3"), ("a b c", "only letters"), ("<script>", "only letters")],
)
async def test_invalid_usernames_get_a_reason(
    client: httpx.AsyncClient, username: str, reason: str
) -> None:
    r = await register(client, username)
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_username"
    assert reason in r.json()["detail"]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short pass", "at least 15"),
        ("qwertyuiopasdfgh", "too easy to guess"),
        ("idgateidgateidgate", "name of this service"),
        ("alicealicealice1", "username"),
        ("\x00" * 16, "NUL"),
        ("x" * 1025, "at most 1024"),
    ],
)
async def test_refused_passwords_say_why(
    client: httpx.AsyncClient, password: str, reason: str
) -> None:
    r = await register(client, "alice", password)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "weak_password"
    assert reason in r.json()["detail"]
    assert (await login(client, "alice", password)).status_code == 401  # nothing was created


async def test_password_length_boundaries_count_code_points(client: httpx.AsyncClient) -> None:
    r = await register(client, "ann1", "€uro-Ünïcødé-ß")  # 14 characters
    assert r.status_code == 422 and "at least 15" in r.json()["detail"]
    r = await register(client, "ann2", "€uro-Ünïcødé-ß!")  # 15 characters, 23 bytes
    assert r.status_code == 201, r.text


# --- passwords round trip (PW-02 .. PW-07) ----------------------------------------------------


async def test_64_random_characters_work_and_every_one_counts(client: httpx.AsyncClient) -> None:
    alphabet = string.ascii_letters + string.digits + string.punctuation + " "
    password = "".join(secrets.choice(alphabet) for _ in range(64))
    assert (await register(client, "alice", password)).status_code == 201
    assert (await login(client, "alice", password)).status_code == 200
    assert (await login(client, "alice", password[:63])).status_code == 401


async def test_no_truncation_past_72_bytes(client: httpx.AsyncClient) -> None:
    password = "A" * 72 + "Zq9!"
    # 'A'*72 is refused by the policy as repetitive, so prefix it with something unguessable
    password = "k#8Lq2!vZp" + password
    assert (await register(client, "alice", password)).status_code == 201
    assert (await login(client, "alice", password)).status_code == 200
    assert (await login(client, "alice", password[:82])).status_code == 401
    assert (await login(client, "alice", password[:-1] + "?")).status_code == 401
    assert (await login(client, "alice", password.upper())).status_code == 401


async def test_long_non_ascii_passwords(client: httpx.AsyncClient) -> None:
    password = "ünïcödé pässwörd mit ümläüten ünd mëhr als zweiundsiebzig bytes ¡¿"
    assert len(password.encode()) > 72
    assert (await register(client, "alice", password)).status_code == 201
    assert (await login(client, "alice", password)).status_code == 200


async def test_unicode_is_normalised_on_set_and_verify(client: httpx.AsyncClient) -> None:
    composed = "blühende \u00e4pfel am fluss"
    assert (await register(client, "alice", composed)).status_code == 201
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert (await login(client, "alice", decomposed)).status_code == 200
    assert (await login(client, "alice", composed.replace("\u00e4", "a"))).status_code == 401


async def test_nul_bytes_are_refused_when_set_and_harmless_at_login(
    client: httpx.AsyncClient,
) -> None:
    r = await register(client, "alice", "abc\x00" + "Zx8#kLp2!qVw7@mR")
    assert r.status_code == 422 and "NUL" in r.json()["detail"]
    await register(client, "alice")
    assert (await login(client, "alice", GOOD_PASSWORD + "\x00")).status_code == 401
    assert (await login(client, "alice", "\x00" * 16)).status_code == 401


@pytest.mark.parametrize(
    "password",
    [
        "lowercase words only here",
        "~`!@#$%^&*()[]{}<>\\|;:'\",./? spaces",
        "🔐 ключ 鍵 clé 🗝️ llave",
    ],
)
async def test_any_characters_are_accepted(client: httpx.AsyncClient, password: str) -> None:
    assert (await register(client, "alice", password)).status_code == 201
    assert (await login(client, "alice", password)).status_code == 200


# --- login answers reveal nothing (LG-01, PW-04) ----------------------------------------------


def comparable(response: httpx.Response) -> tuple[int, str, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in response.headers.items() if k != "x-request-id")
    return response.status_code, response.text, headers


async def test_every_login_failure_looks_the_same(app: FastAPI, client: httpx.AsyncClient) -> None:
    await register(client, "alice")
    await register(client, "dave")
    services = services_of(app)
    async with services.uow_factory() as uow:
        dave = await uow.users.get_by_username("dave")
        assert dave is not None
        await uow.users.set_disabled(dave.id, True)
        await uow.commit()
    attempts: list[tuple[str, Any]] = [
        ("alice", "wrong password, long enough"),
        ("ghost", GOOD_PASSWORD),
        ("dave", GOOD_PASSWORD),  # disabled, right password
        ("alice", "a" * 73),
        ("ghost", "a" * 73),
        ("alice", "a" * 2000),
        ("ghost", "a" * 2000),
        ("alice' OR '1'='1", GOOD_PASSWORD),
        ("x' || pg_sleep(5)--", GOOD_PASSWORD),
        ("ali\x00ce", GOOD_PASSWORD),
        ("alice\x00", GOOD_PASSWORD),
        ("\u202ealice\r\n", GOOD_PASSWORD),
    ]
    responses = []
    for number, (username, password) in enumerate(attempts):
        # One client address each, so the per-IP rate limit does not answer first.
        transport = httpx.ASGITransport(app=app, client=(f"198.51.100.{number + 1}", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            responses.append(await login(c, username, password))
    first = comparable(responses[0])
    assert first[0] == 401
    assert json.loads(first[1]) == {"code": "invalid_credentials", "detail": "Invalid credentials"}
    for response in responses[1:]:
        assert comparable(response) == first


async def test_a_megabyte_password_is_refused_before_hashing(client: httpx.AsyncClient) -> None:
    r = await login(client, "alice", "a" * 1_000_000)
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


async def test_login_failures_and_successes_are_audited(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await register(client)
    await login(client, "alice", "wrong password, long enough")
    await login(client, "ghost", "wrong password, long enough")
    await login_token(client)
    async with services_of(app).uow_factory() as uow:
        events = list(reversed(await uow.audit.list()))
    kinds = [(e.type, e.reason) for e in events]
    assert kinds == [
        ("user.registered", None),
        ("login.failed", "bad_password"),
        ("login.failed", "unknown_user"),
        ("login.succeeded", None),
        ("token.issued", None),
    ]
    assert all(e.ip == "203.0.113.7" and e.request_id for e in events)


async def test_login_rehashes_with_a_raised_cost(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await register(client)

    async def stored_hash(application: FastAPI) -> str:
        async with services_of(application).uow_factory() as uow:
            user = await uow.users.get_by_username("alice")
        assert user is not None and user.password_hash
        return user.password_hash

    before = await stored_hash(app)
    assert "$2b$04$" in before
    # The same deployment restarted with a higher cost: the next login upgrades the hash.
    upgraded = create_app(settings.model_copy(update={"bcrypt_cost": 5}))
    async with upgraded.router.lifespan_context(upgraded):
        transport = httpx.ASGITransport(app=upgraded)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            await login_token(c)
            after = await stored_hash(upgraded)
            assert "$2b$05$" in after and after != before
            await login_token(c)


# --- strict input (IN-01, IN-04, IN-05, CSRF-03) -------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "password": 1234567890123456789},
        {"username": "alice", "password": ["secret-in-a-list"]},
        {"username": "alice", "password": None},
        {"username": {"$ne": 1}, "password": "secret-value-here"},
        {"username": "alice"},
        {"username": "alice", "password": "p" * 5000},
    ],
)
async def test_validation_errors_never_echo_the_input(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    for path in ("/login", "/register"):
        r = await client.post(path, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "validation_error"
        for value in ("1234567890123456789", "secret-in-a-list", "secret-value-here", "ppppp"):
            assert value not in r.text
        assert "input" not in r.text


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", '{"username":"alice","password":"correct horse battery staple"}'),
        ("application/x-www-form-urlencoded", "username=alice&password=x"),
        ("multipart/form-data; boundary=x", "--x--"),
        (None, '{"username":"alice","password":"correct horse battery staple"}'),
    ],
)
async def test_only_json_bodies_are_accepted(
    client: httpx.AsyncClient, content_type: str | None, content: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    for path in ("/register", "/login"):
        r = await client.post(path, content=content, headers=headers)
        assert r.status_code == 415
        assert r.json()["code"] == "unsupported_media_type"


async def test_bad_json_and_deep_nesting_are_400s(client: httpx.AsyncClient) -> None:
    headers = {"content-type": "application/json"}
    r = await client.post("/login", content=b'{"username": "a", "password": ', headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = await client.post("/login", content=b"\xff\xfe{}", headers=headers)
    assert r.status_code in (400, 422)
    deep = "[" * 10_000 + "]" * 10_000
    r = await client.post("/login", content=deep.encode(), headers=headers)
    assert r.status_code in (400, 413, 422)


async def test_a_10mb_body_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/register", content=b"x" * 10_000_000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


async def test_get_on_login_is_not_allowed(client: httpx.AsyncClient) -> None:
    r = await client.get("/login")
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"


# --- no secrets in logs (AU-02, AU-03) --------------------------------------------------------


async def test_logs_hold_no_passwords_or_tokens(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    from idgate.logs import json_formatter

    formatter = json_formatter()
    with caplog.at_level(logging.DEBUG):
        await register(client)
        token = await login_token(client)
        await client.get("/profile", headers={"Authorization": f"Bearer {token}"})
        await client.get(f"/profile?access_token={token}")
        await login(client, "alice", "the wrong password here")
        await login(client, "evil\n2026-01-01T00:00:00Z INFO login_success user=admin", "x" * 20)
    lines = [
        formatter.format(record)
        for record in caplog.records
        if record.name.startswith(("idgate", "uvicorn"))
    ]
    text = "\n".join(lines)
    assert GOOD_PASSWORD not in text
    assert "the wrong password here" not in text
    assert token not in text and token.split(".")[2] not in text
    assert all("\n" not in line for line in lines)
    assert any('"path": "/profile"' in line for line in lines)
    assert "access_token" not in text
