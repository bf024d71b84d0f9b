"""Appending chat messages in batches, on the database driver directly.

This is the hot path of the product: every chat message goes through it. A batch of
drafts (group commit, `services/ingest.py`) is stored in one transaction that

- answers resends (same org, author and client id) with the stored message,
- reserves each conversation's next sequence numbers with one conditional UPDATE
  that also checks the author may write (the owner for reps, the conversation's
  visitor for visitors; never in a closed conversation), and
- inserts the new messages.

SQLite runs the statements on the event loop's thread with the stdlib driver
(each is a few microseconds of C; the write lock is ours, so they never wait) and
only the COMMIT, the part that waits for the disk, in a thread. With
`synchronous=FULL` the COMMIT itself runs with NORMAL and the commit thread then
fsyncs the WAL, as FULL would inside the COMMIT; callers are told only after that
fsync. Under load the write lock comes back to the loop between the two, so the next
batch's statements run while the disk flushes this one (`NextBatch`). A failed fsync
stops every write for good (`SqliteAppender._fsync_wal`).

PostgreSQL gets the whole batch as one statement (data-modifying CTEs) on a
connection of its own: one round trip and one WAL flush per batch. A batch of one
message, the usual case at low rates, has a statement of its own with scalar
parameters, which plans faster. Both write exactly what the SQLAlchemy tables read
back (`store/tables.py`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar

import msgspec
import orjson

from pounce.domain.model import AuthorKind, ConversationStatus, Source
from pounce.store.errors import DuplicateClientId, StoreUnavailable
from pounce.store.records import Conversation, HotRecord, Message, now

log = logging.getLogger(__name__)

# SQLite copies the WAL back into the database (a checkpoint, with two fsyncs) at the
# end of the COMMIT that takes the WAL past this many pages, while the write lock is
# held. Each message dirties whole pages of two indexes, so at the default of 1,000
# (4 MB) that happened several times a second under load; at 10,000 (40 MB) it is
# rarer, and a page written many times in between is copied once. Every connection
# to the file uses it (`db.py`), or the others would checkpoint at 1,000.
WAL_AUTOCHECKPOINT_PAGES = 10_000


def set_up_sqlite(cur: Any, *, busy_timeout_ms: int) -> str:
    """What every connection to the embedded database sets, through its DB-API
    cursor (`db.py`'s connections and the appender's): WAL, foreign keys, the busy
    timeout and `WAL_AUTOCHECKPOINT_PAGES`. Returns the journal mode SQLite settled on;
    `synchronous` is each caller's own."""
    cur.execute("PRAGMA journal_mode=WAL")
    journal = str(cur.fetchone()[0]).lower()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    return journal


class Draft(HotRecord, frozen=True):
    """A message to append: the store assigns its `seq` and checks who may write."""

    org_id: str
    conversation_id: str
    author_kind: AuthorKind
    author_id: str | None
    client_id: str | None
    body: str
    html: str
    meta: dict[str, Any] = msgspec.field(default_factory=dict)

    def __hash__(self) -> int:
        # every field but the `meta` dict
        return hash(
            (
                self.org_id,
                self.conversation_id,
                self.author_kind,
                self.author_id,
                self.client_id,
                self.body,
                self.html,
            )
        )


class Appended(HotRecord, frozen=True):
    """The stored message (new, or the earlier one this draft resends), or a refusal:
    `message` None, and `reused` when the draft's client id belongs to a different
    message (`is_resend`)."""

    message: Message | None
    conversation: Conversation | None
    created: bool
    reused: bool = False


# Told a batch's outcomes (or the error) once it has committed.
Committed = Callable[[list[Appended] | BaseException], None]


class NextBatch(Protocol):
    """Who starts the batch after this one (the message log), for `try_append`."""

    def waiting(self) -> bool:
        """Asked in the commit thread once a batch has committed, before its fsync:
        whether another batch waits for the write lock."""
        ...

    def released(self) -> None:
        """On the loop: the write lock is free for the next batch."""
        ...


class Appender(Protocol):
    # Why writes are stopped for good (an fsync of the WAL failed), or None.
    failed: str | None

    async def append_many(self, drafts: Sequence[Draft]) -> list[Appended]: ...

    def try_append(
        self, drafts: Sequence[Draft], done: Committed, follow: NextBatch | None = None
    ) -> bool: ...

    async def close(self) -> None: ...


T = TypeVar("T")
Key = tuple[str, str, str | None, str | None]  # org, author kind, author, client id
RunKey = tuple[str, str, str, str | None]  # org, conversation, author kind, author

