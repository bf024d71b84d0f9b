"""Conversations and messages: send, start (claim), close, typing, read and resume."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import Actor, Audience, AuthorKind, ConversationStatus, Source
from pounce.domain.ownership import (
    Refusal,
    claim_refusal,
    close_refusal,
    reopen_refusal,
    send_refusal,
)
from pounce.domain.routing import VisitorContext
from pounce.realtime.frames import server as sf
from pounce.realtime.frames import shapes as s
from pounce.realtime.frames import stream as ev
from pounce.services import events, proactive, stream, transcripts
from pounce.services.errors import ServiceError
from pounce.services.formatting import render_markdown
from pounce.services.routing import route
from pounce.services.runtime import Runtime
from pounce.services.stream import UNANSWERED_JOB, Sent, rep_audience
from pounce.services.uow import UnitOfWork, unit_of_work
from pounce.store import accounts, chat, jobs
from pounce.store.appender import Appended, Draft, is_resend, settle
from pounce.store.errors import ClientIdReused
from pounce.store.records import Conversation, Message, User, Visitor

# The away message, in each language the messenger has strings for (web/src/messenger/
# strings.ts); the visitor's language comes from their messenger's `hello`.
AWAY_TEXTS = {
    "en": (
        "Thanks for your message! Our team isn't available right now. "
        "Leave your email and we'll get back to you soon."
    ),
    "fr": (
        "Merci pour votre message ! Notre équipe n'est pas disponible pour le moment. "
        "Laissez votre adresse e-mail et nous vous répondrons rapidement."
    ),
}

__all__ = ["UNANSWERED_JOB", "Sent"]


def _refuse(code: str, what: str = "conversation") -> ServiceError:
    messages = {
        "not_found": f"No such {what}.",
        "already_taken": "Another rep already started this conversation.",
        "not_owner": "Only the rep who owns this conversation can do that.",
        "closed": "This conversation is closed.",
        "not_closed": "This conversation is not closed.",
        "conflict": "The visitor is in another conversation now.",
        "forbidden": "Your role may not do that.",
    }
    return ServiceError(code, messages.get(code, code))


async def _load_conversation(
    conn: AsyncConnection, *, org_id: str, conversation_id: str
) -> Conversation:
    conv = await chat.get_conversation(conn, org_id=org_id, conversation_id=conversation_id)
    if conv is None:
        raise _refuse("not_found")
    return conv


async def _user(conn: AsyncConnection, org_id: str, user_id: str | None) -> User | None:
    if user_id is None:
        return None
    return await accounts.get_user(conn, org_id=org_id, user_id=user_id)


async def _append_system(
    conn: AsyncConnection, conv: Conversation, body: str, meta: dict[str, Any] | None = None
) -> Message:
    return await chat.append_message(
        conn,
        org_id=conv.org_id,
        conversation_id=conv.id,
        author_kind=AuthorKind.SYSTEM,
        author_id=None,
        client_id=None,
        body=body,
        html=render_markdown(body),
        meta=meta,
    )


async def send_visitor_message(
    rt: Runtime,
    *,
    visitor: Visitor,
    client_id: str,
    body: str,
    page_url: str = "",
    conversation_id: str | None = None,
) -> Sent:
    """Store a visitor's message; the first one opens an inbound conversation and routes it.

    With the id of the visitor's open conversation the message is group-committed;
    otherwise (first message, or the conversation closed) it takes the slow path.
    """
    if conversation_id is not None:
        outcome: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        submit_visitor_message(
            rt,
            visitor=visitor,
            client_id=client_id,
            body=body,
            page_url=page_url,
            conversation_id=conversation_id,
            done=partial(settle, outcome),
        )
        return await outcome
    return await _open_and_send(
        rt, visitor=visitor, client_id=client_id, body=body, page_url=page_url
    )


def submit_visitor_message(
    rt: Runtime,
    *,
    visitor: Visitor,
    client_id: str,
    body: str,
    page_url: str,
    conversation_id: str,
    done: Callable[[Sent | BaseException], None],
) -> None:
    """`send_visitor_message` into the visitor's open conversation, without a coroutine.

    The message joins the next group commit; once that commits, it is published and
    `done` gets the Sent (or the exception), on the loop. The rare cases that need
    more (the conversation closed meanwhile, a reply to an auto pounce) go on in a task.
    """

    def committed(result: Appended | BaseException) -> None:
        if isinstance(result, BaseException):
            done(result)
            return
        conv, message = result.conversation, result.message
        if conv is None or message is None:  # closed meanwhile: open a new one
            _finish_in_task(
                done,
                _open_and_send(
                    rt, visitor=visitor, client_id=client_id, body=body, page_url=page_url
                ),
            )
            return
        sent = Sent(message, conv, created=result.created)
        if result.created:
            stream.post_message(rt.bus, conv, message, None)
            if _open_auto_pounce(conv):

                async def replied() -> Sent:
                    await proactive.visitor_replied(rt, conv=conv)
                    return sent

                _finish_in_task(done, replied())
                return
        done(sent)

    rt.messages.submit(
        _draft(visitor.org_id, conversation_id, AuthorKind.VISITOR, visitor.id, client_id, body),
        committed,
    )


def _draft(
    org_id: str,
    conversation_id: str,
    kind: AuthorKind,
    author_id: str,
    client_id: str,
    body: str,
) -> Draft:
    """A chat message to group-commit, rendered through the one markdown renderer."""
    return Draft(
        org_id=org_id,
        conversation_id=conversation_id,
        author_kind=kind,
        author_id=author_id,
        client_id=client_id,
        body=body,
        html=render_markdown(body),
    )


_continuations: set[asyncio.Task[Sent]] = set()


def _finish_in_task(
    done: Callable[[Sent | BaseException], None], work: Coroutine[Any, Any, Sent]
) -> None:
    task = asyncio.get_running_loop().create_task(work)
    _continuations.add(task)

    def finished(task: asyncio.Task[Sent]) -> None:
        _continuations.discard(task)
        if task.cancelled():
            done(asyncio.CancelledError())
        elif (exc := task.exception()) is not None:
            done(exc)
        else:
            done(task.result())

    task.add_done_callback(finished)


async def _open_and_send(
    rt: Runtime, *, visitor: Visitor, client_id: str, body: str, page_url: str
) -> Sent:
    """The visitor's first message (or the first since their conversation closed)."""
    html = render_markdown(body)
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        existing = await chat.find_message_by_client_id(
            conn,
            org_id=visitor.org_id,
            author_kind=AuthorKind.VISITOR,
            author_id=visitor.id,
            client_id=client_id,
        )
        if existing is not None:
            if not is_resend(existing, body=body, conversation_id=None):
                raise ClientIdReused()
            conv = await _load_conversation(
                conn, org_id=visitor.org_id, conversation_id=existing.conversation_id
            )
            return Sent(existing, conv, created=False)
        conv_or_none = await chat.current_conversation(
            conn, org_id=visitor.org_id, visitor_id=visitor.id
        )
        opened = conv_or_none is None
        if conv_or_none is None:
            conv = await chat.create_conversation(
                conn,
                org_id=visitor.org_id,
                site_id=visitor.site_id,
                visitor_id=visitor.id,
                source=Source.INBOUND,
            )
        else:
            conv = conv_or_none
        message = await chat.append_message(
            conn,
            org_id=visitor.org_id,
            conversation_id=conv.id,
            author_kind=AuthorKind.VISITOR,
            author_id=visitor.id,
            client_id=client_id,
            body=body,
            html=html,
        )
        if opened:
            conv = await _route_new(
                rt, uow, conv=conv, visitor=visitor, page_url=page_url, first=message
            )
        else:
            conv = await _load_conversation(conn, org_id=visitor.org_id, conversation_id=conv.id)
            stream.post_message(uow, conv, message, None)
    await _after_visitor_message(rt, conv)
    return Sent(message, conv, created=True)


