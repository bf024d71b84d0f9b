"""WebSocket server connections below the ASGI layer, on the sans-I/O protocol of the
`websockets` package (RFC 6455 framing, masking, fragmentation, close handling; RFC
7692 permessage-deflate).

uvicorn parses the HTTP upgrade request and hands the socket, with the request head,
to the protocol class it was given (`uvicorn.Config(ws=WebSocketProtocol)`). From there
on a socket costs one protocol object, the codec's state and whatever its endpoint's
session keeps: no task, no queue and no ASGI middleware stack per socket. Idle sockets
are pinged by one sweep per process; outbound frames written in one turn of the event
loop leave in one `writev`.

An endpoint decides the handshake (`admit`, async: it may read the database) and
returns a `Session` that receives whole messages. The routing table and options come
from the lifespan state (`STATE_KEY`), so the protocol needs no global set-up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import sys
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.exceptions import InvalidHandshake, ProtocolError
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.headers import build_extension, parse_extension
from websockets.protocol import SEND_EOF, SERVER, State
from websockets.protocol import Protocol as Codec
from websockets.utils import accept_key

from pounce import metrics
from pounce.realtime.clientaddr import XFF, ProxyRule

log = logging.getLogger(__name__)
# The codec logs every connection opened and closed at INFO; only its warnings matter.
_CODEC_LOG = logging.getLogger(f"{__name__}.codec")
_CODEC_LOG.setLevel(logging.WARNING)

STATE_KEY = "pounce.websockets"
MAX_HANDSHAKE_BYTES = 16 * 1024
MAX_HANDSHAKE_HEADERS = 100

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_NO_STATUS = 1005
CLOSE_ABNORMAL = 1006
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_TOO_SLOW = 4429

# Connection states
_HANDSHAKE, _ADMITTING, _OPEN, _CLOSING, _CLOSED = range(5)

# Each socket is looked at by the keepalive sweep this many times per ping interval (or
# timeout, the shorter), so a ping or a drop comes at most that fraction late.
SWEEP_STEPS = 4
# Received data is handed to the codec in slices of at most this, so that a flood of
# tiny frames is stopped by the limits below within one slice, not one whole read.
FEED_SLICE = 16 * 1024

_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
_PING, _PONG, _CLOSE = Opcode.PING, Opcode.PONG, Opcode.CLOSE
_WS_OPEN = State.OPEN
_NO_EXTENSIONS: list[Extension] = []


def frame_header(length: int, *, text: bool = True) -> bytes:
    """The header of an unfragmented, uncompressed server data frame (unmasked)."""
    b0 = 0x81 if text else 0x82
    if length < 126:
        return bytes((b0, length))
    if length < 1 << 16:
        return bytes((b0, 126)) + length.to_bytes(2, "big")
    return bytes((b0, 127)) + length.to_bytes(8, "big")


# Most chat frames are a few hundred bytes: their headers, built once.
_SHORT_HEADERS = {text: [frame_header(n, text=text) for n in range(126)] for text in (True, False)}


@dataclass(frozen=True, slots=True)
class Request:
    """The parts of an upgrade request an endpoint may look at."""

    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names; repeated headers joined
    client: str | None  # the client's address, through trusted proxies only
    secure: bool  # wss, directly or behind a trusted proxy
    public_origin: str = ""  # this server's origin, from POUNCE_PUBLIC_URL

    @property
    def host(self) -> str:
        return self.headers.get("host", "").lower()

    @property
    def own_origin(self) -> str:
        """This server's origin as browsers see it: the configured public URL's, never
        one built from the client's `Host`."""
        return self.public_origin

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
    max_message_bytes: int = 1 << 20  # payload plus the frames' headers
    max_fragments: int = 1024  # frames per message
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    send_buffer_limit: int = 4 << 20  # bytes waiting for a slow client before 4429
    close_timeout: float = 5.0
    # Pings and pongs a client may send: a burst, then this many per second (1008 past it)
    control_burst: int = 20
    control_per_second: float = 2.0
    max_sockets_per_address: int = 200  # more get HTTP 429 before the upgrade
    header_timeout: float = 10.0  # for the request head (realtime/httpserver.py)
    # Peers whose forwarding header (`forwarded_header`) is believed (clientaddr.py)
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    forwarded_header: str = XFF
    public_origin: str = ""  # scheme://host[:port] of POUNCE_PUBLIC_URL


