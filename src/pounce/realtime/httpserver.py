"""The HTTP/1.1 protocol uvicorn runs for every connection: uvicorn's httptools one, with
limits it lacks, checked on the raw bytes before its parser sees them.

A request head over 16 KiB or 100 header lines gets 431, one not whole within the
header timeout gets 408, a WebSocket upgrade over HTTP/1.0 gets 400; each in time
linear in what was received, and the connection then closes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pounce.realtime.websocket import (
    MAX_HANDSHAKE_BYTES,
    MAX_HANDSHAKE_HEADERS,
    STATE_KEY,
    Options,
    Router,
)

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = MAX_HANDSHAKE_BYTES
MAX_HEADERS = MAX_HANDSHAKE_HEADERS
# After refusing, read (and drop) what the client still sends for this long before
# closing, so the refusal is not lost to a TCP reset while the client is still writing.
LINGER_SECONDS = 1.0

_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
}


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol plus limits on request heads and a header timeout."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        router = app_state.get(STATE_KEY)
        options = router.options if isinstance(router, Router) else Options()
        self._header_timeout = options.header_timeout
        self._in_head = True  # the next bytes belong to a request head
        self._head_bytes = 0
        self._head_lines = 0
        self._tail = b""  # the last bytes seen, for a terminator split across reads
        self._head_timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # draining after a refusal
        if self._in_head and not self._scan(data):
            return
        super().data_received(data)

    def _scan(self, data: bytes) -> bool:
        """Count this read toward the current request head; False once it is refused."""
        tail = self._tail
        buf = tail + data if tail else data
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            upto = max(0, end - len(tail))  # of this read, the part before the terminator
            self._head_bytes += upto
            self._head_lines += data.count(b"\n", 0, upto)
        else:
            self._head_bytes += len(data)
            self._head_lines += data.count(b"\n")
            self._tail = buf[-3:]
        if self._head_bytes > MAX_HEAD_BYTES or self._head_lines > MAX_HEADERS:
            self._refuse(431, "Request head too large")
            return False
        if end >= 0:
            self._in_head = False
            self._head_bytes = self._head_lines = 0
            self._tail = b""
            self._disarm()
        else:
            self._arm()  # a head begun and not whole: it has until the timeout
        return True

    def on_headers_complete(self) -> None:
        self._in_head = False  # the parser says the head is whole (pipelined requests too)
        self._head_bytes = self._head_lines = 0
        self._tail = b""
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # what follows is the next request's head

    def handle_websocket_upgrade(self) -> None:
        if self.scope.get("http_version") != "1.1":
            self._refuse(400, "WebSocket upgrades need HTTP/1.1")
            return
        super().handle_websocket_upgrade()

    # -- the header timeout ---------------------------------------------------------------
    def _arm(self) -> None:
        if self._head_timer is None and not self._refused:
            self._head_timer = self.loop.call_later(self._header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self._in_head and not self._refused:
            self._refuse(408, "Request head not received in time")

    # -- refusing ---------------------------------------------------------------------------
    def _refuse(self, status: int, detail: str) -> None:
        self._refused = True
        self._disarm()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        client = self.client[0] if self.client else "?"
        log.info("refusing a request from %s: %s (%d)", client, detail, status)
        body = detail.encode() + b"\n"
        transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, _REASONS[status].encode(), len(body), body)
        )
        if transport.can_write_eof():
            transport.write_eof()
            self._linger = self.loop.call_later(LINGER_SECONDS, transport.close)
        else:
            transport.close()
