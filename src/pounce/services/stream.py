"""A conversation's stream and live traffic: its messages and events, who sees each
(`seen_by`, the one rule for live delivery and replay), replay a page at a time, and
the frames for its changes and alerts. Every service that changes a conversation
publishes here."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import Audience, AuthorKind, seen_by
from pounce.realtime.frames import ServerFrame
from pounce.realtime.frames import server as sf
from pounce.realtime.frames import shapes as s
from pounce.realtime.frames import stream as ev
from pounce.services import events
from pounce.services.events import Sink
from pounce.services.runtime import Runtime
from pounce.services.uow import UnitOfWork
from pounce.store import accounts, chat
from pounce.store.records import Conversation, HotRecord, Message, User, Visitor

VISITOR_SEES = seen_by("visitor")
REPS_SEE = seen_by("reps")
# A replay sends at most this many items of one conversation, and of all of them, per
# request; `resumed.more` names the conversations with more to fetch.
REPLAY_PAGE = 100
REPLAY_TOTAL = 400

UNANSWERED_JOB = "conversation.unanswered"


class Sent(HotRecord, frozen=True):
    """A stored message and whether this call stored it (False: an idempotent resend)."""

    message: Message
    conversation: Conversation
    created: bool


def rep_audience(conv: Conversation) -> list[str]:
    """The reps who see a conversation's live traffic: its owner, or before anyone
    owns it, the reps it was routed to."""
    return [conv.owner_id] if conv.owner_id else list(conv.routed_to)


def post_item(sink: Sink, conv: Conversation, item: Message, author: User | None) -> None:
    """A stored item (message or event) to those of its visitor and the reps who see the
    conversation live whom its audience allows."""
    if item.is_event:
        post_event(sink, conv, item, author)
    else:
        post_message(sink, conv, item, author)


def post_message(sink: Sink, conv: Conversation, message: Message, author: User | None) -> None:
    """A stored message to its visitor and the reps who see the conversation live, as
    far as its audience allows."""
    to_visitor, to_reps = message.audience in VISITOR_SEES, message.audience in REPS_SEE
    if to_visitor and to_reps and not events.rep_shape_differs(message):
        # both audiences get the same bytes
        frame = message_to_visitor(message, author)
        events.to_visitors_and_users(sink, [conv.visitor_id], rep_audience(conv), frame)
        return
    if to_visitor:
        events.to_visitors(sink, [conv.visitor_id], message_to_visitor(message, author))
    if to_reps:
        events.to_users(sink, rep_audience(conv), message_to_rep(message, author))


def message_to_visitor(message: Message, author: User | None) -> sf.MessageToVisitor:
    if message.audience not in VISITOR_SEES:
        raise ValueError(f"seq {message.seq} is not for the visitor")
    return events.message(message, author, sf.MessageToVisitor)


def message_to_rep(message: Message, author: User | None) -> sf.MessageToRep:
    if message.audience not in REPS_SEE:
        raise ValueError(f"seq {message.seq} is not for reps")
    return events.message_for_rep(message, author, sf.MessageToRep)


def post_conversation(sink: Sink, conv: Conversation, owner: User | None) -> None:
    """A conversation changed: its visitor (safe fields) and every rep of the org."""
    events.to_visitors(
        sink,
        [conv.visitor_id],
        sf.ConversationToVisitor(conversation=events.conversation_for_visitor(conv, owner)),
    )
    post_conversation_to_reps(sink, conv, owner)


def post_conversation_to_reps(sink: Sink, conv: Conversation, owner: User | None) -> None:
    """A rep-only change (the outcome): the reps' consoles, never the visitor's topic."""
    events.to_org_reps(
        sink, conv.org_id, sf.ConversationToRep(conversation=events.conversation(conv, owner))
    )


def post_away(sink: Sink, conv: Conversation, away: Message) -> None:
    """Nobody can answer: the visitor gets the away message, the reps see it too."""
    events.to_visitors(
        sink, [conv.visitor_id], sf.Away(conversation_id=conv.id, message=events.message(away))
    )
    events.to_users(sink, rep_audience(conv), message_to_rep(away, None))


async def in_conversation(rt: Runtime, conv: Conversation, visitor: Visitor | None = None) -> None:
    """Live View shows the visitor as in a conversation (call after the commit)."""
    await visitor_changed(rt, conv.org_id, conv.visitor_id, visitor, conversation_id=conv.id)


async def out_of_conversation(rt: Runtime, conv: Conversation) -> None:
    """Live View no longer shows the visitor as in it (it closed; after the commit)."""
    await visitor_changed(rt, conv.org_id, conv.visitor_id, conversation_id=None)


async def visitor_changed(
    rt: Runtime,
    org_id: str,
    visitor_id: str,
    visitor: Visitor | None = None,
    **presence: str | None,
) -> None:
    """A visitor's row or presence changed: the org's consoles hear of it while the
    visitor is on the site (`presence` updates what Live View knows first; call after
    the commit)."""
    if await rt.presence.visitor_info(org_id, visitor_id) is None:
        return  # not on the site: Live View does not list them
    if visitor is None:
        async with rt.db.read() as conn:
            visitor = await chat.get_visitor(conn, org_id=org_id, visitor_id=visitor_id)
        if visitor is None:
            return
    if presence:
        await rt.presence.visitor_update(org_id, visitor.id, dict(presence))
    info = await rt.presence.visitor_info(org_id, visitor.id)
    if info is not None:
        events.to_org_reps(
            rt.bus,
            org_id,
            sf.VisitorUpdate(visitor=events.visitor_presence(visitor, info, online=True)),
        )


async def alert(
    rt: Runtime, conn: AsyncConnection, conv: Conversation, *, deadline: int | None = None
) -> s.Alert:
    """The alert for a routed conversation: the visitor's card and first message."""
    visitor = await chat.get_visitor(conn, org_id=conv.org_id, visitor_id=conv.visitor_id)
    assert visitor is not None
    first = await chat.first_visitor_message(conn, org_id=conv.org_id, conversation_id=conv.id)
    info = await rt.presence.visitor_info(conv.org_id, visitor.id)
    owner = (
        await accounts.get_user(conn, org_id=conv.org_id, user_id=conv.owner_id)
        if conv.owner_id
        else None
    )
    return s.Alert(
        conversation=events.conversation(conv, owner),
        visitor=events.visitor_presence(visitor, info, online=info is not None, card=True),
        message=events.message_for_rep(first) if first else None,
        routed_to=list(conv.routed_to),
        deadline=deadline,
    )


