"""The client's address and scheme behind trusted proxies: one rule for REST and sockets.

A forwarding header is believed only from a peer in POUNCE_FORWARDED_ALLOW_IPS, and
then only the one header POUNCE_FORWARDED_HEADER names; the client is the right-most
address in it that is not a trusted proxy itself (the left-most when all are).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

XFF = "x-forwarded-for"
FORWARDED = "forwarded"
HEADERS = (XFF, FORWARDED)

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_entries(text: str) -> tuple[str, ...]:
    """The entries of a comma list of addresses, networks (CIDR) and `*`.

    Raises ValueError naming the first entry that is none of these."""
    entries = tuple(e.strip() for e in text.split(",") if e.strip())
    for entry in entries:
        if entry != "*":
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address, a network or '*'") from None
    return entries


class TrustedProxies:
    """Addresses and networks whose forwarding headers are believed; `*` is everyone."""

    __slots__ = ("any", "exact", "networks")

    def __init__(self, entries: Iterable[str]) -> None:
        self.any = False
        self.exact: set[_Address] = set()
        self.networks: list[_Network] = []
        for entry in entries:
            if entry == "*":
                self.any = True
                continue
            net = ipaddress.ip_network(entry, strict=False)
            if net.num_addresses == 1:
                self.exact.add(net.network_address)
            else:
                self.networks.append(net)

    def __contains__(self, host: object) -> bool:
        if not isinstance(host, str):
            return False
        if self.any:
            return True
        addr = _address(host)
        if addr is None:
            return False
        return addr in self.exact or any(addr in net for net in self.networks)


def _address(host: str) -> _Address | None:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def node_address(node: str | None) -> str | None:
    """The address in one forwarded node (`192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:80`,
    bare IPv6); None for `unknown`, obfuscated names and anything else."""
    if node is None:
        return None
    node = node.strip()
    if node.startswith("["):
        end = node.find("]")
        host = node[1:end] if end > 0 else ""
    elif node.count(":") == 1:
        host = node.partition(":")[0]
    else:
        host = node
    addr = _address(host)
    return None if addr is None else str(addr)


def _split_quoted(text: str, sep: str) -> list[str]:
    """`text` split at `sep` outside double-quoted strings (linear)."""
    parts: list[str] = []
    start, quoted, escaped = 0, False, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        out, escaped = [], False
        for ch in inner:
            if escaped or ch != "\\":
                out.append(ch)
                escaped = False
            else:
                escaped = True
        return "".join(out)
    return value


def parse_forwarded(value: str) -> list[dict[str, str]]:
    """The elements of a `Forwarded` header (RFC 7239), each {lower-case name: value}."""
    elements = []
    for element in _split_quoted(value, ","):
        pairs: dict[str, str] = {}
        for pair in _split_quoted(element, ";"):
            name, sep, val = pair.partition("=")
            if sep:
                pairs.setdefault(name.strip().lower(), _unquote(val))
        elements.append(pairs)
    return elements


def _secure(proto: str | None, default: bool) -> bool:
    proto = (proto or "").strip().lower()
    if proto in ("https", "wss"):
        return True
    if proto in ("http", "ws"):
        return False
    return default


class ProxyRule:
    """Where a request comes from: `resolve` applies the rule to one request."""

    __slots__ = ("header", "trusted")

    def __init__(self, trusted: Iterable[str], header: str = XFF) -> None:
        if header not in HEADERS:
            raise ValueError(f"the forwarding header is one of {', '.join(HEADERS)}")
        self.trusted = TrustedProxies(trusted)
        self.header = header

    def resolve(
        self, peer: str | None, secure: bool, header: Callable[[str], str | None]
    ) -> tuple[str | None, bool]:
        """(client address, secure) of a request from `peer` over a connection that is
        `secure` or not; `header(name)` gives a lower-case header's value, repeated
        headers joined with commas. Unchanged unless `peer` is a trusted proxy."""
        if peer is None or peer not in self.trusted:
            return peer, secure
        hops: list[tuple[str | None, str | None]]
        if self.header == FORWARDED:
            value = header(FORWARDED)
            if not value:
                return peer, secure
            hops = [(node_address(e.get("for")), e.get("proto")) for e in parse_forwarded(value)]
        else:
            fors = [p.strip() for p in (header(XFF) or "").split(",")]
            protos = [p.strip() for p in (header("x-forwarded-proto") or "").split(",")]
            if fors == [""]:
                return peer, _secure(protos[-1], secure)
            paired = len(protos) == len(fors)
            hops = [
                (node_address(f), protos[i] if paired else protos[-1]) for i, f in enumerate(fors)
            ]
        chosen: tuple[str | None, str | None] | None = None
        for addr, proto in reversed(hops):
            if addr is None:
                break  # garbled, unknown or obfuscated: stop at the last hop we can name
            chosen = (addr, proto)
            if addr not in self.trusted:
                break
        if chosen is None:
            return peer, secure
        return chosen[0], _secure(chosen[1], secure)


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class ForwardedMiddleware:
    """ASGI middleware: `scope["client"]` and `scope["scheme"]` by the ProxyRule, so
    `request.client.host` (rate limits, logs) is the trusted client address."""

    def __init__(self, app: ASGIApp, rule: ProxyRule) -> None:
        self.app = app
        self.rule = rule

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        kind = scope["type"]
        if kind == "http" or kind == "websocket":
            client = scope.get("client")
            peer = client[0] if client else None
            if peer is not None and peer in self.rule.trusted:
                self._apply(scope, peer, kind)
        await self.app(scope, receive, send)

    def _apply(self, scope: MutableMapping[str, Any], peer: str, kind: str) -> None:
        wanted: dict[str, list[str]] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            if name in (XFF, FORWARDED, "x-forwarded-proto"):
                wanted.setdefault(name, []).append(raw_value.decode("latin-1"))
        joined = {name: ", ".join(values) for name, values in wanted.items()}
        secure = scope.get("scheme") in ("https", "wss")
        host, secure = self.rule.resolve(peer, secure, joined.get)
        if host != peer:
            scope["client"] = (host, 0)
        if kind == "http":
            scope["scheme"] = "https" if secure else "http"
        else:
            scope["scheme"] = "wss" if secure else "ws"
