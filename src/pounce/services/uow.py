"""The unit of work: one write transaction, and what to publish once it has committed.

Services say what a change publishes while they make it (`events.to_visitors(uow, …)`,
`uow.after_commit(...)`); nothing is sent unless the transaction commits, and what a
rolled-back savepoint queued is dropped with it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.services.runtime import Runtime

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


@dataclass
class UnitOfWork:
    """A write transaction's connection plus its publications, held until the commit."""

    conn: AsyncConnection
    rt: Runtime
    _posts: list[tuple[tuple[str, ...], bytes]] = field(default_factory=list)
    _after: list[AfterCommit] = field(default_factory=list)

    def post_many(self, topics: Iterable[str], data: bytes) -> None:
        """Publish `data` on `topics` after the commit (the bus's call, deferred)."""
        self._posts.append((tuple(topics), data))

    def after_commit(self, action: AfterCommit) -> None:
        """Run `action` once the transaction has committed (e.g. a presence update)."""
        self._after.append(action)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: if it raises, its writes and publications are dropped."""
        posts, after = len(self._posts), len(self._after)
        try:
            async with self.conn.begin_nested():
                yield
        except BaseException:
            del self._posts[posts:]
            del self._after[after:]
            raise

    async def _committed(self) -> None:
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
