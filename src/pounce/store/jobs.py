"""The durable `jobs` table: timers that survive restarts and fire exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.store import tables as t


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    org_id: str
    kind: str
    payload: dict[str, Any]
    run_at: float
    attempts: int
    dedupe_key: str | None


async def enqueue(
    conn: AsyncConnection,
    *,
    org_id: str,
    kind: str,
    payload: dict[str, Any],
    run_at: float,
    dedupe_key: str | None = None,
) -> bool:
    """Schedule a job in this transaction; False if `dedupe_key` is already scheduled."""
    if dedupe_key is not None:
        exists = (
            await conn.execute(select(t.jobs.c.id).where(t.jobs.c.dedupe_key == dedupe_key))
        ).first()
        if exists:
            return False
    try:
        async with conn.begin_nested():
            await conn.execute(
                insert(t.jobs).values(
                    org_id=org_id,
                    kind=kind,
                    payload=payload,
                    run_at=run_at,
                    attempts=0,
                    dedupe_key=dedupe_key,
                )
            )
    except IntegrityError:
        return False
    return True


async def cancel(conn: AsyncConnection, *, org_id: str, dedupe_key: str) -> bool:
    result = await conn.execute(
        delete(t.jobs).where(t.jobs.c.org_id == org_id, t.jobs.c.dedupe_key == dedupe_key)
    )
    return result.rowcount > 0


async def find(conn: AsyncConnection, *, org_id: str, dedupe_key: str) -> Job | None:
    """The pending job scheduled under `dedupe_key`, if any."""
    row = (
        await conn.execute(
            select(t.jobs).where(t.jobs.c.org_id == org_id, t.jobs.c.dedupe_key == dedupe_key)
        )
    ).first()
    if row is None:
        return None
    return Job(
        id=row.id,
        org_id=row.org_id,
        kind=row.kind,
        payload=dict(row.payload or {}),
        run_at=row.run_at,
        attempts=row.attempts,
        dedupe_key=row.dedupe_key,
    )


async def take(conn: AsyncConnection, *, job_id: int) -> bool:
    """Delete a pending job before it runs; True for exactly one of concurrent takers
    (a worker that is running it holds its row until it commits, and then it is gone)."""
    result = await conn.execute(delete(t.jobs).where(t.jobs.c.id == job_id))
    return result.rowcount == 1


async def claim_due(
    conn: AsyncConnection, *, now: float, limit: int, skip_locked: bool
) -> list[Job]:
    """Lock and return due jobs for this transaction.

    On PostgreSQL the rows are taken with `FOR UPDATE SKIP LOCKED`, so concurrent
    workers on any number of nodes each get different jobs, and a worker that dies
    mid-job releases its rows when its transaction aborts. SQLite has one writer at
    a time, so the write transaction itself is the lock.
    """
    query = (
        select(t.jobs)
        .where(t.jobs.c.run_at <= now)
        .order_by(t.jobs.c.run_at, t.jobs.c.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    rows = await conn.execute(query)
    return [
        Job(
            id=r.id,
            org_id=r.org_id,
            kind=r.kind,
            payload=dict(r.payload or {}),
            run_at=r.run_at,
            attempts=r.attempts,
            dedupe_key=r.dedupe_key,
        )
        for r in rows
    ]


async def finish(conn: AsyncConnection, *, job_id: int) -> None:
    await conn.execute(delete(t.jobs).where(t.jobs.c.id == job_id))


async def retry_later(
    conn: AsyncConnection, *, job_id: int, run_at: float, attempts: int, error: str
) -> None:
    await conn.execute(
        update(t.jobs)
        .where(t.jobs.c.id == job_id)
        .values(run_at=run_at, attempts=attempts, last_error=error[:2000])
    )


async def next_run_at(conn: AsyncConnection) -> float | None:
    value = (await conn.execute(select(func.min(t.jobs.c.run_at)))).scalar()
    return float(value) if value is not None else None


async def pending(conn: AsyncConnection, *, org_id: str, kind: str | None = None) -> list[Job]:
    query = select(t.jobs).where(t.jobs.c.org_id == org_id)
    if kind is not None:
        query = query.where(t.jobs.c.kind == kind)
    rows = await conn.execute(query.order_by(t.jobs.c.run_at))
    return [
        Job(
            id=r.id,
            org_id=r.org_id,
            kind=r.kind,
            payload=dict(r.payload or {}),
            run_at=r.run_at,
            attempts=r.attempts,
            dedupe_key=r.dedupe_key,
        )
        for r in rows
    ]


async def merge_payload(
    conn: AsyncConnection, *, org_id: str, dedupe_key: str, values: dict[str, Any]
) -> bool:
    """Add keys to a still-pending job's payload; False if it already ran or was replaced."""
    row = (
        await conn.execute(
            select(t.jobs.c.id, t.jobs.c.payload).where(
                t.jobs.c.org_id == org_id, t.jobs.c.dedupe_key == dedupe_key
            )
        )
    ).first()
    if row is None:
        return False
    await conn.execute(
        update(t.jobs)
        .where(t.jobs.c.id == row.id)
        .values(payload={**(row.payload or {}), **values})
    )
    return True
