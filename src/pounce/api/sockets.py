"""The two WebSocket endpoints: /ws/messenger for visitors, /ws/console for reps.

Each admitted socket gets a session. Its frames are handled one at a time, in the
order they arrived, by a task that exists only while frames are waiting: an idle
socket costs memory, never a task. Each endpoint's frames go to their handlers
through a table from frame class to handler (`Handlers`), checked complete at import.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, ClassVar, TypeVar

from pounce import metrics
from pounce.domain.model import Availability, Outcome
from pounce.ports import Clock
from pounce.realtime import frames as f
from pounce.realtime.bus import Unsubscribe
from pounce.realtime.connection import LIVE, Connection
from pounce.realtime.frames import client as cf
from pounce.realtime.frames import server as sf
from pounce.realtime.frames import shapes
from pounce.realtime.websocket import Endpoint, Request, WebSocketProtocol
from pounce.services import (
    auth,
    blocks,
    chat,
    events,
    identity,
    proactive,
    reps,
    stream,
    transfer,
    visitors,
)
from pounce.services.errors import ServiceError
from pounce.services.guard import IpBlock, matches
from pounce.services.runtime import Runtime
from pounce.store.db import StoreUnavailable
from pounce.store.errors import ClientIdReused
from pounce.store.records import Site, User, Visitor

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0
CLOSE_BAD_HELLO = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_TRY_LATER = 1013
# A client that sends faster than its frames are handled stops being read (TCP
# pushes back) until its backlog is down again.
PAUSE_READING_AT = 64
RESUME_READING_AT = 16

_tasks: set[asyncio.Task[None]] = set()


def _spawn(coro: Any, name: str) -> asyncio.Task[None]:
    task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro, name=name)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


class TokenBucket:
    """Tokens refilled at `rate` per second up to `burst`: bursts are fine, floods wait.
    Frames take one token each (`take`); replayed bytes are spent after the fact and
    may take it below zero, which makes the next wait longer (`spend`, `wait`)."""

    __slots__ = ("burst", "clock", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.stamp = burst, clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self) -> bool:
        """One token, if there is one."""
        self._refill()
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def give_back(self) -> None:
        self.tokens = min(self.burst, self.tokens + 1)

    def wait(self) -> float:
        """Seconds until there is something to spend (0: now)."""
        self._refill()
        return 0.0 if self.tokens > 0 else (1 - self.tokens) / self.rate

    def spend(self, n: int) -> None:
        self.tokens -= n


# Frames per second a socket may send, and the burst, per class of frame (a frame
# class's `budget`): a burst of signalling frames does not use up the chat budget,
# and a flood of any class is still refused.
BUDGETS: dict[str, tuple[float, float]] = {
    "chat": (30.0, 60.0),
    "control": (30.0, 90.0),
    "signal": (100.0, 300.0),
}


class Budgets:
    """A socket's token buckets, one per class of frame, made on first use."""

    __slots__ = ("_buckets", "_clock")

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._buckets: dict[str, TokenBucket] | None = None
        self._clock = clock

    def bucket(self, kind: str) -> TokenBucket:
        buckets = self._buckets
        if buckets is None:
            buckets = self._buckets = {}
        bucket = buckets.get(kind)
        if bucket is None:
            bucket = buckets[kind] = TokenBucket(*BUDGETS[kind], self._clock)
        return bucket

    def take(self, frame: f.ClientFrame) -> bool:
        return self.bucket(type(frame).budget).take()


# Bytes of replay a socket may ask for (POUNCE_WS_REPLAY_*: a burst, then bytes per
# second), and a visitor twice that over all their sockets on this node: a client that
# asks for the same history again and again gets `rate_limited` with `retry_after_ms`
# instead of gigabytes.
_VISITOR_BUDGETS_KEPT = 10_000
_visitor_budgets: OrderedDict[str, TokenBucket] = OrderedDict()


def visitor_replay_budget(
    visitor_id: str, rate: float, burst: float, clock: Clock = time.monotonic
) -> TokenBucket:
    budget = _visitor_budgets.pop(visitor_id, None)
    if budget is None:
        budget = TokenBucket(2 * rate, 2 * burst, clock)
        if len(_visitor_budgets) >= _VISITOR_BUDGETS_KEPT:
            _visitor_budgets.popitem(last=False)
    _visitor_budgets[visitor_id] = budget
    return budget


F = TypeVar("F", bound=f.ClientFrame)
S = TypeVar("S", bound="_Session")
Handler = Callable[[Any, Any], Awaitable[None]]


