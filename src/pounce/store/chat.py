"""Visitors, page views, conversations and their sequenced messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import and_, bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import Audience, AuthorKind, ConversationStatus, Source, new_id
from pounce.store import tables as t
from pounce.store.records import Conversation, Message, Visitor, as_utc, now


def new_visitor(
    *, org_id: str, site_id: str, country: str | None = None, at: datetime | None = None
) -> Visitor:
    """A visitor not stored yet (`record_visits` stores it), first seen `at` (default: now)."""
    stamp = at or now()
    return Visitor(
        id=new_id("v"),
        org_id=org_id,
        site_id=site_id,
        name=None,
        email=None,
        company=None,
        country=country,
        attributes={},
        blocked=False,
        first_seen_at=stamp,
        last_seen_at=stamp,
    )


@dataclass(frozen=True, slots=True)
class Visit:
    """A messenger's arrival or page view: the visitor, stored now (`created`) or seen
    again (their `last_seen_at` moves to `at`), and the page they are on, if any."""

    visitor: Visitor
    created: bool
    at: datetime
    url: str | None = None
    title: str = ""
    referrer: str | None = None
    client_ip: str | None = None  # kept on the visitor for a report's IP block
    # The address is new for this visitor: look its location up (`Runtime.locator`).
    locate: bool = False


_TOUCH = (
    update(t.visitors)
    .where(t.visitors.c.org_id == bindparam("b_org"), t.visitors.c.id == bindparam("b_id"))
    .values(
        last_seen_at=bindparam("b_seen"),
        client_ip=func.coalesce(bindparam("b_ip"), t.visitors.c.client_ip),
    )
)


async def record_visits(conn: AsyncConnection, visits: Sequence[Visit]) -> None:
    """Many visits in a few statements (one per kind of row, not one per visit): new
    visitors, then the others' `last_seen_at`, then the page views."""
    created = [(v.visitor, v.client_ip) for v in visits if v.created]
    if created:
        await conn.execute(
            insert(t.visitors),
            [
                {
                    "id": x.id,
                    "org_id": x.org_id,
                    "site_id": x.site_id,
                    "name": x.name,
                    "email": x.email,
                    "company": x.company,
                    "country": x.country,
                    "attributes": x.attributes,
                    "blocked": x.blocked,
                    "first_seen_at": x.first_seen_at,
                    "last_seen_at": x.last_seen_at,
                    "client_ip": ip,
                }
                for x, ip in created
            ],
        )
    touched = [
        {"b_org": v.visitor.org_id, "b_id": v.visitor.id, "b_seen": v.at, "b_ip": v.client_ip}
        for v in visits
        if not v.created
    ]
    if touched:
        await conn.execute(_TOUCH, touched)
    views = [
        {
            "org_id": v.visitor.org_id,
            "visitor_id": v.visitor.id,
            "url": v.url,
            "title": v.title,
            "referrer": v.referrer,
            "viewed_at": v.at,
        }
        for v in visits
        if v.url
    ]
    if views:
        await conn.execute(insert(t.page_views), views)


async def create_visitor(
    conn: AsyncConnection,
    *,
    org_id: str,
    site_id: str,
    country: str | None = None,
    client_ip: str | None = None,
) -> Visitor:
    visitor = new_visitor(org_id=org_id, site_id=site_id, country=country)
    visit = Visit(visitor, created=True, at=visitor.first_seen_at, client_ip=client_ip)
    await record_visits(conn, [visit])
    return visitor


async def get_visitor(conn: AsyncConnection, *, org_id: str, visitor_id: str) -> Visitor | None:
    row = (
        await conn.execute(
            select(t.visitors).where(t.visitors.c.org_id == org_id, t.visitors.c.id == visitor_id)
        )
    ).first()
    return Visitor.from_row(row) if row else None


async def get_visitors(
    conn: AsyncConnection, *, org_id: str, visitor_ids: Sequence[str]
) -> dict[str, Visitor]:
    """Many visitors by id, a few queries of up to 500 ids each (not one per visitor)."""
    found: dict[str, Visitor] = {}
    ids = list(dict.fromkeys(visitor_ids))
    for start in range(0, len(ids), 500):
        rows = await conn.execute(
            select(t.visitors).where(
                t.visitors.c.org_id == org_id, t.visitors.c.id.in_(ids[start : start + 500])
            )
        )
        for row in rows:
            found[row.id] = Visitor.from_row(row)
    return found


