"""Wire shapes of records, audience topics, and publishing after commit.

Only services publish. The caller picks the audience: a visitor's topic receives
visitor-safe payloads only (no routing, no rep-only markers).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pounce.realtime.frames import encode
from pounce.services.runtime import Runtime
from pounce.store.records import Conversation, Message, User, Visitor


def reps_topic(org_id: str) -> str:
    return f"org:{org_id}:reps"


def user_topic(user_id: str) -> str:
    return f"user:{user_id}"


def visitor_topic(visitor_id: str) -> str:
    return f"visitor:{visitor_id}"


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


def rep_card(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "id": user.id,
        "name": user.name,
        "first_name": user.first_name,
        "avatar_url": user.avatar_url,
    }


def message_json(
    message: Message, author: User | None = None, *, for_rep: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "client_id": message.client_id,
        "author": {
            "kind": message.author_kind.value,
            "id": message.author_id,
            "name": author.name if author else None,
            "avatar_url": author.avatar_url if author else None,
        },
        "body": message.body,
        "html": message.html,
        "created_at": iso(message.created_at),
    }
    if for_rep and message.meta:
        data["meta"] = message.meta
    return data


def rep_shape_differs(message: Message) -> bool:
    """Whether `message_json(..., for_rep=True)` adds anything to the visitor's shape."""
    return bool(message.meta)


def conversation_json(
    conv: Conversation, owner: User | None, *, for_rep: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": conv.id,
        "visitor_id": conv.visitor_id,
        "status": conv.status.value,
        "owner": rep_card(owner),
        "last_seq": conv.last_seq,
        "created_at": iso(conv.created_at),
    }
    if for_rep:
        data.update(
            source=conv.source.value,
            outcome=conv.outcome,
            routed_to=list(conv.routed_to),
            visitor_read_seq=conv.visitor_read_seq,
            rep_read_seq=conv.rep_read_seq,
            updated_at=iso(conv.updated_at),
            closed_at=iso(conv.closed_at),
        )
    else:
        data["rep_read_seq"] = conv.rep_read_seq
    return data


def visitor_presence_json(
    visitor: Visitor, info: dict[str, Any] | None, *, online: bool
) -> dict[str, Any]:
    info = info or {}
    return {
        "id": visitor.id,
        "name": visitor.name,
        "email": visitor.email,
        "company": visitor.company,
        "country": visitor.country,
        "online": online,
        "current_page": info.get("current_page"),
        "first_seen_at": iso(visitor.first_seen_at),
        "session_started_at": info.get("session_started_at"),
        "pages_viewed": info.get("pages_viewed", 0),
        "conversation_id": info.get("conversation_id"),
    }


def visitor_card_json(
    visitor: Visitor, info: dict[str, Any] | None, *, online: bool
) -> dict[str, Any]:
    card = visitor_presence_json(visitor, info, online=online)
    card["attributes"] = visitor.attributes
    return card


async def publish(rt: Runtime, topics: Iterable[str], frame: dict[str, Any]) -> None:
    """Encode once, publish to each topic. Call only after the change has committed."""
    post(rt, topics, frame)


def post(rt: Runtime, topics: Iterable[str], frame: dict[str, Any]) -> None:
    """`publish` from plain code: the bus queues or delivers the frame before returning."""
    rt.bus.post_many(dict.fromkeys(topics), encode(frame))