async def _after_visitor_message(rt: Runtime, conv: Conversation) -> None:
    """A reply to an auto pounce starts the rep's countdown (services.proactive)."""
    if _open_auto_pounce(conv):
        await proactive.visitor_replied(rt, conv=conv)


def _open_auto_pounce(conv: Conversation) -> bool:
    """An auto pounce whose outcome is not decided yet: replies to it move it on."""
    return conv.source is Source.AUTO_POUNCE and conv.outcome is None


async def _route_new(
    rt: Runtime,
    uow: UnitOfWork,
    *,
    conv: Conversation,
    visitor: Visitor,
    page_url: str,
    first: Message,
) -> Conversation:
    """Route a new inbound conversation; after the commit the routed reps get the
    message and an alert, or (nobody available) the visitor gets the away message."""
    conn = uow.conn
    ctx = VisitorContext(
        url=page_url,
        attributes=visitor.attributes,
        company=visitor.company,
        country=visitor.country,
    )
    decision = await route(rt, conn, org_id=conv.org_id, ctx=ctx)
    await chat.set_routed(
        conn, org_id=conv.org_id, conversation_id=conv.id, routed_to=decision.alerted
    )
    if not decision.alerted:
        away = await _append_system(conn, conv, await _away_text(rt, conv), {"away": True})
        conv = await _load_conversation(conn, org_id=conv.org_id, conversation_id=conv.id)
        stream.post_message(uow, conv, first, None)
        stream.post_away(uow, conv, away)
    else:
        await jobs.enqueue(
            conn,
            org_id=conv.org_id,
            kind=UNANSWERED_JOB,
            payload={"conversation_id": conv.id},
            run_at=rt.clock() + rt.settings.unanswered_seconds,
            dedupe_key=f"{UNANSWERED_JOB}:{conv.id}",
        )
        conv = await _load_conversation(conn, org_id=conv.org_id, conversation_id=conv.id)
        stream.post_message(uow, conv, first, None)
        alert = await stream.alert(rt, conn, conv)
        events.to_users(uow, decision.alerted, stream.alert_frame(alert))
    routed = conv
    uow.after_commit(lambda: stream.in_conversation(rt, routed, visitor))
    return conv