class Handlers:
    """An endpoint's table from client frame class to handler."""

    def __init__(self, endpoint: f.Endpoint) -> None:
        self.endpoint = endpoint
        self.table: dict[type[f.ClientFrame], Handler] = {}

    def on(
        self, frame: type[F]
    ) -> Callable[[Callable[[S, F], Awaitable[None]]], Callable[[S, F], Awaitable[None]]]:
        def register(
            handler: Callable[[S, F], Awaitable[None]],
        ) -> Callable[[S, F], Awaitable[None]]:
            if frame in self.table:
                raise TypeError(f"{frame.__name__} has two handlers")
            self.table[frame] = handler
            return handler

        return register

    def check(self) -> Handlers:
        """Every frame the endpoint accepts has a handler, and nothing else has one."""
        declared = set(self.endpoint.client.values())
        if set(self.table) != declared:
            missing = sorted(c.__name__ for c in declared - set(self.table))
            extra = sorted(c.__name__ for c in set(self.table) - declared)
            raise TypeError(f"{self.endpoint.name}: no handler for {missing}; stray {extra}")
        return self


def error_frame(
    code: str, message: str, frame_id: str | None = None, **extra: Any
) -> sf.ErrorFrame:
    metrics.FRAME_ERRORS.labels(code).inc()
    return sf.ErrorFrame(code=code, message=message, id=frame_id, **extra)


def same_host(origin: str | None, request: Request) -> bool:
    """`origin` is this server's own (POUNCE_PUBLIC_URL's), whatever `Host` says."""
    if not origin or not request.own_origin:
        return False
    return visitors.origin_of(origin) == request.own_origin


