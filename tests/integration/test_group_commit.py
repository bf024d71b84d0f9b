"""Group commit over a real store: batches keep sequences dense, resends single, refusals exact."""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import msgspec
import pytest

from pounce.domain.model import AuthorKind, Role, Source
from pounce.services.ingest import CommitPacer, MessageLog
from pounce.store import accounts, appender, chat
from pounce.store.appender import Appended, Draft
from pounce.store.db import Database
from pounce.store.errors import ClientIdReused, StoreUnavailable
from pounce.store.migrate import upgrade_async
from tests.conftest import require_services
from tests.support.stack import drop_stack, make_stack, migrated_sqlite


async def _conversation(db: Database) -> tuple[str, str, str, str]:
    async with db.write() as conn:
        org = await accounts.create_org(conn, name="G")
        rep = await accounts.create_user(
            conn, org_id=org, email=f"r-{org}@g.test", name="R", password_hash="x", role=Role.REP
        )
        site = await accounts.create_site(conn, org_id=org, name="s", allowed_origins=[])
        visitor = await chat.create_visitor(conn, org_id=org, site_id=site.id)
        conv = await chat.create_conversation(
            conn,
            org_id=org,
            site_id=site.id,
            visitor_id=visitor.id,
            source=Source.INBOUND,
            owner_id=rep.id,
        )
    return org, conv.id, visitor.id, rep.id


def _draft(org: str, conv: str, kind: AuthorKind, author: str, cid: str | None) -> Draft:
    return Draft(org, conv, kind, author, cid, f"body {cid}", f"<p>body {cid}</p>")


Store = Callable[[list[Draft]], Awaitable[list[Appended]]]


@pytest.fixture(params=["served", "awaited"])
def store(request: pytest.FixtureRequest, db: Database) -> Store:
    """One batch, stored as the server does it (the message log, which on SQLite tries
    `try_append` first) or by the awaited way alone (`append_messages`)."""
    if request.param == "awaited":
        return db.append_messages

    async def served(drafts: list[Draft]) -> list[Appended]:
        log = MessageLog(db)
        out = await asyncio.gather(*(log.append(d) for d in drafts))  # submitted in one turn
        assert log.batches == 1
        return list(out)

    return served


async def test_one_batch_mixes_authors_resends_and_refusals(db: Database, store: Store) -> None:
    org, conv, visitor, rep = await _conversation(db)
    first = await store([_draft(org, conv, AuthorKind.VISITOR, visitor, "a")])
    assert first[0].created and first[0].message and first[0].message.seq == 1
    drafts = [
        _draft(org, conv, AuthorKind.VISITOR, visitor, "a"),  # resend of a stored one
        _draft(org, conv, AuthorKind.REP, rep, "b"),
        _draft(org, conv, AuthorKind.VISITOR, visitor, "c"),
        _draft(org, conv, AuthorKind.REP, rep, "b"),  # resend inside the batch
        _draft(org, conv, AuthorKind.REP, "u_intruder", "d"),  # not the owner
        _draft(org, "c_missing", AuthorKind.VISITOR, visitor, "e"),
        _draft(org, conv, AuthorKind.VISITOR, "v_other", "f"),  # not this conversation's visitor
        _draft(org, conv, AuthorKind.REP, rep, "g"),
    ]
    out = await store(drafts)
    seq = {
        d.client_id: r.message.seq if r.message else None for d, r in zip(drafts, out, strict=True)
    }
    created = [r.created for r in out]
    assert created == [False, True, True, False, False, False, False, True]
    # The resend answers with the stored message; refusals store nothing.
    assert seq["a"] == 1 and out[0].message and out[0].message.body == "body a"
    assert out[3].message == out[1].message
    assert seq["d"] is None and seq["e"] is None and seq["f"] is None
    # New messages get the next seqs, densely; one author's stay in their order.
    assert sorted([seq["b"], seq["c"], seq["g"]]) == [2, 3, 4]
    assert seq["b"] < seq["g"]  # type: ignore[operator]
    async with db.read() as conn:
        stored = await chat.messages_after(conn, org_id=org, conversation_id=conv, after_seq=0)
        conv_row = await chat.get_conversation(conn, org_id=org, conversation_id=conv)
    assert sorted((m.seq, m.client_id) for m in stored) == sorted(
        (seq[c], c) for c in ("a", "b", "c", "g")
    )
    assert conv_row is not None and conv_row.last_seq == 4


