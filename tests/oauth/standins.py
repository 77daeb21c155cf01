"""Local stand-ins for the providers idgate cannot reach from here, served over real TCP on
127.0.0.1 (a free port) by a thread of the test process.

* :class:`GitHubStandIn` serves GitHub's documented OAuth endpoints (``/login/oauth/authorize``,
  ``/login/oauth/access_token``) and REST endpoints (``/user``, ``/user/emails``), with PKCE.
* :class:`OidcStandIn` is a small OpenID Connect provider (discovery, JWKS, authorize, token,
  userinfo) whose answers a test can tamper with: wrong ``iss``/``aud``/``nonce``, an expired ID
  token, a foreign signing key, another ``iss`` in the authorization response, ...

The authorize endpoints do not show a page: they answer at once as the provider would after the
person signed in (``user``) and consented, or declined (``deny``). The real browser journey, with
login and consent pages, is tested against npm's ``oidc-provider`` (``test_oidc_provider.py``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

S = TypeVar("S", bound="StandIn")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Grant:
    """An authorization code the stand-in issued, and what it was issued for."""

    client_id: str
    redirect_uri: str
    challenge: str | None
    method: str | None
    user: dict[str, Any]
    nonce: str | None = None
    scope: str = ""


@dataclass
class StandIn:
    """What every stand-in shares: the registered client, the users, the requests seen."""

    client_id: str = "idgate-client"
    client_secret: str = "stand-in-secret"
    redirect_uris: set[str] = field(default_factory=set)
    #: The person signed in at the provider; tests switch it.
    user: dict[str, Any] = field(default_factory=dict)
    #: Answer the next authorizations with error=access_denied.
    deny: bool = False
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Grant] = field(default_factory=dict)
    #: Every request, as (method, path, query or form); for assertions.
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- shared endpoint logic ---------------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if query.get("client_id") != self.client_id:
            return 400, {}, b"unknown client"
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return 400, {}, b"redirect_uri not registered"
        params: dict[str, str] = {}
        if self.deny:
            params = {"error": "access_denied", "error_description": "The user said no"}
        else:
            code = secrets.token_urlsafe(16)
            with self.lock:
                self.codes[code] = Grant(
                    client_id=self.client_id,
                    redirect_uri=redirect_uri,
                    challenge=query.get("code_challenge"),
                    method=query.get("code_challenge_method"),
                    user=dict(self.user),
                    nonce=query.get("nonce"),
                    scope=query.get("scope", ""),
                )
            params = {"code": code}
        if "state" in query:
            params["state"] = query["state"]
        params.update(self.extra_response_params())
        location = redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(params)
        return 302, {"Location": location}, b""

    def extra_response_params(self) -> dict[str, str]:
        return {}

    def redeem(self, form: dict[str, str], basic: tuple[str, str] | None) -> Grant | str:
        """Check a token request; return its grant, or the OAuth error code."""
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client_id != self.client_id or secret != self.client_secret:
            return "invalid_client"
        with self.lock:
            grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return "invalid_grant"
        verifier = form.get("code_verifier")
        if grant.challenge is not None and (
            grant.method != "S256" or verifier is None or s256(verifier) != grant.challenge
        ):
            return "invalid_grant"
        return grant

    def bearer(self, headers: Any) -> Grant | None:
        header = headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        return self.tokens.get(header.removeprefix("Bearer "))

    def issue_access_token(self, grant: Grant) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = grant
        return token

    def handle(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str], handler: Any
    ) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class GitHubStandIn(StandIn):
    """GitHub's OAuth and REST endpoints, as documented."""

    def handle(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str], handler: Any
    ) -> tuple[int, dict[str, str], bytes]:
        if method == "GET" and path == "/login/oauth/authorize":
            return self.authorize(query)
        if method == "POST" and path == "/login/oauth/access_token":
            result = self.redeem(form, _basic(handler.headers))
            # GitHub answers errors with 200 and an "error" member.
            if isinstance(result, str):
                body = {"error": "bad_verification_code" if result == "invalid_grant" else result}
            else:
                body = {
                    "access_token": self.issue_access_token(result),
                    "token_type": "bearer",
                    "scope": "read:user,user:email",
                }
            if "application/json" in handler.headers.get("Accept", ""):
                return _json(200, body)
            return (
                200,
                {"Content-Type": "application/x-www-form-urlencoded"},
                urlencode(body).encode(),
            )
        grant = self.bearer(handler.headers)
        if method == "GET" and path in {"/user", "/user/emails"}:
            if grant is None:
                return _json(401, {"message": "Requires authentication"})
            user = grant.user
            if path == "/user":
                return _json(
                    200,
                    {"id": user["id"], "login": user["login"], "name": user.get("name")},
                )
            return _json(200, user.get("emails", []))
        return _json(404, {"message": "Not Found"})


