"""``idgate serve`` turns Nagle's algorithm off on every connection, whatever the event loop."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from idgate.cli import app
from idgate.cli._protocol import H11NoDelayProtocol, http_protocol


async def _empty_app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
    raise AssertionError("no request is sent")


async def _nodelay_of_accepted_connection(http: str) -> int:
    """Serve with ``http`` on a socket bound the way uvicorn binds it for several workers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # protocol number 0
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_empty_app, http=http, lifespan="off", log_config=None)
    config.load()
    state = ServerState()
    made: list[asyncio.Protocol] = []

    def factory() -> asyncio.Protocol:
        protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=state, app_state={}
        )
        made.append(protocol)
        return protocol

    server = await asyncio.get_running_loop().create_server(factory, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        for _ in range(100):
            if made and getattr(made[0], "transport", None) is not None:
                break
            await asyncio.sleep(0.01)
        transport: asyncio.Transport = made[0].transport  # type: ignore[attr-defined]
        value: int = transport.get_extra_info("socket").getsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY
        )
        writer.close()
        await writer.wait_closed()
        return value
    finally:
        server.close()
        await server.wait_closed()


async def test_uvicorns_own_protocol_keeps_nagle_on_such_a_socket() -> None:
    # The problem this module exists for (asyncio loop, socket bound by uvicorn's supervisor).
    assert isinstance(asyncio.get_running_loop(), asyncio.BaseEventLoop)
    assert await _nodelay_of_accepted_connection("httptools") == 0


@pytest.mark.parametrize(
    "http", [http_protocol(), f"{H11NoDelayProtocol.__module__}:H11NoDelayProtocol"]
)
async def test_idgates_protocol_turns_nagle_off(http: str) -> None:
    assert await _nodelay_of_accepted_connection(http) != 0


def test_the_protocol_is_uvicorns_fastest() -> None:
    assert http_protocol().endswith(":HttpToolsNoDelayProtocol")
    assert issubclass(uvicorn.importer.import_from_string(http_protocol()), HttpToolsProtocol)


def test_serve_runs_uvicorn_with_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    env = {
        "IDGATE_ENVIRONMENT": "test",
        "IDGATE_DATA_DIR": str(tmp_path / "data"),
        "IDGATE_WORKERS": "2",
    }
    result = CliRunner().invoke(app, ["serve", "--migrate"], env=env)
    assert result.exit_code == 0, result.output
    assert calls[0]["http"] == http_protocol()
    assert calls[0]["workers"] == 2
    assert calls[0]["ws"] == "none"  # no WebSocket route: no WebSocket library to import
