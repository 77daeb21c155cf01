"""The HTTP protocol ``idgate serve`` runs: uvicorn's own, with TCP_NODELAY on every connection.

With several workers uvicorn binds the listening socket itself, with protocol number 0. asyncio
turns Nagle's algorithm off only for sockets whose protocol is ``IPPROTO_TCP``, so the accepted
connections kept it: a response written in two pieces (headers, then body) waited for the
client's delayed ACK, about 40 ms on every keep-alive request. uvloop sets TCP_NODELAY itself;
this protocol makes the asyncio loop (and any platform without uvloop) behave the same.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools ships with uvicorn[standard] on CPython
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Turn Nagle's algorithm off for the TCP connection behind ``transport``."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class H11NoDelayProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)


if HttpToolsProtocol is not None:

    class HttpToolsNoDelayProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            set_nodelay(transport)
            super().connection_made(transport)


def http_protocol() -> str:
    """The import path uvicorn loads (in every worker): httptools when present, as uvicorn would."""
    name = "HttpToolsNoDelayProtocol" if HttpToolsProtocol is not None else "H11NoDelayProtocol"
    return f"{__name__}:{name}"