class OidcStandIn(StandIn):
    """A tamperable OpenID Connect provider (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = RSAKey.generate_key(2048, parameters={"kid": "standin-1", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "standin-1"})
        #: Claims merged over the ID token's (``{"aud": "someone-else"}``), or removed (None).
        self.id_token_overrides: dict[str, Any] = {}
        #: Sign the ID token with a key that is not in the JWKS (under the same kid).
        self.sign_with_other_key = False
        #: Discovery's "issuer", if it should lie.
        self.discovery_issuer: str | None = None
        #: The "iss" of authorization responses (RFC 9207); None sends none.
        self.response_iss: str | None = "<issuer>"
        self.announce_iss_parameter = True
        #: The "sub" the userinfo endpoint reports, if it should differ.
        self.userinfo_sub: str | None = None
        self.jwks_fetches = 0

    @property
    def issuer(self) -> str:
        return self.url

    def extra_response_params(self) -> dict[str, str]:
        if self.response_iss is None:
            return {}
        return {"iss": self.issuer if self.response_iss == "<issuer>" else self.response_iss}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.discovery_issuer or self.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": self.announce_iss_parameter,
        }

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": grant.user["sub"],
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
        }
        for name in ("email", "email_verified", "preferred_username", "name"):
            if name in grant.user:
                claims[name] = grant.user[name]
        for name, value in self.id_token_overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self.other_key if self.sign_with_other_key else self.key
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, key)

    def handle(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str], handler: Any
    ) -> tuple[int, dict[str, str], bytes]:
        if path == "/.well-known/openid-configuration":
            return _json(200, self.discovery())
        if path == "/jwks":
            self.jwks_fetches += 1
            return _json(200, {"keys": [self.key.as_dict(private=False)]})
        if method == "GET" and path == "/authorize":
            return self.authorize(query)
        if method == "POST" and path == "/token":
            result = self.redeem(form, _basic(handler.headers))
            if isinstance(result, str):
                return _json(400, {"error": result})
            return _json(
                200,
                {
                    "access_token": self.issue_access_token(result),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": self.id_token(result),
                },
            )
        if path == "/userinfo":
            grant = self.bearer(handler.headers)
            if grant is None:
                return _json(401, {"error": "invalid_token"})
            info = {k: v for k, v in grant.user.items() if k != "sub"}
            return _json(200, {"sub": self.userinfo_sub or grant.user["sub"], **info})
        return _json(404, {"error": "not_found"})


def _basic(headers: Any) -> tuple[str, str] | None:
    header = headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    from urllib.parse import unquote

    decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret)


def _handler_for(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            form: dict[str, str] = {}
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(raw).items()}
            standin.seen.append((method, parts.path, {**query, **form}))
            status, headers, body = standin.handle(method, parts.path, query, form, self)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server TLS context with a certificate for 127.0.0.1 that no one trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


@contextmanager
def serve(standin: S, tls: ssl.SSLContext | None = None) -> Iterator[S]:
    """Serve ``standin`` on a free 127.0.0.1 port until the block ends; sets ``standin.url``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(standin))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    standin.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
