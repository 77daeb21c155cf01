"""The guard verifies idgate's TLS certificate (SECURITY.md OC-07): keys served over HTTPS with a
certificate nobody vouches for are never used; the same keys with a trusted certificate are."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idgate.core.clock import FixedClock
from idgate.core.errors import Unavailable
from idgate.core.tokens.keys import new_signing_key
from idgate.guard import Guard

ISSUER = "https://127.0.0.1"


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def https_jwks(tmp_path: Path, clock: FixedClock) -> Iterator[tuple[str, Path, str]]:
    """A JWKS served over HTTPS on a free port; yields its URL, the certificate, and a token
    signed by its key."""
    signing = new_signing_key("EdDSA", clock.now())
    body = json.dumps({"keys": [signing.public_jwk()]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    now = int(clock.now().timestamp())
    token = jwt.encode(
        {"iss": ISSUER, "aud": "idgate", "sub": "alice", "iat": now, "nbf": now,
         "exp": now + 60, "jti": "1"},
        signing.signing_key(),
        algorithm="EdDSA",
        headers={"kid": signing.kid, "typ": "at+jwt"},
    )  # fmt: skip
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/jwks.json", cert, token
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_an_untrusted_certificate_is_refused(
    https_jwks: tuple[str, Path, str], clock: FixedClock
) -> None:
    url, cert, token = https_jwks
    guard = Guard(ISSUER, "idgate", jwks_uri=url, clock=clock, timeout=5)
    with pytest.raises(Unavailable):
        await guard.verify_token(token)
    assert guard.keys is not None and guard.keys.kids == frozenset()
    await guard.aclose()
    # The same server, its certificate trusted: the key is fetched and the token verifies.
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(cert))) as client:
        trusting = Guard(ISSUER, "idgate", jwks_uri=url, clock=clock, http_client=client)
        assert (await trusting.verify_token(token)).subject == "alice"