async def test_one_message_at_a_time_gets_the_same_checks(db: Database, store: Store) -> None:
    """One draft per call (PostgreSQL sends it as a statement of its own)."""
    org, conv, visitor, rep = await _conversation(db)

    async def one(kind: AuthorKind, author: str, cid: str | None, to: str = conv) -> Appended:
        (result,) = await store([_draft(org, to, kind, author, cid)])
        return result

    a = await one(AuthorKind.VISITOR, visitor, "a")
    assert a.created and a.message and a.message.seq == 1
    assert a.conversation and a.conversation.last_seq == 1
    again = await one(AuthorKind.VISITOR, visitor, "a")  # a resend
    assert not again.created and again.message == a.message
    assert again.conversation and again.conversation.id == conv
    assert (await one(AuthorKind.REP, "u_intruder", "b")).message is None  # not the owner
    assert (await one(AuthorKind.VISITOR, "v_other", "c")).message is None  # not theirs
    assert (await one(AuthorKind.VISITOR, visitor, "d", to="c_missing")).message is None
    refused_then_sent = await one(AuthorKind.REP, rep, "b")  # the owner may use "b"
    assert refused_then_sent.created and refused_then_sent.message
    assert refused_then_sent.message.seq == 2
    no_id = [await one(AuthorKind.VISITOR, visitor, None) for _ in range(2)]
    assert [r.message.seq for r in no_id if r.message] == [3, 4]  # no client id: never a resend
    async with db.read() as conn:
        stored = await chat.messages_after(conn, org_id=org, conversation_id=conv, after_seq=0)
        conv_row = await chat.get_conversation(conn, org_id=org, conversation_id=conv)
    assert [(m.seq, m.author_kind, m.client_id) for m in stored] == [
        (1, AuthorKind.VISITOR, "a"),
        (2, AuthorKind.REP, "b"),
        (3, AuthorKind.VISITOR, None),
        (4, AuthorKind.VISITOR, None),
    ]
    assert conv_row is not None and conv_row.last_seq == 4
    async with db.write() as conn:
        await chat.close_conversation(conn, org_id=org, conversation_id=conv)
    assert (await one(AuthorKind.VISITOR, visitor, "e")).message is None  # closed
    # A resend still answers with its stored message once the conversation has closed,
    # alone or in a batch with new messages that the closed conversation refuses.
    late = await one(AuthorKind.VISITOR, visitor, "a")
    assert not late.created and late.message == a.message
    mixed = await store(
        [_draft(org, conv, AuthorKind.VISITOR, visitor, c) for c in ("f", "a", None)]
    )
    assert [(r.created, r.message and r.message.seq) for r in mixed] == [
        (False, None),
        (False, 1),
        (False, None),
    ]


async def test_a_resend_among_new_messages_is_found_by_the_unique_index(
    db: Database, store: Store
) -> None:
    """A batch whose only resends are of stored messages in an open conversation: on
    SQLite, served, its first try meets them at the unique index and the batch runs
    again with the lookup; awaited, the lookup finds them first."""
    org, conv, visitor, rep = await _conversation(db)
    first = await store([_draft(org, conv, AuthorKind.VISITOR, visitor, c) for c in ("a", "b")])
    assert [r.message.seq for r in first if r.message] == [1, 2]
    drafts = [
        _draft(org, conv, AuthorKind.REP, rep, "x"),
        _draft(org, conv, AuthorKind.VISITOR, visitor, "c"),
        _draft(org, conv, AuthorKind.VISITOR, visitor, "b"),  # stored: a resend
        _draft(org, conv, AuthorKind.VISITOR, visitor, "d"),
    ]
    out = await store(drafts)
    assert [r.created for r in out] == [True, True, False, True]
    assert out[2].message == first[1].message
    assert out[2].conversation and out[2].conversation.id == conv
    assert sorted(r.message.seq for r in out if r.created and r.message) == [3, 4, 5]
    async with db.read() as conn:
        stored = await chat.messages_after(conn, org_id=org, conversation_id=conv, after_seq=0)
        conv_row = await chat.get_conversation(conn, org_id=org, conversation_id=conv)
    assert [m.seq for m in stored] == [1, 2, 3, 4, 5]
    assert sorted(m.client_id or "" for m in stored) == ["a", "b", "c", "d", "x"]
    assert conv_row is not None and conv_row.last_seq == 5


