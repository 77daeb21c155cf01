"""The wrk driver: a paced flood (``--flood-pause``) waits after each answer, a closed loop not."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import report, wrk
from tests.conftest import IN_CI


class Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    if shutil.which("wrk") is None:
        if IN_CI:
            pytest.fail("wrk is not installed: .ci/run installs it with `make bench-tools`")
        pytest.skip("wrk is not installed (make bench-tools)")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_paused_connection_sends_at_most_one_request_per_pause(server: str) -> None:
    request = wrk.Request("GET", "/")
    options = {"duration": 1, "connections": 1, "threads": 1, "timeout": 5}
    paced = wrk.run(server, request, pause_ms=400, **options)
    # One connection, 1 s, 400 ms after each answer: three requests at most, whatever the speed.
    assert 1 <= paced.requests <= 3
    closed = wrk.run(server, request, **options)
    assert closed.requests > 3  # the closed loop sends the next request at once


def test_the_flood_label_says_how_it_was_paced() -> None:
    assert report.flood_pace({"flood_pause_ms": 0}) == ""
    assert report.flood_pace({"flood_pause_ms": 32}) == ", each pausing 32 ms after an answer"
