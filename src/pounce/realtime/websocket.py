"""WebSocket server connections (RFC 6455, RFC 7692), served below the ASGI layer.

uvicorn parses the HTTP upgrade request and hands the socket to the protocol class
it was given (`uvicorn.Config(ws=WebSocketProtocol)`). From there on a socket costs
one protocol object and whatever its endpoint's session keeps: no task, no queue and
no ASGI middleware stack per socket. Idle sockets are pinged by one sweep per
process, spread over the interval; outbound frames written in one turn of the event
loop leave in one `writev`.

An endpoint decides the handshake (`admit`, async: it may read the database) and
returns a `Session` that receives whole messages. The routing table and options come
from the lifespan state (`STATE_KEY`), so the protocol needs no global set-up.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import logging
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from pounce import metrics

log = logging.getLogger(__name__)

STATE_KEY = "pounce.websockets"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HANDSHAKE_BYTES = 16 * 1024

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED = 1003
CLOSE_NO_STATUS = 1005
CLOSE_INVALID_DATA = 1007
CLOSE_TOO_BIG = 1009
CLOSE_SERVICE_RESTART = 1012
CLOSE_TOO_SLOW = 4429

# Connection states
_HANDSHAKE, _ADMITTING, _OPEN, _CLOSING, _CLOSED = range(5)

_HTTP_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class Request:
    """The parts of an upgrade request an endpoint may look at."""

    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names; repeated headers joined
    client: str | None
    secure: bool  # wss, directly or behind a trusted proxy

    @property
    def host(self) -> str:
        return self.headers.get("host", "").lower()

    @property
    def own_origin(self) -> str:
        """This server's origin as the browser sees it."""
        return f"{'https' if self.secure else 'http'}://{self.host}"

    def cookie(self, name: str) -> str | None:
        for part in self.headers.get("cookie", "").split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                return value.strip().strip('"')
        return None


class Session(Protocol):
    """One admitted socket's endpoint side."""

    def opened(self, socket: WebSocketProtocol) -> None:
        """The handshake is done; `socket` may send from now on."""

    def received(self, message: bytes, text: bool) -> None:
        """One whole message (a text message is valid UTF-8); must not block."""

    def closed(self) -> None:
        """The socket is gone; no more calls follow."""


class Endpoint(Protocol):
    async def admit(self, request: Request) -> Session | int:
        """A session for this socket, or the HTTP status that refuses it."""
        ...


@dataclass
class Options:
    compression: bool = False
    max_message_bytes: int = 1 << 20
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    send_buffer_limit: int = 4 << 20  # bytes waiting for a slow client before 4429
    close_timeout: float = 5.0
    # Peers whose X-Forwarded-Proto/-For are believed; None: uvicorn's own setting
    # (`--forwarded-allow-ips`, FORWARDED_ALLOW_IPS), read at the first connection.
    trusted_proxies: tuple[str, ...] | None = None


class Router:
    """Endpoints by path plus what all sockets of this process share: the ping sweep
    and the end-of-turn flush of outbound frames."""

    BUCKETS = 32

    def __init__(self, endpoints: Mapping[str, Endpoint], options: Options | None = None) -> None:
        self.endpoints = dict(endpoints)
        self.options = options or Options()
        self._buckets: list[set[WebSocketProtocol]] = [set() for _ in range(self.BUCKETS)]
        self._dirty: list[WebSocketProtocol] = []
        self._flush_scheduled = False
        self._sweeper: asyncio.TimerHandle | None = None
        self._tick = 0
        self._trusted: _TrustedProxies | None = None
        if self.options.trusted_proxies is not None:
            self._trusted = _TrustedProxies(self.options.trusted_proxies)
        self.open_count = 0

    def trusted(self, config: Any) -> _TrustedProxies:
        if self._trusted is None:
            entries: tuple[str, ...] = ("127.0.0.1", "::1")
            if config is not None:
                allowed = getattr(config, "forwarded_allow_ips", None)
                if not getattr(config, "proxy_headers", True):
                    entries = ()
                elif isinstance(allowed, str):
                    entries = tuple(a.strip() for a in allowed.split(",") if a.strip())
                elif isinstance(allowed, list | tuple):
                    entries = tuple(str(a) for a in allowed)
            self._trusted = _TrustedProxies(entries)
        return self._trusted

    # -- outbound: one writev per socket per turn of the loop ------------------------
    def mark_dirty(self, ws: WebSocketProtocol) -> None:
        self._dirty.append(ws)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty, self._dirty = self._dirty, []
        for ws in dirty:
            ws.flush()

    # -- keepalive: each tick pings one bucket's quiet sockets -----------------------
    def register(self, ws: WebSocketProtocol) -> None:
        self._buckets[ws.bucket].add(ws)
        self.open_count += 1
        if self._sweeper is None:
            self._schedule_sweep()

    def unregister(self, ws: WebSocketProtocol) -> None:
        bucket = self._buckets[ws.bucket]
        if ws in bucket:
            bucket.discard(ws)
            self.open_count -= 1

    def _schedule_sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(self.options.ping_interval / self.BUCKETS, self._sweep)

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        bucket = self._buckets[self._tick % self.BUCKETS]
        self._tick += 1
        interval, timeout = self.options.ping_interval, self.options.ping_timeout
        for ws in list(bucket):
            ws.keepalive(now, interval, timeout)
        if self.open_count > 0:
            self._schedule_sweep()
        else:
            self._sweeper = None

    def close_all(self, code: int, reason: str) -> int:
        count = 0
        for bucket in self._buckets:
            for ws in list(bucket):
                ws.close(code, reason)
                count += 1
        return count