async def test_closed_conversation_refuses(db: Database, store: Store) -> None:
    org, conv, visitor, _ = await _conversation(db)
    async with db.write() as conn:
        await chat.close_conversation(conn, org_id=org, conversation_id=conv)
    out = await store([_draft(org, conv, AuthorKind.VISITOR, visitor, "x")])
    assert out[0].message is None


async def _second_conversation(db: Database, org: str, rep: str) -> tuple[str, str]:
    """Another conversation of the same org and owner, with a visitor of its own."""
    async with db.write() as conn:
        site = await accounts.create_site(conn, org_id=org, name="s2", allowed_origins=[])
        visitor = await chat.create_visitor(conn, org_id=org, site_id=site.id)
        conv = await chat.create_conversation(
            conn,
            org_id=org,
            site_id=site.id,
            visitor_id=visitor.id,
            source=Source.INBOUND,
            owner_id=rep,
        )
    return conv.id, visitor.id


Told = Callable[[list[Draft]], Awaitable[list[Appended | BaseException]]]


@pytest.fixture(params=["served", "awaited"])
def told(request: pytest.FixtureRequest, db: Database) -> Told:
    """Like `store`, each draft's outcome as its caller gets it: through the message log
    a reused client id is `ClientIdReused`; from the store itself, `Appended.reused`."""
    if request.param == "awaited":

        async def awaited(drafts: list[Draft]) -> list[Appended | BaseException]:
            return list(await db.append_messages(drafts))

        return awaited

    async def served(drafts: list[Draft]) -> list[Appended | BaseException]:
        log = MessageLog(db)
        out = await asyncio.gather(*(log.append(d) for d in drafts), return_exceptions=True)
        assert log.batches == 1
        assert not any(isinstance(o, Appended) and o.reused for o in out)  # told as errors
        return list(out)

    return served


def _reused(outcome: Appended | BaseException) -> bool:
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, ClientIdReused), outcome
        assert outcome.code == "id_reused"
        return True
    if outcome.reused:  # nothing stored, nothing to acknowledge
        assert outcome.message is None and outcome.conversation is None
        assert not outcome.created
    return outcome.reused


def _as(d: Draft, body: str | None = None, conv: str | None = None) -> Draft:
    """The same author and client id with another body or conversation."""
    return msgspec.structs.replace(
        d,
        body=body or d.body,
        html=f"<p>{body or d.body}</p>",
        conversation_id=conv or d.conversation_id,
    )


async def test_a_client_id_reused_for_another_message_is_refused_and_stores_nothing(
    db: Database, told: Told
) -> None:
    """A resend (same id, same body, same conversation; for a visitor the body alone) is
    answered with the stored message; the same id for another conversation or another
    body is refused, alone, among new messages and inside one batch, and nothing of it
    is stored or acknowledged."""
    org, conv, visitor, rep = await _conversation(db)
    other, other_visitor = await _second_conversation(db, org, rep)
    r1 = _draft(org, conv, AuthorKind.REP, rep, "r1")
    v1 = _draft(org, conv, AuthorKind.VISITOR, visitor, "v1")
    first = await told([r1, v1])
    assert all(isinstance(o, Appended) and o.created for o in first)
    stored_r1 = first[0].message if isinstance(first[0], Appended) else None

    # alone, one at a time (PostgreSQL's one-message statement)
    for reuse in (_as(r1, conv=other), _as(r1, body="something else"), _as(v1, body="other")):
        (out,) = await told([reuse])
        assert _reused(out), reuse
    # a resend is still a resend; a visitor's names no conversation, so its body decides
    (again,) = await told([r1])
    assert isinstance(again, Appended) and not again.created and again.message == stored_r1
    (visitor_again,) = await told([_as(v1, conv=other)])
    assert isinstance(visitor_again, Appended) and not visitor_again.created
    assert visitor_again.message and visitor_again.message.conversation_id == conv

    # among new messages, and the id used twice inside one batch
    batch = [
        _draft(org, other, AuthorKind.REP, rep, "n1"),
        _as(r1, conv=other),  # stored in `conv`: reused
        _draft(org, conv, AuthorKind.REP, rep, "n2"),
        _as(_draft(org, conv, AuthorKind.REP, rep, "n2"), conv=other),  # reused in the batch
        _as(_draft(org, conv, AuthorKind.REP, rep, "n2"), body="n2 again"),  # reused
        _draft(org, conv, AuthorKind.REP, rep, "n2"),  # resent in the batch
        _as(_draft(org, other, AuthorKind.VISITOR, other_visitor, "w"), body="a"),
        _as(_draft(org, other, AuthorKind.VISITOR, other_visitor, "w"), body="b"),  # reused
    ]
    out = await told(batch)
    assert [_reused(o) for o in out] == [False, True, False, True, True, False, False, True]
    n2 = out[2]
    assert isinstance(n2, Appended) and n2.created and n2.message
    assert isinstance(out[5], Appended) and not out[5].created and out[5].message == n2.message

    async with db.read() as conn:
        here = await chat.messages_after(conn, org_id=org, conversation_id=conv, after_seq=0)
        there = await chat.messages_after(conn, org_id=org, conversation_id=other, after_seq=0)
        convs = [
            await chat.get_conversation(conn, org_id=org, conversation_id=c) for c in (conv, other)
        ]
    assert [(m.seq, m.client_id, m.body) for m in here] == [
        (1, "r1", "body r1"),
        (2, "v1", "body v1"),
        (3, "n2", "body n2"),
    ]
    assert [(m.seq, m.client_id, m.body) for m in there] == [(1, "n1", "body n1"), (2, "w", "a")]
    assert [c.last_seq for c in convs if c] == [3, 2]


