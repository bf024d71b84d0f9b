"""Conversations and messages: send, start (claim), close, typing, read and resume."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import Actor, AuthorKind, ConversationStatus, Source
from pounce.domain.ownership import Refusal, claim_refusal, close_refusal, send_refusal
from pounce.domain.routing import VisitorContext
from pounce.services import events, proactive
from pounce.services.errors import ServiceError
from pounce.services.formatting import render_markdown
from pounce.services.routing import route
from pounce.services.runtime import Runtime
from pounce.store import accounts, chat, jobs
from pounce.store.appender import Appended, Draft, is_resend, settle
from pounce.store.errors import ClientIdReused
from pounce.store.records import Conversation, HotRecord, Message, User, Visitor

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
UNANSWERED_JOB = "conversation.unanswered"

AfterCommit = Callable[[], Awaitable[None]]


class Sent(HotRecord, frozen=True):
    """A stored message and whether this call stored it (False: an idempotent resend)."""

    message: Message
    conversation: Conversation
    created: bool


def _refuse(code: str, what: str = "conversation") -> ServiceError:
    messages = {
        "not_found": f"No such {what}.",
        "already_taken": "Another rep already started this conversation.",
        "not_owner": "Only the rep who owns this conversation can do that.",
        "closed": "This conversation is closed.",
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


def rep_audience(conv: Conversation) -> list[str]:
    """The console topics that see a conversation's live traffic."""
    reps = [conv.owner_id] if conv.owner_id else list(conv.routed_to)
    return [events.user_topic(r) for r in reps]


async def publish_message(
    rt: Runtime, conv: Conversation, message: Message, author: User | None
) -> None:
    post_message(rt, conv, message, author)


def post_message(rt: Runtime, conv: Conversation, message: Message, author: User | None) -> None:
    """A stored message to its visitor and the reps who see the conversation live."""
    visitor_frame = {"type": "message", **events.message_json(message, author)}
    if not events.rep_shape_differs(message):  # both audiences get the same bytes
        events.post(rt, [events.visitor_topic(conv.visitor_id), *rep_audience(conv)], visitor_frame)
        return
    events.post(rt, [events.visitor_topic(conv.visitor_id)], visitor_frame)
    events.post(
        rt,
        rep_audience(conv),
        {"type": "message", **events.message_json(message, author, for_rep=True)},
    )


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
            post_message(rt, conv, message, None)
            if _open_auto_pounce(conv):

                async def replied() -> Sent:
                    await proactive.visitor_replied(rt, conv=conv, message=message)
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
    after: list[AfterCommit] = []
    async with rt.db.write() as conn:
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
            after += await _route_new(rt, conn, conv=conv, visitor=visitor, page_url=page_url)
        conv = await _load_conversation(conn, org_id=visitor.org_id, conversation_id=conv.id)
    await publish_message(rt, conv, message, None)
    for action in after:
        await action()
    await _after_visitor_message(rt, conv, message)
    return Sent(message, conv, created=True)


async def _after_visitor_message(rt: Runtime, conv: Conversation, message: Message) -> None:
    """A reply to an auto pounce starts the rep's countdown (services.proactive)."""
    if _open_auto_pounce(conv):
        await proactive.visitor_replied(rt, conv=conv, message=message)


def _open_auto_pounce(conv: Conversation) -> bool:
    """An auto pounce whose outcome is not decided yet: replies to it move it on."""
    return conv.source is Source.AUTO_POUNCE and conv.outcome is None


async def _route_new(
    rt: Runtime, conn: AsyncConnection, *, conv: Conversation, visitor: Visitor, page_url: str
) -> list[AfterCommit]:
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

        async def away_and_live_view() -> None:
            await _publish_away(rt, conv, away)
            await publish_in_conversation(rt, conv, visitor)

        return [away_and_live_view]
    await jobs.enqueue(
        conn,
        org_id=conv.org_id,
        kind=UNANSWERED_JOB,
        payload={"conversation_id": conv.id},
        run_at=rt.clock() + rt.settings.unanswered_seconds,
        dedupe_key=f"{UNANSWERED_JOB}:{conv.id}",
    )

    async def alert() -> None:
        async with rt.db.read() as read:
            fresh = await _load_conversation(read, org_id=conv.org_id, conversation_id=conv.id)
            frame = await alert_frame(rt, read, fresh)
        await events.publish(rt, [events.user_topic(r) for r in decision.alerted], frame)
        await publish_in_conversation(rt, conv, visitor)

    return [alert]