_REFUSED = Appended(None, None, created=False)
_REUSED = Appended(None, None, created=False, reused=True)
_CONVERSATION_COLUMNS = (
    "id, org_id, site_id, visitor_id, status, owner_id, source, outcome, routed_to, "
    "last_seq, visitor_read_seq, rep_read_seq, created_at, updated_at, closed_at"
)
_MESSAGE_COLUMNS = (
    "org_id, conversation_id, seq, author_kind, author_id, client_id, body, html, meta, created_at"
)


def is_resend(stored: Message, *, body: str, conversation_id: str | None) -> bool:
    """Whether a message with `stored`'s client id and author resends it, rather than
    reusing the id for another message: the same body, in the same conversation. A
    visitor's frames name no conversation (the server picks their current one, which may
    have changed since the first try): for them `conversation_id` is None and the body
    decides alone."""
    return _same(body, conversation_id, stored.body, stored.conversation_id)


def _same(body: str, conversation_id: str | None, body_was: str, conversation_was: str) -> bool:
    return body == body_was and (conversation_id is None or conversation_id == conversation_was)


def _scope(d: Draft) -> str | None:
    """The conversation a draft's resends must name (`is_resend`)."""
    return None if d.author_kind is AuthorKind.VISITOR else d.conversation_id


def _key(d: Draft) -> Key:
    # AuthorKind is a StrEnum: the member is its value (same hash, same equality).
    return (d.org_id, d.author_kind, d.author_id, d.client_id)


class _Plan:
    """What a batch asks for, before the database answers: resends inside the batch
    are folded onto their first copy, the rest is grouped in runs by author and
    conversation (each run gets one block of sequence numbers)."""

    __slots__ = ("drafts", "first_of", "keys", "runs")

    def __init__(self, drafts: Sequence[Draft], stored: dict[Key, Message]) -> None:
        self.drafts = drafts
        self.keys: list[Key] = [_key(d) for d in drafts]
        self.first_of: dict[Key, int] = {}
        self.runs: dict[RunKey, list[int]] = {}
        for i, d in enumerate(drafts):
            key = self.keys[i]
            if d.client_id:
                if key in stored or key in self.first_of:
                    continue
                self.first_of[key] = i
            run = (d.org_id, d.conversation_id, d.author_kind, d.author_id)
            indexes = self.runs.get(run)
            if indexes is None:
                self.runs[run] = [i]
            else:
                indexes.append(i)

    def results(
        self,
        stored: dict[Key, Message],
        claimed: dict[RunKey, Conversation],
        convs: dict[str, Conversation],
        stamp: datetime,
    ) -> list[Appended]:
        """Every draft's outcome, from the runs that got their seqs and the resends."""
        drafts = self.drafts
        out: list[Appended | None] = [None] * len(drafts)
        for run, indexes in self.runs.items():
            conv = claimed.get(run)
            if conv is None:
                for i in indexes:
                    out[i] = _REFUSED
                continue
            seq = conv.last_seq - len(indexes)
            for i in indexes:
                d = drafts[i]
                seq += 1
                message = Message(
                    conversation_id=d.conversation_id,
                    org_id=d.org_id,
                    seq=seq,
                    author_kind=d.author_kind,
                    author_id=d.author_id,
                    client_id=d.client_id,
                    body=d.body,
                    html=d.html,
                    meta=d.meta,
                    created_at=stamp,
                )
                out[i] = Appended(message, conv, created=True)
        for i, result in enumerate(out):
            if result is not None:
                continue
            # A draft whose client id is stored, or sent earlier in this batch: a resend
            # of that message, or a reuse of the id (refused, nothing stored).
            d, key = drafts[i], self.keys[i]
            earlier = stored.get(key)
            if earlier is None:
                j = self.first_of.get(key)
                if j is None:
                    out[i] = _REFUSED
                elif not _same(d.body, _scope(d), drafts[j].body, drafts[j].conversation_id):
                    out[i] = _REUSED
                else:
                    first = out[j]
                    out[i] = (
                        Appended(first.message, first.conversation, False) if first else _REFUSED
                    )
            elif not is_resend(earlier, body=d.body, conversation_id=_scope(d)):
                out[i] = _REUSED
            else:
                out[i] = Appended(earlier, convs.get(earlier.conversation_id), created=False)
        return [r if r is not None else _REFUSED for r in out]