async def touch_visitor(
    conn: AsyncConnection, *, org_id: str, visitor_id: str, client_ip: str | None = None
) -> None:
    """Seen now, from this client address (kept for a report's IP block)."""
    values: dict[str, Any] = {"last_seen_at": now()}
    if client_ip is not None:
        values["client_ip"] = client_ip
    await conn.execute(
        update(t.visitors)
        .where(t.visitors.c.org_id == org_id, t.visitors.c.id == visitor_id)
        .values(**values)
    )


async def update_visitor(
    conn: AsyncConnection, *, org_id: str, visitor_id: str, **values: Any
) -> None:
    await conn.execute(
        update(t.visitors)
        .where(t.visitors.c.org_id == org_id, t.visitors.c.id == visitor_id)
        .values(**values)
    )


async def list_visitors(
    conn: AsyncConnection, *, org_id: str, limit: int = 100, before: datetime | None = None
) -> list[Visitor]:
    query = select(t.visitors).where(t.visitors.c.org_id == org_id)
    if before is not None:
        query = query.where(t.visitors.c.last_seen_at < before)
    rows = await conn.execute(
        query.order_by(t.visitors.c.last_seen_at.desc(), t.visitors.c.id).limit(limit)
    )
    return [Visitor.from_row(r) for r in rows]


async def page_views_since(
    conn: AsyncConnection, *, org_id: str, visitor_id: str, since: datetime | None = None
) -> list[dict[str, Any]]:
    query = select(t.page_views).where(
        t.page_views.c.org_id == org_id, t.page_views.c.visitor_id == visitor_id
    )
    if since is not None:
        query = query.where(t.page_views.c.viewed_at >= since)
    rows = await conn.execute(query.order_by(t.page_views.c.viewed_at, t.page_views.c.id))
    return [
        {
            "url": r.url,
            "title": r.title,
            "referrer": r.referrer,
            "viewed_at": as_utc(r.viewed_at),
        }
        for r in rows
    ]


async def create_conversation(
    conn: AsyncConnection,
    *,
    org_id: str,
    site_id: str,
    visitor_id: str,
    source: Source,
    owner_id: str | None = None,
    at: datetime | None = None,
) -> Conversation:
    """A new conversation, created `at` (default: now)."""
    stamp = at or now()
    conversation_id = new_id("c")
    await conn.execute(
        insert(t.conversations).values(
            id=conversation_id,
            org_id=org_id,
            site_id=site_id,
            visitor_id=visitor_id,
            status=(ConversationStatus.ACTIVE if owner_id else ConversationStatus.OPEN).value,
            owner_id=owner_id,
            source=source.value,
            routed_to=[],
            last_seq=0,
            visitor_read_seq=0,
            rep_read_seq=0,
            created_at=stamp,
            updated_at=stamp,
        )
    )
    conv = await get_conversation(conn, org_id=org_id, conversation_id=conversation_id)
    assert conv is not None
    return conv


async def get_conversation(
    conn: AsyncConnection, *, org_id: str, conversation_id: str
) -> Conversation | None:
    row = (
        await conn.execute(
            select(t.conversations).where(
                t.conversations.c.org_id == org_id, t.conversations.c.id == conversation_id
            )
        )
    ).first()
    return Conversation.from_row(row) if row else None


async def get_conversations(
    conn: AsyncConnection, *, org_id: str, conversation_ids: Sequence[str]
) -> dict[str, Conversation]:
    """Many conversations by id, a few queries of up to 500 ids each."""
    found: dict[str, Conversation] = {}
    ids = list(dict.fromkeys(conversation_ids))
    for start in range(0, len(ids), 500):
        rows = await conn.execute(
            select(t.conversations).where(
                t.conversations.c.org_id == org_id,
                t.conversations.c.id.in_(ids[start : start + 500]),
            )
        )
        for row in rows:
            found[row.id] = Conversation.from_row(row)
    return found


async def current_conversation(
    conn: AsyncConnection, *, org_id: str, visitor_id: str
) -> Conversation | None:
    """The visitor's latest conversation that is not closed."""
    row = (
        await conn.execute(
            select(t.conversations)
            .where(
                t.conversations.c.org_id == org_id,
                t.conversations.c.visitor_id == visitor_id,
                t.conversations.c.status != ConversationStatus.CLOSED.value,
            )
            .order_by(t.conversations.c.created_at.desc())
            .limit(1)
        )
    ).first()
    return Conversation.from_row(row) if row else None