class Router:
    """Endpoints by path plus what all sockets of this process share: the ping sweep,
    the end-of-turn flush of outbound frames and the count of sockets per address."""

    BUCKETS = 32

    def __init__(self, endpoints: Mapping[str, Endpoint], options: Options | None = None) -> None:
        self.endpoints = dict(endpoints)
        self.options = options or Options()
        self.proxies = ProxyRule(self.options.trusted_proxies, self.options.forwarded_header)
        self._buckets: list[set[WebSocketProtocol]] = [set() for _ in range(self.BUCKETS)]
        self._dirty: list[WebSocketProtocol] = []
        self._flush_scheduled = False
        self._sweeper: asyncio.TimerHandle | None = None
        self._tick = 0
        self.per_address: dict[str, int] = {}
        self.open_count = 0
        if self.options.compression:
            self.extensions = [
                ServerPerMessageDeflateFactory(
                    server_no_context_takeover=True, client_no_context_takeover=True
                )
            ]
        else:
            self.extensions = []

    # -- sockets per client address ------------------------------------------------------
    def take_address(self, address: str) -> bool:
        """Count one more socket from `address`; False (and nothing counted) past the limit."""
        count = self.per_address.get(address, 0)
        if count >= self.options.max_sockets_per_address:
            return False
        self.per_address[address] = count + 1
        return True

    def release_address(self, address: str) -> None:
        count = self.per_address.get(address, 0) - 1
        if count > 0:
            self.per_address[address] = count
        else:
            self.per_address.pop(address, None)

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

    # -- keepalive: each tick looks at one bucket ------------------------------------
    @property
    def sweep_period(self) -> float:
        """How often the sweep looks at each socket."""
        return min(self.options.ping_interval, self.options.ping_timeout) / SWEEP_STEPS

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
        self._sweeper = loop.call_later(self.sweep_period / self.BUCKETS, self._sweep)

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


class _Deflate(PerMessageDeflate):
    """permessage-deflate whose undecodable data fails the connection with 1007 (the
    data does not fit the message) rather than the codec's 1002.

    The codec maps a UnicodeDecodeError raised while parsing to 1007; this is the way in.
    """

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        try:
            return super().decode(frame, max_size=max_size)
        except ProtocolError as exc:
            if isinstance(exc.__cause__, zlib.error):
                raise UnicodeDecodeError("deflate", b"", 0, 1, "invalid compressed data") from None
            raise


def _strict(extension: Extension) -> Extension:
    if isinstance(extension, PerMessageDeflate):
        return _Deflate(
            extension.remote_no_context_takeover,
            extension.local_no_context_takeover,
            extension.remote_max_window_bits,
            extension.local_max_window_bits,
            extension.compress_settings,
        )
    return extension


def _parse_head(head: str) -> tuple[str, str, str, dict[str, str]]:
    """Method, target, version and headers (lower-case names; repeated headers joined
    with ", ", cookies with "; "), in time linear in the head."""
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise _Refused(400, "Malformed request line")
    headers: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _Refused(400, "Malformed header line")
        key, value = name.lower(), value.strip()
        if key in headers:
            repeated.setdefault(key, [headers[key]]).append(value)
        else:
            headers[key] = value
    for key, values in repeated.items():
        headers[key] = ("; " if key == "cookie" else ", ").join(values)
    return parts[0], parts[1], parts[2], headers


