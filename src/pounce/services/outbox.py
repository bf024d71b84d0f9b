"""The outbox worker: delivers what changes wrote to the outbox, after their commit.

Each round claims due rows in one short transaction, delivers them with no
transaction open (so on SQLite chat messages never wait behind a slow receiver for the
write lock), then records every outcome in one more short transaction. A delivery that
fails is retried with exponential backoff and jitter; after the last attempt, or at
once if it can never succeed (`Undeliverable`), the row is parked as failed for an
admin to see and retry. Delivery is at least once: a worker that dies between sending
and recording leaves the row to be claimed again when its lease runs out, and the
delivery's idempotency key (an email's Message-ID) lets the receiver drop the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pounce import metrics
from pounce.ports import Clock
from pounce.services import identity, leads, transcripts
from pounce.services.errors import ServiceError, Undeliverable
from pounce.services.runtime import LOCATE_KIND, Runtime
from pounce.store import outbox as store
from pounce.store.db import StoreUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[Runtime, store.Row], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    identity.ENRICH_KIND: identity.deliver_enrichment,
    LOCATE_KIND: identity.deliver_location,
    transcripts.KIND: transcripts.deliver,
    leads.KIND: leads.deliver,
}
# Delivered rows are kept this long (for support questions), then forgotten.
KEEP_DONE_SECONDS = 7 * 86400.0


def backoff(rt: Runtime, attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: exponential from the base delay, capped,
    with full jitter over its upper half (retries from many rows do not line up)."""
    s = rt.settings
    delay = min(s.outbox_retry_cap_seconds, s.outbox_retry_base_seconds * 2 ** (attempts - 1))
    return random.uniform(delay / 2, delay)


@dataclass(frozen=True, slots=True)
class Outcome:
    row: store.Row
    error: BaseException | None


async def _deliver(rt: Runtime, row: store.Row) -> Outcome:
    handler = HANDLERS.get(row.kind)
    try:
        if handler is None:
            raise Undeliverable(f"no handler for outbox kind {row.kind!r}")
        await handler(rt, row)
    except Exception as exc:
        return Outcome(row, exc)
    return Outcome(row, None)


async def deliver_due(rt: Runtime, *, clock: Clock | None = None) -> int:
    """One round: claim the due rows, deliver them, record how it went. Returns how many
    rows were claimed."""
    clock = clock or rt.clock
    s = rt.settings
    # Peek with a read first: most rounds find nothing, and a read does not wait for
    # (or hold) SQLite's single writer.
    async with rt.db.read() as conn:
        due = await store.next_due(conn)
    if due is None or due > clock():
        return 0
    async with rt.db.write() as conn:
        claimed = await store.claim(
            conn,
            now=clock(),
            lease_seconds=s.outbox_lease_seconds,
            limit=s.outbox_batch_size,
            skip_locked=not rt.db.is_sqlite,
        )
    if not claimed:
        return 0
    outcomes = await asyncio.gather(*(_deliver(rt, row) for row in claimed))
    async with rt.db.write() as conn:
        now = clock()
        for o in outcomes:
            row = o.row
            if o.error is None:
                await store.finish(conn, row_id=row.id, lease=row.lease or "", now=now)
                metrics.OUTBOX_DELIVERIES.inc("done")
                continue
            error = "".join(traceback.format_exception_only(o.error)).strip()
            if isinstance(o.error, Undeliverable) or row.attempts >= s.outbox_max_attempts:
                await store.park(conn, row_id=row.id, lease=row.lease or "", now=now, error=error)
                metrics.OUTBOX_DELIVERIES.inc("failed")
                log.error("outbox %s (%s) failed for good: %s", row.id, row.kind, error)
            else:
                await store.retry(
                    conn,
                    row_id=row.id,
                    lease=row.lease or "",
                    next_at=now + backoff(rt, row.attempts),
                    error=error,
                )
                metrics.OUTBOX_DELIVERIES.inc("retry")
                log.warning(
                    "outbox %s (%s) attempt %d failed: %s", row.id, row.kind, row.attempts, error
                )
    return len(claimed)


async def prune(rt: Runtime, *, clock: Clock | None = None) -> int:
    now = (clock or rt.clock)()
    async with rt.db.write() as conn:
        return await store.prune_done(conn, before=now - KEEP_DONE_SECONDS, limit=500)


async def refresh_metrics(rt: Runtime) -> None:
    """Set the outbox gauges from the store (called when /metrics is scraped)."""
    async with rt.db.read() as conn:
        counts = await store.counts(conn)
    for status, n in counts.items():
        metrics.OUTBOX_ROWS.labels(status).set(n)


# -- admin ------------------------------------------------------------------------------


async def list_rows(
    rt: Runtime, *, org_id: str, status: store.Status, limit: int, before_id: int | None
) -> list[store.Row]:
    async with rt.db.read() as conn:
        return await store.list_rows(
            conn, org_id=org_id, status=status, limit=limit, before_id=before_id
        )


async def retry(rt: Runtime, *, org_id: str, row_id: int) -> store.Row:
    """Put a failed row back in line, its attempts counted afresh."""
    async with rt.db.write() as conn:
        if not await store.requeue(conn, org_id=org_id, row_id=row_id, now=rt.clock()):
            row = await store.get(conn, org_id=org_id, row_id=row_id)
            if row is None:
                raise ServiceError("not_found", "No such delivery.")
            raise ServiceError("conflict", f"This delivery is {row.status}, not failed.")
        row = await store.get(conn, org_id=org_id, row_id=row_id)
    rt.outbox_wake.set()
    assert row is not None
    return row


class Worker:
    """Runs delivery rounds: when a commit wrote outbox rows (`rt.outbox_wake`) and
    every `interval` seconds, for retries and for rows whose lease ran out."""

    def __init__(self, rt: Runtime, *, clock: Clock | None = None, interval: float = 1.0):
        self.rt = rt
        self.clock = clock or rt.clock
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._rounds = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="outbox-worker")

    async def _loop(self) -> None:
        wake = self.rt.outbox_wake
        while True:
            wake.clear()
            try:
                claimed = await deliver_due(self.rt, clock=self.clock)
                self._rounds += 1
                if self._rounds % 3600 == 0:
                    await prune(self.rt, clock=self.clock)
            except StoreUnavailable as exc:
                log.warning("outbox worker: store unavailable: %s", exc)
                claimed = 0
            except Exception:
                log.exception("outbox worker round failed")
                claimed = 0
            if claimed:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self.interval)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop, waiting at most `grace` seconds: a client cancelled mid-delivery may
        linger (an SMTP client says QUIT to a server that does not answer); its rows stay
        leased and are delivered again when the lease ends."""
        if self._task is not None:
            self._task.cancel()
            done, _ = await asyncio.wait([self._task], timeout=grace)
            if not done:
                log.warning("outbox worker still busy after %.0f s; leaving it", grace)
            else:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