async def test_a_client_id_raced_for_two_conversations_is_stored_once_and_refused_once(
    tmp_path: Path,
) -> None:
    """Two processes' appenders on one PostgreSQL database store the same author's client
    id for two conversations at once: one stores it, the other is told ClientIdReused,
    whether it lost the unique index race or found the stored message."""
    require_services()
    stack = make_stack("scaleout", tmp_path)
    one, two = Database(stack.database_url), Database(stack.database_url)
    try:
        org, conv, _, rep = await _conversation(one)
        other, _ = await _second_conversation(one, org, rep)
        logs = MessageLog(one), MessageLog(two)
        for i in range(30):
            drafts = [
                _draft(org, conv, AuthorKind.REP, rep, f"race-{i}"),
                _draft(org, other, AuthorKind.REP, rep, f"race-{i}"),
            ]
            if i % 2:
                drafts.reverse()
            out = await asyncio.gather(
                *(log.append(d) for log, d in zip(logs, drafts, strict=True)),
                return_exceptions=True,
            )
            stored = [o for o in out if isinstance(o, Appended)]
            assert len(stored) == 1 and stored[0].created, out
            assert [type(o) for o in out if o not in stored] == [ClientIdReused], out
        async with one.read() as conn:
            counts = [
                len(await chat.messages_after(conn, org_id=org, conversation_id=c, after_seq=0))
                for c in (conv, other)
            ]
        assert sum(counts) == 30
    finally:
        await one.dispose()
        await two.dispose()
        drop_stack(stack)


async def test_concurrent_appends_share_transactions_and_stay_dense(db: Database) -> None:
    org, conv, visitor, rep = await _conversation(db)
    log = MessageLog(db)
    drafts = [
        _draft(
            org,
            conv,
            AuthorKind.VISITOR if i % 2 else AuthorKind.REP,
            visitor if i % 2 else rep,
            f"m{i}",
        )
        for i in range(300)
    ]
    results = await asyncio.gather(*(log.append(d) for d in drafts))
    seqs = sorted(r.message.seq for r in results if r.message)
    assert seqs == list(range(1, 301))
    assert log.batches < 300  # concurrent messages really were committed together
    again = await asyncio.gather(*(log.append(d) for d in drafts[:50]))
    assert [r.created for r in again] == [False] * 50
    assert [r.message.seq for r in again if r.message] == [
        r.message.seq for r in results[:50] if r.message
    ]