async def list_conversations(
    conn: AsyncConnection,
    *,
    org_id: str,
    visitor_id: str | None = None,
    owner_id: str | None = None,
    status: Sequence[ConversationStatus] = (),
    routed_to: str | None = None,
    limit: int = 50,
    owners: Sequence[str] | None = None,
) -> list[Conversation]:
    query = select(t.conversations).where(t.conversations.c.org_id == org_id)
    if visitor_id is not None:
        query = query.where(t.conversations.c.visitor_id == visitor_id)
    if owner_id is not None:
        query = query.where(t.conversations.c.owner_id == owner_id)
    if owners is not None:
        query = query.where(t.conversations.c.owner_id.in_(list(owners)))
    if status:
        query = query.where(t.conversations.c.status.in_([s.value for s in status]))
    rows = await conn.execute(
        query.order_by(t.conversations.c.created_at.desc(), t.conversations.c.id).limit(limit)
    )
    found = [Conversation.from_row(r) for r in rows]
    if routed_to is not None:
        found = [c for c in found if routed_to in c.routed_to]
    return found


async def claim_conversation(
    conn: AsyncConnection, *, org_id: str, conversation_id: str, user_id: str
) -> bool:
    """Make `user_id` the owner if nobody is; True for exactly one caller."""
    result = await conn.execute(
        update(t.conversations)
        .where(
            t.conversations.c.org_id == org_id,
            t.conversations.c.id == conversation_id,
            t.conversations.c.owner_id.is_(None),
            t.conversations.c.status != ConversationStatus.CLOSED.value,
        )
        .values(owner_id=user_id, status=ConversationStatus.ACTIVE.value, updated_at=now())
    )
    return result.rowcount == 1


async def transfer_conversation(
    conn: AsyncConnection,
    *,
    org_id: str,
    conversation_id: str,
    from_owner: str | None,
    to_owner: str,
) -> bool:
    """Make `to_owner` the owner if the owner is still `from_owner` and the conversation
    is not closed; True for exactly one of concurrent callers who saw the same owner."""
    c = t.conversations.c
    owner_is = c.owner_id.is_(None) if from_owner is None else c.owner_id == from_owner
    result = await conn.execute(
        update(t.conversations)
        .where(
            c.org_id == org_id,
            c.id == conversation_id,
            owner_is,
            c.status != ConversationStatus.CLOSED.value,
        )
        .values(owner_id=to_owner, status=ConversationStatus.ACTIVE.value, updated_at=now())
    )
    return result.rowcount == 1


async def set_routed(
    conn: AsyncConnection, *, org_id: str, conversation_id: str, routed_to: Sequence[str]
) -> None:
    await conn.execute(
        update(t.conversations)
        .where(t.conversations.c.org_id == org_id, t.conversations.c.id == conversation_id)
        .values(routed_to=list(routed_to), updated_at=now())
    )


async def add_routed(
    conn: AsyncConnection, *, org_id: str, conversation_ids: Sequence[str], user_id: str
) -> list[Conversation]:
    """Add a rep to the routed reps of those conversations that are still waiting
    (inbound, open, no owner), in two statements: a locked read (PostgreSQL; SQLite's
    write transaction is the lock), so that two reps added at once both stay, and one
    update for all of them. Returns those conversations as they are now, in the order
    asked (with the rep already routed, unchanged)."""
    ids = list(dict.fromkeys(conversation_ids))[:500]
    if not ids:
        return []
    c = t.conversations.c
    rows = await conn.execute(
        select(t.conversations)
        .where(
            c.org_id == org_id,
            c.id.in_(ids),
            c.status == ConversationStatus.OPEN.value,
            c.owner_id.is_(None),
            c.source == Source.INBOUND.value,
        )
        .with_for_update()
    )
    found = {r.id: Conversation.from_row(r) for r in rows}
    stamp = now()
    changed = {
        cid: msgspec.structs.replace(conv, routed_to=(*conv.routed_to, user_id), updated_at=stamp)
        for cid, conv in found.items()
        if user_id not in conv.routed_to
    }
    if changed:
        await conn.execute(
            update(t.conversations)
            .where(c.org_id == org_id, c.id == bindparam("b_id"))
            .values(routed_to=bindparam("b_routed"), updated_at=stamp),
            [{"b_id": cid, "b_routed": list(conv.routed_to)} for cid, conv in changed.items()],
        )
    return [changed.get(cid) or found[cid] for cid in ids if cid in found]


