"""The server in the test's own process: the real store (SQLite, migrated), the local
bus and presence, a clock the test moves, and sockets that are in-memory pipes into the
real endpoint sessions (the idea of httpx's MockTransport). Protocol and service tests
run here in milliseconds; the wire, the codec, scale-out and faults keep real processes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import orjson
from sqlalchemy import event

from pounce.api import sockets
from pounce.api.deps import CSRF_HEADER
from pounce.app import create_app
from pounce.config import Settings
from pounce.realtime.bus import LocalBus
from pounce.realtime.frames import CONSOLE, MESSENGER, Endpoint
from pounce.realtime.presence import LocalPresence
from pounce.realtime.websocket import Request
from pounce.services import auth, outbox, timers
from pounce.services.runtime import Runtime
from pounce.store.db import Database
from tests.support.seed import Org, seed_org
from tests.support.stack import migrated_sqlite

Frame = dict[str, Any]
ORIGIN = "http://pounce.test"
_ids = itertools.count(1)


class Clock:
    """The runtime's clock (epoch seconds): it moves only when the test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class MemorySocket:
    """What a session sees of its socket: `send` queues a frame for the test to read,
    `close` records the code. The test feeds frames with `send_json`."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.transport = None
        self.inbox: list[Frame] = []
        self.invalid: list[str] = []
        self.raw: list[bytes] = []
        self.close_code: int | None = None
        self.session: Any = None
        self._arrived = asyncio.Event()

    # -- the session's side -------------------------------------------------------------
    def send(self, payload: bytes, *, text: bool = True) -> bool:
        if self.close_code is not None:
            return False
        self.raw.append(payload)
        try:
            self.endpoint.server_decoder.decode(payload)
        except msgspec.ValidationError as exc:
            self.invalid.append(f"{payload[:80]!r}: {exc}")
        self.inbox.append(orjson.loads(payload))
        self._arrived.set()
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.close_code is None:
            self.close_code = code
            self._arrived.set()
            if self.session is not None:
                self.session.closed()

    # -- the test's side ------------------------------------------------------------------
    async def send_json(self, frame: Frame) -> None:
        self.session.received(orjson.dumps(frame), True)
        await asyncio.sleep(0)

    async def expect(
        self, kind: str, where: Callable[[Frame], bool] = lambda f: True, timeout: float = 5.0
    ) -> Frame:
        """Remove and return the first frame of `kind` matching `where`, waiting for it."""
        return await self.expect_any((kind,), where, timeout)

    async def expect_any(
        self,
        kinds: tuple[str, ...],
        where: Callable[[Frame], bool] = lambda f: True,
        timeout: float = 5.0,
    ) -> Frame:
        assert not self.invalid, f"frames that break their schema: {self.invalid}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, frame in enumerate(self.inbox):
                if frame.get("type") in kinds and where(frame):
                    return self.inbox.pop(i)
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [f.get("type") for f in self.inbox]
                errors = [f for f in self.inbox if f.get("type") == "error"]
                raise AssertionError(
                    f"no {kinds} frame within {timeout}s; inbox: {seen}; errors: {errors}"
                )
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def request(self, frame: Frame, timeout: float = 5.0) -> Frame:
        """Send a frame with a fresh id and return its `ack` or `error`."""
        frame = {"id": f"{frame['type']}-{next(_ids)}", **frame}
        await self.send_json(frame)
        return await self.expect_any(
            ("ack", "error"), lambda f: f.get("id") == frame["id"], timeout
        )

    async def barrier(self) -> None:
        """Wait until the session has handled everything sent before: a `ping` with a
        fresh `t` comes back as its `pong` only after the frames queued ahead of it."""
        token = f"barrier-{next(_ids)}"
        await self.send_json({"type": "ping", "t": token})
        await self.expect("pong", lambda f: f.get("t") == token)

    async def closed(self, timeout: float = 5.0) -> int:
        """Wait until the session closes this socket; its close code."""
        async with asyncio.timeout(timeout):
            while self.close_code is None:
                self._arrived.clear()
                await self._arrived.wait()
        return self.close_code

    def drain(self, kind: str | None = None) -> list[Frame]:
        taken = [f for f in self.inbox if kind is None or f.get("type") == kind]
        self.inbox = [f for f in self.inbox if f not in taken]
        return taken

    async def disconnect(self) -> None:
        """Close the socket and wait until the server has done with it (presence)."""
        self.close(1000, "bye")
        await asyncio.sleep(0)
        closing = list(sockets._tasks)  # the sessions' close work
        if closing:
            await asyncio.gather(*closing)


@dataclass
class Harness:
    rt: Runtime
    clock: Clock
    org: Org
    endpoints: dict[str, Any] = field(default_factory=dict)
    sockets: list[MemorySocket] = field(default_factory=list)

    async def visitor(
        self, *, token: str | None = None, page: str = "/pricing", client: str = "127.0.0.2"
    ) -> tuple[MemorySocket, Frame]:
        """A visitor's messenger, after `welcome`."""
        sock = await self.visitor_hello(token=token, page=page, client=client)
        return sock, await sock.expect("welcome")

    async def visitor_hello(
        self, *, token: str | None = None, page: str = "/pricing", client: str = "127.0.0.2"
    ) -> MemorySocket:
        """A visitor's messenger that has sent its `hello` (the answer not awaited)."""
        sock = await self._open(
            "/ws/messenger",
            MESSENGER,
            query={"site_key": self.org.site_key},
            headers={"origin": ORIGIN, "host": "pounce.test"},
            client=client,
        )
        await sock.send_json(
            {
                "type": "hello",
                "v": 1,
                "visitor_token": token,
                "page": {"url": ORIGIN + page, "title": "Pricing"},
            }
        )
        return sock

    async def rep(self, index: int = 0, *, available: bool = True) -> tuple[MemorySocket, Frame]:
        """A rep's console (`index` into the org's reps, -1 for its admin), after `welcome`."""
        person = self.org.admin if index < 0 else self.org.reps[index]
        token = await auth.login(
            self.rt, email=person.email, password=self.org.password, client_ip="127.0.0.1"
        )
        sock = await self._open(
            "/ws/console",
            CONSOLE,
            headers={
                "origin": self.rt.settings.resolved_public_url(),
                "host": self.rt.settings.resolved_public_url().split("://", 1)[1],
                "cookie": f"{auth.SESSION_COOKIE}={token.token}",
            },
        )
        await sock.send_json({"type": "hello", "v": 1})
        welcome = await sock.expect("welcome")
        if available:
            reply = await sock.request({"type": "availability", "status": "available"})
            assert reply["type"] == "ack", reply
        return sock, welcome

    @asynccontextmanager
    async def http(self, index: int = 0) -> AsyncIterator[httpx.AsyncClient]:
        """The REST API in this process, on this runtime, signed in as a rep (`index` into
        the org's reps, -1 for its admin), writes carrying the CSRF header."""
        app = create_app(self.rt.settings, run_worker=False)
        app.state.runtime = self.rt  # no lifespan: the harness's runtime serves it
        person = self.org.admin if index < 0 else self.org.reps[index]
        session = await auth.login(
            self.rt, email=person.email, password=self.org.password, client_ip="127.0.0.1"
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=self.rt.settings.resolved_public_url(),
            cookies={auth.SESSION_COOKIE: session.token or ""},
            headers={CSRF_HEADER: session.csrf_token},
        ) as client:
            yield client

    async def _open(
        self,
        path: str,
        endpoint: Endpoint,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str],
        client: str = "127.0.0.1",
    ) -> MemorySocket:
        request = Request(
            path=path,
            query=query or {},
            headers=headers,
            client=client,
            secure=False,
            public_origin=self.rt.settings.resolved_public_url(),
        )
        session = await self.endpoints[path].admit(request)
        assert not isinstance(session, int), f"refused with HTTP {session}"
        sock = MemorySocket(endpoint)
        sock.session = session
        session.opened(sock)
        self.sockets.append(sock)
        return sock

    async def run_due(self) -> int:
        """Run the jobs that are due at the clock's time."""
        return await timers.run_due(self.rt)

    async def deliver_due(self) -> int:
        """One outbox round at the clock's time; returns how many rows it claimed."""
        return await outbox.deliver_due(self.rt, clock=self.clock)


