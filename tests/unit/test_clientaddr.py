"""The client-address rule: forwarding headers believed from trusted proxies only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pounce.config import Settings
from pounce.realtime.clientaddr import (
    FORWARDED,
    XFF,
    ForwardedMiddleware,
    ProxyRule,
    TrustedProxies,
    node_address,
    parse_entries,
    parse_forwarded,
)


def _resolve(
    rule: ProxyRule, peer: str | None, headers: dict[str, str], secure: bool = False
) -> tuple[str | None, bool]:
    return rule.resolve(peer, secure, {k.lower(): v for k, v in headers.items()}.get)


def test_trusted_proxies() -> None:
    trusted = TrustedProxies(("127.0.0.1", "10.0.0.0/8", "2001:db8::/32"))
    assert "127.0.0.1" in trusted and "10.1.2.3" in trusted and "2001:db8::5" in trusted
    assert "::ffff:127.0.0.1" in trusted  # an IPv4 peer on a dual-stack socket
    assert "127.0.0.2" not in trusted and "192.168.1.1" not in trusted
    assert None not in trusted and "bogus" not in trusted
    assert "198.51.100.1" in TrustedProxies(("*",))


def test_configured_entries_are_checked() -> None:
    assert parse_entries(" 127.0.0.1, 10.0.0.0/8 ,*") == ("127.0.0.1", "10.0.0.0/8", "*")
    with pytest.raises(ValueError, match="'nginx'"):
        parse_entries("127.0.0.1, nginx")


@pytest.mark.parametrize(
    ("node", "address"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1:8080 ", "192.0.2.1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("unknown", None),
        ("_hidden", None),
        ("", None),
        ("[2001:db8::1", None),
        (None, None),
    ],
)
def test_node_addresses(node: str | None, address: str | None) -> None:
    assert node_address(node) == address


def test_forwarded_parsing() -> None:
    value = 'for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"'
    assert parse_forwarded(value) == [
        {"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"},
        {"for": "[2001:db8:cafe::17]:4711"},
    ]
    assert parse_forwarded('for="a,b;c";proto=https') == [{"for": "a,b;c", "proto": "https"}]


XFF_RULE = ProxyRule(("127.0.0.1", "10.0.0.0/8"), XFF)
FWD_RULE = ProxyRule(("127.0.0.1", "10.0.0.0/8"), FORWARDED)


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        # an untrusted peer's headers are ignored, whatever they say
        ("198.51.100.1", {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
         ("198.51.100.1", False)),
        # the right-most untrusted address, not the client-controlled left-most one
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}, ("198.51.100.7", False)),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9, 198.51.100.7, 10.0.0.2"},
         ("198.51.100.7", False)),
        # every hop trusted: the left-most
        ("127.0.0.1", {"X-Forwarded-For": "10.0.0.3, 10.0.0.2"}, ("10.0.0.3", False)),
        # garbage stops the walk at the last hop that can be named
        ("127.0.0.1", {"X-Forwarded-For": "198.51.100.7, nonsense, 10.0.0.2"}, ("10.0.0.2", False)),
        ("127.0.0.1", {"X-Forwarded-For": "nonsense"}, ("127.0.0.1", False)),
        ("127.0.0.1", {}, ("127.0.0.1", False)),
        # the scheme, under the same trust
        ("127.0.0.1", {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"},
         ("198.51.100.7", True)),
        ("127.0.0.1", {"X-Forwarded-Proto": "https"}, ("127.0.0.1", True)),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9, 198.51.100.7",
                       "X-Forwarded-Proto": "http, https"}, ("198.51.100.7", True)),
        # the header not configured is not read
        ("127.0.0.1", {"Forwarded": "for=198.51.100.7"}, ("127.0.0.1", False)),
    ],
)  # fmt: skip
def test_x_forwarded_for(
    peer: str, headers: dict[str, str], expected: tuple[str | None, bool]
) -> None:
    assert _resolve(XFF_RULE, peer, headers) == expected


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("198.51.100.1", {"Forwarded": "for=203.0.113.9;proto=https"}, ("198.51.100.1", False)),
        ("127.0.0.1", {"Forwarded": 'for=203.0.113.9, for="[2001:db8::7]:80";proto=https'},
         ("2001:db8::7", True)),
        ("127.0.0.1", {"Forwarded": "for=198.51.100.7;proto=https, for=10.0.0.2;proto=http"},
         ("198.51.100.7", True)),
        ("127.0.0.1", {"Forwarded": "for=unknown"}, ("127.0.0.1", False)),
        ("127.0.0.1", {"X-Forwarded-For": "198.51.100.7"}, ("127.0.0.1", False)),
    ],
)  # fmt: skip
def test_forwarded(peer: str, headers: dict[str, str], expected: tuple[str | None, bool]) -> None:
    assert _resolve(FWD_RULE, peer, headers) == expected


def test_trust_everyone_takes_the_left_most() -> None:
    rule = ProxyRule(("*",), XFF)
    assert _resolve(rule, "198.51.100.1", {"X-Forwarded-For": "203.0.113.9, 10.0.0.2"}) == (
        "203.0.113.9",
        False,
    )


@given(st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=6), st.ip_addresses(v=4))
def test_a_client_cannot_choose_its_address(spoofed: list[str], real: Any) -> None:
    """Whatever a client puts in front, a trusted proxy's appended hop wins."""
    real = str(real)
    if real in XFF_RULE.trusted:
        return
    chain = ", ".join([*spoofed, real, "10.0.0.9"])
    assert _resolve(XFF_RULE, "127.0.0.1", {"X-Forwarded-For": chain})[0] == real


def test_the_middleware_rewrites_client_and_scheme() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(dict(scope))

    middleware = ForwardedMiddleware(app, XFF_RULE)  # type: ignore[arg-type]

    async def call(client: tuple[str, int], headers: list[tuple[bytes, bytes]]) -> None:
        scope = {"type": "http", "client": client, "scheme": "http", "headers": headers}
        await middleware(scope, None, None)  # type: ignore[arg-type]

    spoof = [(b"x-forwarded-for", b"203.0.113.9"), (b"x-forwarded-for", b"198.51.100.7")]
    asyncio.run(call(("127.0.0.1", 5000), [*spoof, (b"x-forwarded-proto", b"https")]))
    asyncio.run(call(("198.51.100.1", 5000), spoof))
    assert (seen[0]["client"], seen[0]["scheme"]) == (("198.51.100.7", 0), "https")
    assert (seen[1]["client"], seen[1]["scheme"]) == (("198.51.100.1", 5000), "http")


def test_settings_check_the_proxy_configuration() -> None:
    with pytest.raises(ValidationError, match="'nginx' is not an address"):
        Settings(forwarded_allow_ips="127.0.0.1, nginx")
    assert Settings(forwarded_header=" Forwarded ").forwarded_header == "forwarded"  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Settings(forwarded_header="x-real-ip")  # type: ignore[arg-type]
    assert Settings(public_url="HTTPS://Chat.Example.com/base/").public_origin() == (
        "https://chat.example.com"
    )