def alert_frame(shown: s.Alert) -> sf.AlertFrame:
    return sf.AlertFrame(
        conversation=shown.conversation,
        visitor=shown.visitor,
        message=shown.message,
        routed_to=shown.routed_to,
        deadline=shown.deadline,
    )


# -- events -------------------------------------------------------------------------------------


async def append_event(
    uow: UnitOfWork,
    conv: Conversation,
    event: ev.Event,
    *,
    actor: User | None = None,
    actor_kind: AuthorKind | None = None,
) -> Message:
    """Store an event in the conversation's stream (its next seq) and publish it to its
    audience after the commit. The actor is `actor` (a rep), else the system or
    `actor_kind` (the visitor)."""
    kind = actor_kind or (AuthorKind.REP if actor else AuthorKind.SYSTEM)
    item = await chat.append_event(
        uow.conn,
        org_id=conv.org_id,
        conversation_id=conv.id,
        kind=ev.kind_of(type(event)),
        data=ev.data_of(event),
        audience=type(event).audience,
        actor_kind=kind,
        actor_id=actor.id if actor else (conv.visitor_id if kind is AuthorKind.VISITOR else None),
    )
    post_event(uow, conv, item, actor)
    return item


_KINDS: dict[str, type[ev.Event]] = {ev.kind_of(k): k for k in ev.kinds()}