class _TrustedProxies:
    def __init__(self, entries: tuple[str, ...]) -> None:
        self.any = "*" in entries
        self.networks = []
        for entry in entries:
            if entry == "*":
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                log.warning("ignoring trusted proxy %r: not an address or network", entry)

    def __contains__(self, host: str | None) -> bool:
        if host is None:
            return False
        if self.any:
            return True
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)


def _unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR with the 4-byte mask, as one big integer operation."""
    n = len(payload)
    if n == 0:
        return b""
    key = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def frame_header(opcode: int, length: int, *, fin: bool = True, rsv1: bool = False) -> bytes:
    """The header of an unmasked (server to client) frame."""
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if length < 126:
        return bytes((b0, length))
    if length < 1 << 16:
        return struct.pack("!BBH", b0, 126, length)
    return struct.pack("!BBQ", b0, 127, length)


# Headers of unfragmented short frames, built once (most chat frames are a few hundred
# bytes, so this covers acks, typing and presence; messages take frame_header).
_SHORT_HEADERS = {op: [bytes((0x80 | op, n)) for n in range(126)] for op in (OP_TEXT, OP_BINARY)}


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()  # noqa: S324


class _ProtocolError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(slots=True)
class _Deflate:
    """permessage-deflate without context takeover: no zlib state between messages."""

    server_bits: int = 15
    level: int = 6

    def compress(self, data: bytes) -> bytes:
        c = zlib.compressobj(self.level, zlib.DEFLATED, -self.server_bits, 5)
        out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4] if out.endswith(b"\x00\x00\xff\xff") else out

    def decompress(self, data: bytes, limit: int) -> bytes:
        d = zlib.decompressobj(-15)
        out = d.decompress(data + b"\x00\x00\xff\xff", limit + 1)
        if len(out) > limit or d.unconsumed_tail:
            raise _ProtocolError(CLOSE_TOO_BIG, "message too big")
        return out


def _negotiate_deflate(header: str) -> tuple[_Deflate, str] | None:
    """Accept the first permessage-deflate offer we can honour without context takeover."""
    for offer in header.split(","):
        parts = [p.strip() for p in offer.split(";")]
        if parts[0].lower() != "permessage-deflate":
            continue
        server_bits = 15
        ok = True
        response = ["permessage-deflate", "server_no_context_takeover"]
        for param in parts[1:]:
            name, _, value = param.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"')
            if name == "server_max_window_bits":
                if not value.isdigit() or not 9 <= int(value) <= 15:
                    ok = False
                    break
                server_bits = int(value)
                response.append(f"server_max_window_bits={server_bits}")
            elif name == "client_max_window_bits":
                if value and (not value.isdigit() or not 8 <= int(value) <= 15):
                    ok = False
                    break
            elif name not in ("server_no_context_takeover", "client_no_context_takeover"):
                ok = False
                break
        if ok:
            response.append("client_no_context_takeover")
            return _Deflate(server_bits=server_bits), "; ".join(response)
    return None


class WebSocketProtocol(asyncio.Protocol):
    """One server-side WebSocket, from the upgrade request to the closing handshake."""

    __slots__ = (
        "_buf",
        "_close_timer",
        "_deflate",
        "_frag",
        "_loop",
        "_out",
        "_out_bytes",
        "_ping_sent",
        "_router",
        "_seen",
        "_server_state",
        "bucket",
        "close_code",
        "session",
        "state",
        "transport",
    )

    def __init__(
        self,
        config: Any = None,
        server_state: Any = None,
        app_state: Mapping[str, Any] | None = None,
        *,
        router: Router | None = None,
        **_: Any,
    ) -> None:
        resolved = router if router is not None else (app_state or {}).get(STATE_KEY)
        if not isinstance(resolved, Router):
            raise RuntimeError(f"no WebSocket router in the lifespan state under {STATE_KEY!r}")
        self._router = resolved
        if resolved._trusted is None:
            resolved.trusted(config)
        self._server_state = server_state
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.state = _HANDSHAKE
        self.session: Session | None = None
        self._buf: bytearray | None = None
        self._frag: tuple[int, bool, list[bytes], int] | None = None
        self._out: list[bytes] | None = None
        self._out_bytes = 0
        self._deflate: _Deflate | None = None
        self._seen = 0.0
        self._ping_sent = 0.0
        self._close_timer: asyncio.TimerHandle | None = None
        self.close_code: int | None = None
        self.bucket = (id(self) >> 4) % Router.BUCKETS

    # -- asyncio.Protocol -----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        if self._server_state is not None:
            self._server_state.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.state == _OPEN or self.state == _CLOSING:
            self._seen = self._loop.time()
            self._ping_sent = 0.0
            self._frames(data)
        elif self.state == _HANDSHAKE:
            self._handshake_data(data)
        # _ADMITTING: reading is paused; _CLOSED: ignore

    def connection_lost(self, exc: Exception | None) -> None:
        previous = self.state
        self.state = _CLOSED
        if self._server_state is not None:
            self._server_state.connections.discard(self)
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._out = None
        self._buf = None
        self._frag = None
        if previous in (_OPEN, _CLOSING):
            self._router.unregister(self)
            if self.close_code is None:
                self.close_code = 1006
            session, self.session = self.session, None
            if session is not None:
                try:
                    session.closed()
                except Exception:
                    log.exception("session close handler failed")

    def pause_writing(self) -> None:  # the transport buffers; we check its size
        pass

    def resume_writing(self) -> None:
        pass

    # uvicorn calls this on every connection when the server stops
    def shutdown(self) -> None:
        if self.state == _OPEN:
            self.close(CLOSE_SERVICE_RESTART, "server restarting")
        elif self.transport is not None and self.state != _CLOSING:
            self.transport.close()

    # -- handshake --------------------------------------------------------------------
    def _handshake_data(self, data: bytes) -> None:
        buf = self._buf
        if buf is None:
            buf = self._buf = bytearray()
        buf.extend(data)
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HANDSHAKE_BYTES:
                self._http_refuse(431)
            return
        head = bytes(buf[:end]).decode("latin-1")
        self._buf = None
        try:
            request, key, extensions = self._parse_request(head)
        except _ProtocolError as exc:
            self._http_refuse(exc.code, exc.reason)
            return
        endpoint = self._router.endpoints.get(request.path)
        if endpoint is None:
            self._http_refuse(404)
            return
        self.state = _ADMITTING
        assert self.transport is not None
        self.transport.pause_reading()
        task = self._loop.create_task(self._admit(endpoint, request, key, extensions))
        if self._server_state is not None:
            self._server_state.tasks.add(task)
            task.add_done_callback(self._server_state.tasks.discard)

    def _parse_request(self, head: str) -> tuple[Request, str, str]:
        lines = head.split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            raise _ProtocolError(400, "bad request line") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise _ProtocolError(400, "bad header line")
            name, value = name.strip().lower(), value.strip()
            if name in headers:
                joiner = "; " if name == "cookie" else ", "
                headers[name] = headers[name] + joiner + value
            else:
                headers[name] = value
        if method != "GET":
            raise _ProtocolError(400, "a WebSocket handshake is a GET")
        connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        if headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in connection:
            raise _ProtocolError(400, "not a WebSocket upgrade")
        if headers.get("sec-websocket-version") != "13":
            raise _ProtocolError(426, "Sec-WebSocket-Version 13 is required")
        key = headers.get("sec-websocket-key", "")
        try:
            if len(base64.b64decode(key, validate=True)) != 16:
                raise ValueError(key)
        except ValueError:
            raise _ProtocolError(400, "bad Sec-WebSocket-Key") from None
        parts = urlsplit(target)
        assert self.transport is not None
        peer = self.transport.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else None
        secure = self.transport.get_extra_info("sslcontext") is not None
        if client in self._router.trusted(None):
            proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
            if proto:
                secure = proto in ("https", "wss")
            forwarded = headers.get("x-forwarded-for", "").split(",")[0].strip()
            if forwarded:
                client = forwarded
        request = Request(
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            client=client,
            secure=secure,
        )
        return request, key, headers.get("sec-websocket-extensions", "")

    async def _admit(self, endpoint: Endpoint, request: Request, key: str, offer: str) -> None:
        try:
            decision = await endpoint.admit(request)
        except Exception:
            log.exception("WebSocket admission failed for %s", request.path)
            decision = 500
        if self.state != _ADMITTING or self.transport is None:
            return  # the client went away meanwhile
        if isinstance(decision, int):
            self._http_refuse(decision)
            return
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {accept_key(key)}",
        ]
        if self._router.options.compression and offer:
            negotiated = _negotiate_deflate(offer)
            if negotiated is not None:
                self._deflate, answer = negotiated
                lines.append(f"Sec-WebSocket-Extensions: {answer}")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.state = _OPEN
        self.session = decision
        self._seen = self._loop.time()
        self._router.register(self)
        self.transport.resume_reading()
        try:
            decision.opened(self)
        except Exception:
            log.exception("session open handler failed")
            self.close(1011, "internal error")

    def _http_refuse(self, status: int, detail: str = "") -> None:
        self.state = _CLOSED
        if self.transport is None:
            return
        body = (detail or _HTTP_REASONS.get(status, "")).encode()
        extra = "Sec-WebSocket-Version: 13\r\n" if status == 426 else ""
        head = (
            f"HTTP/1.1 {status} {_HTTP_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"{extra}Connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)
        self.transport.close()

    # -- inbound frames ---------------------------------------------------------------
    def _frames(self, data: bytes | bytearray) -> None:
        if self._buf is not None:
            self._buf.extend(data)
            data, self._buf = self._buf, None
        pos, n = 0, len(data)
        limit = self._router.options.max_message_bytes
        try:
            while n - pos >= 2:
                b0, b1 = data[pos], data[pos + 1]
                length = b1 & 0x7F
                head = pos + 2
                if length == 126:
                    if n - pos < 4:
                        break
                    length = (data[pos + 2] << 8) | data[pos + 3]
                    head = pos + 4
                elif length == 127:
                    if n - pos < 10:
                        break
                    length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                    head = pos + 10
                if not b1 & 0x80:
                    raise _ProtocolError(CLOSE_PROTOCOL_ERROR, "client frames must be masked")
                if length > limit:
                    raise _ProtocolError(CLOSE_TOO_BIG, "message too big")
                end = head + 4 + length
                if end > n:
                    break
                payload = _unmask(bytes(data[head + 4 : end]), bytes(data[head : head + 4]))
                pos = end
                self._frame(b0, payload, limit)
                if self.state != _OPEN and self.state != _CLOSING:
                    return
        except _ProtocolError as exc:
            self._fail(exc.code, exc.reason)
            return
        if pos < n:
            self._buf = bytearray(data[pos:])

    def _frame(self, b0: int, payload: bytes, limit: int) -> None:
        opcode = b0 & 0x0F
        fin = b0 & 0x80
        rsv = b0 & 0x70
        if opcode >= 0x8:
            if not fin or len(payload) > 125 or rsv:
                raise _ProtocolError(CLOSE_PROTOCOL_ERROR, "bad control frame")
            if opcode == OP_PING:
                self._write_control(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                self._close_received(payload)
            elif opcode != OP_PONG:
                raise _ProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
            return
        if self.state == _CLOSING:
            return  # data after our close frame: ignored while the peer catches up
        if opcode == OP_CONT:
            frag = self._frag
            if frag is None or rsv:
                raise _ProtocolError(CLOSE_PROTOCOL_ERROR, "unexpected continuation frame")
            size = frag[3] + len(payload)
            if size > limit:
                raise _ProtocolError(CLOSE_TOO_BIG, "message too big")
            frag[2].append(payload)
            if not fin:
                self._frag = (frag[0], frag[1], frag[2], size)
                return
            self._frag = None
            opcode, compressed, payload = frag[0], frag[1], b"".join(frag[2])
        elif opcode == OP_TEXT or opcode == OP_BINARY:
            if self._frag is not None:
                raise _ProtocolError(CLOSE_PROTOCOL_ERROR, "expected a continuation frame")
            compressed = False
            if rsv:
                if rsv != 0x40 or self._deflate is None:
                    raise _ProtocolError(CLOSE_PROTOCOL_ERROR, "reserved bits set")
                compressed = True
            if not fin:
                self._frag = (opcode, compressed, [payload], len(payload))
                return
        else:
            raise _ProtocolError(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
        if compressed:
            assert self._deflate is not None
            payload = self._deflate.decompress(payload, limit)
        text = opcode == OP_TEXT
        if text:
            try:
                payload.decode()
            except UnicodeDecodeError:
                raise _ProtocolError(CLOSE_INVALID_DATA, "text is not valid UTF-8") from None
        session = self.session
        if session is not None:
            session.received(payload, text)

    def _close_received(self, payload: bytes) -> None:
        code = CLOSE_NO_STATUS
        if len(payload) == 1:
            raise _ProtocolError(CLOSE_PROTOCOL_ERROR, "bad close frame")
        if len(payload) >= 2:
            code = (payload[0] << 8) | payload[1]
            valid = (1000 <= code <= 1003) or (1007 <= code <= 1014) or (3000 <= code <= 4999)
            if not valid:
                raise _ProtocolError(CLOSE_PROTOCOL_ERROR, f"bad close code {code}")
            try:
                payload[2:].decode()
            except UnicodeDecodeError:
                raise _ProtocolError(CLOSE_INVALID_DATA, "close reason is not UTF-8") from None
        if self.state == _OPEN:
            self.close_code = code
            echo = payload[:2] if code != CLOSE_NO_STATUS else b""
            self._write_control(OP_CLOSE, echo)
            self.state = _CLOSING
        self._finish()

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 7.1.7): say why, then drop it without waiting."""
        log.info("failing a WebSocket: %s (%d)", reason, code)
        self.close(code, reason)
        self._finish()

    # -- outbound -----------------------------------------------------------------------
    def send(self, payload: bytes, *, text: bool = True) -> bool:
        """Queue one message (UTF-8 JSON for text); it leaves at the end of this turn.

        False if the socket is closing or closed. A client that lets more than
        `send_buffer_limit` bytes pile up is closed with 4429: it resumes from the
        store after reconnecting, instead of this process buffering without bound.
        """
        if self.state != _OPEN:
            return False
        opcode = OP_TEXT if text else OP_BINARY
        if self._deflate is not None and len(payload) > 64:
            payload = self._deflate.compress(payload)
            header = frame_header(opcode, len(payload), rsv1=True)
        elif len(payload) < 126:
            header = _SHORT_HEADERS[opcode][len(payload)]
        else:
            header = frame_header(opcode, len(payload))
        out = self._out
        if out is None:
            self._out = [header, payload]
            self._router.mark_dirty(self)
        else:
            out.append(header)
            out.append(payload)
        self._out_bytes += len(header) + len(payload)
        return True

    def flush(self) -> None:
        out, self._out = self._out, None
        queued, self._out_bytes = self._out_bytes, 0
        transport = self.transport
        if out is None or transport is None or self.state == _CLOSED:
            return
        transport.writelines(out)
        if queued and transport.get_write_buffer_size() > self._router.options.send_buffer_limit:
            log.info("closing a WebSocket: the client does not keep up")
            metrics.SLOW_CLIENTS.inc()
            self.close(CLOSE_TOO_SLOW, "too slow")

    def _write_control(self, opcode: int, payload: bytes = b"") -> None:
        if self.transport is None or self.state == _CLOSED:
            return
        if self._out is not None:
            self.flush()
        self.transport.write(frame_header(opcode, len(payload)) + payload)

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Start the closing handshake; the TCP connection ends when the client answers
        (or after `close_timeout`)."""
        if self.state != _OPEN:
            if self.state in (_HANDSHAKE, _ADMITTING) and self.transport is not None:
                self.state = _CLOSED
                self.transport.close()
            return
        self.close_code = code
        payload = struct.pack("!H", code) + reason.encode()[:123]
        self._write_control(OP_CLOSE, payload)
        self.state = _CLOSING
        self._close_timer = self._loop.call_later(self._router.options.close_timeout, self._abort)

    def _finish(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _abort(self) -> None:
        self._close_timer = None
        if self.transport is not None:
            self.transport.abort()

    # -- keepalive (called by the router's sweep) -----------------------------------
    def keepalive(self, now: float, interval: float, timeout: float) -> None:
        if self.state != _OPEN:
            return
        if self._ping_sent:
            if now - self._ping_sent > timeout:
                log.info("closing a WebSocket: no pong within %.0f s", timeout)
                self.close_code = 1006
                self._abort()
            return
        if now - self._seen >= interval:
            self._ping_sent = now
            self._write_control(OP_PING)
