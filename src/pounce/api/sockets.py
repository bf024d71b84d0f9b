"""The two WebSocket endpoints: /ws/messenger for visitors, /ws/console for reps.

Each admitted socket gets a session. Its frames are handled one at a time, in the
order they arrived, by a task that exists only while frames are waiting: an idle
socket costs memory, never a task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from functools import partial
from typing import Any

from pydantic import TypeAdapter

from pounce import metrics
from pounce.domain.model import Availability, Outcome
from pounce.realtime import frames as f
from pounce.realtime.bus import Unsubscribe
from pounce.realtime.connection import Connection
from pounce.realtime.websocket import Endpoint, Request, WebSocketProtocol
from pounce.services import auth, chat, events, proactive, reps, visitors
from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.store.db import StoreUnavailable
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


class FrameBudget:
    """A token bucket per socket: bursts are fine, floods get `rate_limited`."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float = 30.0, burst: float = 60.0) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def give_back(self) -> None:
        self.tokens = min(self.burst, self.tokens + 1)


def error_frame(code: str, message: str, frame_id: str | None = None, **extra: Any) -> bytes:
    metrics.FRAME_ERRORS.labels(code).inc()
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if frame_id is not None:
        frame["id"] = frame_id
    frame.update(extra)
    return f.encode(frame)


def same_host(origin: str | None, request: Request) -> bool:
    """`origin` is this server's own (POUNCE_PUBLIC_URL's), whatever `Host` says."""
    if not origin or not request.own_origin:
        return False
    return visitors.origin_of(origin) == request.own_origin


class _Session:
    """One socket's frames, one at a time; `hello` first, then the endpoint's frames."""

    __slots__ = (
        "_budget",
        "_gone",
        "_hello_timer",
        "_inflight",
        "_paused",
        "_pending",
        "_worker",
        "conn",
        "ready",
        "rt",
        "unsubscribe",
    )
    kind = "socket"
    adapter: TypeAdapter[Any]
    known: frozenset[str]

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
        self._budget = FrameBudget()

    # -- called by the socket ---------------------------------------------------------
    def opened(self, socket: WebSocketProtocol) -> None:
        self.conn = Connection(socket, kind=self.kind)
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
            data = f.decode(raw)
            frame_id = data.get("id") if isinstance(data.get("id"), str) else None
            if not self._budget.take():
                raise f.FrameError("rate_limited", "Too many frames; slow down.", frame_id)
            await self.dispatch(f.parse(data, self.adapter, self.known))
        except Exception as exc:
            conn.send(self._failure(exc, frame_id))

    def _failure(self, exc: BaseException, frame_id: str | None) -> bytes:
        """The error frame for a frame whose handling raised."""
        if isinstance(exc, f.FrameError):
            return error_frame(exc.code, exc.message, exc.frame_id or frame_id)
        if isinstance(exc, ServiceError):
            return error_frame(exc.code, exc.message, frame_id, **exc.extra)
        if isinstance(exc, StoreUnavailable):
            return error_frame(
                "unavailable", "The store is unreachable; nothing was stored. Retry.", frame_id
            )
        log.error(
            "frame handling failed on %s",
            self.conn.id if self.conn else "?",
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        return error_frame("internal", "Something went wrong; nothing was stored.", frame_id)

    def _parse_hello(self, raw: bytes, model: type[f.Frame]) -> Any | None:
        assert self.conn is not None
        try:
            return f.parse_hello(f.decode(raw), model)
        except f.FrameError as exc:
            self.refuse(error_frame("bad_hello", exc.message), CLOSE_BAD_HELLO, "bad hello")
            return None

    def refuse(self, frame: bytes, code: int, reason: str) -> None:
        assert self.conn is not None
        self.conn.send(frame)
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
        for_rep: bool = False,
    ) -> None:
        """Send what the client missed, in order, then what the bus brought meanwhile.

        The caller put the connection on hold before this, so a live frame never
        overtakes the replay; a frame both replayed and held arrives twice and the
        client drops the second by its seq.
        """
        conn = self.conn
        assert conn is not None
        try:
            if after:
                replayed, last = await chat.replay(
                    self.rt, org_id=org_id, after=dict(after), visitor=visitor, for_rep=for_rep
                )
                for item in replayed:
                    conn.send(f.encode(item))
                conn.send(f.encode({"type": "resumed", "conversations": last}))
        finally:
            conn.release()

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

    async def dispatch(self, frame: Any) -> None:
        raise NotImplementedError

    async def left(self) -> None:
        raise NotImplementedError


