"""Scripted visitors and reps speaking the documented protocol over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pounce.realtime.frames import CONSOLE, MESSENGER, Endpoint

Frame = dict[str, Any]
_ids = itertools.count(1)


def new_id(prefix: str = "m") -> str:
    return f"{prefix}-{next(_ids)}"


class Client:
    """A socket plus an inbox; `expect` waits for a frame matching a predicate.

    Every frame received is validated against the documented server frame schema of its
    endpoint, so a frame that drifts from docs/schemas fails the test that received it.
    """

    def __init__(self, ws: ClientConnection, endpoint: Endpoint | None = None) -> None:
        self.ws = ws
        self.endpoint = endpoint
        self.invalid: list[str] = []
        self.inbox: list[Frame] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.closed_code: int | None = None
        OPEN.add(self)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if self.endpoint is not None:
                    try:
                        self.endpoint.server_decoder.decode(raw)
                    except msgspec.ValidationError as exc:
                        self.invalid.append(f"{frame.get('type')}: {exc}")
                self.inbox.append(frame)
                self._arrived.set()
        except ConnectionClosed:
            self.closed_code = self.ws.close_code
        finally:
            self.closed_code = self.ws.close_code
            self._arrived.set()

    async def send(self, frame: Frame) -> None:
        await self.ws.send(json.dumps(frame))

    async def send_raw(self, raw: str | bytes) -> None:
        await self.ws.send(raw)

    async def expect(
        self, kind: str, where: Callable[[Frame], bool] = lambda f: True, timeout: float = 5.0
    ) -> Frame:
        """Remove and return the first frame of `kind` matching `where`, waiting for it."""
        assert not self.invalid, f"frames that break their schema: {self.invalid}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, frame in enumerate(self.inbox):
                if frame.get("type") == kind and where(frame):
                    return self.inbox.pop(i)
            remaining = deadline - loop.time()
            if remaining <= 0 or (self._reader.done() and not self._arrived.is_set()):
                seen = [f.get("type") for f in self.inbox]
                raise AssertionError(f"no {kind!r} frame within {timeout}s; inbox: {seen}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def request(self, frame: Frame, timeout: float = 5.0) -> Frame:
        """Send a frame with an id and return its `ack` or `error`."""
        frame = {"id": new_id(frame["type"]), **frame}
        await self.send(frame)
        return await self.expect_reply(frame["id"], timeout)

    async def expect_reply(self, frame_id: str, timeout: float = 5.0) -> Frame:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, f in enumerate(self.inbox):
                if f.get("type") in ("ack", "error") and f.get("id") == frame_id:
                    return self.inbox.pop(i)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no reply to {frame_id}; inbox: {self.inbox}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    def drain(self, kind: str | None = None) -> list[Frame]:
        taken = [f for f in self.inbox if kind is None or f.get("type") == kind]
        self.inbox = [f for f in self.inbox if f not in taken]
        return taken

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        """The close code, once the server has closed the socket."""
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.closed_code

    async def close(self) -> None:
        OPEN.discard(self)
        await self.ws.close()
        self._reader.cancel()
        assert not self.invalid, f"frames that break their schema: {self.invalid}"


# Clients a test has not closed yet: `close_all` closes them after each test, so a socket
# left open is not garbage-collected (an unclosed-socket warning) during a later test.
OPEN: set[Client] = set()


async def close_all() -> None:
    while OPEN:
        client = OPEN.pop()
        with contextlib.suppress(Exception):
            await client.ws.close()
        client._reader.cancel()


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://").replace("https://", "wss://") + path


async def visitor(
    base: str,
    site_key: str,
    *,
    token: str | None = None,
    page: str = "/demo/",
    origin: str | None = None,
    locale: str | None = None,
    local_addr: str | None = None,
    expect: str = "welcome",
) -> tuple[Client, Frame]:
    """A messenger after its hello: the `welcome` (or the first frame of kind `expect`),
    from the client address `local_addr` if given (a loopback one, e.g. 127.0.0.2)."""
    ws = await connect(
        ws_url(base, f"/ws/messenger?site_key={site_key}"),
        origin=origin or base,  # type: ignore[arg-type]
        max_size=2**22,
        **({"local_addr": (local_addr, 0)} if local_addr else {}),
    )
    client = Client(ws, MESSENGER)
    await client.send(
        {
            "type": "hello",
            "v": 1,
            "visitor_token": token,
            "page": {"url": base + page, "title": "Demo"},
            **({"locale": locale} if locale else {}),
        }
    )
    welcome = await client.expect(expect)
    return client, welcome


async def login(base: str, email: str, password: str) -> tuple[str, str]:
    """The session cookie and CSRF token of a rep."""
    async with httpx.AsyncClient(base_url=base) as http:
        res = await http.post("/api/v1/session", json={"email": email, "password": password})
        res.raise_for_status()
        return res.cookies["pounce_session"], res.json()["csrf_token"]


async def rep(base: str, cookie: str, *, available: bool = True) -> tuple[Client, Frame]:
    ws = await connect(
        ws_url(base, "/ws/console"),
        origin=base,  # type: ignore[arg-type]
        additional_headers={"Cookie": f"pounce_session={cookie}"},
    )
    client = Client(ws, CONSOLE)
    await client.send({"type": "hello", "v": 1})
    welcome = await client.expect("welcome")
    if available:
        reply = await client.request({"type": "availability", "status": "available"})
        assert reply["type"] == "ack", reply
    return client, welcome
