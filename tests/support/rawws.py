"""A bare WebSocket client over asyncio streams, to send frames a library would refuse to
(unmasked, fragmented, reserved bits, bad UTF-8) and to read exactly what the server sent."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Frame:
    fin: bool
    rsv1: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        if self.opcode != 0x8 or len(self.payload) < 2:
            return None
        return int(struct.unpack("!H", self.payload[:2])[0])


def encode(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: bool = True,
    rsv2: bool = False,
) -> bytes:
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = bytes((b0, mbit | n))
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


OPEN: list[RawSocket] = []


class RawSocket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        OPEN.append(self)
        self.status = 0
        self.headers: dict[str, str] = {}

    @classmethod
    async def open(
        cls,
        base: str,
        path: str,
        *,
        origin: str | None = None,
        headers: dict[str, str] | None = None,
        lines: list[str] | None = None,
        version: str = "13",
        key: str | None = None,
        rcvbuf: int | None = None,
        host: str | None = "",
        http: str = "HTTP/1.1",
        local: str | None = None,
    ) -> RawSocket:
        """Send an upgrade request and read the answer's head. `host`: "" for the URL's,
        None for no Host header; `lines`: raw header lines (repeats allowed); `local`: the
        address to connect from (127.0.0.2, ... are other clients)."""
        url = urlsplit(base)
        sock = socket.socket()
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if local is not None:
            sock.bind((local, 0))
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (url.hostname, url.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        if key is None:
            key = base64.b64encode(os.urandom(16)).decode()
        head = [
            f"GET {path} {http}",
            *([f"Host: {host or url.netloc}"] if host is not None else []),
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            f"Sec-WebSocket-Version: {version}",
            f"Origin: {origin or base}",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
            *(lines or []),
        ]
        ws = cls(reader, writer)
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *header_lines = raw.decode("latin-1").split("\r\n")
        ws.status = int(status_line.split()[1])
        for line in header_lines:
            if ":" in line:
                name, _, value = line.partition(":")
                ws.headers[name.strip().lower()] = value.strip()
        return ws

    def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)

    def send(self, opcode: int, payload: bytes, **kwargs: bool) -> None:
        self.writer.write(encode(opcode, payload, **kwargs))

    def text(self, payload: str | bytes) -> None:
        self.send(0x1, payload.encode() if isinstance(payload, str) else payload)

    async def recv(self, timeout: float = 5.0) -> Frame | None:
        """The next frame, or None when the server closed the TCP connection."""
        try:
            head = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        except asyncio.IncompleteReadError:
            return None
        fin, rsv1, opcode = bool(head[0] & 0x80), bool(head[0] & 0x40), head[0] & 0x0F
        assert not head[1] & 0x80, "server frames must not be masked"
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        payload = await asyncio.wait_for(self.reader.readexactly(n), timeout)
        return Frame(fin, rsv1, opcode, payload)

    async def recv_until(self, opcode: int, timeout: float = 5.0) -> Frame:
        """Skip frames until one with `opcode`; fails if the connection ends first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            assert frame is not None, f"connection closed before opcode {opcode}"
            if frame.opcode == opcode:
                return frame

    async def closed_with(self, timeout: float = 5.0) -> int | None:
        """Read until the server's close frame; its code (None if TCP ended without one)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            if frame is None:
                return None
            if frame.opcode == 0x8:
                return frame.close_code

    async def eof(self, timeout: float = 5.0) -> bool:
        """True once the server has closed the TCP connection (whatever came before)."""
        try:
            await asyncio.wait_for(self.reader.read(), timeout)
        except ConnectionResetError:
            pass
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


async def close_all() -> None:
    """Close every socket a test opened (unclosed ones are warnings, hence errors)."""
    while OPEN:
        ws = OPEN.pop()
        ws.close()
        with contextlib.suppress(Exception):
            await ws.writer.wait_closed()