class MessengerSession(_Session):
    __slots__ = ("conversation_id", "own_origin", "page_url", "site", "visitor")
    kind = "messenger"
    adapter = f.MESSENGER_ADAPTER
    known = f.MESSENGER_TYPES

    def __init__(self, rt: Runtime, site: Site, own_origin: str) -> None:
        super().__init__(rt)
        self.site: Site | None = site
        self.own_origin = own_origin
        self.visitor: Visitor | None = None
        self.page_url = ""
        self.conversation_id: str | None = None

    async def _start(self, raw: bytes) -> None:
        rt, conn, site = self.rt, self.conn, self.site
        assert conn is not None and site is not None
        hello = self._parse_hello(raw, f.MessengerHello)
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
        page = hello.page.model_dump() if hello.page else None
        try:
            session = await visitors.connect(
                rt,
                site=site,
                token=hello.visitor_token,
                conn_id=conn.id,
                page=page,
                locale=hello.locale,
            )
        except ServiceError as exc:
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
            [events.visitor_topic(visitor.id), reps.visitors_topic(visitor.org_id)], conn.on_bus
        )
        conn.send(
            f.encode(
                {
                    "type": "welcome",
                    "v": f.PROTOCOL_VERSION,
                    "visitor_id": visitor.id,
                    "visitor_token": session.token,
                    "org": {"name": session.org_name},
                    "reps_available": session.reps_available,
                    "conversation": events.conversation_json(conv, session.owner) if conv else None,
                    "strings_locale": session.language,
                }
            )
        )
        await self.replay(visitor.org_id, hello.resume or {}, visitor=visitor)

    async def dispatch(self, frame: Any) -> None:
        rt, conn, visitor = self.rt, self.conn, self.visitor
        assert conn is not None and visitor is not None
        if isinstance(frame, f.VisitorMessageFrame):
            started = time.perf_counter()
            sent = await chat.send_visitor_message(
                rt,
                visitor=visitor,
                client_id=frame.id,
                body=frame.body,
                page_url=self.page_url,
                conversation_id=self.conversation_id,
            )
            self._acked(frame.id, started, sent)
        elif isinstance(frame, f.PageViewFrame):
            self.page_url = frame.url
            await visitors.page_view(
                rt, visitor=visitor, url=frame.url, title=frame.title, referrer=frame.referrer
            )
            conn.send(f.encode({"type": "ack", "id": frame.id}))
        elif isinstance(frame, f.VisitorTypingFrame):
            await chat.visitor_typing(rt, visitor=visitor, typing=frame.typing)
        elif isinstance(frame, f.ReadFrame):
            await chat.mark_read(
                rt,
                org_id=visitor.org_id,
                conversation_id=frame.conversation_id,
                seq=frame.seq,
                visitor=visitor,
            )
        elif isinstance(frame, f.ResumeFrame):
            conn.hold()
            await self.replay(visitor.org_id, frame.after, visitor=visitor)
        elif isinstance(frame, f.LeaveEmailFrame):
            await visitors.leave_email(rt, visitor=visitor, email=frame.email)
            self.visitor = await visitors.reload_visitor(rt, visitor)
            conn.send(f.encode({"type": "ack", "id": frame.id}))
        elif isinstance(frame, f.PingFrame):
            conn.send(f.encode({"type": "pong", "t": frame.t}))

    def _at_once(self, raw: bytes) -> bool:
        """A message into the open conversation: validated here, group-committed, and
        acknowledged from the commit's callback. Anything else, or anything wrong with
        it, is left to the worker, which gives the error frames."""
        visitor, conversation_id = self.visitor, self.conversation_id
        if visitor is None or conversation_id is None:
            return False
        frame = f.quick_message(raw)
        if frame is None or not self._budget.take():
            return False
        client_id, body = frame
        started = time.perf_counter()
        self._inflight = True
        try:
            chat.submit_visitor_message(
                self.rt,
                visitor=visitor,
                client_id=client_id,
                body=body,
                page_url=self.page_url,
                conversation_id=conversation_id,
                done=partial(self._sent, client_id, started),
            )
        except Exception:
            log.exception("taking a message on failed on %s", self.conn.id if self.conn else "?")
            self._inflight = False
            self._budget.give_back()
            return False
        return True

    def _sent(self, client_id: str, started: float, outcome: chat.Sent | BaseException) -> None:
        try:
            if isinstance(outcome, BaseException):
                if self.conn is not None:
                    self.conn.send(self._failure(outcome, client_id))
            else:
                self._acked(client_id, started, outcome)
        finally:
            self._done_at_once()

    def _acked(self, client_id: str, started: float, sent: chat.Sent) -> None:
        self.conversation_id = sent.message.conversation_id
        metrics.DELIVERY.observe(time.perf_counter() - started)
        if self.conn is not None:
            self.conn.send(
                f.encode(
                    {
                        "type": "ack",
                        "id": client_id,
                        "conversation_id": sent.message.conversation_id,
                        "seq": sent.message.seq,
                        "message": events.message_json(sent.message),
                    }
                )
            )

    async def left(self) -> None:
        if self.visitor is not None and self.conn is not None:
            await visitors.disconnect(self.rt, visitor=self.visitor, conn_id=self.conn.id)


