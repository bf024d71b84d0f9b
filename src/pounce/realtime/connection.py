"""One client socket: a bounded send queue drained by its own task."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging

from starlette.websockets import WebSocket, WebSocketState

from pounce import metrics

log = logging.getLogger(__name__)

SEND_QUEUE_LIMIT = 1000
CLOSE_TOO_SLOW = 4429
_ids = itertools.count(1)
CLOSE_RESYNC = 1012
LIVE: set[Connection] = set()


def close_all(code: int = CLOSE_RESYNC, reason: str = "resync") -> int:
    """Close every socket of this process; clients reconnect and resume from the store."""
    live = list(LIVE)
    for conn in live:
        conn.close_soon(code, reason)
    return len(live)


class Connection:
    """Outbound frames go through a queue so a slow client never blocks a publisher.

    When the queue is full the client is closed with 4429 and resumes from the store
    after reconnecting, instead of this process buffering without bound.
    """

    def __init__(self, websocket: WebSocket, *, kind: str) -> None:
        self.websocket = websocket
        self.kind = kind
        self.id = f"{kind}-{next(_ids)}-{id(self):x}"
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(SEND_QUEUE_LIMIT)
        self._sender: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._held: list[bytes] | None = None
        self.closed = False
        self._frames_out = metrics.FRAMES_OUT.labels(kind)
        LIVE.add(self)
        metrics.OPEN_SOCKETS.labels(kind).inc()

    def start(self) -> None:
        self._sender = asyncio.create_task(self._drain(), name=f"send:{self.id}")

    def send(self, data: bytes) -> None:
        """Queue one encoded frame; never blocks."""
        if self.closed:
            return
        try:
            self._queue.put_nowait(data)
            self._frames_out.inc()
        except asyncio.QueueFull:
            log.info("closing %s: send queue full", self.id)
            metrics.SLOW_CLIENTS.inc()
            self.closed = True
            self._closer = asyncio.create_task(self._close(CLOSE_TOO_SLOW, "too slow"))

    def on_bus(self, _topic: str, data: bytes) -> None:
        if self._held is not None:
            self._held.append(data)
        else:
            self.send(data)

    def hold(self) -> None:
        """Buffer frames from the bus (while a replay from the store is being sent)."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Send what the bus delivered during the replay, after it: order by seq holds."""
        held, self._held = self._held or [], None
        for data in held:
            self.send(data)

    async def _drain(self) -> None:
        ws = self.websocket
        try:
            while True:
                data = await self._queue.get()
                if data is None:
                    return
                await ws.send_text(data.decode())
                del data  # an idle socket should not keep its last frame alive
        except Exception as exc:  # the peer went away; the receive loop notices too
            log.info("sending on %s failed: %r", self.id, exc)
            self.closed = True

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            if self.websocket.application_state is WebSocketState.CONNECTED:
                await self.websocket.close(code, reason)

    def close_soon(self, code: int, reason: str) -> None:
        """Ask the client to reconnect (and resume from the store)."""
        if not self.closed:
            self.closed = True
            self._closer = asyncio.create_task(self._close(code, reason))

    async def stop(self) -> None:
        if self in LIVE:
            LIVE.discard(self)
            metrics.OPEN_SOCKETS.labels(self.kind).dec()
        self.closed = True
        if self._sender is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sender
