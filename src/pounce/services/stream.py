"""A conversation's live traffic: who sees it, and the frames for its messages, its
changes and its alerts. Every service that changes a conversation publishes here."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.realtime.frames import server as sf
from pounce.realtime.frames import shapes as s
from pounce.services import events
from pounce.services.events import Sink
from pounce.services.runtime import Runtime
from pounce.store import accounts, chat
from pounce.store.records import Conversation, Message, User, Visitor, hot_record

UNANSWERED_JOB = "conversation.unanswered"


@hot_record
class Sent:
    """A stored message and whether this call stored it (False: an idempotent resend)."""

    message: Message
    conversation: Conversation
    created: bool


def rep_audience(conv: Conversation) -> list[str]:
    """The reps who see a conversation's live traffic: its owner, or before anyone
    owns it, the reps it was routed to."""
    return [conv.owner_id] if conv.owner_id else list(conv.routed_to)


def post_message(sink: Sink, conv: Conversation, message: Message, author: User | None) -> None:
    """A stored message to its visitor and the reps who see the conversation live."""
    shown = events.message(message, author)
    visitor_frame = sf.MessageToVisitor(
        conversation_id=shown.conversation_id,
        seq=shown.seq,
        client_id=shown.client_id,
        author=shown.author,
        body=shown.body,
        html=shown.html,
        created_at=shown.created_at,
    )
    if not events.rep_shape_differs(message):  # both audiences get the same bytes
        events.to_visitors_and_users(sink, [conv.visitor_id], rep_audience(conv), visitor_frame)
        return
    events.to_visitors(sink, [conv.visitor_id], visitor_frame)
    events.to_users(sink, rep_audience(conv), message_to_rep(message, author))


def message_to_rep(message: Message, author: User | None) -> sf.MessageToRep:
    shown = events.message_for_rep(message, author)
    return sf.MessageToRep(
        conversation_id=shown.conversation_id,
        seq=shown.seq,
        client_id=shown.client_id,
        author=shown.author,
        body=shown.body,
        html=shown.html,
        created_at=shown.created_at,
        meta=shown.meta,
    )


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
    if visitor is None:
        async with rt.db.read() as conn:
            visitor = await chat.get_visitor(conn, org_id=conv.org_id, visitor_id=conv.visitor_id)
        if visitor is None:
            return
    await rt.presence.visitor_update(conv.org_id, visitor.id, {"conversation_id": conv.id})
    info = await rt.presence.visitor_info(conv.org_id, visitor.id)
    if info is not None:
        events.to_org_reps(
            rt.bus,
            conv.org_id,
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