class ConsoleSession(_Session):
    __slots__ = ("user",)
    kind = "console"
    adapter = f.CONSOLE_ADAPTER
    known = f.CONSOLE_TYPES

    def __init__(self, rt: Runtime, user: User) -> None:
        super().__init__(rt)
        self.user = user

    async def _start(self, raw: bytes) -> None:
        rt, conn, user = self.rt, self.conn, self.user
        assert conn is not None
        hello = self._parse_hello(raw, f.ConsoleHello)
        if hello is None:
            return
        conn.hold()
        self.ready = True
        self.unsubscribe = await rt.bus.subscribe(
            [events.reps_topic(user.org_id), events.user_topic(user.id)], conn.on_bus
        )
        try:
            conn.send(f.encode(await reps.connect(rt, user=user, conn_id=conn.id)))
        except StoreUnavailable:
            self.store_down()
            return
        await self.replay(user.org_id, hello.resume or {}, for_rep=True)

    async def dispatch(self, frame: Any) -> None:
        rt, conn, user = self.rt, self.conn, self.user
        assert conn is not None
        actor = user.actor
        if isinstance(frame, f.RepMessageFrame):
            started = time.perf_counter()
            sent = await chat.send_rep_message(
                rt,
                actor=actor,
                conversation_id=frame.conversation_id,
                client_id=frame.id,
                body=frame.body,
            )
            metrics.DELIVERY.observe(time.perf_counter() - started)
            conn.send(
                f.encode(
                    {
                        "type": "ack",
                        "id": frame.id,
                        "conversation_id": sent.message.conversation_id,
                        "seq": sent.message.seq,
                        "message": events.message_json(sent.message, user, for_rep=True),
                    }
                )
            )
        elif isinstance(frame, f.StartConversationFrame):
            conv, owner = await chat.start_conversation(
                rt, actor=actor, conversation_id=frame.conversation_id
            )
            conn.send(
                f.encode(
                    {
                        "type": "ack",
                        "id": frame.id,
                        "conversation": events.conversation_json(conv, owner, for_rep=True),
                    }
                )
            )
        elif isinstance(frame, f.AvailabilityFrame):
            fresh = await reps.set_availability(rt, actor=actor, status=Availability(frame.status))
            conn.send(f.encode({"type": "ack", "id": frame.id, "status": fresh.availability.value}))
        elif isinstance(frame, f.RepTypingFrame):
            await chat.rep_typing(
                rt, actor=actor, conversation_id=frame.conversation_id, typing=frame.typing
            )
        elif isinstance(frame, f.ReadFrame):
            await chat.mark_read(
                rt,
                org_id=actor.org_id,
                conversation_id=frame.conversation_id,
                seq=frame.seq,
                actor=actor,
            )
        elif isinstance(frame, f.ResumeFrame):
            conn.hold()
            await self.replay(actor.org_id, frame.after, for_rep=True)
        elif isinstance(frame, f.CloseConversationFrame):
            await chat.close_conversation(rt, actor=actor, conversation_id=frame.conversation_id)
            conn.send(f.encode({"type": "ack", "id": frame.id}))
        elif isinstance(frame, f.PounceFrame):
            sent, author = await proactive.pounce(
                rt, actor=actor, visitor_id=frame.visitor_id, client_id=frame.id, body=frame.body
            )
            conn.send(
                f.encode(
                    {
                        "type": "ack",
                        "id": frame.id,
                        "conversation_id": sent.conversation.id,
                        "seq": sent.message.seq,
                        "message": events.message_json(sent.message, author, for_rep=True),
                        "conversation": events.conversation_json(
                            sent.conversation, author, for_rep=True
                        ),
                    }
                )
            )
        elif isinstance(frame, f.SetOutcomeFrame):
            conv, owner = await proactive.set_outcome(
                rt,
                actor=actor,
                conversation_id=frame.conversation_id,
                outcome=Outcome(frame.outcome),
            )
            conn.send(
                f.encode(
                    {
                        "type": "ack",
                        "id": frame.id,
                        "conversation": events.conversation_json(conv, owner, for_rep=True),
                    }
                )
            )
        elif isinstance(frame, f.PingFrame):
            conn.send(f.encode({"type": "pong", "t": frame.t}))

    async def left(self) -> None:
        if self.conn is not None:
            await reps.disconnect(self.rt, user=self.user, conn_id=self.conn.id)


class MessengerEndpoint:
    """Visitors: a known site key, from the site's allowed origins or our own iframe."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def admit(self, request: Request) -> MessengerSession | int:
        site_key = request.query.get("site_key", "")[:64]
        try:
            site = await visitors.find_site(self.rt, site_key) if site_key else None
        except StoreUnavailable:
            return 503
        own = request.own_origin
        if site is None or not visitors.origin_allowed(
            site, request.headers.get("origin"), own_origin=own
        ):
            return 403
        return MessengerSession(self.rt, site, own)


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
