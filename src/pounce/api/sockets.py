"""The two WebSocket endpoints: /ws/messenger for visitors, /ws/console for reps."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import TypeAdapter
from starlette.websockets import WebSocket, WebSocketDisconnect

from pounce import metrics
from pounce.domain.model import Availability, Outcome
from pounce.realtime import frames as f
from pounce.realtime.connection import Connection
from pounce.services import auth, chat, events, proactive, reps, visitors
from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.store.db import StoreUnavailable
from pounce.store.records import User, Visitor

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0
CLOSE_BAD_HELLO = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_HELLO_TIMEOUT = 4408


class FrameBudget:
    """A token bucket per socket: bursts are fine, floods get `rate_limited`."""

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


def error_frame(code: str, message: str, frame_id: str | None = None, **extra: Any) -> bytes:
    metrics.FRAME_ERRORS.labels(code).inc()
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if frame_id is not None:
        frame["id"] = frame_id
    frame.update(extra)
    return f.encode(frame)


def own_origin(websocket: WebSocket) -> str:
    scheme = "https" if websocket.url.scheme in ("wss", "https") else "http"
    return f"{scheme}://{websocket.headers.get('host', '')}".lower()


def same_host(origin: str | None, websocket: WebSocket) -> bool:
    if not origin:
        return False
    host = websocket.headers.get("host", "").lower()
    return visitors.origin_of(origin) in {f"http://{host}", f"https://{host}"}


async def _receive_text(websocket: WebSocket) -> str | bytes | None:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("text") is not None:
        return str(message["text"])
    if message.get("bytes") is not None:
        return bytes(message["bytes"])
    return None


async def _hello(websocket: WebSocket, conn: Connection, model: type[f.Frame]) -> Any | None:
    try:
        raw = await asyncio.wait_for(_receive_text(websocket), HELLO_TIMEOUT)
    except TimeoutError:
        await websocket.close(CLOSE_HELLO_TIMEOUT, "no hello")
        return None
    try:
        if raw is None:
            raise f.FrameError("bad_hello", "the first frame must be hello")
        return f.parse_hello(f.decode(raw), model)
    except f.FrameError as exc:
        await websocket.send_text(error_frame("bad_hello", exc.message).decode())
        await websocket.close(CLOSE_BAD_HELLO, "bad hello")
        return None


async def _replay(
    conn: Connection,
    rt: Runtime,
    org_id: str,
    after: dict[str, int],
    *,
    visitor: Visitor | None = None,
    for_rep: bool = False,
) -> None:
    """Send what the client missed, in order, then what the bus brought meanwhile.

    The caller put the connection on hold before this, so a live frame never overtakes
    the replay; a frame both replayed and held arrives twice and the client drops the
    second by its seq.
    """
    try:
        if after:
            replayed, last = await chat.replay(
                rt, org_id=org_id, after=dict(after), visitor=visitor, for_rep=for_rep
            )
            for item in replayed:
                conn.send(f.encode(item))
            conn.send(f.encode({"type": "resumed", "conversations": last}))
    finally:
        conn.release()


Dispatch = Callable[[Any], Awaitable[None]]


async def _serve_frames(
    websocket: WebSocket,
    conn: Connection,
    adapter: TypeAdapter[Any],
    known: frozenset[str],
    dispatch: Dispatch,
) -> None:
    """Read frames until the peer leaves; a bad frame gets an error, never a close."""
    budget = FrameBudget()
    frames_in = metrics.FRAMES_IN.labels(conn.kind)
    while True:
        raw = await _receive_text(websocket)
        frames_in.inc()
        frame_id: str | None = None
        try:
            if raw is None:
                raise f.FrameError("bad_json", "empty frame")
            data = f.decode(raw)
            frame_id = data.get("id") if isinstance(data.get("id"), str) else None
            if not budget.take():
                raise f.FrameError("rate_limited", "Too many frames; slow down.", frame_id)
            frame = f.parse(data, adapter, known)
            await dispatch(frame)
        except f.FrameError as exc:
            conn.send(error_frame(exc.code, exc.message, exc.frame_id or frame_id))
        except ServiceError as exc:
            conn.send(error_frame(exc.code, exc.message, frame_id, **exc.extra))
        except StoreUnavailable:
            conn.send(
                error_frame(
                    "unavailable", "The store is unreachable; nothing was stored. Retry.", frame_id
                )
            )
        except WebSocketDisconnect:
            raise
        except Exception:
            log.exception("frame handling failed on %s", conn.id)
            conn.send(
                error_frame("internal", "Something went wrong; nothing was stored.", frame_id)
            )


async def messenger_endpoint(websocket: WebSocket) -> None:
    rt: Runtime = websocket.app.state.runtime
    site_key = websocket.query_params.get("site_key", "")[:64]
    site = await visitors.find_site(rt, site_key) if site_key else None
    origin = websocket.headers.get("origin")
    if site is None or not visitors.origin_allowed(site, origin, own_origin=own_origin(websocket)):
        await websocket.close(CLOSE_FORBIDDEN, "site or origin refused")
        return
    await websocket.accept()
    conn = Connection(websocket, kind="messenger")
    hello = await _hello(websocket, conn, f.MessengerHello)
    if hello is None:
        return
    if hello.host_origin and not visitors.origin_allowed(
        site, visitors.origin_of(hello.host_origin), own_origin=own_origin(websocket)
    ):
        await websocket.send_text(
            error_frame("forbidden", "This page may not embed the messenger.").decode()
        )
        await websocket.close(CLOSE_FORBIDDEN, "host origin refused")
        return
    page = hello.page.model_dump() if hello.page else None
    try:
        session = await visitors.connect(
            rt, site=site, token=hello.visitor_token, conn_id=conn.id, page=page
        )
    except ServiceError as exc:
        await websocket.send_text(error_frame(exc.code, exc.message).decode())
        await websocket.close(CLOSE_FORBIDDEN, exc.code)
        return
    visitor: Visitor = session.visitor
    state: dict[str, str | None] = {
        "page_url": (page or {}).get("url") or "",
        "conversation_id": session.conversation.id if session.conversation else None,
    }
    conn.start()
    conn.hold()
    unsubscribe = await rt.bus.subscribe(
        [events.visitor_topic(visitor.id), reps.visitors_topic(visitor.org_id)], conn.on_bus
    )
    conv = session.conversation
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
                "strings_locale": (hello.locale or "en")[:2],
            }
        )
    )
    await _replay(conn, rt, visitor.org_id, hello.resume or {}, visitor=visitor)

    async def dispatch(frame: Any) -> None:
        nonlocal visitor
        if isinstance(frame, f.VisitorMessageFrame):
            started = time.perf_counter()
            sent = await chat.send_visitor_message(
                rt,
                visitor=visitor,
                client_id=frame.id,
                body=frame.body,
                page_url=state["page_url"] or "",
                conversation_id=state["conversation_id"],
            )
            state["conversation_id"] = sent.message.conversation_id
            metrics.DELIVERY.observe(time.perf_counter() - started)
            conn.send(
                f.encode(
                    {
                        "type": "ack",
                        "id": frame.id,
                        "conversation_id": sent.message.conversation_id,
                        "seq": sent.message.seq,
                        "message": events.message_json(sent.message),
                    }
                )
            )
        elif isinstance(frame, f.PageViewFrame):
            state["page_url"] = frame.url
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
            await _replay(conn, rt, visitor.org_id, frame.after, visitor=visitor)
        elif isinstance(frame, f.LeaveEmailFrame):
            await visitors.leave_email(rt, visitor=visitor, email=frame.email)
            visitor = await visitors.reload_visitor(rt, visitor)
            conn.send(f.encode({"type": "ack", "id": frame.id}))
        elif isinstance(frame, f.PingFrame):
            conn.send(f.encode({"type": "pong", "t": frame.t}))

    try:
        await _serve_frames(websocket, conn, f.MESSENGER_ADAPTER, f.MESSENGER_TYPES, dispatch)
    except WebSocketDisconnect:
        pass
    finally:
        await unsubscribe()
        await conn.stop()
        await visitors.disconnect(rt, visitor=visitor, conn_id=conn.id)


async def console_endpoint(websocket: WebSocket) -> None:
    rt: Runtime = websocket.app.state.runtime
    if not same_host(websocket.headers.get("origin"), websocket):
        await websocket.close(CLOSE_FORBIDDEN, "origin refused")
        return
    session = await auth.session_for(rt, websocket.cookies.get(auth.SESSION_COOKIE))
    if session is None:
        await websocket.close(CLOSE_UNAUTHENTICATED, "not signed in")
        return
    await websocket.accept()
    conn = Connection(websocket, kind="console")
    hello = await _hello(websocket, conn, f.ConsoleHello)
    if hello is None:
        return
    user: User = session.user
    actor = user.actor
    conn.start()
    conn.hold()
    unsubscribe = await rt.bus.subscribe(
        [events.reps_topic(user.org_id), events.user_topic(user.id)], conn.on_bus
    )
    conn.send(f.encode(await reps.connect(rt, user=user, conn_id=conn.id)))
    await _replay(conn, rt, user.org_id, hello.resume or {}, for_rep=True)

    async def dispatch(frame: Any) -> None:
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
            await _replay(conn, rt, actor.org_id, frame.after, for_rep=True)
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

    try:
        await _serve_frames(websocket, conn, f.CONSOLE_ADAPTER, f.CONSOLE_TYPES, dispatch)
    except WebSocketDisconnect:
        pass
    finally:
        await unsubscribe()
        await conn.stop()
        await reps.disconnect(rt, user=user, conn_id=conn.id)