async def test_under_load_a_commit_waits_for_the_next_message(db: Database) -> None:
    """A pacer that has seen messages arrive fast holds the commit back for the one that
    comes a loop turn later; one that has not commits the first message alone."""
    org, conv, visitor, _ = await _conversation(db)
    loop = asyncio.get_running_loop()
    for busy, commits in ((False, 2), (True, 1)):
        clock = [0.0]
        pacer = CommitPacer(0.05, clock=lambda clock=clock: clock[0])
        if busy:
            pacer.taken(500)  # 500 messages in the last 0.1 s: 5,000/s
        clock[0] = 0.1
        log = MessageLog(db, pacer=pacer)
        done: list[asyncio.Future[Appended | BaseException]] = [loop.create_future() for _ in "12"]

        def submit(
            log: MessageLog, cid: str, told: asyncio.Future[Appended | BaseException]
        ) -> None:
            log.submit(_draft(org, conv, AuthorKind.VISITOR, visitor, cid), told.set_result)

        submit(log, f"{busy}-1", done[0])
        loop.call_soon(submit, log, f"{busy}-2", done[1])  # a loop turn later, inside 50 ms
        one, two = await asyncio.gather(*done)
        assert isinstance(one, Appended) and isinstance(two, Appended)
        assert one.message and two.message and two.message.seq == one.message.seq + 1
        assert log.batches == commits


async def test_a_batch_commits_without_a_coroutine_when_nothing_must_wait(db: Database) -> None:
    """SQLite takes a batch at once when its write lock is free and no resend is in it;
    otherwise, and always on PostgreSQL, nothing is written and the awaited way is used."""
    org, conv, visitor, _ = await _conversation(db)
    loop = asyncio.get_running_loop()
    told: asyncio.Future[list[Appended] | BaseException] = loop.create_future()
    drafts = [_draft(org, conv, AuthorKind.VISITOR, visitor, c) for c in ("a", "b")]
    taken = db.try_append_messages(drafts, told.set_result)
    if not db.is_sqlite:
        assert not taken and not told.done()
        assert [r.created for r in await db.append_messages(drafts)] == [True, True]
        return
    assert taken and not told.done()  # told after the commit, on the loop
    outcome = await asyncio.wait_for(told, 5)
    assert not isinstance(outcome, BaseException)
    assert [(r.created, r.message and r.message.seq) for r in outcome] == [(True, 1), (True, 2)]
    resend = [_draft(org, conv, AuthorKind.VISITOR, visitor, c) for c in ("c", "b")]
    assert not db.try_append_messages(resend, told.set_result)  # "b" is stored: recheck
    async with db.write():  # the write lock is held
        assert not db.try_append_messages(
            [_draft(org, conv, AuthorKind.VISITOR, visitor, "d")], print
        )
    out = await db.append_messages(resend)
    assert [(r.created, r.message and r.message.seq) for r in out] == [(True, 3), (False, 2)]
    async with db.read() as conn:
        stored = await chat.messages_after(conn, org_id=org, conversation_id=conv, after_seq=0)
    assert [(m.seq, m.client_id) for m in stored] == [(1, "a"), (2, "b"), (3, "c")]


