"""Who is calling: the client address and user agent of a request.

The client address is the direct peer's, unless that peer is one of the configured trusted
proxies (``IDGATE_TRUSTED_PROXIES``); then it is read from ``Forwarded`` (RFC 7239) or
``X-Forwarded-For``, right to left, skipping the hops that are trusted proxies themselves. Only
the entries trusted proxies appended are believed, so a client cannot reset its rate limits by
sending a forged header (ASVS 4.1.3, SECURITY.md LG-06). Nothing is trusted by default, not even
loopback (SECURITY.md pitfall 10); uvicorn runs with ``proxy_headers=False`` so this is the only
place forwarded headers are read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from fastapi import Request
from starlette.types import Scope

from idgate.core.models import RequestOrigin
from idgate.logs import request_id_var

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Where the middleware leaves the resolved address for the rest of the request.
SCOPE_KEY = "idgate.client_ip"

_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]*)', re.IGNORECASE)


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Parse IP addresses and CIDR ranges (``10.0.0.0/8``); ``ValueError`` names a bad one."""
    networks = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"{text!r} is not an IP address or CIDR range") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    value = text.strip().strip('"')
    if value.startswith("["):  # RFC 7239 IPv6: "[2001:db8::1]:4711"
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # IPv4 with a port
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _header_values(scope: Scope, name: bytes) -> list[str]:
    return [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == name]


def _forwarded_chain(scope: Scope) -> list[str]:
    forwarded = _header_values(scope, b"forwarded")
    if forwarded:
        chain = []
        for element in ",".join(forwarded).split(","):
            match = _FOR.search(element)
            chain.append(match[1] if match else "")
        return chain
    return [hop for value in _header_values(scope, b"x-forwarded-for") for hop in value.split(",")]


class ClientAddressResolver:
    """Turns a request's peer and forwarded headers into the client's address."""

    def __init__(self, trusted_proxies: Iterable[Network] = ()) -> None:
        self.trusted = tuple(trusted_proxies)

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self.trusted)

    def resolve(self, scope: Scope) -> str | None:
        """Return the client address of the ASGI ``scope``."""
        client = scope.get("client")
        peer_text: str | None = client[0] if client else None
        if peer_text is None or not self.trusted:
            return peer_text
        peer = _address(peer_text)
        if peer is None or not self._is_trusted(peer):
            return peer_text
        current = peer
        for hop in reversed(_forwarded_chain(scope)):
            address = _address(hop)
            if address is None:
                # Unreadable ("unknown", an obfuscated name): nothing left of it can be checked,
                # so the last trusted proxy is the best we know.
                break
            current = address
            if not self._is_trusted(address):
                break
        return str(current)


def request_origin(request: Request) -> RequestOrigin:
    """Return the :class:`RequestOrigin` of ``request``, with the resolved client address."""
    ip = request.scope.get(SCOPE_KEY)
    if ip is None:
        resolver: ClientAddressResolver | None = getattr(
            request.app.state, "client_addresses", None
        )
        ip = resolver.resolve(request.scope) if resolver else None
        if ip is None and request.client:
            ip = request.client.host
    user_agent = request.headers.get("user-agent")
    return RequestOrigin(
        ip=ip,
        user_agent=user_agent[:512] if user_agent else None,
        request_id=request_id_var.get(),
    )
