"""Blocks and abuse: who blocked a visitor and until when, the report queue, IP blocks,
and the org's abuse limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.model import new_id
from pounce.store import tables as t
from pounce.store.records import as_utc
from pounce.store.tables import ID, metadata, ts

# One row per blocked visitor (`visitors.blocked` is the flag connect reads).
visitor_blocks = Table(
    "visitor_blocks",
    metadata,
    Column("visitor_id", ID, ForeignKey("visitors.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False, index=True),
    Column("blocked_by", ID, nullable=True),  # null: blocked automatically (spam)
    Column("conversation_id", ID, nullable=True),
    Column("client_ip", String(64), nullable=True),
    ts("blocked_at"),
    ts("expires_at", nullable=True),
)

abuse_reports = Table(
    "abuse_reports",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False),
    Column("visitor_id", ID, nullable=False),
    Column("conversation_id", ID, nullable=True),
    Column("reported_by", ID, nullable=False),
    Column("reason", Text, nullable=False),
    Column("client_ip", String(64), nullable=True),
    Column("resolved", Boolean, nullable=False, default=False),
    ts("created_at"),
    Index("ix_abuse_reports_org_created", "org_id", "created_at"),
)

ip_blocks = Table(
    "ip_blocks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("org_id", ID, ForeignKey("orgs.id"), nullable=False, index=True),
    Column("cidr", String(64), nullable=False),
    Column("created_by", ID, nullable=False),
    Column("report_id", ID, nullable=True),
    ts("created_at"),
    ts("expires_at", nullable=True),
)

abuse_settings = Table(
    "abuse_settings",
    metadata,
    Column("org_id", ID, ForeignKey("orgs.id"), primary_key=True),
    Column("messages_per_minute", Integer, nullable=False),
    Column("conversations_per_hour", Integer, nullable=False),
    Column("spam_block_enabled", Boolean, nullable=False),
    Column("spam_block_threshold", Integer, nullable=False),
    Column("spam_block_hours", Integer, nullable=False),
    ts("updated_at"),
)


@dataclass(frozen=True, slots=True)
class AbuseSettings:
    """Per visitor and per client address; 0 means no limit."""

    messages_per_minute: int = 60
    conversations_per_hour: int = 20
    spam_block_enabled: bool = False
    spam_block_threshold: int = 3  # conversations marked spam (in the last 30 days)
    spam_block_hours: int = 24


SETTING_FIELDS = tuple(AbuseSettings.__dataclass_fields__)


async def get_settings(
    conn: AsyncConnection, *, org_id: str, default: AbuseSettings
) -> AbuseSettings:
    """The org's settings; `default` until an admin saves them."""
    row = (
        await conn.execute(select(abuse_settings).where(abuse_settings.c.org_id == org_id))
    ).first()
    if row is None:
        return default
    return AbuseSettings(**{name: getattr(row, name) for name in SETTING_FIELDS})


async def put_settings(
    conn: AsyncConnection, *, org_id: str, at: datetime, default: AbuseSettings, **values: Any
) -> AbuseSettings:
    current = await get_settings(conn, org_id=org_id, default=default)
    merged = {**{n: getattr(current, n) for n in SETTING_FIELDS}, **values}
    done = await conn.execute(
        update(abuse_settings)
        .where(abuse_settings.c.org_id == org_id)
        .values(**merged, updated_at=at)
    )
    if done.rowcount == 0:
        await conn.execute(insert(abuse_settings).values(org_id=org_id, **merged, updated_at=at))
    return AbuseSettings(**merged)


# --------------------------------------------------------------------------- visitors


async def block_visitor(
    conn: AsyncConnection,
    *,
    org_id: str,
    visitor_id: str,
    blocked_by: str | None,
    conversation_id: str | None,
    client_ip: str | None,
    at: datetime,
    expires_at: datetime | None,
) -> bool:
    """Block the visitor (again: the new block replaces the old). False: no such visitor."""
    done = await conn.execute(
        update(t.visitors)
        .where(t.visitors.c.org_id == org_id, t.visitors.c.id == visitor_id)
        .values(blocked=True)
    )
    if done.rowcount == 0:
        return False
    await conn.execute(
        delete(visitor_blocks).where(
            visitor_blocks.c.org_id == org_id, visitor_blocks.c.visitor_id == visitor_id
        )
    )
    await conn.execute(
        insert(visitor_blocks).values(
            visitor_id=visitor_id,
            org_id=org_id,
            blocked_by=blocked_by,
            conversation_id=conversation_id,
            client_ip=client_ip,
            blocked_at=at,
            expires_at=expires_at,
        )
    )
    return True


async def unblock_visitor(conn: AsyncConnection, *, org_id: str, visitor_id: str) -> bool:
    done = await conn.execute(
        update(t.visitors)
        .where(
            t.visitors.c.org_id == org_id,
            t.visitors.c.id == visitor_id,
            t.visitors.c.blocked.is_(True),
        )
        .values(blocked=False)
    )
    await conn.execute(
        delete(visitor_blocks).where(
            visitor_blocks.c.org_id == org_id, visitor_blocks.c.visitor_id == visitor_id
        )
    )
    return bool(done.rowcount)