def event_of(item: Message) -> ev.Event:
    """The typed event a stored item holds."""
    return msgspec.convert(item.meta, type=_KINDS[item.kind])


def _actor(item: Message, user: User | None) -> s.Author | None:
    if item.author_kind is AuthorKind.SYSTEM:
        return None
    return events.author(item, user)


def event_to_visitor(item: Message, actor: User | None) -> sf.EventToVisitor:
    if item.audience not in VISITOR_SEES:
        raise ValueError(f"seq {item.seq} is not for the visitor")
    return sf.EventToVisitor(
        conversation_id=item.conversation_id,
        seq=item.seq,
        created_at=events.stamp(item.created_at),
        actor=_actor(item, actor),
        event=event_of(item),
    )


def event_to_rep(item: Message, actor: User | None) -> sf.EventToRep:
    if item.audience not in REPS_SEE:
        raise ValueError(f"seq {item.seq} is not for reps")
    return sf.EventToRep(
        conversation_id=item.conversation_id,
        seq=item.seq,
        created_at=events.stamp(item.created_at),
        actor=_actor(item, actor),
        event=event_of(item),
    )


def post_event(sink: Sink, conv: Conversation, item: Message, actor: User | None) -> None:
    if item.audience in VISITOR_SEES:
        events.to_visitors(sink, [conv.visitor_id], event_to_visitor(item, actor))
    if item.audience in REPS_SEE:
        events.to_users(sink, rep_audience(conv), event_to_rep(item, actor))


# -- replay ---------------------------------------------------------------------------------------


@dataclass
class Replayed:
    """A page of replay: the frames, the last seq covered per conversation, and the
    conversations with more after it."""

    frames: list[ServerFrame] = field(default_factory=list)
    last: dict[str, int] = field(default_factory=dict)
    more: list[str] = field(default_factory=list)


async def replay(
    rt: Runtime, *, org_id: str, after: dict[str, int], visitor: Visitor | None = None
) -> Replayed:
    """The items after each given seq that the visitor (`visitor` given) or reps may see,
    in order: at most REPLAY_PAGE per conversation and REPLAY_TOTAL in all."""
    out = Replayed()
    audiences: tuple[Audience, ...] = VISITOR_SEES if visitor is not None else REPS_SEE
    left = REPLAY_TOTAL
    async with rt.db.read() as conn:
        convs = await chat.get_conversations(conn, org_id=org_id, conversation_ids=list(after))
        users: dict[str, User] | None = None
        for conversation_id, after_seq in after.items():
            conv = convs.get(conversation_id)
            if conv is None or (visitor is not None and conv.visitor_id != visitor.id):
                continue
            out.last[conv.id] = after_seq
            if left <= 0:
                out.more.append(conv.id)
                continue
            page = min(REPLAY_PAGE, left)
            batch = await chat.messages_after(
                conn,
                org_id=org_id,
                conversation_id=conv.id,
                after_seq=after_seq,
                limit=page + 1,
                audiences=audiences,
            )
            if len(batch) > page:
                batch = batch[:page]
                out.more.append(conv.id)
            if batch and users is None:
                users = {u.id: u for u in await accounts.list_users(conn, org_id=org_id)}
            for item in batch:
                author = (users or {}).get(item.author_id or "")
                if item.author_kind is not AuthorKind.REP:
                    author = None
                out.frames.append(_frame(item, author, for_visitor=visitor is not None))
                out.last[conv.id] = item.seq
            left -= len(batch)
    return out


def _frame(item: Message, author: User | None, *, for_visitor: bool) -> ServerFrame:
    if for_visitor:
        return event_to_visitor(item, author) if item.is_event else message_to_visitor(item, author)
    return event_to_rep(item, author) if item.is_event else message_to_rep(item, author)