def _stored_message(row: Sequence[Any], created_at: datetime) -> Message:
    meta = row[8]
    return Message(
        org_id=row[0],
        conversation_id=row[1],
        seq=row[2],
        author_kind=AuthorKind(row[3]),
        author_id=row[4],
        client_id=row[5],
        body=row[6],
        html=row[7],
        meta=(json.loads(meta) if isinstance(meta, str) else dict(meta or {})),
        created_at=created_at,
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_TIMES: dict[str, datetime] = {}


def _parse_time(value: Any) -> datetime:
    """A stored timestamp; the same few strings recur (creation times, a batch's stamp)."""
    if isinstance(value, datetime):
        return _utc(value)
    parsed = _TIMES.get(value)
    if parsed is None:
        if len(_TIMES) >= 4096:
            _TIMES.clear()
        parsed = _TIMES[value] = _utc(datetime.fromisoformat(value))
    return parsed


_ROUTED: dict[str, tuple[str, ...]] = {}


def _routed(text: str) -> tuple[str, ...]:
    """A stored `routed_to` list; the same few lists recur, so they are parsed once."""
    if len(_ROUTED) >= 4096:
        _ROUTED.clear()
    parsed = _ROUTED[text] = tuple(json.loads(text) or ())
    return parsed


_STATUSES = {s.value: s for s in ConversationStatus}
_SOURCES = {s.value: s for s in Source}
_CONVERSATION_NAMES = [name.strip() for name in _CONVERSATION_COLUMNS.split(",")]


def _conversation(
    row: Sequence[Any] | dict[str, Any],
    *,
    last_seq: int | None = None,
    updated_at: datetime | None = None,
) -> Conversation:
    """From a row in `_CONVERSATION_COLUMNS` order, or from its JSON object."""
    if isinstance(row, dict):
        row = [row[name] for name in _CONVERSATION_NAMES]
    routed = row[8]
    if isinstance(routed, str):
        cached = _ROUTED.get(routed)
        routed = cached if cached is not None else _routed(routed)
    return Conversation(
        id=row[0],
        org_id=row[1],
        site_id=row[2],
        visitor_id=row[3],
        status=_STATUSES[row[4]],
        owner_id=row[5],
        source=_SOURCES[row[6]],
        outcome=row[7],
        routed_to=routed if isinstance(routed, tuple) else tuple(routed or ()),
        last_seq=row[9] if last_seq is None else last_seq,
        visitor_read_seq=row[10],
        rep_read_seq=row[11],
        created_at=_parse_time(row[12]),
        updated_at=_parse_time(row[13]) if updated_at is None else updated_at,
        closed_at=_parse_time(row[14]) if row[14] else None,
    )


def _meta_text(meta: dict[str, Any]) -> str:
    return orjson.dumps(meta).decode() if meta else "{}"


# ---------------------------------------------------------------------------------------
# SQLite
# ---------------------------------------------------------------------------------------

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # what SQLAlchemy's SQLite DateTime stores
_SQLITE_SET_SEQ = "UPDATE conversations SET last_seq = ?, updated_at = ? WHERE id = ?"
_SQLITE_INSERT = f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SQLITE_KEYS_PER_QUERY = 200
_SQLITE_IDS_PER_QUERY = 500
_STORED_COLUMNS = ", ".join("m." + c.strip() for c in _MESSAGE_COLUMNS.split(","))


@functools.cache
def _sqlite_stored_sql(n: int) -> str:
    # A join from VALUES searches the unique index once per key (a row-value IN
    # would scan the whole index).
    return (
        f"SELECT {_STORED_COLUMNS} FROM (VALUES {', '.join(['(?, ?, ?, ?)'] * n)}) AS k "
        "CROSS JOIN messages AS m ON m.org_id = k.column1 AND m.author_kind = k.column2 "
        "AND m.author_id = k.column3 AND m.client_id = k.column4"
    )


@functools.cache
def _sqlite_conversations_sql(n: int) -> str:
    return f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id IN ({', '.join(['?'] * n)})"


def _may_write(kind: str, author_id: str | None, row: Sequence[Any]) -> bool:
    """The conditional UPDATE of the PostgreSQL statement, for SQLite (see `_apply`)."""
    if row[4] == _CLOSED:
        return False
    if kind == _REP:
        return author_id is not None and bool(row[5] == author_id)
    if kind == _VISITOR:
        return bool(row[3] == author_id)
    return True


_CLOSED = ConversationStatus.CLOSED.value
_REP = AuthorKind.REP.value
_VISITOR = AuthorKind.VISITOR.value


class _Recheck(Exception):
    """A first try at a batch met a possible resend (`SqliteAppender._apply`)."""


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


class SqliteAppender:
    """The embedded store's appender (see the module's docstring)."""

    def __init__(
        self,
        path: str,
        *,
        synchronous: str,
        write_lock: WriteLock,
        on_fatal: Callable[[StoreUnavailable], None] | None = None,
    ) -> None:
        self.path = path
        self.synchronous = synchronous.upper()
        self.write_lock = write_lock
        self.on_fatal = on_fatal
        self.failed: str | None = None  # set in the commit thread (`_fsync_wal`)
        self._told_fatal = False
        self._conn: sqlite3.Connection | None = None
        self._committer = _Thread("sqlite-commit")
        # FULL: the COMMIT runs with NORMAL and `_commit` fsyncs the WAL after it
        self._sync_wal = False
        self._wal_fd: int | None = None  # opened and used in the commit thread only

    def _writable(self) -> None:
        """Raise StoreUnavailable once an fsync has failed: nothing is committed after it."""
        if self.failed is not None:
            raise StoreUnavailable(self.failed)

    def _tell_fatal(self) -> None:
        """On the loop, once: `on_fatal` hears that writes are stopped (`_fsync_wal`)."""
        if self.failed is not None and not self._told_fatal:
            self._told_fatal = True
            if self.on_fatal is not None:
                self.on_fatal(StoreUnavailable(self.failed))

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=512
        )
        # no busy timeout: waiting for another process happens off the loop (_begin)
        with contextlib.closing(conn.cursor()) as cur:
            journal = set_up_sqlite(cur, busy_timeout_ms=0)
        self._sync_wal = self.synchronous == "FULL" and journal == "wal"
        conn.execute(f"PRAGMA synchronous={'NORMAL' if self._sync_wal else self.synchronous}")
        # Every message touches three indexes of `messages`; keep their hot pages here
        # rather than re-reading them from the OS (the default cache is 2 MiB).
        conn.execute("PRAGMA cache_size=-65536")
        self._conn = conn
        return conn

    def _commit(self, conn: sqlite3.Connection) -> None:
        """COMMIT, durably: in the commit thread; refused (the caller rolls back) once an
        fsync has failed."""
        self._writable()
        conn.execute("COMMIT")
        if self._sync_wal:
            self._fsync_wal()

    def _fsync_wal(self) -> None:
        """What `synchronous=FULL` does at the end of a COMMIT in WAL mode: fsync the
        WAL, which holds every frame committed so far. (SQLite's own checkpoints, with
        NORMAL, still fsync the WAL before and the database after copying frames back,
        before the WAL starts over.) The WAL is not deleted while our connection is
        open, so the descriptor stays good until `close`.

        A failure is fatal, as in PostgreSQL: after an I/O error the kernel may have
        dropped the dirty pages and marked them clean, so a later fsync can succeed
        with the data never written. The batch's callers get StoreUnavailable, `failed`
        is set so that nothing is committed any more (a COMMIT queued behind this one
        is refused and rolled back), and `on_fatal` is told, for the process to stop;
        its restart recovers from the WAL what reached the disk."""
        try:
            fd = self._wal_fd
            if fd is None:
                fd = self._wal_fd = os.open(f"{self.path}-wal", os.O_RDONLY | os.O_CLOEXEC)
            os.fdatasync(fd)
        except OSError as exc:
            self.failed = f"an fsync of the SQLite WAL failed ({exc}); writes are stopped"
            log.critical("%s", self.failed)
            raise StoreUnavailable(self.failed) from exc

    def _commit_handing_back(
        self,
        conn: sqlite3.Connection,
        loop: asyncio.AbstractEventLoop,
        follow: NextBatch | None,
    ) -> tuple[bool, StoreUnavailable | None]:
        """`_commit` for `try_append`, in the commit thread. If the next batch waits,
        the write lock goes back to the loop between the COMMIT and the fsync, so that
        batch's statements run while the disk flushes this one; its own COMMIT queues
        behind this fsync, in order. Returns whether the lock went back early, and the
        fsync's error if it failed (the COMMIT has happened then). Refused before the
        COMMIT once an fsync has failed."""
        self._writable()
        conn.execute("COMMIT")
        if not self._sync_wal:
            return False, None
        early = follow is not None and follow.waiting()
        if early:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._hand_back, follow)
        try:
            self._fsync_wal()
        except StoreUnavailable as exc:
            return early, exc
        return early, None

    def _hand_back(self, follow: NextBatch | None) -> None:
        self.write_lock.release()
        if follow is not None:
            follow.released()

    def try_append(
        self, drafts: Sequence[Draft], done: Committed, follow: NextBatch | None = None
    ) -> bool:
        """`append_many` without a coroutine, for the usual batch: True when the write
        lock was free, BEGIN took at once and no draft turned out to be a resend. The
        statements have then run, the COMMIT runs in the commit thread, and `done` gets
        the outcomes on the loop once they are durable (or the error if they are not).
        Before that, `follow.released()` runs on the loop as soon as the write lock is
        free again: between the COMMIT and its fsync when `follow.waiting()` says
        another batch waits, else just before `done`. False when any of that did not
        hold: nothing has been written, and `append_many` is the way. Raises if a
        statement fails (nothing is written).

        The message log tries this first for every batch; callers that only await can
        use `append_many` alone, which always works. Raises StoreUnavailable once an
        fsync has failed."""
        self._writable()
        lock = self.write_lock
        if not lock.try_acquire():
            return False
        try:
            conn = self._conn or self._connect()
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:  # another process writes, or the file is gone
            lock.release()
            return False
        try:
            results = self._apply(conn, drafts, checked=False)
        except BaseException as exc:
            _rollback(conn)
            lock.release()
            if isinstance(exc, _Recheck):
                return False
            raise
        self._committer.call(
            self._commit_handing_back,
            (conn, asyncio.get_running_loop(), follow),
            partial(self._committed, conn, results, done, follow),
        )
        return True

    def _committed(
        self,
        conn: sqlite3.Connection,
        results: list[Appended],
        done: Committed,
        follow: NextBatch | None,
        outcome: tuple[bool, StoreUnavailable | None] | BaseException,
    ) -> None:
        if isinstance(outcome, BaseException):  # the COMMIT failed: nothing is written
            _rollback(conn)
            self._hand_back(follow)
            done(outcome)
            self._tell_fatal()
            return
        early, sync_error = outcome
        if not early:
            self._hand_back(follow)
        done(results if sync_error is None else sync_error)
        self._tell_fatal()

    async def append_many(self, drafts: Sequence[Draft]) -> list[Appended]:
        """The way that always works, for what `try_append` declined: it waits for the
        lock and for BEGIN (another process may be writing), and looks for stored
        client ids first (a resend may be among the drafts)."""
        async with self.write_lock:
            self._writable()
            try:
                conn = self._conn or self._connect()
                await self._begin(conn)
            except sqlite3.OperationalError as exc:
                if "unable to open" in str(exc):
                    raise StoreUnavailable(str(exc)) from exc
                raise
            try:
                results = self._apply(conn, drafts, checked=True)
                await _settle(self._committer.run(self._commit, conn))
            except BaseException:
                _rollback(conn)
                self._tell_fatal()
                raise
        return results

    async def _begin(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            # Another process (the CLI) is writing: wait for it off the event loop.
            await _settle(self._committer.run(self._begin_waiting, conn))

    @staticmethod
    def _begin_waiting(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA busy_timeout=30000")
        try:
            conn.execute("BEGIN IMMEDIATE")
        finally:
            conn.execute("PRAGMA busy_timeout=0")

    def _apply(
        self, conn: sqlite3.Connection, drafts: Sequence[Draft], *, checked: bool
    ) -> list[Appended]:
        """The batch's statements, in the transaction `append_many` began.

        SQLite has one writer and this transaction is it (`BEGIN IMMEDIATE`), so the
        conversations read here cannot change before the UPDATE: read them once,
        decide who may write in Python (the same rule as PostgreSQL's conditional
        UPDATE), then write the new sequence numbers and the messages with
        `executemany`. (`UPDATE … RETURNING` per conversation costs three times as much.)

        Resends are rare, so the first try (`checked=False`, `try_append`) does not look
        for stored client ids: the unique index finds a resend when its INSERT fails.
        That try raises `_Recheck` instead of answering when a resend may be among the
        drafts (the INSERT failed, or a run was refused, where a resend must still
        answer with its stored message); the batch is rolled back, and the caller runs
        it again with `checked=True` (`append_many`).
        """
        keys = [_key(d) for d in drafts if d.client_id] if checked else []
        stored = self._stored(conn, keys)
        plan = _Plan(drafts, stored)
        stamp = now()
        stamp_text = stamp.strftime(_SQLITE_TIME)
        rows = self._conversation_rows(conn, {run[1] for run in plan.runs})
        claimed: dict[RunKey, Conversation] = {}
        last_seq: dict[str, int] = {}
        inserts: list[tuple[Any, ...]] = []
        for run, indexes in plan.runs.items():
            org_id, conversation_id, kind, author_id = run
            row = rows.get(conversation_id)
            if row is None or row[1] != org_id or not _may_write(kind, author_id, row):
                if not checked and any(drafts[i].client_id for i in indexes):
                    raise _Recheck
                continue
            seq = last_seq.get(conversation_id, row[9])
            last_seq[conversation_id] = seq + len(indexes)
            claimed[run] = _conversation(row, last_seq=seq + len(indexes), updated_at=stamp)
            for i in indexes:
                d = drafts[i]
                seq += 1
                inserts.append(
                    (
                        org_id,
                        conversation_id,
                        seq,
                        kind,
                        author_id,
                        d.client_id,
                        d.body,
                        d.html,
                        _meta_text(d.meta),
                        stamp_text,
                    )
                )
        if last_seq:
            conn.executemany(
                _SQLITE_SET_SEQ, [(seq, stamp_text, cid) for cid, seq in last_seq.items()]
            )
        if inserts:
            try:
                conn.executemany(_SQLITE_INSERT, inserts)
            except sqlite3.IntegrityError:
                if checked:
                    raise
                raise _Recheck from None
        convs = {conv.id: conv for conv in claimed.values()}
        missing = {m.conversation_id for m in stored.values()} - convs.keys()
        for conversation_id, row in self._conversation_rows(conn, missing).items():
            convs[conversation_id] = _conversation(row)
        return plan.results(stored, claimed, convs, stamp)

    @staticmethod
    def _conversation_rows(conn: sqlite3.Connection, ids: set[str]) -> dict[str, tuple[Any, ...]]:
        found: dict[str, tuple[Any, ...]] = {}
        wanted = sorted(ids)
        for start in range(0, len(wanted), _SQLITE_IDS_PER_QUERY):
            chunk = wanted[start : start + _SQLITE_IDS_PER_QUERY]
            for row in conn.execute(_sqlite_conversations_sql(len(chunk)), chunk):
                found[row[0]] = row
        return found

    @staticmethod
    def _stored(conn: sqlite3.Connection, keys: list[Key]) -> dict[Key, Message]:
        found: dict[Key, Message] = {}
        for start in range(0, len(keys), _SQLITE_KEYS_PER_QUERY):
            chunk = keys[start : start + _SQLITE_KEYS_PER_QUERY]
            params = [part for key in chunk for part in key]
            for row in conn.execute(_sqlite_stored_sql(len(chunk)), params):
                message = _stored_message(row, _parse_time(row[9]))
                found[_key_of(message)] = message
        return found

    async def close(self) -> None:
        async with self.write_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._committer.stop()
        if self._wal_fd is not None:
            os.close(self._wal_fd)
            self._wal_fd = None


def _key_of(m: Message) -> Key:
    return (m.org_id, m.author_kind.value, m.author_id, m.client_id)


class _Thread:
    """One thread running blocking calls for the event loop, in order: a lighter hop
    than an executor (no concurrent.futures bookkeeping), started on first use."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.call(fn, args, partial(settle, future))
        return future

    def call(
        self, fn: Callable[..., Any], args: tuple[Any, ...], then: Callable[[Any], None]
    ) -> None:
        """`fn(*args)` in the thread; then `then(result or the exception)` on the loop."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
            self._thread.start()
        self._queue.put((asyncio.get_running_loop(), then, fn, args))

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            loop, then, fn, args = item
            try:
                outcome = fn(*args)
            except BaseException as exc:
                outcome = exc
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(then, outcome)

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None


class WriteLock:
    """The SQLite write lock of one process: an asyncio lock, first come first served,
    that can also be taken without awaiting when it is free and nobody waits
    (`SqliteAppender.try_append`). A release hands it to the next waiter directly."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def locked(self) -> bool:
        return self._held

    def try_acquire(self) -> bool:
        if self._held or self._waiters:
            return False
        self._held = True
        return True

    async def acquire(self) -> None:
        if self.try_acquire():
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # handed over, then cancelled
                self.release()
            raise
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(turn)

    def release(self) -> None:
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)  # the lock stays held: it is theirs now
                return
        self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()


def settle(future: asyncio.Future[T], outcome: T | BaseException) -> None:
    """An outcome (a result, or the exception raised) into a future someone awaits;
    once: later ones are dropped."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


async def _settle(future: asyncio.Future[Any]) -> Any:
    """Await work running in a thread; if we are cancelled meanwhile, still wait for
    it to end before giving up the connection (it is using it)."""
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await asyncio.wait([future])
        raise


# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------

_PG_APPEND = f"""
WITH d AS (
    SELECT * FROM unnest(
        $1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
        $7::text[], $8::text[], $9::text[]
    ) AS d(i, org_id, conversation_id, author_kind, author_id, client_id, body, html, meta)
), dup AS (
    SELECT d.i FROM d JOIN messages m
      ON m.org_id = d.org_id AND m.author_kind = d.author_kind
     AND m.author_id = d.author_id AND m.client_id = d.client_id
), fresh AS (
    SELECT d.*, row_number() OVER (
        PARTITION BY d.org_id, d.conversation_id, d.author_kind, d.author_id ORDER BY d.i
    ) AS k
    FROM d WHERE NOT EXISTS (SELECT 1 FROM dup WHERE dup.i = d.i)
), runs AS (
    SELECT org_id, conversation_id, author_kind, author_id, count(*)::int AS n
    FROM fresh GROUP BY org_id, conversation_id, author_kind, author_id
), u AS (
    UPDATE conversations c SET last_seq = c.last_seq + r.n, updated_at = $10
    FROM runs r
    WHERE c.org_id = r.org_id AND c.id = r.conversation_id AND c.status <> 'closed'
      AND CASE r.author_kind
            WHEN 'rep' THEN c.owner_id = r.author_id
            WHEN 'visitor' THEN c.visitor_id = r.author_id
            ELSE true END
    RETURNING {", ".join("c." + c.strip() for c in _CONVERSATION_COLUMNS.split(","))},
              r.n, r.author_kind AS run_kind, r.author_id AS run_author
), ins AS (
    INSERT INTO messages ({_MESSAGE_COLUMNS})
    SELECT f.org_id, f.conversation_id, u.last_seq - u.n + f.k, f.author_kind, f.author_id,
           f.client_id, f.body, f.html, f.meta::json, $10
    FROM fresh f JOIN u ON u.id = f.conversation_id AND u.run_kind = f.author_kind
     AND u.run_author IS NOT DISTINCT FROM f.author_id
)
SELECT (SELECT coalesce(array_agg(i), '{{}}') FROM dup) AS dups,
       (SELECT coalesce(json_agg(u), '[]') FROM u) AS claimed
"""
# One message, the common case at low rates: the same checks and writes as
# `_PG_APPEND` with scalar parameters, which PostgreSQL plans in a fraction of the time
# (no unnest, no window, no aggregates).
_PG_APPEND_ONE = f"""
WITH dup AS (
    SELECT 1 FROM messages
    WHERE org_id = $1 AND author_kind = $3 AND author_id = $4 AND client_id = $5
), u AS (
    UPDATE conversations c SET last_seq = c.last_seq + 1, updated_at = $9
    WHERE c.org_id = $1 AND c.id = $2 AND c.status <> 'closed'
      AND CASE $3::text
            WHEN 'rep' THEN c.owner_id = $4
            WHEN 'visitor' THEN c.visitor_id = $4
            ELSE true END
      AND NOT EXISTS (SELECT 1 FROM dup)
    RETURNING {", ".join("c." + c.strip() for c in _CONVERSATION_COLUMNS.split(","))}
), ins AS (
    INSERT INTO messages ({_MESSAGE_COLUMNS})
    SELECT $1, $2, u.last_seq, $3, $4, $5, $6, $7, $8::json, $9 FROM u
)
SELECT EXISTS (SELECT 1 FROM dup) AS dup, u.* FROM (VALUES (1)) AS one LEFT JOIN u ON true
"""
_PG_STORED = f"""
SELECT {_MESSAGE_COLUMNS} FROM messages
WHERE (org_id, author_kind, author_id, client_id) IN (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
)
"""
_PG_CONVERSATIONS = f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ANY($1::text[])"


def _rounds(drafts: Sequence[Draft]) -> list[list[int]]:
    """Split a batch so each statement has one author per conversation (a conversation
    row is updated once per statement); nearly always a single round."""
    rounds: list[list[int]] = []
    author_in: list[dict[str, tuple[str, str | None]]] = []
    for i, d in enumerate(drafts):
        who = (d.author_kind.value, d.author_id)
        for n, seen in enumerate(author_in):
            if seen.setdefault(d.conversation_id, who) == who:
                rounds[n].append(i)
                break
        else:
            rounds.append([i])
            author_in.append({d.conversation_id: who})
    return rounds


def _params(d: Draft) -> tuple[Any, ...]:
    """A draft's values in the order of the append statements' parameters."""
    return (
        d.org_id,
        d.conversation_id,
        d.author_kind.value,
        d.author_id,
        d.client_id,
        d.body,
        d.html,
        _meta_text(d.meta),
    )


def _is_connectivity(exc: BaseException) -> bool:
    import asyncpg

    return isinstance(
        exc,
        OSError
        | asyncio.TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError,
    )


class PostgresAppender:
    """The scale-out store's appender (see the module's docstring)."""

    def __init__(self, dsn: str, *, timeout: float = 10.0) -> None:
        self.dsn = dsn
        self.timeout = timeout
        self.failed: str | None = None  # PostgreSQL handles a failed fsync itself (it stops)
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> Any:
        import asyncpg

        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.dsn, timeout=5)
        return self._conn

    def try_append(
        self, drafts: Sequence[Draft], done: Committed, follow: NextBatch | None = None
    ) -> bool:
        return False  # every batch is a round trip: `append_many`

    async def append_many(self, drafts: Sequence[Draft]) -> list[Appended]:
        import asyncpg

        async with self._lock:
            try:
                conn = await self._connection()
                rounds = _rounds(drafts)
                if len(rounds) == 1:
                    return await self._round(conn, drafts)
                results: list[Appended | None] = [None] * len(drafts)
                async with conn.transaction():
                    for indexes in rounds:
                        part = await self._round(conn, [drafts[i] for i in indexes])
                        for i, result in zip(indexes, part, strict=True):
                            results[i] = result
                return [r if r is not None else _REFUSED for r in results]
            except asyncpg.UniqueViolationError as exc:
                raise DuplicateClientId(str(exc)) from exc
            except Exception as exc:
                if _is_connectivity(exc):
                    await self._drop()
                    raise StoreUnavailable(str(exc)) from exc
                raise

    async def _round(self, conn: Any, drafts: Sequence[Draft]) -> list[Appended]:
        stamp = now()
        plan = _Plan(drafts, {})
        # Resends inside the batch never reach the statement; the stored ones come
        # back as `dups` and are read again below (they are rare: reconnects only).
        sent = sorted(i for run in plan.runs.values() for i in run)
        if len(sent) == 1:
            dups, claimed, convs = await self._one(conn, drafts, sent[0], stamp)
        else:
            dups, claimed, convs = await self._batch(conn, drafts, sent, stamp)
        stored: dict[Key, Message] = {}
        if dups:
            stored = await self._stored(conn, [_key(drafts[i]) for i in dups])
            missing = sorted({m.conversation_id for m in stored.values()} - convs.keys())
            if missing:
                for found in await conn.fetch(_PG_CONVERSATIONS, missing, timeout=self.timeout):
                    convs[found["id"]] = _conversation(tuple(found.values()))
            # Runs were counted without the dups: plan again knowing them.
            plan = _Plan(drafts, stored)
        return plan.results(stored, claimed, convs, stamp)

    async def _batch(
        self, conn: Any, drafts: Sequence[Draft], sent: list[int], stamp: datetime
    ) -> tuple[list[int], dict[RunKey, Conversation], dict[str, Conversation]]:
        columns: list[list[Any]] = [[] for _ in range(9)]
        for i in sent:
            d = drafts[i]
            for column, value in zip(columns, (i, *_params(d)), strict=True):
                column.append(value)
        row = await conn.fetchrow(_PG_APPEND, *columns, stamp, timeout=self.timeout)
        claimed: dict[RunKey, Conversation] = {}
        convs: dict[str, Conversation] = {}
        for item in orjson.loads(row["claimed"]):
            conv = _conversation(item)
            convs[conv.id] = conv
            claimed[(conv.org_id, conv.id, item["run_kind"], item["run_author"])] = conv
        return list(row["dups"]), claimed, convs

    async def _one(
        self, conn: Any, drafts: Sequence[Draft], i: int, stamp: datetime
    ) -> tuple[list[int], dict[RunKey, Conversation], dict[str, Conversation]]:
        d = drafts[i]
        row = await conn.fetchrow(_PG_APPEND_ONE, *_params(d), stamp, timeout=self.timeout)
        if row["id"] is None:
            return ([i] if row["dup"] else []), {}, {}
        conv = _conversation(tuple(row.values())[1:])
        run = (d.org_id, d.conversation_id, d.author_kind, d.author_id)
        return [], {run: conv}, {conv.id: conv}

    async def _stored(self, conn: Any, keys: list[Key]) -> dict[Key, Message]:
        cols = list(zip(*keys, strict=True)) if keys else [(), (), (), ()]
        rows = await conn.fetch(_PG_STORED, *[list(c) for c in cols], timeout=self.timeout)
        found: dict[Key, Message] = {}
        for r in rows:
            message = _stored_message(tuple(r.values()), _utc(r["created_at"]))
            found[_key_of(message)] = message
        return found

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._conn.close(), 5)
                self._conn = None