async def publish_in_conversation(
    rt: Runtime, conv: Conversation, visitor: Visitor | None = None
) -> None:
    """Live View shows the visitor as in a conversation."""
    if visitor is None:
        async with rt.db.read() as conn:
            visitor = await chat.get_visitor(conn, org_id=conv.org_id, visitor_id=conv.visitor_id)
        if visitor is None:
            return
    await rt.presence.visitor_update(conv.org_id, visitor.id, {"conversation_id": conv.id})
    info = await rt.presence.visitor_info(conv.org_id, visitor.id)
    if info is not None:
        await events.publish(
            rt,
            [events.reps_topic(conv.org_id)],
            {
                "type": "visitor",
                "visitor": events.visitor_presence_json(visitor, info, online=True),
            },
        )


async def alert_frame(rt: Runtime, conn: AsyncConnection, conv: Conversation) -> dict[str, Any]:
    visitor = await chat.get_visitor(conn, org_id=conv.org_id, visitor_id=conv.visitor_id)
    assert visitor is not None
    first = await chat.first_visitor_message(conn, org_id=conv.org_id, conversation_id=conv.id)
    info = await rt.presence.visitor_info(conv.org_id, visitor.id)
    owner = await _user(conn, conv.org_id, conv.owner_id)
    return {
        "type": "alert",
        "conversation": events.conversation_json(conv, owner, for_rep=True),
        "visitor": events.visitor_card_json(visitor, info, online=info is not None),
        "message": events.message_json(first, None, for_rep=True) if first else None,
        "routed_to": list(conv.routed_to),
    }


async def _publish_away(rt: Runtime, conv: Conversation, away: Message) -> None:
    await events.publish(
        rt,
        [events.visitor_topic(conv.visitor_id)],
        {
            "type": "away",
            "conversation_id": conv.id,
            "message": events.message_json(away, None),
        },
    )
    await events.publish(
        rt, rep_audience(conv), {"type": "message", **events.message_json(away, None, for_rep=True)}
    )


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
        await publish_message(rt, result.conversation, result.message, author)
        if _open_auto_pounce(result.conversation):
            await proactive.rep_replied(rt, conv=result.conversation, message=result.message)
    return Sent(result.message, result.conversation, created=result.created)


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
    async with rt.db.write() as conn:
        won = await chat.claim_conversation(
            conn, org_id=actor.org_id, conversation_id=conv.id, user_id=actor.user_id
        )
        if won:
            await jobs.cancel(conn, org_id=actor.org_id, dedupe_key=f"{UNANSWERED_JOB}:{conv.id}")
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conv.id)
        owner = await _user(conn, actor.org_id, conv.owner_id)
    if not won:
        if conv.owner_id == actor.user_id:
            return conv, owner
        if conv.status is ConversationStatus.CLOSED:
            raise _refuse("closed")
        await _raise_taken(rt, conv)
    await publish_conversation(rt, conv, owner)
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


async def publish_conversation(rt: Runtime, conv: Conversation, owner: User | None) -> None:
    """Tell the visitor (safe fields) and every rep of the org (all fields)."""
    await events.publish(
        rt,
        [events.visitor_topic(conv.visitor_id)],
        {"type": "conversation", "conversation": events.conversation_json(conv, owner)},
    )
    await events.publish(
        rt,
        [events.reps_topic(conv.org_id)],
        {
            "type": "conversation",
            "conversation": events.conversation_json(conv, owner, for_rep=True),
        },
    )


async def close_conversation(
    rt: Runtime, *, actor: Actor, conversation_id: str, outcome: str | None = None
) -> Conversation:
    async with rt.db.write() as conn:
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conversation_id)
        refusal = close_refusal(actor, conv.state)
        if refusal is not None:
            raise _refuse(refusal.value)
        await chat.close_conversation(
            conn, org_id=actor.org_id, conversation_id=conv.id, outcome=outcome
        )
        await jobs.cancel(conn, org_id=actor.org_id, dedupe_key=f"{UNANSWERED_JOB}:{conv.id}")
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conv.id)
        owner = await _user(conn, actor.org_id, conv.owner_id)
    await publish_conversation(rt, conv, owner)
    return conv


