"""Group commit: messages sent at the same moment share one transaction and one fsync."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from pounce import metrics
from pounce.store.appender import Appended, Draft
from pounce.store.db import Database
from pounce.store.errors import DuplicateClientId

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    draft: Draft
    done: asyncio.Future[Appended] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class MessageLog:
    """Appends messages in batches: while one transaction commits, the next batch forms.

    There is no timer: a lone message commits at once, and under load each commit
    carries everything that arrived meanwhile (up to `max_batch`). Callers learn the
    outcome only after the commit, so they publish only what is durable.
    """

    def __init__(self, db: Database, *, max_batch: int = 512) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0
        self.appended = 0

    async def append(self, draft: Draft) -> Appended:
        pending = _Pending(draft)
        self._queue.append(pending)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="message-log")
        return await pending.done

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                results = await self._write([p.draft for p in batch])
            except DuplicateClientId:
                # Another process stored one of these client ids between our read and
                # write; one at a time, each resend finds the stored message.
                await self._one_by_one(batch)
                continue
            except Exception as exc:
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(exc)
                continue
            for p, result in zip(batch, results, strict=True):
                if not p.done.done():
                    p.done.set_result(result)

    async def _write(self, drafts: list[Draft]) -> list[Appended]:
        results = await self.db.append_messages(drafts)
        stored = sum(1 for r in results if r.created)
        self.batches += 1
        self.appended += stored
        metrics.COMMIT_BATCH.observe(len(drafts))
        metrics.MESSAGES_STORED.inc(stored)
        return results

    async def _one_by_one(self, batch: list[_Pending]) -> None:
        for p in batch:
            try:
                (result,) = await self._write([p.draft])
            except Exception as exc:
                p.done.set_exception(exc)
            else:
                p.done.set_result(result)