async def send_rep_message(
    rt: Runtime, *, actor: Actor, conversation_id: str, client_id: str, body: str
) -> Sent:
    """Store the owner's message (group-committed) and deliver it to the visitor."""
    result = await rt.messages.append(
        _draft(actor.org_id, conversation_id, AuthorKind.REP, actor.user_id, client_id, body)
    )
    if result.message is None or result.conversation is None:
        async with rt.db.read() as conn:
            conv = await _load_conversation(
                conn, org_id=actor.org_id, conversation_id=conversation_id
            )
        raise _refuse((send_refusal(actor, conv.state) or Refusal.NOT_OWNER).value)
    if result.created:
        author = await rt.user(actor.org_id, actor.user_id)
        stream.post_message(rt.bus, result.conversation, result.message, author)
        if _open_auto_pounce(result.conversation):
            await proactive.rep_replied(rt, conv=result.conversation)
    return Sent(result.message, result.conversation, created=result.created)


async def add_note(
    rt: Runtime, *, actor: Actor, conversation_id: str, client_id: str, body: str
) -> Sent:
    """A note only reps see (a handoff, a reminder); any rep of the org may add one.
    Resending the same client id returns the stored note."""
    async with unit_of_work(rt) as uow:
        conv = await _load_conversation(
            uow.conn, org_id=actor.org_id, conversation_id=conversation_id
        )
        return await store_rep_message(
            uow, actor=actor, conv=conv, client_id=client_id, body=body, audience=Audience.REPS
        )


async def store_rep_message(
    uow: UnitOfWork,
    *,
    actor: Actor,
    conv: Conversation,
    client_id: str,
    body: str,
    audience: Audience,
    may_write: Callable[[Conversation], None] | None = None,
) -> Sent:
    """Store a rep's message in `uow` outside the group-committed path (a note, an email
    reply) and publish it on commit. Resending the same client id returns the stored
    message; the id used for another message is `ClientIdReused`. `may_write` raises when
    a new message may not be written (a resend is still answered)."""
    conn = uow.conn
    existing = await chat.find_rep_message(
        conn, org_id=actor.org_id, rep_id=actor.user_id, client_id=client_id
    )
    if existing is not None:
        if not is_resend(existing, body=body, conversation_id=conv.id):
            raise ClientIdReused()
        return Sent(existing, conv, created=False)
    if may_write is not None:
        may_write(conv)
    message = await chat.append_message(
        conn,
        org_id=actor.org_id,
        conversation_id=conv.id,
        author_kind=AuthorKind.REP,
        author_id=actor.user_id,
        client_id=client_id,
        body=body,
        html=render_markdown(body),
        audience=audience,
    )
    conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conv.id)
    author = await _user(conn, actor.org_id, actor.user_id)
    stream.post_message(uow, conv, message, author)
    return Sent(message, conv, created=True)


