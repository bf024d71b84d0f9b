"""Group commit: messages (and visits) that arrive at the same moment share one
transaction and one fsync."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Generic, TypeVar

from pounce import metrics
from pounce.store.appender import Appended, Draft, settle
from pounce.store.db import Database
from pounce.store.errors import ClientIdReused, DuplicateClientId, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

# Told the outcome of one draft once its batch has committed (or failed): a draft that
# reuses a stored client id for a different message is told `ClientIdReused`.
Done = Callable[[Appended | BaseException], None]


class CommitPacer:
    """Whether the next commit should wait a moment so that more messages share it.

    A commit has a cost of its own, whatever it carries: the transaction, the hand-off
    to the commit thread and back, the WAL write and its fsync (on SQLite, about as much
    CPU as seven messages). Under load that cost per commit is what runs out first,
    so when messages arrive fast enough that waiting `delay` gathers at least `gain`
    more of them, the next commit waits `delay` first: PostgreSQL's `commit_delay` with
    `commit_siblings`. Slower than that (a lone message, a quiet site), nothing waits.
    The arrival rate is measured over windows of `window` seconds.
    """

    def __init__(
        self,
        delay: float,
        *,
        gain: float = 2.0,
        window: float = 0.05,
        enough: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.delay = delay
        self.gain = gain
        self.window = window
        self.enough = enough
        self.clock = clock
        self._since = clock()
        self._count = 0
        self._rate = 0.0

    def taken(self, n: int) -> None:
        """`n` messages went into a commit."""
        self._count += n
        self._roll()

    def wait(self, waiting: int) -> float:
        """Seconds to hold the next commit back, with `waiting` messages queued for it."""
        if self.delay <= 0 or waiting >= self.enough:
            return 0.0
        return self.delay if self._roll() * self.delay >= self.gain else 0.0

    def _roll(self) -> float:
        now = self.clock()
        elapsed = now - self._since
        if elapsed >= self.window:
            # after a quiet spell the window is long and the rate comes out low
            self._rate = self._count / elapsed
            self._since, self._count = now, 0
        return self._rate


class MessageLog:
    """Appends messages in batches: while one transaction commits, the next batch forms.

    A lone message commits at once, and under load each commit carries everything that
    arrived meanwhile (up to `max_batch`); when messages come fast, `pacer` holds a
    commit back a moment so that more share it. Callers learn the outcome only after
    the commit, so they publish only what is durable: `append` awaits it, `submit`
    hands it to a callback (no coroutine per message).

    One batch is in flight at a time. It goes to the store without a coroutine when
    the store can take it at once (`Database.try_append_messages`: SQLite with its
    write lock free); otherwise a task awaits it. On SQLite the next batch may start
    while the last one's fsync runs (this is the store's `NextBatch`); its callers are
    still told after theirs, in order.
    """

    def __init__(
        self, db: Database, *, max_batch: int = 512, pacer: CommitPacer | None = None
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self.pacer = pacer or CommitPacer(0.0)
        self._drafts: list[Draft] = []
        self._waiting: list[Done] = []
        self._busy = False  # a batch is forming, held back or committing
        self._task: asyncio.Task[None] | None = None  # held, or it could be collected
        self.batches = 0
        self.appended = 0

    async def append(self, draft: Draft) -> Appended:
        done: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
        self.submit(draft, partial(settle, done))
        return await done

    def submit(self, draft: Draft, done: Done) -> None:
        """Queue a draft; `done` runs on the loop after its batch's commit, in order."""
        self._drafts.append(draft)
        self._waiting.append(done)
        if not self._busy:
            # next turn of the loop: what else arrives in this one shares the commit
            self._busy = True
            asyncio.get_running_loop().call_soon(self._next)

    def _next(self) -> None:
        """Start the next batch, or go idle; no batch is in flight."""
        if not self._drafts:
            self._busy = False
            return
        hold = self.pacer.wait(len(self._drafts))
        if hold:
            asyncio.get_running_loop().call_later(hold, self._start)
        else:
            self._start()

    def _start(self) -> None:
        n = self.max_batch
        drafts, self._drafts = self._drafts[:n], self._drafts[n:]
        waiting, self._waiting = self._waiting[:n], self._waiting[n:]
        self.pacer.taken(len(drafts))
        try:
            started = self.db.try_append_messages(
                drafts, partial(self._committed, drafts, waiting), self
            )
        except Exception as exc:
            self._told(waiting, exc)
            return
        if not started:
            self._task = asyncio.get_running_loop().create_task(
                self._awaited(drafts, waiting), name="message-log"
            )

    # -- the store's NextBatch, for a batch it took without a coroutine -------------
    def waiting(self) -> bool:
        return bool(self._drafts)  # read in the commit thread: one atomic len()

    def released(self) -> None:
        self._next()

    def _committed(
        self, drafts: list[Draft], waiting: list[Done], outcome: list[Appended] | BaseException
    ) -> None:
        """A batch the store took without a coroutine is durable (or failed); the store
        has already called `released`, which starts the next one."""
        try:
            if not isinstance(outcome, BaseException):
                self._count(drafts, outcome)
        finally:
            _tell_all(waiting, outcome)

    def _told(self, waiting: list[Done], outcome: list[Appended] | BaseException) -> None:
        """The batch's outcomes to its callers, in order; then the next batch, whatever
        happened (nothing else would start it)."""
        try:
            _tell_all(waiting, outcome)
        finally:
            self._next()

    async def _awaited(self, drafts: list[Draft], waiting: list[Done]) -> None:
        try:
            results = await self._write(drafts)
        except DuplicateClientId:
            # Another process stored one of these client ids between our read and
            # write; one at a time, each resend finds the stored message.
            await self._one_by_one(drafts, waiting)
            self._next()
        except Exception as exc:
            self._told(waiting, exc)
        else:
            self._told(waiting, results)

    async def _write(self, drafts: list[Draft]) -> list[Appended]:
        results = await self.db.append_messages(drafts)
        self._count(drafts, results)
        return results

    def _count(self, drafts: list[Draft], results: list[Appended]) -> None:
        stored = sum(1 for r in results if r.created)
        self.batches += 1
        self.appended += stored
        metrics.COMMIT_BATCH.observe(len(drafts))
        metrics.MESSAGES_STORED.inc(stored)

    async def _one_by_one(self, drafts: list[Draft], waiting: list[Done]) -> None:
        for draft, done in zip(drafts, waiting, strict=True):
            try:
                results = await self._write([draft])
            except Exception as exc:
                _tell(done, exc)
            else:
                _tell_all([done], results)