class _Session:
    """One socket's frames, one at a time; `hello` first, then the endpoint's frames."""

    __slots__ = (
        "_budgets",
        "_gone",
        "_hello_timer",
        "_inflight",
        "_paused",
        "_pending",
        "_replayed",
        "_worker",
        "conn",
        "ready",
        "rt",
        "unsubscribe",
    )
    kind = "socket"
    endpoint: ClassVar[f.Endpoint]
    handlers: ClassVar[Handlers]
    accepts: ClassVar[type[f.ServerFrame]]

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.conn: Connection | None = None
        self.ready = False
        self.unsubscribe: Unsubscribe | None = None
        self._pending: deque[bytes] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._gone = False
        self._inflight = False  # a frame handled by callback has not finished yet
        self._paused = False
        self._hello_timer: asyncio.TimerHandle | None = None
        self._budgets = Budgets(rt.monotonic)
        self._replayed: TokenBucket | None = None

    # -- called by the socket ---------------------------------------------------------
    def opened(self, socket: WebSocketProtocol) -> None:
        self.conn = Connection(socket, kind=self.kind, accepts=self.accepts)
        self._hello_timer = asyncio.get_running_loop().call_later(HELLO_TIMEOUT, self._no_hello)

    def received(self, message: bytes, text: bool) -> None:
        metrics.frame_in(self.kind)
        if (
            self.ready
            and self._worker is None
            and not self._inflight
            and not self._pending
            and self._at_once(message)
        ):
            return
        pending = self._pending
        if pending is None:
            pending = self._pending = deque()
        pending.append(message)
        if len(pending) >= PAUSE_READING_AT and not self._paused and self.conn is not None:
            self._paused = True
            transport = self.conn.socket.transport
            if transport is not None:
                transport.pause_reading()
        if self._worker is None and not self._inflight:
            self._start_worker()

    def _start_worker(self) -> None:
        # The session holds its worker (asyncio keeps only weak references).
        self._worker = asyncio.get_running_loop().create_task(self._work())

    def closed(self) -> None:
        self._gone = True
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        if self.conn is not None:
            self.conn.stop()
        if self._inflight:
            pass  # `_done_at_once` goes on from here
        elif self._worker is None:
            _spawn(self._finish(), f"close:{self.kind}")
        else:
            # The socket drops this session now; keep its worker alive until it is done.
            _tasks.add(self._worker)
            self._worker.add_done_callback(_tasks.discard)

    # -- frames handled without the worker ---------------------------------------------
    def _at_once(self, raw: bytes) -> bool:
        """Take a common frame on without a task; False: the worker handles it."""
        return False

    def _done_at_once(self) -> None:
        """The frame `_at_once` took on has finished: go on with what came meanwhile.

        Under load the next message has often arrived by then; it is taken on the same
        way, still one at a time and in order, and only what `_at_once` declines goes
        to the worker."""
        self._inflight = False
        pending = self._pending
        if pending and not self._gone and self._at_once(pending[0]):
            self._take(pending)
            return
        if pending:
            self._start_worker()
        elif self._gone:
            _spawn(self._finish(), f"close:{self.kind}")

    # -- the worker -------------------------------------------------------------------
    async def _work(self) -> None:
        try:
            pending = self._pending
            while pending:
                raw = self._take(pending)
                if self.ready:
                    await self._frame(raw)
                elif not self._gone and self.conn is not None and not self.conn.closed:
                    if self._hello_timer is not None:
                        self._hello_timer.cancel()
                        self._hello_timer = None
                    await self._start(raw)
        finally:
            self._worker = None
            if self._pending is not None and not self._pending:
                self._pending = None
            if self._gone:
                await self._finish()

    def _take(self, pending: deque[bytes]) -> bytes:
        """The next waiting frame, off the queue; reading resumes once it has drained."""
        raw = pending.popleft()
        if self._paused and len(pending) <= RESUME_READING_AT:
            self._resume_reading()
        return raw

    def _resume_reading(self) -> None:
        self._paused = False
        if self.conn is not None and self.conn.socket.transport is not None:
            self.conn.socket.transport.resume_reading()

    def _no_hello(self) -> None:
        self._hello_timer = None
        if not self.ready and self.conn is not None and self._worker is None:
            self.conn.close_soon(CLOSE_HELLO_TIMEOUT, "no hello")

    async def _frame(self, raw: bytes) -> None:
        """Handle one frame; a bad frame gets an error frame, never a close."""
        conn = self.conn
        assert conn is not None
        frame_id: str | None = None
        try:
            frame = f.parse(raw, self.endpoint)
            frame_id = getattr(frame, "id", None)
            if not self._budgets.take(frame):
                raise f.FrameError("rate_limited", "Too many frames; slow down.", frame_id)
            await self.handlers.table[type(frame)](self, frame)
        except Exception as exc:
            conn.send_frame(self._failure(exc, frame_id))

    def _failure(self, exc: BaseException, frame_id: str | None) -> sf.ErrorFrame:
        """The error frame for a frame whose handling raised."""
        if isinstance(exc, f.FrameError):
            return error_frame(exc.code, exc.message, exc.frame_id or frame_id)
        if isinstance(exc, ServiceError):
            return error_frame(exc.code, exc.message, frame_id, **exc.extra)
        if isinstance(exc, StoreUnavailable):
            return error_frame(
                "unavailable", "The store is unreachable; nothing was stored. Retry.", frame_id
            )
        if isinstance(exc, ClientIdReused):
            return error_frame(exc.code, str(exc), frame_id)
        log.error(
            "frame handling failed on %s",
            self.conn.id if self.conn else "?",
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        return error_frame("internal", "Something went wrong; nothing was stored.", frame_id)

    def _parse_hello(self, raw: bytes) -> Any | None:
        assert self.conn is not None
        try:
            return f.parse_hello(raw, self.endpoint)
        except f.FrameError as exc:
            self.refuse(error_frame("bad_hello", exc.message), CLOSE_BAD_HELLO, "bad hello")
            return None

    def refuse(self, frame: sf.ErrorFrame, code: int, reason: str) -> None:
        assert self.conn is not None
        self.conn.send_frame(frame)
        self.conn.close_soon(code, reason)

    def store_down(self) -> None:
        """The hello could not be served: say so and close with 1013 (try again later)."""
        self.refuse(
            error_frame("unavailable", "The store is unreachable; retry shortly."),
            CLOSE_TRY_LATER,
            "try again later",
        )

    async def replay(
        self,
        org_id: str,
        after: dict[str, int],
        *,
        visitor: Visitor | None = None,
        frame_id: str | None = None,
    ) -> None:
        """Send a page of what the client missed, in order, then `resumed`, then what the
        bus brought meanwhile; past the replay budget, `rate_limited` instead.

        The caller put the connection on hold before this, so a live frame never
        overtakes the replay; a frame both replayed and held arrives twice and the
        client drops the second by its seq.
        """
        conn = self.conn
        assert conn is not None
        try:
            if not after:
                return
            rate = float(self.rt.settings.ws_replay_bytes_per_second)
            burst = float(self.rt.settings.ws_replay_burst_bytes)
            mine = self._replayed
            if mine is None:
                mine = self._replayed = TokenBucket(rate, burst, self.rt.monotonic)
            theirs = (
                visitor_replay_budget(visitor.id, rate, burst, self.rt.monotonic)
                if visitor
                else None
            )
            wait = max(mine.wait(), theirs.wait() if theirs else 0.0)
            if wait > 0:
                conn.send_frame(
                    error_frame(
                        "rate_limited",
                        "Too much history asked for; resume again later.",
                        frame_id,
                        retry_after_ms=math.ceil(wait * 1000),
                    )
                )
                return
            page = await stream.replay(self.rt, org_id=org_id, after=dict(after), visitor=visitor)
            sent = 0
            for item in page.frames:
                sent += conn.send_frame(item)
            resumed = sf.Resumed(conversations=page.last, more=page.more, id=frame_id)
            sent += conn.send_frame(resumed)
            mine.spend(sent)
            if theirs is not None:
                theirs.spend(sent)
            metrics.REPLAYED_BYTES.inc(sent)
        finally:
            conn.release()
            _RESYNCING.pop(conn.id, None)

    async def _finish(self) -> None:
        if not self.ready:
            return
        self.ready = False
        unsubscribe, self.unsubscribe = self.unsubscribe, None
        try:
            if unsubscribe is not None:
                await unsubscribe()
            await self.left()
        except Exception:
            log.exception("cleaning up a %s socket failed", self.kind)

    # -- per endpoint -----------------------------------------------------------------
    async def _start(self, raw: bytes) -> None:
        raise NotImplementedError

    async def left(self) -> None:
        raise NotImplementedError


MESSENGER = Handlers(f.MESSENGER)
# This process's messengers past their `welcome`, by connection id (to close on a block).
_MESSENGERS: dict[str, MessengerSession] = {}


class MessengerSession(_Session):
    __slots__ = ("client_ip", "conversation_id", "own_origin", "page_url", "site", "visitor")
    kind = "messenger"
    endpoint = f.MESSENGER
    handlers = MESSENGER
    accepts = f.ToMessenger

    def __init__(
        self, rt: Runtime, site: Site, own_origin: str, client_ip: str | None = None
    ) -> None:
        super().__init__(rt)
        self.site: Site | None = site
        self.own_origin = own_origin
        self.client_ip = client_ip
        self.visitor: Visitor | None = None
        self.page_url = ""
        self.conversation_id: str | None = None

    async def _start(self, raw: bytes) -> None:
        rt, conn, site = self.rt, self.conn, self.site
        assert conn is not None and site is not None
        hello: cf.MessengerHello | None = self._parse_hello(raw)
        if hello is None:
            return
        if hello.host_origin and not visitors.origin_allowed(
            site, visitors.origin_of(hello.host_origin), own_origin=self.own_origin
        ):
            self.refuse(
                error_frame("forbidden", "This page may not embed the messenger."),
                CLOSE_FORBIDDEN,
                "host origin refused",
            )
            return
        page = (
            {"url": hello.page.url, "title": hello.page.title, "referrer": hello.page.referrer}
            if hello.page
            else None
        )
        try:
            if await blocks.ip_blocked(rt, site.org_id, self.client_ip):
                self.refuse(
                    error_frame("blocked", "This address is blocked."), CLOSE_FORBIDDEN, "blocked"
                )
                return
            session = await visitors.connect(
                rt,
                site=site,
                token=hello.visitor_token,
                conn_id=conn.id,
                page=page,
                locale=hello.locale,
                client_ip=self.client_ip,
            )
        except ServiceError as exc:
            if exc.code == "rate_limited":  # too many new visitors from this address
                limited = error_frame(exc.code, exc.message, retry_after_ms=60_000)
                self.refuse(limited, CLOSE_TRY_LATER, "try again later")
            else:
                self.refuse(error_frame(exc.code, exc.message), CLOSE_FORBIDDEN, exc.code)
            return
        except StoreUnavailable:
            self.store_down()
            return
        self.site = None  # only the hello needed it
        visitor = self.visitor = session.visitor
        self.page_url = (page or {}).get("url") or ""
        conv = session.conversation
        self.conversation_id = conv.id if conv else None
        conn.hold()
        self.ready = True
        self.unsubscribe = await rt.bus.subscribe(
            [events.visitor_topic(visitor.id), events.visitors_topic(visitor.org_id)], conn.on_bus
        )
        _MESSENGERS[conn.id] = self
        conn.send_frame(
            sf.MessengerWelcome(
                v=1,
                visitor_id=visitor.id,
                visitor_token=session.token,
                org=shapes.Org(name=session.org_name),
                reps_available=session.reps_available,
                conversation=(
                    events.conversation_for_visitor(conv, session.owner) if conv else None
                ),
                strings_locale=session.language,
                connection_id=conn.id,
            )
        )
        await self.replay(visitor.org_id, hello.resume or {}, visitor=visitor)

    @MESSENGER.on(cf.VisitorSend)
    async def _message(self, frame: cf.VisitorSend) -> None:
        assert self.visitor is not None
        started = time.perf_counter()
        await blocks.take_message(
            self.rt,
            org_id=self.visitor.org_id,
            visitor_id=self.visitor.id,
            client_ip=self.client_ip,
            opens=self.conversation_id is None,
        )
        sent = await chat.send_visitor_message(
            self.rt,
            visitor=self.visitor,
            client_id=frame.id,
            body=frame.body,
            page_url=self.page_url,
            conversation_id=self.conversation_id,
        )
        self._acked(frame.id, started, sent)

    @MESSENGER.on(cf.PageView)
    async def _page_view(self, frame: cf.PageView) -> None:
        assert self.visitor is not None and self.conn is not None
        self.page_url = frame.url
        await visitors.page_view(
            self.rt, visitor=self.visitor, url=frame.url, title=frame.title, referrer=frame.referrer
        )
        self.conn.send_frame(sf.VisitorAck(id=frame.id))

    @MESSENGER.on(cf.VisitorTyping)
    async def _typing(self, frame: cf.VisitorTyping) -> None:
        assert self.visitor is not None
        await chat.visitor_typing(self.rt, visitor=self.visitor, typing=frame.typing)

    @MESSENGER.on(cf.Read)
    async def _read(self, frame: cf.Read) -> None:
        assert self.visitor is not None
        await chat.mark_read(
            self.rt,
            org_id=self.visitor.org_id,
            conversation_id=frame.conversation_id,
            seq=frame.seq,
            visitor=self.visitor,
        )

    @MESSENGER.on(cf.Resume)
    async def _resume(self, frame: cf.Resume) -> None:
        assert self.visitor is not None and self.conn is not None
        self.conn.hold()
        await self.replay(self.visitor.org_id, frame.after, visitor=self.visitor, frame_id=frame.id)

    @MESSENGER.on(cf.LeaveEmail)
    async def _leave_email(self, frame: cf.LeaveEmail) -> None:
        assert self.visitor is not None and self.conn is not None
        await visitors.leave_email(self.rt, visitor=self.visitor, email=frame.email)
        self.visitor = await visitors.reload_visitor(self.rt, self.visitor)
        self.conn.send_frame(sf.VisitorAck(id=frame.id))

    @MESSENGER.on(cf.Identify)
    async def _identify(self, frame: cf.Identify) -> None:
        assert self.visitor is not None and self.conn is not None
        verified = await identity.identify(
            self.rt,
            visitor=self.visitor,
            token=frame.token,
            user_id=frame.user_id,
            user_hash=frame.user_hash,
            claims={"email": frame.email, "name": frame.name, "company": frame.company},
        )
        self.visitor = await visitors.reload_visitor(self.rt, self.visitor)
        self.conn.send_frame(sf.VisitorAck(id=frame.id, verified=verified))

    @MESSENGER.on(cf.Ping)
    async def _ping(self, frame: cf.Ping) -> None:
        assert self.conn is not None
        self.conn.send_frame(sf.Pong(t=frame.t))

    _decode_quick = f.MESSENGER.decoder.decode

    def _at_once(self, raw: bytes) -> bool:
        """A message into the open conversation: validated here, group-committed, and
        acknowledged from the commit's callback. Anything else, or anything wrong with
        it, is left to the worker, which gives the error frames."""
        visitor, conversation_id = self.visitor, self.conversation_id
        if visitor is None or conversation_id is None or len(raw) > f.MAX_FRAME_BYTES:
            return False
        try:
            frame = self._decode_quick(raw)
        except ValueError:  # msgspec's DecodeError: the worker explains it
            return False
        if type(frame) is not cf.VisitorSend or not self._budgets.take(frame):
            return False
        counted = blocks.try_message(
            self.rt,
            org_id=visitor.org_id,
            visitor_id=visitor.id,
            client_ip=self.client_ip,
            opens=False,
        )
        if counted != 0:  # over a limit (or limits not read yet): the worker says so
            self._budgets.bucket(cf.VisitorSend.budget).give_back()
            return False
        started = time.perf_counter()
        self._inflight = True
        try:
            chat.submit_visitor_message(
                self.rt,
                visitor=visitor,
                client_id=frame.id,
                body=frame.body,
                page_url=self.page_url,
                conversation_id=conversation_id,
                done=partial(self._sent, frame.id, started),
            )
        except Exception:
            log.exception("taking a message on failed on %s", self.conn.id if self.conn else "?")
            self._inflight = False
            self._budgets.bucket(cf.VisitorSend.budget).give_back()
            return False
        return True

    def _sent(self, client_id: str, started: float, outcome: chat.Sent | BaseException) -> None:
        try:
            if isinstance(outcome, BaseException):
                if self.conn is not None:
                    self.conn.send_frame(self._failure(outcome, client_id))
            else:
                self._acked(client_id, started, outcome)
        finally:
            self._done_at_once()

    def _acked(self, client_id: str, started: float, sent: chat.Sent) -> None:
        was, self.conversation_id = self.conversation_id, sent.message.conversation_id
        if was is not None and was != self.conversation_id and self.visitor is not None:
            # Its conversation had closed: this message opened another; count it.
            blocks.count_opened(
                self.rt,
                org_id=self.visitor.org_id,
                visitor_id=self.visitor.id,
                client_ip=self.client_ip,
            )
        metrics.DELIVERY.observe(time.perf_counter() - started)
        if self.conn is not None:
            self.conn.send_frame(
                sf.VisitorAck(
                    id=client_id,
                    conversation_id=sent.message.conversation_id,
                    seq=sent.message.seq,
                    message=events.message(sent.message),
                )
            )

    async def left(self) -> None:
        if self.conn is not None:
            _MESSENGERS.pop(self.conn.id, None)
        if self.visitor is not None and self.conn is not None:
            await visitors.disconnect(self.rt, visitor=self.visitor, conn_id=self.conn.id)


def on_block(org_id: str, visitor_id: str | None, ip_blocks: tuple[IpBlock, ...] | None) -> None:
    """A visitor (or addresses) of `org_id` was blocked: close this node's sockets of
    theirs at once, with 4403 after an `error` `blocked` (the messenger then hides)."""
    for session in list(_MESSENGERS.values()):
        visitor, conn = session.visitor, session.conn
        if visitor is None or conn is None or visitor.org_id != org_id:
            continue
        if (visitor_id is not None and visitor.id == visitor_id) or (
            ip_blocks is not None and matches(ip_blocks, session.client_ip, session.rt.clock())
        ):
            session.refuse(
                error_frame("blocked", "This visitor is blocked."), CLOSE_FORBIDDEN, "blocked"
            )


CONSOLE = Handlers(f.CONSOLE)
# This process's consoles past their `welcome`, by connection id (for `resync`).
_CONSOLES: dict[str, ConsoleSession] = {}


class ConsoleSession(_Session):
    __slots__ = ("user",)
    kind = "console"
    endpoint = f.CONSOLE
    handlers = CONSOLE
    accepts = f.ToConsole

    def __init__(self, rt: Runtime, user: User) -> None:
        super().__init__(rt)
        self.user = user

    async def _start(self, raw: bytes) -> None:
        rt, conn, user = self.rt, self.conn, self.user
        assert conn is not None
        hello: cf.ConsoleHello | None = self._parse_hello(raw)
        if hello is None:
            return
        conn.hold()
        self.ready = True
        self.unsubscribe = await rt.bus.subscribe(
            [events.reps_topic(user.org_id), events.user_topic(user.id)], conn.on_bus
        )
        try:
            conn.send_frame(await reps.connect(rt, user=user, connection_id=conn.id))
            asks = await transfer.pending_for(rt, user=user)
        except StoreUnavailable:
            self.store_down()
            return
        _CONSOLES[conn.id] = self
        for ask in asks:
            conn.send_frame(ask)
        await self.replay(user.org_id, hello.resume or {})

    @CONSOLE.on(cf.RepSend)
    async def _message(self, frame: cf.RepSend) -> None:
        assert self.conn is not None
        started = time.perf_counter()
        sent = await chat.send_rep_message(
            self.rt,
            actor=self.user.actor,
            conversation_id=frame.conversation_id,
            client_id=frame.id,
            body=frame.body,
        )
        metrics.DELIVERY.observe(time.perf_counter() - started)
        self.conn.send_frame(
            sf.RepAck(
                id=frame.id,
                conversation_id=sent.message.conversation_id,
                seq=sent.message.seq,
                message=events.message_for_rep(sent.message, self.user),
            )
        )

    @CONSOLE.on(cf.StartConversation)
    async def _start_conversation(self, frame: cf.StartConversation) -> None:
        assert self.conn is not None
        conv, owner = await chat.start_conversation(
            self.rt, actor=self.user.actor, conversation_id=frame.conversation_id
        )
        self.conn.send_frame(sf.RepAck(id=frame.id, conversation=events.conversation(conv, owner)))

    @CONSOLE.on(cf.SetAvailability)
    async def _availability(self, frame: cf.SetAvailability) -> None:
        assert self.conn is not None
        fresh = await reps.set_availability(
            self.rt, actor=self.user.actor, status=Availability(frame.status)
        )
        self.conn.send_frame(sf.RepAck(id=frame.id, status=fresh.availability.value))

    @CONSOLE.on(cf.RepTyping)
    async def _typing(self, frame: cf.RepTyping) -> None:
        await chat.rep_typing(
            self.rt,
            actor=self.user.actor,
            conversation_id=frame.conversation_id,
            typing=frame.typing,
        )

    @CONSOLE.on(cf.Read)
    async def _read(self, frame: cf.Read) -> None:
        await chat.mark_read(
            self.rt,
            org_id=self.user.org_id,
            conversation_id=frame.conversation_id,
            seq=frame.seq,
            actor=self.user.actor,
        )

    @CONSOLE.on(cf.Resume)
    async def _resume(self, frame: cf.Resume) -> None:
        assert self.conn is not None
        self.conn.hold()
        await self.replay(self.user.org_id, frame.after, frame_id=frame.id)

    @CONSOLE.on(cf.CloseConversation)
    async def _close(self, frame: cf.CloseConversation) -> None:
        assert self.conn is not None
        await chat.close_conversation(
            self.rt, actor=self.user.actor, conversation_id=frame.conversation_id
        )
        self.conn.send_frame(sf.RepAck(id=frame.id))

    @CONSOLE.on(cf.ReopenConversation)
    async def _reopen(self, frame: cf.ReopenConversation) -> None:
        assert self.conn is not None
        conv, owner = await chat.reopen_conversation(
            self.rt, actor=self.user.actor, conversation_id=frame.conversation_id
        )
        self.conn.send_frame(sf.RepAck(id=frame.id, conversation=events.conversation(conv, owner)))

    @CONSOLE.on(cf.AddNote)
    async def _note(self, frame: cf.AddNote) -> None:
        assert self.conn is not None
        sent = await chat.add_note(
            self.rt,
            actor=self.user.actor,
            conversation_id=frame.conversation_id,
            client_id=frame.id,
            body=frame.body,
        )
        self.conn.send_frame(
            sf.RepAck(
                id=frame.id,
                conversation_id=sent.message.conversation_id,
                seq=sent.message.seq,
                message=events.message_for_rep(sent.message, self.user),
            )
        )

    @CONSOLE.on(cf.Pounce)
    async def _pounce(self, frame: cf.Pounce) -> None:
        assert self.conn is not None
        sent, author = await proactive.pounce(
            self.rt,
            actor=self.user.actor,
            visitor_id=frame.visitor_id,
            client_id=frame.id,
            body=frame.body,
        )
        self.conn.send_frame(
            sf.RepAck(
                id=frame.id,
                conversation_id=sent.conversation.id,
                seq=sent.message.seq,
                message=events.message_for_rep(sent.message, author),
                conversation=events.conversation(sent.conversation, author),
            )
        )

    @CONSOLE.on(cf.SetOutcome)
    async def _set_outcome(self, frame: cf.SetOutcome) -> None:
        assert self.conn is not None
        conv, owner = await blocks.set_outcome(
            self.rt,
            actor=self.user.actor,
            conversation_id=frame.conversation_id,
            outcome=Outcome(frame.outcome),
        )
        self.conn.send_frame(sf.RepAck(id=frame.id, conversation=events.conversation(conv, owner)))

    @CONSOLE.on(cf.BlockVisitor)
    async def _block(self, frame: cf.BlockVisitor) -> None:
        assert self.conn is not None
        await blocks.block_visitor(
            self.rt,
            actor=self.user.actor,
            conversation_id=frame.conversation_id,
            report=frame.report,
            reason=frame.reason,
        )
        self.conn.send_frame(sf.RepAck(id=frame.id))

    @CONSOLE.on(cf.TransferCandidates)
    async def _transfer_candidates(self, frame: cf.TransferCandidates) -> None:
        assert self.conn is not None
        conv, owner, found = await transfer.candidates(
            self.rt, actor=self.user.actor, conversation_id=frame.conversation_id
        )
        self.conn.send_frame(
            sf.TransferCandidatesFrame(
                id=frame.id,
                conversation_id=conv.id,
                owner=events.rep_card(owner),
                reps=transfer.candidate_shapes(found.with_room()),
                max_open_conversations=found.limit,
            )
        )

    @CONSOLE.on(cf.Transfer)
    async def _transfer(self, frame: cf.Transfer) -> None:
        assert self.conn is not None
        conv, owner = await transfer.transfer(
            self.rt,
            actor=self.user.actor,
            conversation_id=frame.conversation_id,
            owner_id=frame.owner_id,
            to=frame.to,
            warm=frame.warm,
            note=frame.note,
        )
        self.conn.send_frame(sf.RepAck(id=frame.id, conversation=events.conversation(conv, owner)))

    @CONSOLE.on(cf.TransferReply)
    async def _transfer_reply(self, frame: cf.TransferReply) -> None:
        assert self.conn is not None
        conv, owner = await transfer.reply(
            self.rt,
            actor=self.user.actor,
            conversation_id=frame.conversation_id,
            accept=frame.accept,
        )
        self.conn.send_frame(sf.RepAck(id=frame.id, conversation=events.conversation(conv, owner)))

    @CONSOLE.on(cf.GetVisitorProfile)
    async def _visitor_profile(self, frame: cf.GetVisitorProfile) -> None:
        assert self.conn is not None
        found = await identity.profile(self.rt, actor=self.user.actor, visitor_id=frame.visitor_id)
        self.conn.send_frame(sf.VisitorProfileFrame(id=frame.id, profile=found))

    @CONSOLE.on(cf.Ping)
    async def _ping(self, frame: cf.Ping) -> None:
        assert self.conn is not None
        self.conn.send_frame(sf.Pong(t=frame.t))

    async def left(self) -> None:
        if self.conn is not None:
            _CONSOLES.pop(self.conn.id, None)
            await reps.disconnect(self.rt, user=self.user, connection_id=self.conn.id)


MESSENGER.check()
CONSOLE.check()

# After the bus lost frames, clients are asked to resync over this many seconds, each at
# a random moment, so that they do not all ask the store at once.
RESYNC_SPREAD_SECONDS = 5.0
RESYNC_RESUME_SECONDS = 10.0
# Sockets held since a bus reconnect until their client resumes (see `resync`).
_RESYNCING: dict[str, Connection] = {}


async def resync(rt: Runtime, *, spread: float = RESYNC_SPREAD_SECONDS) -> int:
    """The bus reconnected and frames published meanwhile are lost to it (not to the
    store): every console of this process gets its state now (`sync`, built once per org)
    and every client resumes by seq, spread over `spread` seconds. Returns the sockets.

    Every socket is held from now until its client has resumed: a frame the bus brings
    meanwhile waits, so the client's highest seq still says where the loss began when
    it asks (a live frame first would make it skip what was lost); the replay then goes
    out before what was held. A client that does not resume within
    `RESYNC_RESUME_SECONDS` of being asked is closed and resumes on reconnect.
    """
    consoles: dict[str, list[ConsoleSession]] = {}
    for session in list(_CONSOLES.values()):
        consoles.setdefault(session.user.org_id, []).append(session)
    welcomed = {x.conn.id for x in _CONSOLES.values() if x.conn is not None}
    targets = [
        conn
        for conn in list(LIVE.values())
        if not conn.closed and (conn.kind == "messenger" or conn.id in welcomed)
    ]
    for conn in targets:
        conn.hold()
        _RESYNCING[conn.id] = conn
    frames: dict[str, list[f.ServerFrame]] = {}
    for org_id, sessions in consoles.items():
        user_ids = list({x.user.id for x in sessions})
        try:
            synced = await reps.sync(rt, org_id=org_id, user_ids=user_ids)
            # The warm transfers still waiting, as after a welcome: a result the bus lost
            # must not leave a prompt or an "asked …" state behind.
            asks = await transfer.pending_for_reps(rt, org_id=org_id, user_ids=user_ids)
        except StoreUnavailable:
            for x in sessions:
                if x.conn is not None:
                    _RESYNCING.pop(x.conn.id, None)
                    x.conn.close_soon(CLOSE_TRY_LATER, "resync")  # they resume on reconnect
            continue
        for x in sessions:
            if x.conn is not None:
                frames[x.conn.id] = [synced[x.user.id], *asks[x.user.id]]
    loop = asyncio.get_running_loop()
    count = 0
    for conn in targets:
        sent = frames.get(conn.id) or ([sf.Resync()] if conn.kind == "messenger" else None)
        if sent is not None:
            loop.call_later(random.uniform(0, spread), _send_if_open, conn, sent)
            count += 1
    return count


def _send_if_open(conn: Connection, frames: list[f.ServerFrame]) -> None:
    if conn.closed:
        _RESYNCING.pop(conn.id, None)
        return
    for frame in frames:
        conn.send_frame(frame)
    asyncio.get_running_loop().call_later(RESYNC_RESUME_SECONDS, _resumed_or_closed, conn)


def _resumed_or_closed(conn: Connection) -> None:
    if _RESYNCING.pop(conn.id, None) is not None and not conn.closed:
        conn.close_soon(CLOSE_TRY_LATER, "resync")


class MessengerEndpoint:
    """Visitors: a known site key, from the site's allowed origins or our own iframe."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def admit(self, request: Request) -> MessengerSession | int:
        site_key = request.query.get("site_key", "")[:64]
        if not self.rt.guard.watching:
            await blocks.watch(self.rt, on_block)
        try:
            site = await visitors.find_site(self.rt, site_key) if site_key else None
        except StoreUnavailable:
            return 503
        own = request.own_origin
        if site is None or not visitors.origin_allowed(
            site, request.headers.get("origin"), own_origin=own
        ):
            return 403
        return MessengerSession(self.rt, site, own, request.client)


class ConsoleEndpoint:
    """Reps: a signed-in session, from this server's own origin only."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def admit(self, request: Request) -> ConsoleSession | int:
        if not same_host(request.headers.get("origin"), request):
            return 403
        try:
            session = await auth.session_for(self.rt, request.cookie(auth.SESSION_COOKIE))
        except StoreUnavailable:
            return 503
        if session is None:
            return 403
        return ConsoleSession(self.rt, session.user)


def endpoints(rt: Runtime) -> dict[str, Endpoint]:
    return {"/ws/messenger": MessengerEndpoint(rt), "/ws/console": ConsoleEndpoint(rt)}