async def start_conversation(
    rt: Runtime, *, actor: Actor, conversation_id: str
) -> tuple[Conversation, User | None]:
    """Claim ownership; exactly one rep wins, decided by one conditional UPDATE."""
    async with rt.db.read() as conn:
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conversation_id)
    refusal = claim_refusal(actor, conv.state)
    if refusal is not None:
        if refusal.value == "already_taken":
            await _raise_taken(rt, conv)
        raise _refuse(refusal.value)
    if conv.owner_id == actor.user_id:
        async with rt.db.read() as conn:
            return conv, await _user(conn, actor.org_id, actor.user_id)
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        won = await chat.claim_conversation(
            conn, org_id=actor.org_id, conversation_id=conv.id, user_id=actor.user_id
        )
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conv.id)
        owner = await _user(conn, actor.org_id, conv.owner_id)
        if won:
            await jobs.cancel(conn, org_id=actor.org_id, dedupe_key=f"{UNANSWERED_JOB}:{conv.id}")
            event = ev.OwnerChanged(owner=events.rep_card(owner))
            await stream.append_event(uow, conv, event, actor=owner)
            conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conv.id)
            stream.post_conversation(uow, conv, owner)
    if not won:
        if conv.owner_id == actor.user_id:
            return conv, owner
        if conv.status is ConversationStatus.CLOSED:
            raise _refuse("closed")
        await _raise_taken(rt, conv)
    return conv, owner


async def _raise_taken(rt: Runtime, conv: Conversation) -> None:
    async with rt.db.read() as conn:
        owner = await _user(conn, conv.org_id, conv.owner_id)
    name = owner.name if owner else "another rep"
    raise ServiceError(
        "already_taken",
        f"Already taken by {name}.",
        owner=events.rep_card(owner),
        conversation_id=conv.id,
    )


async def close_conversation(
    rt: Runtime, *, actor: Actor, conversation_id: str, outcome: str | None = None
) -> Conversation:
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conversation_id)
        refusal = close_refusal(actor, conv.state)
        if refusal is not None:
            raise _refuse(refusal.value)
        await chat.close_conversation(
            conn, org_id=actor.org_id, conversation_id=conv.id, outcome=outcome
        )
        await jobs.cancel(conn, org_id=actor.org_id, dedupe_key=f"{UNANSWERED_JOB}:{conv.id}")
        closer = await _user(conn, actor.org_id, actor.user_id)
        await stream.append_event(uow, conv, ev.Closed(), actor=closer)
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conv.id)
        owner = await _user(conn, actor.org_id, conv.owner_id)
        stream.post_conversation(uow, conv, owner)
        await transcripts.queue_on_close(uow, conv)
        closed = conv
        uow.after_commit(lambda: stream.out_of_conversation(rt, closed))
    return conv


async def reopen_conversation(
    rt: Runtime, *, actor: Actor, conversation_id: str
) -> tuple[Conversation, User | None]:
    """Open a closed conversation again (the undo of a close): the owner or an admin,
    while its visitor has no other conversation open."""
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conversation_id)
        refusal = reopen_refusal(actor, conv.state)
        if refusal is not None:
            raise _refuse(refusal.value)
        current = await chat.current_conversation(
            conn, org_id=actor.org_id, visitor_id=conv.visitor_id
        )
        if current is not None:
            raise ServiceError(
                "conflict",
                "The visitor is in another conversation now.",
                conversation_id=current.id,
            )
        if not await chat.reopen_conversation(conn, org_id=actor.org_id, conversation_id=conv.id):
            raise _refuse("not_closed")
        opener = await _user(conn, actor.org_id, actor.user_id)
        await stream.append_event(uow, conv, ev.Reopened(), actor=opener)
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conv.id)
        owner = await _user(conn, actor.org_id, conv.owner_id)
        stream.post_conversation(uow, conv, owner)
        visitor = await chat.get_visitor(conn, org_id=actor.org_id, visitor_id=conv.visitor_id)
        reopened = conv
        uow.after_commit(lambda: stream.in_conversation(rt, reopened, visitor))
    return conv, owner