def _tell_all(waiting: list[Done], outcome: list[Appended] | BaseException) -> None:
    if isinstance(outcome, BaseException):
        for done in waiting:
            _tell(done, outcome)
    else:
        for done, result in zip(waiting, outcome, strict=True):
            _tell(done, ClientIdReused() if result.reused else result)


def _tell(done: Done, outcome: Appended | BaseException) -> None:
    """One caller's outcome; a failing callback must not cost the rest of the batch."""
    try:
        done(outcome)
    except Exception:
        log.exception("a message's commit callback failed")


class GroupCommit(Generic[T]):
    """Writes that arrive in the same turn of the loop share one transaction; while it
    commits, the next batch forms (up to `max_batch`). `add` returns once its item is
    committed, or raises the batch's error.

    Used for what every messenger connect and page view writes (`services/visitors.py`):
    under load a connect's transaction, and its hand-offs to the driver, cost less than
    one statement's worth each. A batch that fails for any reason but an unreachable store
    is written again one item at a time, so one bad item fails alone. At most `limit`
    items wait; past that `add` raises StoreUnavailable (the store is not keeping up).
    """

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        name: str,
        max_batch: int = 256,
        limit: int = 10_000,
    ) -> None:
        self.write = write
        self.name = name
        self.max_batch = max_batch
        self.limit = limit
        self._queued: list[tuple[T, asyncio.Future[None]]] = []
        self._busy = False  # a batch is forming or committing
        self._task: asyncio.Task[None] | None = None  # held, or it could be collected
        self.batches = 0

    @property
    def waiting(self) -> int:
        return len(self._queued)

    async def add(self, item: T) -> None:
        if len(self._queued) >= self.limit:
            raise StoreUnavailable(f"{self.name}: {self.limit} writes are waiting")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queued.append((item, done))
        if not self._busy:
            # next turn of the loop: what else arrives in this one shares the commit
            self._busy = True
            loop.call_soon(self._next)
        await done

    def _next(self) -> None:
        if not self._queued:
            self._busy = False
            self._task = None
            return
        n = self.max_batch
        batch, self._queued = self._queued[:n], self._queued[n:]
        self._task = asyncio.get_running_loop().create_task(self._run(batch), name=self.name)

    async def _run(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await self._write(batch)
        finally:
            self._next()

    async def _write(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        self.batches += 1
        try:
            await self.write([item for item, _ in batch])
        except StoreUnavailable as exc:
            for _, done in batch:
                settle(done, exc)
        except Exception as exc:
            if len(batch) == 1:
                settle(batch[0][1], exc)
                return
            log.warning("%s: a batch of %d failed (%s); one at a time", self.name, len(batch), exc)
            for one in batch:
                await self._write([one])
        else:
            for _, done in batch:
                settle(done, None)