async def close_conversation(
    conn: AsyncConnection, *, org_id: str, conversation_id: str, outcome: str | None = None
) -> bool:
    stamp = now()
    values: dict[str, Any] = {
        "status": ConversationStatus.CLOSED.value,
        "closed_at": stamp,
        "updated_at": stamp,
    }
    if outcome is not None:
        values["outcome"] = outcome
    result = await conn.execute(
        update(t.conversations)
        .where(
            t.conversations.c.org_id == org_id,
            t.conversations.c.id == conversation_id,
            t.conversations.c.status != ConversationStatus.CLOSED.value,
        )
        .values(**values)
    )
    return result.rowcount == 1


async def reopen_conversation(conn: AsyncConnection, *, org_id: str, conversation_id: str) -> bool:
    """Open a closed conversation again (active if it has an owner); True if it was closed."""
    result = await conn.execute(
        update(t.conversations)
        .where(
            t.conversations.c.org_id == org_id,
            t.conversations.c.id == conversation_id,
            t.conversations.c.status == ConversationStatus.CLOSED.value,
        )
        .values(
            status=case(
                (t.conversations.c.owner_id.is_(None), ConversationStatus.OPEN.value),
                else_=ConversationStatus.ACTIVE.value,
            ),
            closed_at=None,
            updated_at=now(),
        )
    )
    return result.rowcount == 1


async def mark_read(
    conn: AsyncConnection, *, org_id: str, conversation_id: str, by_visitor: bool, seq: int
) -> bool:
    """Move a read marker forward (never back); True if it moved."""
    column = t.conversations.c.visitor_read_seq if by_visitor else t.conversations.c.rep_read_seq
    result = await conn.execute(
        update(t.conversations)
        .where(
            t.conversations.c.org_id == org_id,
            t.conversations.c.id == conversation_id,
            column < seq,
            t.conversations.c.last_seq >= seq,
        )
        .values({column.key: seq})
    )
    return result.rowcount == 1


async def find_message_by_client_id(
    conn: AsyncConnection,
    *,
    org_id: str,
    author_kind: AuthorKind,
    author_id: str | None,
    client_id: str,
) -> Message | None:
    row = (
        await conn.execute(
            select(t.messages).where(
                t.messages.c.org_id == org_id,
                t.messages.c.author_kind == author_kind.value,
                t.messages.c.author_id == author_id,
                t.messages.c.client_id == client_id,
            )
        )
    ).first()
    return Message.from_row(row) if row else None


async def find_rep_message(
    conn: AsyncConnection, *, org_id: str, rep_id: str, client_id: str
) -> Message | None:
    """The message this rep sent with `client_id`, if any: how a resend is recognised."""
    return await find_message_by_client_id(
        conn, org_id=org_id, author_kind=AuthorKind.REP, author_id=rep_id, client_id=client_id
    )


async def append_message(
    conn: AsyncConnection,
    *,
    org_id: str,
    conversation_id: str,
    author_kind: AuthorKind,
    author_id: str | None,
    client_id: str | None,
    body: str,
    html: str,
    meta: dict[str, Any] | None = None,
    audience: Audience = Audience.ALL,
) -> Message:
    """Store a message with the conversation's next sequence number, in this transaction."""
    return await _append(
        conn,
        org_id=org_id,
        conversation_id=conversation_id,
        kind="message",
        audience=audience,
        author_kind=author_kind,
        author_id=author_id,
        client_id=client_id,
        body=body,
        html=html,
        meta=meta or {},
    )


async def append_event(
    conn: AsyncConnection,
    *,
    org_id: str,
    conversation_id: str,
    kind: str,
    data: dict[str, Any],
    audience: Audience,
    actor_kind: AuthorKind,
    actor_id: str | None,
) -> Message:
    """Store an event of the conversation's stream with its next sequence number."""
    if kind == "message":
        raise ValueError("an event needs a kind of its own")
    return await _append(
        conn,
        org_id=org_id,
        conversation_id=conversation_id,
        kind=kind,
        audience=audience,
        author_kind=actor_kind,
        author_id=actor_id,
        client_id=None,
        body="",
        html="",
        meta=data,
    )


async def _append(
    conn: AsyncConnection,
    *,
    org_id: str,
    conversation_id: str,
    kind: str,
    audience: Audience,
    author_kind: AuthorKind,
    author_id: str | None,
    client_id: str | None,
    body: str,
    html: str,
    meta: dict[str, Any],
) -> Message:
    stamp = now()
    seq = (
        await conn.execute(
            update(t.conversations)
            .where(t.conversations.c.org_id == org_id, t.conversations.c.id == conversation_id)
            .values(last_seq=t.conversations.c.last_seq + 1, updated_at=stamp)
            .returning(t.conversations.c.last_seq)
        )
    ).scalar_one()
    await conn.execute(
        insert(t.messages).values(
            org_id=org_id,
            conversation_id=conversation_id,
            seq=seq,
            author_kind=author_kind.value,
            author_id=author_id,
            client_id=client_id,
            body=body,
            html=html,
            meta=meta,
            created_at=stamp,
            kind=kind,
            audience=audience.value,
        )
    )
    return Message(
        conversation_id=conversation_id,
        org_id=org_id,
        seq=seq,
        author_kind=author_kind,
        author_id=author_id,
        client_id=client_id,
        body=body,
        html=html,
        meta=meta,
        created_at=stamp,
        kind=kind,
        audience=audience,
    )