def _negotiate(
    factories: list[ServerPerMessageDeflateFactory], offer: str
) -> tuple[str | None, list[Extension]]:
    """The Sec-WebSocket-Extensions answer and the extensions accepted: the first offer
    the codec's factory accepts (it declines duplicate or unknown parameters)."""
    if not factories or not offer:
        return None, []
    try:
        offers = parse_extension(offer)
    except InvalidHandshake:
        return None, []
    for name, params in offers:
        for factory in factories:
            if factory.name != name:
                continue
            try:
                answer, extension = factory.process_request_params(params, [])
            except InvalidHandshake:
                continue
            return build_extension([(name, answer)]), [_strict(extension)]
    return None, []


def _frame_overhead(length: int) -> int:
    """Bytes of a client frame's header (masked) for a payload of `length`."""
    return 6 if length < 126 else 8 if length < 1 << 16 else 14


class _Fragments:
    """A message arriving in several frames."""

    __slots__ = ("count", "parts", "size", "text")

    def __init__(self, text: bool, first: bytes) -> None:
        self.text = text
        self.parts = [first]
        self.count = 1
        self.size = len(first) + _frame_overhead(len(first))


class _Refused(Exception):
    def __init__(self, status: int, detail: str, headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


class WebSocketProtocol(asyncio.Protocol):
    """One server-side WebSocket, from the upgrade request to the closing handshake."""

    __slots__ = (
        "_address",
        "_buf",
        "_close_timer",
        "_ctl",
        "_dirty",
        "_frag",
        "_hs",
        "_loop",
        "_ping_sent",
        "_router",
        "_seen",
        "_server_state",
        "_ws",
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
        self._server_state = server_state
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.state = _HANDSHAKE
        self.session: Session | None = None
        self._buf: bytearray | None = None  # the request head, until it is whole
        self._hs: tuple[str, list[Extension]] | None = None  # 101 answer, while admitting
        self._ws: Codec | None = None  # the codec, once open
        self._frag: _Fragments | None = None
        self._address: str | None = None  # counted in the router's per-address table
        self._dirty = False
        self._seen = 0.0
        self._ping_sent = 0.0
        self._ctl = 0.0  # when the client's control frame budget is next full again
        self._close_timer: asyncio.TimerHandle | None = None
        self.close_code: int | None = None
        self.bucket = (id(self) >> 4) % Router.BUCKETS

    # -- asyncio.Protocol -----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        if self._server_state is not None:
            self._server_state.connections.add(self)

    def data_received(self, data: bytes) -> None:
        ws = self._ws
        if ws is not None:
            if self.state == _OPEN or self.state == _CLOSING:
                now = self._seen = self._loop.time()
                self._ping_sent = 0.0
                self._receive(ws, data, now)
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
        if self._address is not None:
            self._router.release_address(self._address)
            self._address = None
        self._buf = None
        self._hs = None
        self._frag = None
        self._ws = None
        if previous in (_OPEN, _CLOSING):
            self._router.unregister(self)
            if self.close_code is None:
                self.close_code = CLOSE_ABNORMAL
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
        start = 0
        if buf is None:
            buf = self._buf = bytearray(data)
        else:
            start = max(0, len(buf) - 3)
            buf.extend(data)
        end = buf.find(b"\r\n\r\n", start)
        upto = end if end >= 0 else len(buf)
        if upto > MAX_HANDSHAKE_BYTES or buf.count(b"\n", 0, upto) > MAX_HANDSHAKE_HEADERS:
            self._buf = None
            self._refuse(431, "Request head too large")
            return
        if end < 0:
            return
        head = bytes(buf[:end]).decode("latin-1")  # what follows came before our answer
        self._buf = None
        try:
            endpoint, request, answer = self._check(head)
        except _Refused as refusal:
            self._refuse(refusal.status, refusal.detail, refusal.headers)
            return
        self._hs = answer
        self.state = _ADMITTING
        assert self.transport is not None
        self.transport.pause_reading()
        task = self._loop.create_task(self._admit(endpoint, request))
        if self._server_state is not None:
            self._server_state.tasks.add(task)
            task.add_done_callback(self._server_state.tasks.discard)

    def _check(self, head: str) -> tuple[Endpoint, Request, tuple[str, list[Extension]]]:
        """The endpoint, the request, and the 101 answer with its extensions.

        uvicorn has parsed this head already (this is its re-serialisation), so what is
        left to check is what RFC 6455 asks of an upgrade request."""
        method, target, version, headers = _parse_head(head)
        if method != "GET" or version != "HTTP/1.1":
            raise _Refused(400, "A WebSocket handshake is an HTTP/1.1 GET")
        host = headers.get("host", "")
        if not host or "," in host:
            raise _Refused(400, "Exactly one Host header is required")
        connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        if headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in connection:
            raise _Refused(400, "Not a WebSocket upgrade")
        if headers.get("sec-websocket-version") != "13":
            raise _Refused(
                426, "Sec-WebSocket-Version 13 is required", (("Sec-WebSocket-Version", "13"),)
            )
        key = headers.get("sec-websocket-key", "")
        try:
            if len(base64.b64decode(key, validate=True)) != 16:
                raise ValueError(key)
        except (ValueError, binascii.Error):
            raise _Refused(400, "Bad Sec-WebSocket-Key") from None
        parts = urlsplit(target)
        path = unquote(parts.path)
        endpoint = self._router.endpoints.get(path)
        if endpoint is None:
            raise _Refused(404, "No WebSocket endpoint here")
        answer, extensions = _negotiate(
            self._router.extensions, headers.get("sec-websocket-extensions", "")
        )
        assert self.transport is not None
        peer = self.transport.get_extra_info("peername")
        tls = self.transport.get_extra_info("sslcontext") is not None
        client, secure = self._router.proxies.resolve(
            str(peer[0]) if isinstance(peer, tuple) and peer else None, tls, headers.get
        )
        if client is not None:
            client = sys.intern(client)  # one string per address, however many sockets
            if not self._router.take_address(client):
                raise _Refused(429, "Too many sockets from this address")
            self._address = client
        request = Request(
            path=path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            client=client,
            secure=secure,
            public_origin=self._router.options.public_origin,
        )
        response = (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n"
            + (f"Sec-WebSocket-Extensions: {answer}\r\n" if answer else "")
            + "\r\n"
        )
        return endpoint, request, (response, extensions)

    async def _admit(self, endpoint: Endpoint, request: Request) -> None:
        try:
            decision = await endpoint.admit(request)
        except Exception:
            log.exception("WebSocket admission failed for %s", request.path)
            decision = 500
        held = self._hs
        if self.state != _ADMITTING or self.transport is None or held is None:
            return  # the client went away meanwhile
        response, extensions = held
        self._hs = None
        if isinstance(decision, int):
            self._refuse(decision)
            return
        self.transport.write(response.encode("latin-1"))
        options = self._router.options
        ws = Codec(SERVER, state=_WS_OPEN, max_size=options.max_message_bytes, logger=_CODEC_LOG)
        ws.extensions = extensions or _NO_EXTENSIONS  # the empty list is shared, only read
        self._ws = ws
        self.state = _OPEN
        self.session = decision
        self._seen = self._loop.time()
        self._router.register(self)
        self.transport.resume_reading()
        try:
            decision.opened(self)
        except Exception:
            log.exception("session open handler failed")
            self.close(CLOSE_INTERNAL, "internal error")

    def _refuse(
        self, status: int, detail: str = "", headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        """Answer the upgrade request with an HTTP error and close."""
        self.state = _CLOSED
        if self._address is not None:
            self._router.release_address(self._address)
            self._address = None
        if self.transport is None:
            return
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:  # not an HTTP status
            status, phrase = 500, HTTPStatus(500).phrase
        body = (detail or phrase).encode() + b"\n"
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
        head = (
            f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("latin-1") + body)
        self.transport.close()

    # -- inbound frames ---------------------------------------------------------------
    def _receive(self, ws: Codec, data: bytes, now: float) -> None:
        if len(data) <= FEED_SLICE:
            ws.receive_data(data)
            self._events(ws, now)
        else:
            for at in range(0, len(data), FEED_SLICE):
                ws.receive_data(data[at : at + FEED_SLICE])
                if not self._events(ws, now):
                    break
        if ws.writes and not self._dirty:
            self._dirty = True
            self._router.mark_dirty(self)

    def _events(self, ws: Codec, now: float) -> bool:
        """Act on the frames the codec has parsed; False once the connection is failing."""
        for frame in cast("list[Frame]", ws.events_received()):  # open: frames only
            opcode = frame.opcode
            data = bytes(frame.data)
            # The codec's parser holds on to the last frame until the next one arrives:
            # an idle socket would keep its last message.
            frame.data = b""
            if opcode is _TEXT or opcode is _BINARY:
                if frame.fin:
                    if not self._deliver(ws, data, opcode is _TEXT):
                        return False
                else:
                    self._frag = _Fragments(opcode is _TEXT, data)
            elif opcode is _CONT:
                frag = self._frag
                if frag is None:  # the codec checks the order; this is belt and braces
                    return self._fail(ws, CLOSE_PROTOCOL_ERROR, "unexpected continuation")
                frag.parts.append(data)
                frag.count += 1
                frag.size += len(data) + _frame_overhead(len(data))
                options = self._router.options
                if frag.count > options.max_fragments:
                    return self._fail(ws, CLOSE_TOO_BIG, "too many fragments")
                if frag.size > options.max_message_bytes:
                    return self._fail(ws, CLOSE_TOO_BIG, "message too big")
                if frame.fin:
                    self._frag = None
                    if not self._deliver(ws, b"".join(frag.parts), frag.text):
                        return False
            elif opcode is _PING or opcode is _PONG:
                if not self._control_allowed(now):
                    # The codec answered every ping it parsed; the flood's pongs not yet
                    # written are dropped (server frames are unmasked: 0x8A is a pong).
                    ws.writes = [out for out in ws.writes if out[:1] != b"\x8a"]
                    return self._fail(ws, CLOSE_POLICY, "too many control frames")
            elif opcode is _CLOSE:
                if self.state == _OPEN:
                    received = ws.close_rcvd
                    self.close_code = received.code if received is not None else CLOSE_NO_STATUS
                    self.state = _CLOSING
        if ws.parser_exc is not None and self.state == _OPEN:
            sent = ws.close_sent
            self.close_code = sent.code if sent is not None else CLOSE_ABNORMAL
            self.state = _CLOSING
            self._frag = None
            log.info("failing a WebSocket: %s (%s)", ws.parser_exc, self.close_code)
            return False
        return ws.parser_exc is None

    def _deliver(self, ws: Codec, payload: bytes, text: bool) -> bool:
        if self.state != _OPEN:
            return True  # data after our close frame: ignored while the peer catches up
        if text:
            try:
                payload.decode()
            except UnicodeDecodeError:
                return self._fail(ws, CLOSE_INVALID_DATA, "text is not valid UTF-8")
        session = self.session
        if session is not None:
            session.received(payload, text)
        return True

    def _control_allowed(self, now: float) -> bool:
        """A token bucket for the client's pings and pongs, kept as one timestamp."""
        options = self._router.options
        step = 1.0 / options.control_per_second
        full_at = max(self._ctl, now) + step
        if full_at - now > options.control_burst * step:
            return False
        self._ctl = full_at
        return True

    def _fail(self, ws: Codec, code: int, reason: str) -> bool:
        """Fail the connection (RFC 6455 7.1.7): say why, then drop it without waiting."""
        log.info("failing a WebSocket: %s (%d)", reason, code)
        self._frag = None
        if ws.state is _WS_OPEN:
            self.close_code = code
        ws.fail(code, reason)
        if self.state == _OPEN:
            self.state = _CLOSING
        return False

    # -- outbound -----------------------------------------------------------------------
    def send(self, payload: bytes, *, text: bool = True) -> bool:
        """Queue one message (UTF-8 JSON for text); it leaves at the end of this turn.

        False if the socket is closing or closed. A client that lets more than
        `send_buffer_limit` bytes pile up is closed with 4429: it resumes from the
        store after reconnecting, instead of this process buffering without bound.
        """
        ws = self._ws
        if ws is None or self.state != _OPEN:
            return False
        if ws.extensions:  # compressed: the codec frames it
            if text:
                ws.send_text(payload)
            else:
                ws.send_binary(payload)
        else:
            # An uncompressed, unfragmented frame is a header in front of the payload:
            # both go into the codec's output in order, the payload without a copy.
            n = len(payload)
            out = ws.writes
            out.append(_SHORT_HEADERS[text][n] if n < 126 else frame_header(n, text=text))
            out.append(payload)
        if not self._dirty:
            self._dirty = True
            self._router.mark_dirty(self)
        return True

    def flush(self) -> None:
        """Write what this turn queued (frames of every kind) in one go; past the send
        buffer limit, close with 4429."""
        self._dirty = False
        ws, transport = self._ws, self.transport
        if ws is None or transport is None or self.state == _CLOSED:
            return
        out = ws.data_to_send()
        if not out:
            return
        eof = out[-1] == SEND_EOF
        if eof:
            out.pop()
        transport.writelines(out)
        if eof:
            self._end(ws, transport)
            return
        if self.state == _OPEN and (
            transport.get_write_buffer_size() > self._router.options.send_buffer_limit
        ):
            log.info("closing a WebSocket: the client does not keep up")
            metrics.SLOW_CLIENTS.inc()
            self.close(CLOSE_TOO_SLOW, "too slow")

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Start the closing handshake; the TCP connection ends when the client answers
        (or after `close_timeout`)."""
        if self.state != _OPEN:
            if self.state in (_HANDSHAKE, _ADMITTING) and self.transport is not None:
                self.state = _CLOSED
                self.transport.close()
            return
        ws = self._ws
        assert ws is not None
        self.close_code = code
        self.state = _CLOSING
        if ws.state is _WS_OPEN:
            ws.send_close(code, reason.encode()[:123].decode(errors="ignore"))
        if not self._dirty:
            self._dirty = True
            self._router.mark_dirty(self)
        self._close_timer = self._loop.call_later(self._router.options.close_timeout, self._abort)

    def _end(self, ws: Codec, transport: asyncio.Transport) -> None:
        """End the TCP connection after our close frame. After the client's close frame
        nothing more comes: close. Otherwise we failed the connection, and the client may
        still be sending (the rest of a message we refused); closing a socket with unread
        input makes the kernel send a reset that can discard our close frame before the
        client reads it. So half-close, read and discard until the client closes, and
        give up after `close_timeout`."""
        if ws.close_rcvd is not None or not transport.can_write_eof():
            transport.close()  # after what is buffered has gone out
            return
        transport.write_eof()
        if self._close_timer is None:
            self._close_timer = self._loop.call_later(
                self._router.options.close_timeout, transport.close
            )

    def _abort(self) -> None:
        self._close_timer = None
        if self.transport is not None:
            self.transport.abort()

    # -- keepalive (called by the router's sweep) -----------------------------------
    def keepalive(self, now: float, interval: float, timeout: float) -> None:
        if self.state != _OPEN:
            return
        if self._ping_sent:
            if now - self._ping_sent >= timeout:
                log.info("closing a WebSocket: no pong within %.0f s", timeout)
                self.close_code = CLOSE_ABNORMAL
                self._abort()
            return
        if now - self._seen >= interval:
            ws = self._ws
            assert ws is not None
            self._ping_sent = now
            ws.send_ping(b"")
            if not self._dirty:
                self._dirty = True
                self._router.mark_dirty(self)