async def test_a_failing_callback_or_batch_does_not_stop_the_log(db: Database) -> None:
    """Nothing but the end of a batch starts the next one: a caller's callback that
    raises, or a batch the store rejects, must not leave the rest queued for ever."""
    org, conv, visitor, _ = await _conversation(db)
    log = MessageLog(db)
    told: list[Appended | BaseException] = []

    def boom(_outcome: Appended | BaseException) -> None:
        raise RuntimeError("a caller's bug")

    log.submit(_draft(org, conv, AuthorKind.VISITOR, visitor, "a"), boom)
    log.submit(_draft(org, "c_missing", AuthorKind.VISITOR, visitor, "b"), told.append)
    assert (
        await asyncio.wait_for(log.append(_draft(org, conv, AuthorKind.VISITOR, visitor, "c")), 5)
    ).created
    bad = Draft(org, conv, AuthorKind.VISITOR, visitor, "d", "x", "<p>x</p>", {"no": {1, 2}})
    with pytest.raises(TypeError):  # its meta cannot be stored: the whole batch fails
        await asyncio.wait_for(log.append(bad), 5)
    after = await asyncio.wait_for(
        log.append(_draft(org, conv, AuthorKind.VISITOR, visitor, "e")), 5
    )
    assert after.created and after.message and after.message.seq == 3
    assert len(told) == 1 and isinstance(told[0], Appended) and told[0].message is None


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each fsync of the WAL by the appender, as the thread it ran in saw it."""
    seen: list[str] = []
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        seen.append(threading.current_thread().name)
        real(fd)

    monkeypatch.setattr(appender.os, "fdatasync", fdatasync)
    return seen


async def test_full_is_the_commit_and_then_an_fsync_of_the_wal_before_anyone_is_told(
    tmp_path: Path, fsyncs: list[str]
) -> None:
    """With synchronous=FULL the appender's COMMIT runs with NORMAL and its commit
    thread fsyncs the WAL itself, once per batch, before the callers are told; the
    awaited way does the same. With NORMAL nothing more is synced."""
    url = migrated_sqlite(tmp_path / "f.db")
    db = Database(url, sqlite_synchronous="FULL")
    try:
        org, conv, visitor, _ = await _conversation(db)
        log = MessageLog(db)
        first = await log.append(_draft(org, conv, AuthorKind.VISITOR, visitor, "a"))
        assert first.message and first.message.seq == 1
        assert fsyncs == ["sqlite-commit"]
        await db.append_messages([_draft(org, conv, AuthorKind.VISITOR, visitor, "b")])
        assert fsyncs == ["sqlite-commit"] * 2
        assert isinstance(db.appender, appender.SqliteAppender)
        conn = db.appender._conn
        assert conn is not None and conn.execute("PRAGMA synchronous").fetchone() == (1,)
        # every connection has the same set-up (set_up_sqlite), but for the busy
        # timeout: the appender's is 0, it waits for another process off the loop
        pages = appender.WAL_AUTOCHECKPOINT_PAGES
        shared = {"journal_mode": "wal", "foreign_keys": 1, "wal_autocheckpoint": pages}
        for pragma, value in {**shared, "busy_timeout": 0}.items():
            assert conn.execute(f"PRAGMA {pragma}").fetchone() == (value,), pragma
        async with db.read() as other:
            for pragma, value in {**shared, "busy_timeout": 30000}.items():
                got = (await other.exec_driver_sql(f"PRAGMA {pragma}")).scalar()
                assert got == value, pragma
    finally:
        await db.dispose()
    fsyncs.clear()
    url = migrated_sqlite(tmp_path / "n.db")
    db = Database(url, sqlite_synchronous="NORMAL")
    try:
        org, conv, visitor, _ = await _conversation(db)
        await MessageLog(db).append(_draft(org, conv, AuthorKind.VISITOR, visitor, "a"))
        assert fsyncs == []
    finally:
        await db.dispose()


class _Chained:
    """A `NextBatch` with a batch always waiting: the first time the write lock comes
    back it takes `second` at once, and it notes what happened in order."""

    def __init__(self, db: Database, second: Draft) -> None:
        self.db = db
        self.second = second
        self.back = threading.Event()
        self.events: list[str] = []
        loop = asyncio.get_running_loop()
        self.told = [loop.create_future(), loop.create_future()]

    def waiting(self) -> bool:
        return True

    def released(self) -> None:
        self.events.append("released")
        self.back.set()
        if self.events.count("released") == 1:
            taken = self.db.try_append_messages([self.second], partial(self.done, 1), self)
            self.events.append("second taken" if taken else "second declined")

    def done(self, i: int, outcome: list[Appended] | BaseException) -> None:
        self.events.append(f"batch {i} told")
        self.told[i].set_result(outcome)


async def test_the_next_batch_starts_while_the_last_one_is_flushed_and_all_are_told_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When another batch waits, the write lock comes back between the COMMIT and its
    fsync: the fsync cannot finish before the loop has the lock back and has taken
    the next batch, whose callers are still told after the first batch's."""
    url = migrated_sqlite(tmp_path / "p.db")
    db = Database(url, sqlite_synchronous="FULL")
    lock_back_first: list[bool] = []
    real = os.fdatasync
    try:
        org, conv, visitor, _ = await _conversation(db)
        chained = _Chained(db, _draft(org, conv, AuthorKind.VISITOR, visitor, "b"))

        def fdatasync(fd: int) -> None:
            lock_back_first.append(chained.back.wait(5))  # the loop has the lock meanwhile
            real(fd)

        monkeypatch.setattr(appender.os, "fdatasync", fdatasync)
        first = [_draft(org, conv, AuthorKind.VISITOR, visitor, "a")]
        assert db.try_append_messages(first, partial(chained.done, 0), chained)
        one, two = await asyncio.wait_for(asyncio.gather(*chained.told), 10)
    finally:
        await db.dispose()
    assert chained.events == [
        "released",
        "second taken",
        "batch 0 told",
        "released",
        "batch 1 told",
    ]
    assert lock_back_first == [True, True]
    assert not isinstance(one, BaseException) and not isinstance(two, BaseException)
    assert [r.message and r.message.seq for r in one + two] == [1, 2]