async def visitor_typing(rt: Runtime, *, visitor: Visitor, typing: bool) -> None:
    async with rt.db.read() as conn:
        conv = await chat.current_conversation(conn, org_id=visitor.org_id, visitor_id=visitor.id)
    if conv is None:
        return
    await events.publish(
        rt,
        rep_audience(conv),
        {
            "type": "typing",
            "conversation_id": conv.id,
            "author": {"kind": "visitor", "id": visitor.id},
            "typing": typing,
        },
    )


async def rep_typing(rt: Runtime, *, actor: Actor, conversation_id: str, typing: bool) -> None:
    async with rt.db.read() as conn:
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conversation_id)
        if conv.owner_id != actor.user_id:
            raise _refuse("not_owner")
        author = await _user(conn, actor.org_id, actor.user_id)
    await events.publish(
        rt,
        [events.visitor_topic(conv.visitor_id)],
        {
            "type": "typing",
            "conversation_id": conv.id,
            "author": events.rep_card(author),
            "typing": typing,
        },
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
    async with rt.db.write() as conn:
        conv = await _load_conversation(conn, org_id=org_id, conversation_id=conversation_id)
        if visitor is not None and conv.visitor_id != visitor.id:
            raise _refuse("not_found")
        if actor is not None and conv.owner_id != actor.user_id:
            return  # only the owner's reading counts as "seen"
        moved = await chat.mark_read(
            conn,
            org_id=org_id,
            conversation_id=conv.id,
            by_visitor=visitor is not None,
            seq=seq,
        )
    if not moved:
        return
    frame = {"type": "read", "conversation_id": conv.id, "seq": seq}
    if visitor is not None:
        await events.publish(rt, rep_audience(conv), {**frame, "by": "visitor"})
    else:
        await events.publish(rt, [events.visitor_topic(conv.visitor_id)], {**frame, "by": "rep"})


async def replay(
    rt: Runtime,
    *,
    org_id: str,
    after: dict[str, int],
    visitor: Visitor | None = None,
    for_rep: bool = False,
    limit: int = 1000,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every stored message after each given seq, in order, as `message` frames."""
    frames: list[dict[str, Any]] = []
    last: dict[str, int] = {}
    async with rt.db.read() as conn:
        reps = {u.id: u for u in await accounts.list_users(conn, org_id=org_id)}
        for conversation_id, after_seq in after.items():
            conv = await chat.get_conversation(conn, org_id=org_id, conversation_id=conversation_id)
            if conv is None or (visitor is not None and conv.visitor_id != visitor.id):
                continue
            seq = after_seq
            while True:
                batch = await chat.messages_after(
                    conn, org_id=org_id, conversation_id=conv.id, after_seq=seq, limit=limit
                )
                for message in batch:
                    author = reps.get(message.author_id or "")
                    if message.author_kind is not AuthorKind.REP:
                        author = None
                    frames.append(
                        {"type": "message", **events.message_json(message, author, for_rep=for_rep)}
                    )
                    seq = message.seq
                if len(batch) < limit:
                    break
            last[conv.id] = max(seq, after_seq)
    return frames, last


async def transcript(
    rt: Runtime, *, actor: Actor, conversation_id: str, after_seq: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of a conversation for the console; `next_after_seq` is None at the end."""
    async with rt.db.read() as conn:
        conv = await _load_conversation(conn, org_id=actor.org_id, conversation_id=conversation_id)
        reps = {u.id: u for u in await accounts.list_users(conn, org_id=actor.org_id)}
        batch = await chat.messages_after(
            conn, org_id=actor.org_id, conversation_id=conv.id, after_seq=after_seq, limit=limit
        )
    items = [
        events.message_json(
            m,
            reps.get(m.author_id or "") if m.author_kind is AuthorKind.REP else None,
            for_rep=True,
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


async def handle_unanswered(rt: Runtime, conn: AsyncConnection, job: jobs.Job) -> list[AfterCommit]:
    """Nobody started the chat in time: the visitor gets the away message."""
    conv = await chat.get_conversation(
        conn, org_id=job.org_id, conversation_id=str(job.payload.get("conversation_id"))
    )
    if conv is None or conv.owner_id is not None or conv.status is not ConversationStatus.OPEN:
        return []
    away = await _append_system(conn, conv, await _away_text(rt, conv), {"away": True})
    return [lambda: _publish_away(rt, conv, away)]


async def _away_text(rt: Runtime, conv: Conversation) -> str:
    """The away message in the visitor's language (English when they are offline)."""
    info = await rt.presence.visitor_info(conv.org_id, conv.visitor_id) or {}
    return AWAY_TEXTS.get(str(info.get("locale")), AWAY_TEXTS["en"])