async def block_expiry(
    conn: AsyncConnection, *, org_id: str, visitor_id: str
) -> tuple[bool, datetime | None]:
    """(is there a block row, its expiry)."""
    row = (
        await conn.execute(
            select(visitor_blocks.c.expires_at).where(
                visitor_blocks.c.org_id == org_id, visitor_blocks.c.visitor_id == visitor_id
            )
        )
    ).first()
    if row is None:
        return False, None
    return True, as_utc(row.expires_at) if row.expires_at else None


async def client_ip(conn: AsyncConnection, *, org_id: str, visitor_id: str) -> str | None:
    """The address of the visitor's last connect."""
    query = select(t.visitors.c.client_ip).where(
        t.visitors.c.org_id == org_id, t.visitors.c.id == visitor_id
    )
    return (await conn.execute(query)).scalar()


async def list_blocked(conn: AsyncConnection, *, org_id: str, limit: int) -> list[dict[str, Any]]:
    """The org's blocked visitors, latest first, with who blocked them."""
    v, b, u = t.visitors, visitor_blocks, t.users
    query = (
        select(
            v.c.id,
            v.c.name,
            v.c.email,
            b.c.blocked_at,
            b.c.expires_at,
            b.c.conversation_id,
            b.c.client_ip,
            b.c.blocked_by,
            u.c.name.label("blocked_by_name"),
        )
        .select_from(
            v.join(b, and_(b.c.visitor_id == v.c.id, b.c.org_id == v.c.org_id)).outerjoin(
                u, and_(u.c.id == b.c.blocked_by, u.c.org_id == b.c.org_id)
            )
        )
        .where(v.c.org_id == org_id, v.c.blocked.is_(True))
        .order_by(b.c.blocked_at.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in await conn.execute(query)]


async def spam_count(
    conn: AsyncConnection, *, org_id: str, visitor_id: str, since: datetime
) -> int:
    c = t.conversations
    query = select(func.count()).where(
        c.c.org_id == org_id,
        c.c.visitor_id == visitor_id,
        c.c.outcome == "spam",
        c.c.updated_at >= since,
    )
    return int((await conn.execute(query)).scalar_one())


# --------------------------------------------------------------------------- reports


async def add_report(
    conn: AsyncConnection,
    *,
    org_id: str,
    visitor_id: str,
    conversation_id: str | None,
    reported_by: str,
    reason: str,
    client_ip: str | None,
    at: datetime,
) -> str:
    report_id = new_id("rp")
    await conn.execute(
        insert(abuse_reports).values(
            id=report_id,
            org_id=org_id,
            visitor_id=visitor_id,
            conversation_id=conversation_id,
            reported_by=reported_by,
            reason=reason,
            client_ip=client_ip,
            resolved=False,
            created_at=at,
        )
    )
    return report_id


async def list_reports(conn: AsyncConnection, *, org_id: str, limit: int) -> list[dict[str, Any]]:
    r, u = abuse_reports, t.users
    query = (
        select(r, u.c.name.label("reported_by_name"))
        .select_from(r.outerjoin(u, and_(u.c.id == r.c.reported_by, u.c.org_id == r.c.org_id)))
        .where(r.c.org_id == org_id)
        .order_by(r.c.created_at.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in await conn.execute(query)]


async def get_report(
    conn: AsyncConnection, *, org_id: str, report_id: str
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(abuse_reports).where(
                abuse_reports.c.org_id == org_id, abuse_reports.c.id == report_id
            )
        )
    ).first()
    return dict(row._mapping) if row else None


async def resolve_report(conn: AsyncConnection, *, org_id: str, report_id: str) -> None:
    await conn.execute(
        update(abuse_reports)
        .where(abuse_reports.c.org_id == org_id, abuse_reports.c.id == report_id)
        .values(resolved=True)
    )


# --------------------------------------------------------------------------- IP blocks


async def add_ip_block(
    conn: AsyncConnection,
    *,
    org_id: str,
    cidr: str,
    created_by: str,
    report_id: str | None,
    at: datetime,
    expires_at: datetime | None,
) -> dict[str, Any]:
    values = {
        "id": new_id("ib"),
        "org_id": org_id,
        "cidr": cidr,
        "created_by": created_by,
        "report_id": report_id,
        "created_at": at,
        "expires_at": expires_at,
    }
    await conn.execute(insert(ip_blocks).values(**values))
    return values


async def list_ip_blocks(
    conn: AsyncConnection, *, org_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The org's IP blocks still in force, latest first."""
    query = (
        select(ip_blocks)
        .where(
            ip_blocks.c.org_id == org_id,
            or_(ip_blocks.c.expires_at.is_(None), ip_blocks.c.expires_at > now),
        )
        .order_by(ip_blocks.c.created_at.desc())
    )
    return [dict(row._mapping) for row in await conn.execute(query)]


async def delete_ip_block(conn: AsyncConnection, *, org_id: str, block_id: str) -> bool:
    done = await conn.execute(
        delete(ip_blocks).where(ip_blocks.c.org_id == org_id, ip_blocks.c.id == block_id)
    )
    return bool(done.rowcount)
