"""One client socket as the endpoints see it: send, hold during a replay, close."""

from __future__ import annotations

import itertools
import logging
import os
import secrets

from pounce import metrics
from pounce.realtime.frames import ServerFrame, encode
from pounce.realtime.websocket import WebSocketProtocol

log = logging.getLogger(__name__)

_ids = itertools.count(1)
# Connection ids meet in Redis presence across processes: a per-process random part
# keeps two nodes' counters from naming different sockets alike, and says which node
# holds a socket (`{kind}-{node}-{n}`), so a frame for one socket goes to that node only.
# A process forked after importing this (a pre-forking supervisor, the test suite's fork
# server) is a node of its own: it draws its own id.
NODE = secrets.token_hex(6)


def _new_node() -> None:
    global NODE
    NODE = secrets.token_hex(6)


os.register_at_fork(after_in_child=_new_node)
LIVE: dict[str, Connection] = {}
# Frames the bus may bring a socket while it is held (during a replay, or after a bus
# reconnect until its client resumes); past it the socket is closed (1013) and its client
# resumes from the store on reconnect.
MAX_HELD_FRAMES = 2000
CLOSE_TOO_FAR_BEHIND = 1013


def node_of(connection_id: str) -> str | None:
    """The node (process) that holds this connection, from its id."""
    parts = connection_id.split("-")
    return parts[1] if len(parts) == 3 else None


def deliver(connection_id: str, data: bytes) -> None:
    """A frame for one socket of this process (gone already: dropped, as the bus does)."""
    conn = LIVE.get(connection_id)
    if conn is not None:
        conn.on_bus(connection_id, data)


class Connection:
    """Frames for one socket. Sending never blocks: the socket writes what a turn of
    the event loop queued in one go, and closes a client that falls too far behind
    (4429, see `WebSocketProtocol.send`); the client then resumes from the store.
    """

    __slots__ = ("__weakref__", "_held", "accepts", "closed", "id", "kind", "socket")

    def __init__(self, socket: WebSocketProtocol, *, kind: str, accepts: type[ServerFrame]) -> None:
        self.socket = socket
        self.kind = kind
        self.accepts = accepts  # the frames this endpoint's clients may receive
        self.id = f"{kind}-{NODE}-{next(_ids)}"
        self._held: list[bytes] | None = None
        self.closed = False
        LIVE[self.id] = self
        metrics.OPEN_SOCKETS.labels(kind).inc()

    def send(self, data: bytes) -> None:
        """Send one encoded frame; never blocks."""
        if self.closed:
            return
        if self.socket.send(data):
            metrics.frame_out(self.kind)

    def send_frame(self, frame: ServerFrame) -> int:
        """Send one frame of this endpoint's kind (a console frame never goes to a
        messenger); returns its size in bytes."""
        if not isinstance(frame, self.accepts):
            raise TypeError(f"a {type(frame).__name__} may not go to a {self.kind} socket")
        data = encode(frame)
        self.send(data)
        return len(data)

    def on_bus(self, _topic: str, data: bytes) -> None:
        if self._held is not None:
            if len(self._held) >= MAX_HELD_FRAMES:
                # Too much waiting behind a replay or resync: the client resumes from
                # the store on reconnect instead.
                self.close_soon(CLOSE_TOO_FAR_BEHIND, "too far behind")
                return
            self._held.append(data)
        elif not self.closed and self.socket.send(data):
            metrics.frame_out(self.kind)

    def hold(self) -> None:
        """Buffer frames from the bus (while a replay from the store is being sent)."""
        if self._held is None:
            self._held = []

    def release(self) -> None:
        """Send what the bus delivered during the replay, after it: order by seq holds."""
        held, self._held = self._held or [], None
        for data in held:
            self.send(data)

    def close_soon(self, code: int, reason: str) -> None:
        """Ask the client to reconnect (and resume from the store)."""
        if not self.closed:
            self.closed = True
            self.socket.close(code, reason)

    def stop(self) -> None:
        if LIVE.pop(self.id, None) is not None:
            metrics.OPEN_SOCKETS.labels(self.kind).dec()
        self.closed = True
        self._held = None
