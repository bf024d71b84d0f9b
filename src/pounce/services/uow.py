"""The unit of work: one write transaction, and what to publish once it has committed.

Services say what a change publishes while they make it (`events.to_visitors(uow, …)`,
`uow.after_commit(...)`); nothing is sent unless the transaction commits, and what a
rolled-back savepoint queued is dropped with it. What must reach the outside world is
written to the outbox in the same transaction (`await uow.outbox(...)`) and delivered
after the commit by the outbox worker (services/outbox.py).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.store import outbox as outbox_store

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


@dataclass
class UnitOfWork:
    """A write transaction's connection plus its publications, held until the commit."""

    conn: AsyncConnection
    rt: Runtime
    _posts: list[tuple[tuple[str, ...], bytes]] = field(default_factory=list)
    _after: list[AfterCommit] = field(default_factory=list)
    _outboxed: int = 0

    def post_many(self, topics: Iterable[str], data: bytes) -> None:
        """Publish `data` on `topics` after the commit (the bus's call, deferred)."""
        self._posts.append((tuple(topics), data))

    def after_commit(self, action: AfterCommit) -> None:
        """Run `action` once the transaction has committed (e.g. a presence update)."""
        self._after.append(action)

    async def outbox(
        self, org_id: str, kind: str, payload: dict[str, Any], *, key: str | None = None
    ) -> bool:
        """Write a delivery to the outbox in this transaction; the worker sends it once
        the transaction has committed. `key` is its idempotency key (a fresh one if None;
        False, and nothing written, if a row with this key exists). Raises `outbox_full`
        when the org has as many undelivered rows as it may."""
        if key is not None and await outbox_store.key_exists(self.conn, key=key):
            return False
        limit = self.rt.settings.outbox_max_pending_per_org
        if await outbox_store.pending_count(self.conn, org_id=org_id) >= limit:
            raise ServiceError(
                "outbox_full",
                f"This organisation has {limit} deliveries waiting (is the mail server "
                "down?); nothing more is queued until some are delivered or have failed.",
            )
        await outbox_store.add(
            self.conn,
            org_id=org_id,
            kind=kind,
            key=key or f"{kind}:{secrets.token_hex(12)}",
            payload=payload,
            now=self.rt.clock(),
        )
        self._outboxed += 1
        return True

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: if it raises, its writes and publications are dropped."""
        posts, after, outboxed = len(self._posts), len(self._after), self._outboxed
        try:
            async with self.conn.begin_nested():
                yield
        except BaseException:
            del self._posts[posts:]
            del self._after[after:]
            self._outboxed = outboxed
            raise

    async def _committed(self) -> None:
        if self._outboxed:
            self.rt.outbox_wake.set()
        for topics, data in self._posts:
            self.rt.bus.post_many(topics, data)
        for action in self._after:
            try:
                await action()
            except Exception:
                log.exception("an after-commit action failed")


@asynccontextmanager
async def unit_of_work(rt: Runtime) -> AsyncIterator[UnitOfWork]:
    """`async with unit_of_work(rt) as uow:` one transaction; its publications follow the
    commit, in the order they were made."""
    async with rt.db.write() as conn:
        uow = UnitOfWork(conn, rt)
        yield uow
    await uow._committed()
