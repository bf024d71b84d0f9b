"""A minimal, fast WebSocket client (RFC 6455) for the load generator.

Why not `websockets`: the load generator must hold ~10k sockets per process and push
tens of thousands of frames per second from one core, so each socket is a bare
`asyncio.Protocol` with no per-socket task. Text frames only, no extensions
(permessage-deflate is not offered), no fragmentation on send.

Client frames are masked with the all-zero key: the RFC requires the mask bit and a
key, and a zero key is a valid key, so the payload needs no XOR (browsers pick random
keys to defeat proxy cache poisoning, which does not apply on loopback).

Every inbound frame is handed to `on_frame(payload, recv_ns)` where `recv_ns` is
`time.monotonic_ns()` taken when the chunk holding it was read from the socket.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable
from urllib.parse import urlsplit

_ZERO_MASK = b"\x00\x00\x00\x00"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

FrameHandler = Callable[[bytes, int], None]


def encode_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + struct.pack("!H", n)
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + struct.pack("!Q", n)
    return header + _ZERO_MASK + payload


class WSClient(asyncio.Protocol):
    """One client socket. Await `opened` after `connect()`; then `send()` text frames."""

    def __init__(self, on_frame: FrameHandler | None = None) -> None:
        self.on_frame: FrameHandler = on_frame or (lambda _p, _t: None)
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._handshaken = False
        self._request = b""
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self._frag: bytearray | None = None

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self._request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        buf = self._buf
        buf += data
        if not self._handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            if b" 101 " not in status:
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()  # type: ignore[union-attr]
                return
            del buf[: end + 4]
            self._handshaken = True
            if not self.opened.done():
                self.opened.set_result(None)
        self._parse(now)

    def _parse(self, now: int) -> None:
        buf = self._buf
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            hdr = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                hdr = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = struct.unpack_from("!Q", buf, pos + 2)[0]
                hdr = 10
            if b1 & 0x80:  # servers never mask, but be correct
                hdr += 4
            if n - pos < hdr + length:
                break
            payload = bytes(buf[pos + hdr : pos + hdr + length])
            if b1 & 0x80:
                key = buf[pos + hdr - 4 : pos + hdr]
                payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
            pos += hdr + length
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode == OP_TEXT or opcode == OP_BINARY:
                if fin:
                    self.on_frame(payload, now)
                else:
                    self._frag = bytearray(payload)
            elif opcode == OP_CONT:
                if self._frag is not None:
                    self._frag += payload
                    if fin:
                        whole, self._frag = bytes(self._frag), None
                        self.on_frame(whole, now)
            elif opcode == OP_PING:
                self.transport.write(encode_frame(payload, OP_PONG))  # type: ignore[union-attr]
            elif opcode == OP_CLOSE:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.transport.write(encode_frame(payload[:2], OP_CLOSE))  # type: ignore[union-attr]
                self.transport.close()  # type: ignore[union-attr]
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(self.close_code if self.close_code is not None else 1006)

    # -- API --------------------------------------------------------------------------
    def send(self, payload: bytes) -> None:
        self.transport.write(encode_frame(payload))  # type: ignore[union-attr]

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(struct.pack("!H", 1000), OP_CLOSE))
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def connect(
    url: str,
    *,
    origin: str | None = None,
    cookie: str | None = None,
    on_frame: FrameHandler | None = None,
    timeout: float = 30.0,
) -> WSClient:
    """Open a socket to ws://host:port/path?query and finish the upgrade."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    if cookie:
        lines.append(f"Cookie: {cookie}")
    loop = asyncio.get_running_loop()
    proto = WSClient(on_frame)
    proto._request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    await asyncio.wait_for(loop.create_connection(lambda: proto, host, port), timeout)
    try:
        await asyncio.wait_for(asyncio.shield(proto.opened), timeout)
    except BaseException:
        proto.abort()
        raise
    return proto