@asynccontextmanager
async def harness(tmp_path: Path, **settings: Any) -> AsyncIterator[Harness]:
    """A migrated SQLite store in `tmp_path`, a runtime on it, and a seeded org."""
    url = migrated_sqlite(tmp_path / "pounce.db")
    config = Settings(
        var_dir=tmp_path,
        database_url=url,
        secret_key="harness-secret-key-0123456789",
        public_url="http://pounce.test",
        sqlite_synchronous="NORMAL",
        **settings,
    )
    clock = Clock()
    db = Database(url, sqlite_synchronous="NORMAL")
    bus, presence = LocalBus(), LocalPresence()
    rt = Runtime(
        settings=config,
        db=db,
        bus=bus,
        presence=presence,
        secret_key=config.resolved_secret_key(),
        clock=clock,
        monotonic=clock,
    )
    org = await seed_org(url, origins=[ORIGIN])
    h = Harness(rt=rt, clock=clock, org=org, endpoints=sockets.endpoints(rt))
    try:
        yield h
    finally:
        for sock in h.sockets:
            sock.close(1001, "test over")
        # What closing started (a session's goodbye writes) finishes on the store before
        # it goes: a task cut off holding a connection would leave it unclosed.
        while sockets._tasks:
            await asyncio.gather(*list(sockets._tasks), return_exceptions=True)
        await db.dispose()


@contextmanager
def counting(h: Harness) -> Iterator[list[str]]:
    """The SQL statements run while the block runs (for fixed-query-count tests)."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = h.rt.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)
