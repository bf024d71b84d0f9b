"""Audiences and wire shapes: the only way a frame reaches a topic.

Only services publish, and they pick the audience with the function they call: a
visitor's topic takes `ToMessenger` frames (visitor-safe shapes only), a rep's topic
`ToConsole` frames. A change publishes through its unit of work (after the commit); an
ephemeral frame (typing) straight through the bus. Both are a `Sink`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol, TypeVar

import msgspec

from pounce.domain.model import Audience
from pounce.realtime.frames import CONSOLE, ServerFrame, ToConsole, ToMessenger, encode
from pounce.realtime.frames import shapes as s
from pounce.realtime.frames.base import tag_of
from pounce.store.records import Conversation, Message, User, Visitor


class Sink(Protocol):
    """Where frames go: the bus (now) or a unit of work (after its commit)."""

    def post_many(self, topics: Iterable[str], data: bytes) -> None: ...


# -- topics ------------------------------------------------------------------------------


def reps_topic(org_id: str) -> str:
    """Every console of the org."""
    return f"org:{org_id}:reps"


def visitors_topic(org_id: str) -> str:
    """Every messenger of the org: only visitor-safe, org-wide facts go here."""
    return f"org:{org_id}:visitors"


def user_topic(user_id: str) -> str:
    """Every console tab of one rep."""
    return f"user:{user_id}"


def visitor_topic(visitor_id: str) -> str:
    """Every messenger tab of one visitor."""
    return f"visitor:{visitor_id}"


def connection_topic(connection_id: str) -> str:
    """Exactly one socket (one tab)."""
    return f"conn:{connection_id}"


# -- audiences -------------------------------------------------------------------------------


def to_visitors(sink: Sink, visitor_ids: Iterable[str], frame: ToMessenger) -> None:
    """A frame to every tab of these visitors."""
    _check(frame, ToMessenger)
    sink.post_many([visitor_topic(v) for v in visitor_ids], encode(frame))


def to_org_visitors(sink: Sink, org_id: str, frame: ToMessenger) -> None:
    """A frame to every messenger of the org."""
    _check(frame, ToMessenger)
    sink.post_many([visitors_topic(org_id)], encode(frame))


def to_users(sink: Sink, user_ids: Iterable[str], frame: ToConsole) -> None:
    """A frame to every tab of these reps."""
    _check(frame, ToConsole)
    sink.post_many([user_topic(u) for u in user_ids], encode(frame))


def to_org_reps(sink: Sink, org_id: str, frame: ToConsole) -> None:
    """A frame to every console of the org."""
    _check(frame, ToConsole)
    sink.post_many([reps_topic(org_id)], encode(frame))


def to_visitors_and_users(
    sink: Sink, visitor_ids: Iterable[str], user_ids: Iterable[str], frame: ToMessenger
) -> None:
    """A visitor's frame that reps receive as is, encoded once: its console form (the
    console frame of the same type) must read it, i.e. has all its fields."""
    _check(frame, ToMessenger)
    if not _reps_read(type(frame)):
        raise TypeError(f"reps have no form of {type(frame).__name__} that reads it as is")
    topics = [visitor_topic(v) for v in visitor_ids] + [user_topic(u) for u in user_ids]
    sink.post_many(topics, encode(frame))


def to_connection(sink: Sink, connection_id: str, frame: ServerFrame) -> None:
    """A frame to one socket (one tab), of that socket's endpoint: the connection id
    names its kind (`messenger-…`, `console-…`)."""
    kind = ToMessenger if connection_id.startswith("messenger-") else ToConsole
    _check(frame, kind)
    sink.post_many([connection_topic(connection_id)], encode(frame))


@functools.cache
def _reps_read(cls: type[ToMessenger]) -> bool:
    console = CONSOLE.server.get(tag_of(cls))
    if console is None:
        return False
    theirs = {f.name: f for f in msgspec.structs.fields(console)}
    ours = {f.name for f in msgspec.structs.fields(cls)}
    extra = [f for name, f in theirs.items() if name not in ours]
    return ours <= set(theirs) and all(f.required is False for f in extra)


def _check(frame: ServerFrame, kind: type[ServerFrame]) -> None:
    if not isinstance(frame, kind):
        raise TypeError(f"a {type(frame).__name__} may not go to a {kind.__name__} audience")


# -- shapes ------------------------------------------------------------------------------------

_last_iso: tuple[datetime | None, str] = (None, "")


def iso(value: datetime | None) -> str | None:
    global _last_iso
    if value is None:
        return None
    if value is _last_iso[0]:  # a batch's messages share one timestamp object
        return _last_iso[1]
    text = value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    _last_iso = (value, text)
    return text


def stamp(value: datetime) -> str:
    text = iso(value)
    assert text is not None
    return text


def rep_card(user: User | None) -> s.RepCard | None:
    if user is None:
        return None
    return s.RepCard(
        id=user.id, name=user.name, first_name=user.first_name, avatar_url=user.avatar_url
    )


def author(message: Message, user: User | None) -> s.Author:
    return s.Author(
        kind=message.author_kind.value,
        id=message.author_id,
        name=user.name if user else None,
        avatar_url=user.avatar_url if user else None,
    )


M = TypeVar("M", bound=s.Message)
R = TypeVar("R", bound=s.MessageWithMeta)


def message(message: Message, user: User | None = None, shape: type[M] = s.Message) -> M:  # type: ignore[assignment]
    """A message as its visitor may see it (no `meta`), as `shape` (a part of a frame,
    or the `message` frame itself)."""
    return shape(
        conversation_id=message.conversation_id,
        seq=message.seq,
        client_id=message.client_id,
        author=author(message, user),
        body=message.body,
        html=message.html,
        created_at=stamp(message.created_at),
    )


def message_for_rep(
    message: Message,
    user: User | None = None,
    shape: type[R] = s.MessageWithMeta,  # type: ignore[assignment]
) -> R:
    """A message as reps see it: with `meta` and its audience."""
    return shape(
        conversation_id=message.conversation_id,
        seq=message.seq,
        client_id=message.client_id,
        author=author(message, user),
        body=message.body,
        html=message.html,
        created_at=stamp(message.created_at),
        meta=message.meta or None,
        audience=message.audience.value,
    )


def rep_shape_differs(message: Message) -> bool:
    """Whether reps see more of this message than its visitor does."""
    return bool(message.meta) or message.audience is not Audience.ALL


def conversation_for_visitor(conv: Conversation, owner: User | None) -> s.ConversationForVisitor:
    return s.ConversationForVisitor(
        id=conv.id,
        visitor_id=conv.visitor_id,
        status=conv.status.value,
        owner=rep_card(owner),
        last_seq=conv.last_seq,
        created_at=stamp(conv.created_at),
        rep_read_seq=conv.rep_read_seq,
    )


def conversation(conv: Conversation, owner: User | None) -> s.Conversation:
    """A conversation as reps see it."""
    return s.Conversation(
        id=conv.id,
        visitor_id=conv.visitor_id,
        status=conv.status.value,
        owner=rep_card(owner),
        last_seq=conv.last_seq,
        created_at=stamp(conv.created_at),
        source=conv.source.value,
        outcome=conv.outcome,
        routed_to=list(conv.routed_to),
        visitor_read_seq=conv.visitor_read_seq,
        rep_read_seq=conv.rep_read_seq,
        updated_at=stamp(conv.updated_at),
        closed_at=iso(conv.closed_at),
    )


def page_info(page: dict[str, Any] | None) -> s.PageInfo | None:
    if not page:
        return None
    return s.PageInfo(
        url=str(page.get("url") or ""),
        title=str(page.get("title") or ""),
        referrer=page.get("referrer"),
        viewed_at=page.get("viewed_at"),
    )


def visitor_presence(
    visitor: Visitor, info: dict[str, Any] | None, *, online: bool, card: bool = False
) -> s.VisitorPresence:
    """A visitor in Live View; `card` adds their attributes (an alert's visitor card)."""
    info = info or {}
    return s.VisitorPresence(
        id=visitor.id,
        name=visitor.name,
        email=visitor.email,
        company=visitor.company,
        country=visitor.country,
        online=online,
        current_page=page_info(info.get("current_page")),
        first_seen_at=iso(visitor.first_seen_at),
        session_started_at=info.get("session_started_at"),
        pages_viewed=int(info.get("pages_viewed", 0)),
        conversation_id=info.get("conversation_id"),
        attributes=dict(visitor.attributes) if card else None,
    )


# -- the same shapes as plain JSON, for the REST API ------------------------------------------


def as_json(shape: msgspec.Struct) -> dict[str, Any]:
    data = msgspec.to_builtins(shape)
    assert isinstance(data, dict)
    return data


def conversation_json(conv: Conversation, owner: User | None) -> dict[str, Any]:
    """A conversation as reps see it, as JSON."""
    return as_json(conversation(conv, owner))


def visitor_card_json(
    visitor: Visitor, info: dict[str, Any] | None, *, online: bool
) -> dict[str, Any]:
    """A visitor's card (with attributes), as JSON."""
    return as_json(visitor_presence(visitor, info, online=online, card=True))
