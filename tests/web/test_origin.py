"""The client address: forwarded headers count only from configured trusted proxies (LG-06)."""

from __future__ import annotations

import pytest
from starlette.types import Scope

from idgate.web.origin import ClientAddressResolver, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"])


def scope(peer: str | None, *headers: tuple[str, str]) -> Scope:
    return {
        "type": "http",
        "client": (peer, 1234) if peer else None,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
    }


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        # An untrusted peer's headers are ignored, whatever they say.
        ("203.0.113.5", [("X-Forwarded-For", "198.51.100.1")], "203.0.113.5"),
        ("203.0.113.5", [("Forwarded", "for=198.51.100.1")], "203.0.113.5"),
        # One trusted proxy: the entry it appended.
        ("10.0.0.2", [("X-Forwarded-For", "198.51.100.1")], "198.51.100.1"),
        # The client forged the left part; only the proxy's own entry counts.
        ("10.0.0.2", [("X-Forwarded-For", "1.1.1.1, 8.8.8.8, 198.51.100.1")], "198.51.100.1"),
        # Several trusted hops are skipped, right to left.
        ("10.0.0.2", [("X-Forwarded-For", "198.51.100.1, 192.0.2.1, 10.1.1.1")], "198.51.100.1"),
        # Several headers are one list.
        (
            "10.0.0.2",
            [("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "198.51.100.7")],
            "198.51.100.7",
        ),
        # RFC 7239, with quoting, ports, IPv6 and other parameters.
        ("10.0.0.2", [("Forwarded", 'for="198.51.100.9:4711";proto=https')], "198.51.100.9"),
        ("10.0.0.2", [("Forwarded", 'for="[2001:db9::1]:80", for=10.0.0.9')], "2001:db9::1"),
        ("10.0.0.2", [("Forwarded", "proto=https;For=198.51.100.3")], "198.51.100.3"),
        # Forwarded wins over X-Forwarded-For when both are present.
        (
            "10.0.0.2",
            [("Forwarded", "for=198.51.100.4"), ("X-Forwarded-For", "198.51.100.5")],
            "198.51.100.4",
        ),
        # Unreadable entries stop the walk at the last trusted proxy.
        ("10.0.0.2", [("X-Forwarded-For", "unknown")], "10.0.0.2"),
        ("10.0.0.2", [("Forwarded", "for=_hidden")], "10.0.0.2"),
        ("10.0.0.2", [("X-Forwarded-For", "198.51.100.1, garbage, 10.0.0.3")], "10.0.0.3"),
        # All hops trusted: the leftmost one.
        ("10.0.0.2", [("X-Forwarded-For", "10.9.9.9, 10.0.0.3")], "10.9.9.9"),
        # No header: the proxy itself.
        ("10.0.0.2", [], "10.0.0.2"),
        # IPv6 proxies and IPv4-mapped addresses.
        ("2001:db8::5", [("X-Forwarded-For", "::ffff:198.51.100.8")], "198.51.100.8"),
    ],
)
def test_resolution(peer: str, headers: list[tuple[str, str]], client: str) -> None:
    assert ClientAddressResolver(PROXIES).resolve(scope(peer, *headers)) == client


def test_nothing_is_trusted_by_default_not_even_loopback() -> None:
    resolver = ClientAddressResolver()
    forged = scope("127.0.0.1", ("X-Forwarded-For", "198.51.100.1"))
    assert resolver.resolve(forged) == "127.0.0.1"
    assert resolver.resolve(scope(None)) is None


def test_bad_proxy_entries_are_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300'"):
        parse_networks(["10.0.0.300"])
    assert parse_networks(["", " 10.0.0.1 "]) == parse_networks(["10.0.0.1/32"])
