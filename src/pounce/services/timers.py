"""The job worker: runs due durable jobs, each in the transaction that deletes it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable

from pounce import metrics
from pounce.services import chat, proactive, transfer
from pounce.services.runtime import Runtime
from pounce.services.uow import UnitOfWork, unit_of_work
from pounce.store import jobs
from pounce.store.db import StoreUnavailable

log = logging.getLogger(__name__)

# A handler runs inside a savepoint of the claiming transaction and publishes through
# its unit of work: what it publishes goes out after the commit, or not at all.
JobHandler = Callable[[Runtime, UnitOfWork, jobs.Job], Awaitable[None]]

HANDLERS: dict[str, JobHandler] = {
    chat.UNANSWERED_JOB: chat.handle_unanswered,
    proactive.GREET_JOB: proactive.handle_greet,
    proactive.NUDGE_JOB: proactive.handle_nudge,
    proactive.TIMEOUT_JOB: proactive.handle_rep_timeout,
    transfer.EXPIRE_JOB: transfer.handle_expire,
}
MAX_ATTEMPTS = 8


def backoff(attempts: int) -> float:
    return float(min(300, 2**attempts))


async def run_due(rt: Runtime, *, limit: int = 20) -> int:
    """Run the jobs that are due now; returns how many ran (or were retried).

    A job's effects and its deletion commit together, so a job that committed never
    runs again and a job whose process died mid-way runs again elsewhere: exactly once.
    """
    ran = 0
    # Peek first: most polls find nothing due, and a read does not queue behind writers
    # (on SQLite a write transaction would take the single writer's lock four times a second).
    async with rt.db.read() as conn:
        next_at = await jobs.next_run_at(conn)
    if next_at is None or next_at > rt.clock():
        return 0
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        due = await jobs.claim_due(
            conn, now=rt.clock(), limit=limit, skip_locked=not rt.db.is_sqlite
        )
        for job in due:
            metrics.JOB_LAG.observe(max(0.0, rt.clock() - job.run_at))
            handler = HANDLERS.get(job.kind)
            try:
                if handler is None:
                    raise LookupError(f"no handler for job kind {job.kind!r}")
                async with uow.savepoint():
                    await handler(rt, uow, job)
                    await jobs.finish(conn, job_id=job.id)
            except Exception as exc:
                attempts = job.attempts + 1
                log.warning("job %s (%s) failed, attempt %d: %s", job.id, job.kind, attempts, exc)
                if attempts >= MAX_ATTEMPTS:
                    await jobs.finish(conn, job_id=job.id)
                    log.error("job %s dropped after %d attempts", job.id, attempts)
                else:
                    await jobs.retry_later(
                        conn,
                        job_id=job.id,
                        run_at=rt.clock() + backoff(attempts),
                        attempts=attempts,
                        error="".join(traceback.format_exception_only(exc)),
                    )
            ran += 1
    return ran


class Worker:
    """Polls for due jobs; `poke()` wakes it early when a job is scheduled soon."""

    def __init__(self, rt: Runtime, *, interval: float = 0.25) -> None:
        self.rt = rt
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="jobs-worker")

    def poke(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                ran = await run_due(self.rt)
            except StoreUnavailable as exc:
                log.warning("job worker: store unavailable: %s", exc)
                ran = 0
            except Exception:
                log.exception("job worker iteration failed")
                ran = 0
            if ran:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