async def messages_after(
    conn: AsyncConnection,
    *,
    org_id: str,
    conversation_id: str,
    after_seq: int,
    limit: int = 500,
    kinds: Sequence[AuthorKind] = (),
    audiences: Sequence[Audience] = (),
    messages_only: bool = False,
) -> list[Message]:
    """A conversation's stream after `after_seq`, in order: items these audiences may
    see (all if none given), chat messages only if `messages_only`."""
    query = select(t.messages).where(
        t.messages.c.org_id == org_id,
        t.messages.c.conversation_id == conversation_id,
        t.messages.c.seq > after_seq,
    )
    if kinds:
        query = query.where(t.messages.c.author_kind.in_([k.value for k in kinds]))
    if audiences:
        query = query.where(t.messages.c.audience.in_([a.value for a in audiences]))
    if messages_only:
        query = query.where(t.messages.c.kind == "message")
    rows = await conn.execute(query.order_by(t.messages.c.seq).limit(limit))
    return [Message.from_row(r) for r in rows]


async def first_visitor_message(
    conn: AsyncConnection, *, org_id: str, conversation_id: str
) -> Message | None:
    rows = await messages_after(
        conn,
        org_id=org_id,
        conversation_id=conversation_id,
        after_seq=0,
        limit=1,
        kinds=(AuthorKind.VISITOR,),
        messages_only=True,
    )
    return rows[0] if rows else None


async def first_visitor_messages(
    conn: AsyncConnection, *, org_id: str, conversation_ids: Sequence[str]
) -> dict[str, Message]:
    """Each conversation's first visitor message, a few queries whatever their number."""
    found: dict[str, Message] = {}
    ids = list(dict.fromkeys(conversation_ids))
    m = t.messages.c
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        first = (
            select(m.conversation_id, func.min(m.seq).label("seq"))
            .where(
                m.org_id == org_id,
                m.conversation_id.in_(chunk),
                m.author_kind == AuthorKind.VISITOR.value,
                m.kind == "message",
            )
            .group_by(m.conversation_id)
            .subquery()
        )
        rows = await conn.execute(
            select(t.messages).join(
                first,
                and_(m.conversation_id == first.c.conversation_id, m.seq == first.c.seq),
            )
        )
        for row in rows:
            found[row.conversation_id] = Message.from_row(row)
    return found


async def count_messages(conn: AsyncConnection, *, org_id: str, conversation_id: str) -> int:
    return int(
        (
            await conn.execute(
                select(func.count()).where(
                    and_(
                        t.messages.c.org_id == org_id,
                        t.messages.c.conversation_id == conversation_id,
                    )
                )
            )
        ).scalar_one()
    )


async def waiting_conversations(
    conn: AsyncConnection, *, org_id: str, limit: int = 200
) -> list[Conversation]:
    """Inbound conversations nobody started yet (open, no owner), oldest first."""
    c = t.conversations.c
    rows = await conn.execute(
        select(t.conversations)
        .where(
            c.org_id == org_id,
            c.status == ConversationStatus.OPEN.value,
            c.owner_id.is_(None),
            c.source == Source.INBOUND.value,
        )
        .order_by(c.created_at, c.id)
        .limit(limit)
    )
    return [Conversation.from_row(r) for r in rows]


async def last_pages(
    conn: AsyncConnection, *, org_id: str, visitor_ids: Sequence[str]
) -> dict[str, str]:
    """The URL of each visitor's latest page view, one query whatever their number."""
    ids = list(dict.fromkeys(visitor_ids))
    if not ids:
        return {}
    p = t.page_views.c
    latest = (
        select(func.max(p.id).label("id"))
        .where(p.org_id == org_id, p.visitor_id.in_(ids))
        .group_by(p.visitor_id)
        .subquery()
    )
    rows = await conn.execute(select(p.visitor_id, p.url).join(latest, p.id == latest.c.id))
    return {r.visitor_id: r.url for r in rows}