class _SecondFirst(_Chained):
    """`_Chained` that has taken the second batch before the first one's fsync goes on,
    so that batch's COMMIT is queued behind that fsync."""

    def released(self) -> None:
        self.events.append("released")
        if self.events.count("released") == 1:
            taken = self.db.try_append_messages([self.second], partial(self.done, 1), self)
            self.events.append("second taken" if taken else "second declined")
        self.back.set()


async def test_a_failed_fsync_stops_every_write_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an fsync error the kernel may have dropped the pages, and a later fsync can
    succeed without them: the failed batch's callers get StoreUnavailable, the batch
    queued behind it is refused and rolled back, every later write is refused (although
    the fsyncs after the failure would succeed), `stopped` says why, and `on_fatal`
    hears it once. A restart finds what was committed and can write again."""
    path = tmp_path / "e.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    fatal: list[StoreUnavailable] = []
    db = Database(url, sqlite_synchronous="FULL", on_fatal=fatal.append)
    real = os.fdatasync
    failures = [OSError(errno.EIO, "Input/output error")]
    try:
        org, conv, visitor, _ = await _conversation(db)
        log = MessageLog(db)
        stored = await log.append(_draft(org, conv, AuthorKind.VISITOR, visitor, "a"))
        assert stored.created and db.stopped is None
        chained = _SecondFirst(db, _draft(org, conv, AuthorKind.VISITOR, visitor, "c"))

        def fdatasync(fd: int) -> None:
            if failures:
                assert chained.back.wait(5)  # the next batch is queued behind this fsync
                raise failures.pop()
            real(fd)

        monkeypatch.setattr(appender.os, "fdatasync", fdatasync)
        first = [_draft(org, conv, AuthorKind.VISITOR, visitor, "b")]
        assert db.try_append_messages(first, partial(chained.done, 0), chained)
        one, two = await asyncio.wait_for(asyncio.gather(*chained.told), 10)
        assert chained.events == [
            "released",
            "second taken",
            "batch 0 told",
            "released",
            "batch 1 told",
        ]
        assert isinstance(one, StoreUnavailable) and isinstance(two, StoreUnavailable)
        assert not failures  # from now on an fsync would succeed again
        assert db.stopped and "writes are stopped" in db.stopped
        assert [str(e) for e in fatal] == [db.stopped]
        with pytest.raises(StoreUnavailable, match="writes are stopped"):
            await log.append(_draft(org, conv, AuthorKind.VISITOR, visitor, "d"))
        with pytest.raises(StoreUnavailable, match="writes are stopped"):
            await log.append(_draft(org, conv, AuthorKind.VISITOR, visitor, "a"))  # a resend
        with pytest.raises(StoreUnavailable, match="writes are stopped"):
            await db.append_messages([_draft(org, conv, AuthorKind.VISITOR, visitor, "e")])
        with pytest.raises(StoreUnavailable, match="writes are stopped"):
            async with db.write() as conn:
                await chat.close_conversation(conn, org_id=org, conversation_id=conv)
        assert await db.ping()  # the database still answers reads
        assert len(fatal) == 1
    finally:
        await db.dispose()
    monkeypatch.setattr(appender.os, "fdatasync", real)
    db = Database(url, sqlite_synchronous="FULL")  # a restart
    try:
        async with db.read() as conn:
            found = await chat.messages_after(conn, org_id=org, conversation_id=conv, after_seq=0)
            row = await chat.get_conversation(conn, org_id=org, conversation_id=conv)
        # "b" was committed before its fsync failed (its callers were told it may not
        # be durable); "c", queued behind it, was rolled back
        assert [(m.seq, m.client_id) for m in found] == [(1, "a"), (2, "b")]
        assert row is not None and row.last_seq == 2
        again = await MessageLog(db).append(_draft(org, conv, AuthorKind.VISITOR, visitor, "c"))
        assert again.created and again.message and again.message.seq == 3
    finally:
        await db.dispose()
