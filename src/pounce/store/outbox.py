"""The `outbox` table: deliveries to the outside world, leased by the outbox worker.

A row is written in the transaction of the change it reports (`add`). A worker claims
due rows in a short transaction of its own (`claim`: the row's `next_at` moves to the
end of the lease and gets a fresh `lease` token), delivers them with no transaction
open, and records the outcome in another short one (`finish`, `retry`, `park`), which
only takes effect while the row still carries that worker's token. A worker that dies
mid-delivery leaves the row pending: it is claimed again when the lease runs out.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.store import tables as t

Status = Literal["pending", "done", "failed"]
PENDING: Status = "pending"
DONE: Status = "done"
FAILED: Status = "failed"


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    org_id: str
    kind: str
    key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_at: float
    lease: str | None
    last_error: str | None
    created_at: float
    finished_at: float | None


def _row(r: Any) -> Row:
    return Row(
        id=r.id,
        org_id=r.org_id,
        kind=r.kind,
        key=r.key,
        payload=dict(r.payload or {}),
        status=r.status,
        attempts=r.attempts,
        next_at=r.next_at,
        lease=r.lease,
        last_error=r.last_error,
        created_at=r.created_at,
        finished_at=r.finished_at,
    )


async def pending_count(conn: AsyncConnection, *, org_id: str) -> int:
    query = select(func.count()).where(t.outbox.c.org_id == org_id, t.outbox.c.status == PENDING)
    return int((await conn.execute(query)).scalar() or 0)


async def key_exists(conn: AsyncConnection, *, key: str) -> bool:
    found = await conn.execute(select(t.outbox.c.id).where(t.outbox.c.key == key))
    return found.first() is not None


async def add(
    conn: AsyncConnection,
    *,
    org_id: str,
    kind: str,
    key: str,
    payload: dict[str, Any],
    now: float,
) -> int:
    result = await conn.execute(
        insert(t.outbox)
        .values(
            org_id=org_id,
            kind=kind,
            key=key,
            payload=payload,
            status=PENDING,
            attempts=0,
            next_at=now,
            created_at=now,
        )
        .returning(t.outbox.c.id)
    )
    return int(result.scalar_one())


async def next_due(conn: AsyncConnection) -> float | None:
    query = select(func.min(t.outbox.c.next_at)).where(t.outbox.c.status == PENDING)
    value = (await conn.execute(query)).scalar()
    return float(value) if value is not None else None


async def claim(
    conn: AsyncConnection, *, now: float, lease_seconds: float, limit: int, skip_locked: bool
) -> list[Row]:
    """Lease up to `limit` due rows to the caller (in its transaction, which it should
    commit at once). On PostgreSQL `FOR UPDATE SKIP LOCKED` lets workers on every node
    claim at the same time without waiting on each other's rows."""
    query = (
        select(t.outbox)
        .where(t.outbox.c.status == PENDING, t.outbox.c.next_at <= now)
        .order_by(t.outbox.c.next_at, t.outbox.c.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    rows = [_row(r) for r in await conn.execute(query)]
    claimed = []
    for row in rows:
        token = secrets.token_hex(8)
        await conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == row.id)
            .values(next_at=now + lease_seconds, lease=token, attempts=row.attempts + 1)
        )
        claimed.append(replace(row, lease=token, attempts=row.attempts + 1))
    return claimed


async def finish(conn: AsyncConnection, *, row_id: int, lease: str, now: float) -> bool:
    """Mark a delivered row done; False if the lease was lost (another worker has it)."""
    result = await conn.execute(
        update(t.outbox)
        .where(t.outbox.c.id == row_id, t.outbox.c.lease == lease, t.outbox.c.status == PENDING)
        .values(status=DONE, lease=None, finished_at=now, last_error=None)
    )
    return result.rowcount > 0


async def retry(
    conn: AsyncConnection, *, row_id: int, lease: str, next_at: float, error: str
) -> bool:
    result = await conn.execute(
        update(t.outbox)
        .where(t.outbox.c.id == row_id, t.outbox.c.lease == lease, t.outbox.c.status == PENDING)
        .values(next_at=next_at, lease=None, last_error=error[:2000])
    )
    return result.rowcount > 0


async def park(conn: AsyncConnection, *, row_id: int, lease: str, now: float, error: str) -> bool:
    """Give up on a row: it stays, as failed, for an admin to see and retry."""
    result = await conn.execute(
        update(t.outbox)
        .where(t.outbox.c.id == row_id, t.outbox.c.lease == lease, t.outbox.c.status == PENDING)
        .values(status=FAILED, lease=None, finished_at=now, last_error=error[:2000])
    )
    return result.rowcount > 0


async def list_rows(
    conn: AsyncConnection, *, org_id: str, status: Status, limit: int, before_id: int | None
) -> list[Row]:
    query = select(t.outbox).where(t.outbox.c.org_id == org_id, t.outbox.c.status == status)
    if before_id is not None:
        query = query.where(t.outbox.c.id < before_id)
    rows = await conn.execute(query.order_by(t.outbox.c.id.desc()).limit(limit))
    return [_row(r) for r in rows]


async def get(conn: AsyncConnection, *, org_id: str, row_id: int) -> Row | None:
    query = select(t.outbox).where(t.outbox.c.org_id == org_id, t.outbox.c.id == row_id)
    r = (await conn.execute(query)).first()
    return _row(r) if r is not None else None


async def requeue(conn: AsyncConnection, *, org_id: str, row_id: int, now: float) -> bool:
    """A failed row goes back to pending with its attempts reset (an admin's retry)."""
    result = await conn.execute(
        update(t.outbox)
        .where(t.outbox.c.org_id == org_id, t.outbox.c.id == row_id, t.outbox.c.status == FAILED)
        .values(status=PENDING, attempts=0, next_at=now, lease=None, finished_at=None)
    )
    return result.rowcount > 0


async def counts(conn: AsyncConnection) -> dict[str, int]:
    """Pending and failed rows over all orgs (for /metrics)."""
    query = (
        select(t.outbox.c.status, func.count())
        .where(t.outbox.c.status.in_([PENDING, FAILED]))
        .group_by(t.outbox.c.status)
    )
    found = {str(status): int(n) for status, n in await conn.execute(query)}
    return {s: found.get(s, 0) for s in (PENDING, FAILED)}


async def prune_done(conn: AsyncConnection, *, before: float, limit: int) -> int:
    """Forget up to `limit` rows delivered before `before` (their keys with them)."""
    old = (
        select(t.outbox.c.id)
        .where(t.outbox.c.status == DONE, t.outbox.c.finished_at < before)
        .limit(limit)
        .scalar_subquery()
    )
    result = await conn.execute(delete(t.outbox).where(t.outbox.c.id.in_(old)))
    return result.rowcount
