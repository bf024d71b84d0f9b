"""Visitor identity claims, contacts (a site's user on many devices), and the reads of a
visitor's profile: each a fixed number of statements, org-scoped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.identity import Claim, Provenance
from pounce.store import tables as t
from pounce.store.records import Conversation, Visitor, as_utc, now

# A contact's devices taken into account (a user who signs in on more is rare).
MAX_LINKED_VISITORS = 50


@dataclass(frozen=True, slots=True)
class NewClaim:
    field: str
    value: str
    provenance: Provenance
    source: str | None = None
    confidence: float | None = None


async def put_claims(
    conn: AsyncConnection,
    *,
    org_id: str,
    visitor_id: str,
    claims: Sequence[NewClaim],
    replace: Provenance | None = None,
) -> None:
    """Store claims, each replacing the visitor's claim of the same field and provenance;
    `replace`: first drop every claim of that provenance (a new verified user)."""
    c = t.visitor_identity.c
    if replace is not None:
        await conn.execute(
            delete(t.visitor_identity).where(
                c.org_id == org_id, c.visitor_id == visitor_id, c.provenance == replace.value
            )
        )
    for claim in claims:
        await conn.execute(
            delete(t.visitor_identity).where(
                c.org_id == org_id,
                c.visitor_id == visitor_id,
                c.field == claim.field,
                c.provenance == claim.provenance.value,
            )
        )
    if claims:
        stamp = now()
        await conn.execute(
            insert(t.visitor_identity),
            [
                {
                    "org_id": org_id,
                    "visitor_id": visitor_id,
                    "field": claim.field,
                    "provenance": claim.provenance.value,
                    "value": claim.value,
                    "source": claim.source,
                    "confidence": claim.confidence,
                    "updated_at": stamp,
                }
                for claim in claims
            ],
        )


async def claims_of(
    conn: AsyncConnection, *, org_id: str, visitor_ids: Sequence[str]
) -> list[Claim]:
    c = t.visitor_identity.c
    rows = await conn.execute(
        select(t.visitor_identity).where(c.org_id == org_id, c.visitor_id.in_(list(visitor_ids)))
    )
    return [
        Claim(
            visitor_id=r.visitor_id,
            field=r.field,
            value=r.value,
            provenance=Provenance(r.provenance),
            source=r.source,
            confidence=r.confidence,
            updated_at=as_utc(r.updated_at),
        )
        for r in rows
    ]


async def link_contact(
    conn: AsyncConnection, *, org_id: str, visitor_id: str, user_id: str
) -> str | None:
    """This visitor is the site's user `user_id`; returns the user it was before, if any."""
    c = t.visitor_contacts.c
    before = (
        await conn.execute(select(c.user_id).where(c.org_id == org_id, c.visitor_id == visitor_id))
    ).scalar()
    if before is None:
        await conn.execute(
            insert(t.visitor_contacts).values(
                org_id=org_id, visitor_id=visitor_id, user_id=user_id, verified_at=now()
            )
        )
    else:
        await conn.execute(
            update(t.visitor_contacts)
            .where(c.org_id == org_id, c.visitor_id == visitor_id)
            .values(user_id=user_id, verified_at=now())
        )
    return str(before) if before is not None else None


async def linked_visitors(conn: AsyncConnection, *, org_id: str, user_id: str) -> list[str]:
    """The visitors verified as this user (newest first, at most MAX_LINKED_VISITORS)."""
    c = t.visitor_contacts.c
    rows = await conn.execute(
        select(c.visitor_id)
        .where(c.org_id == org_id, c.user_id == user_id)
        .order_by(c.verified_at.desc())
        .limit(MAX_LINKED_VISITORS)
    )
    return [r.visitor_id for r in rows]


async def drop_claims(
    conn: AsyncConnection,
    *,
    org_id: str,
    visitor_id: str,
    fields: Sequence[str],
    provenance: Provenance,
) -> None:
    """Forget the visitor's claims of these fields with this provenance."""
    if fields:
        c = t.visitor_identity.c
        await conn.execute(
            delete(t.visitor_identity).where(
                c.org_id == org_id,
                c.visitor_id == visitor_id,
                c.field.in_(list(fields)),
                c.provenance == provenance.value,
            )
        )


async def set_shown(
    conn: AsyncConnection, *, org_id: str, visitor_ids: Sequence[str], values: dict[str, Any]
) -> None:
    """The values Live View and alerts show (the visitors row's columns)."""
    if values and visitor_ids:
        await conn.execute(
            update(t.visitors)
            .where(t.visitors.c.org_id == org_id, t.visitors.c.id.in_(list(visitor_ids)))
            .values(**values)
        )


# -- a visitor's profile ----------------------------------------------------------------


async def visitor_and_contact(
    conn: AsyncConnection, *, org_id: str, visitor_id: str
) -> tuple[Visitor, str | None] | None:
    v, c = t.visitors, t.visitor_contacts
    row = (
        await conn.execute(
            select(v, c.c.user_id.label("contact_user_id"))
            .select_from(v.outerjoin(c, and_(c.c.visitor_id == v.c.id, c.c.org_id == v.c.org_id)))
            .where(v.c.org_id == org_id, v.c.id == visitor_id)
        )
    ).first()
    if row is None:
        return None
    return Visitor.from_row(row), row.contact_user_id


async def recent_page_views(
    conn: AsyncConnection, *, org_id: str, visitor_ids: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """The latest page views of these visitors, newest first."""
    p = t.page_views.c
    rows = await conn.execute(
        select(p.visitor_id, p.url, p.title, p.viewed_at)
        .where(p.org_id == org_id, p.visitor_id.in_(list(visitor_ids)))
        .order_by(p.viewed_at.desc(), p.id.desc())
        .limit(limit)
    )
    return [
        {
            "visitor_id": r.visitor_id,
            "url": r.url,
            "title": r.title,
            "viewed_at": as_utc(r.viewed_at),
        }
        for r in rows
    ]


async def recent_conversations(
    conn: AsyncConnection, *, org_id: str, visitor_ids: Sequence[str], limit: int
) -> list[tuple[Conversation, dict[str, Any] | None]]:
    """The latest conversations of these visitors with their owner's card, newest first."""
    cv, u = t.conversations, t.users
    rows = await conn.execute(
        select(
            cv,
            u.c.name.label("owner_name"),
            u.c.avatar_url.label("owner_avatar_url"),
        )
        .select_from(cv.outerjoin(u, and_(u.c.id == cv.c.owner_id, u.c.org_id == cv.c.org_id)))
        .where(cv.c.org_id == org_id, cv.c.visitor_id.in_(list(visitor_ids)))
        .order_by(cv.c.created_at.desc(), cv.c.id)
        .limit(limit)
    )
    found = []
    for r in rows:
        owner = (
            {"id": r.owner_id, "name": r.owner_name, "avatar_url": r.owner_avatar_url}
            if r.owner_id and r.owner_name is not None
            else None
        )
        found.append((Conversation.from_row(r), owner))
    return found