async def visitor_typing(rt: Runtime, *, visitor: Visitor, typing: bool) -> None:
    async with rt.db.read() as conn:
        conv = await chat.current_conversation(conn, org_id=visitor.org_id, visitor_id=visitor.id)
    if conv is None:
        return
    events.to_users(
        rt.bus,
        rep_audience(conv),
        sf.TypingToRep(
            conversation_id=conv.id,
            author=s.Typist(kind="visitor", id=visitor.id),
            typing=typing,
        ),
    )


async def rep_typing(rt: Runtime, *, actor: Actor, conversation_id: str, typing: bool) -> None:
    async with rt.db.read() as conn:
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conversation_id)
        if conv.owner_id != actor.user_id:
            raise _refuse("not_owner")
        author = await _user(conn, actor.org_id, actor.user_id)
    events.to_visitors(
        rt.bus,
        [conv.visitor_id],
        sf.TypingToVisitor(conversation_id=conv.id, author=events.rep_card(author), typing=typing),
    )


async def mark_read(
    rt: Runtime,
    *,
    org_id: str,
    conversation_id: str,
    seq: int,
    visitor: Visitor | None = None,
    actor: Actor | None = None,
) -> None:
    """Move the visitor's or the owner's read marker and tell the other side."""
    async with unit_of_work(rt) as uow:
        conv = await _load_conversation(uow.conn, org_id=org_id, conversation_id=conversation_id)
        if visitor is not None and conv.visitor_id != visitor.id:
            raise _refuse("not_found")
        if actor is not None and conv.owner_id != actor.user_id:
            return  # only the owner's reading counts as "seen"
        moved = await chat.mark_read(
            uow.conn,
            org_id=org_id,
            conversation_id=conv.id,
            by_visitor=visitor is not None,
            seq=seq,
        )
        if not moved:
            return
        if visitor is not None:
            events.to_users(
                uow,
                rep_audience(conv),
                sf.ReadReceipt(conversation_id=conv.id, seq=seq, by="visitor"),
            )
        else:
            events.to_visitors(
                uow, [conv.visitor_id], sf.ReadReceipt(conversation_id=conv.id, seq=seq, by="rep")
            )


async def transcript(
    rt: Runtime, *, actor: Actor, conversation_id: str, after_seq: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of a conversation's messages for the REST API; `next_after_seq` is None at
    the end. (Consoles replay the whole stream, events too, over their socket.)"""
    async with rt.db.read() as conn:
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conversation_id)
        reps = {u.id: u for u in await accounts.list_users(conn, org_id=actor.org_id)}
        batch = await chat.messages_after(
            conn,
            org_id=actor.org_id,
            conversation_id=conv.id,
            after_seq=after_seq,
            limit=limit,
            audiences=stream.REPS_SEE,
            messages_only=True,
        )
    items = [
        events.as_json(
            events.message_for_rep(
                m, reps.get(m.author_id or "") if m.author_kind is AuthorKind.REP else None
            )
        )
        for m in batch
    ]
    next_after = batch[-1].seq if len(batch) == limit else None
    return items, next_after


async def owners_of(
    rt: Runtime, conn: AsyncConnection, org_id: str, convs: Sequence[Conversation]
) -> dict[str, User]:
    ids = {c.owner_id for c in convs if c.owner_id}
    users = await accounts.list_users(conn, org_id=org_id) if ids else []
    return {u.id: u for u in users if u.id in ids}


async def handle_unanswered(rt: Runtime, uow: UnitOfWork, job: jobs.Job) -> None:
    """Nobody started the chat in time: the visitor gets the away message."""
    conn = uow.conn
    conv = await chat.get_conversation(
        conn, org_id=job.org_id, conversation_id=str(job.payload.get("conversation_id"))
    )
    if conv is None or conv.owner_id is not None or conv.status is not ConversationStatus.OPEN:
        return
    away = await _append_system(conn, conv, await _away_text(rt, conv), {"away": True})
    stream.post_away(uow, conv, away)


async def _away_text(rt: Runtime, conv: Conversation) -> str:
    """The away message in the visitor's language (English when they are offline)."""
    info = await rt.presence.visitor_info(conv.org_id, conv.visitor_id) or {}
    return AWAY_TEXTS.get(str(info.get("locale")), AWAY_TEXTS["en"])
