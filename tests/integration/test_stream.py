"""A conversation's stream: events beside messages with one seq, each item with its
audience, filtered in one place for live delivery and replay; replay a page at a time
within a byte budget. In-process (tests/support/harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pounce.domain.model import Audience, AuthorKind
from pounce.services import stream
from pounce.services.uow import unit_of_work
from pounce.store import chat as chat_store
from tests.support.harness import Harness, MemorySocket, harness

Frame = dict[str, Any]


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        yield made


async def _started(h: Harness) -> tuple[MemorySocket, MemorySocket, str]:
    """A visitor whose first message a rep has started: (visitor, rep, conversation id)."""
    rep, _ = await h.rep(0)
    visitor, _ = await h.visitor()
    ack = await visitor.request({"type": "message", "body": "Hello?"})
    conversation_id = ack["conversation_id"]
    await rep.expect("alert")
    reply = await rep.request({"type": "start_conversation", "conversation_id": conversation_id})
    assert reply["type"] == "ack", reply
    return visitor, rep, conversation_id


async def _many(h: Harness, cid: str, count: int, body: str) -> None:
    """`count` rep messages stored at once (faster than the rep's frame budget allows)."""
    async with unit_of_work(h.rt) as uow:
        for _ in range(count):
            await chat_store.append_message(
                uow.conn,
                org_id=h.org.id,
                conversation_id=cid,
                author_kind=AuthorKind.REP,
                author_id=h.org.reps[0].id,
                client_id=None,
                body=body,
                html=body,
            )


def _seqs(frames: list[Frame]) -> list[int]:
    return [f["seq"] for f in frames if f["type"] in ("message", "event")]


async def test_events_share_the_seq_and_reach_their_audience_live(h: Harness) -> None:
    visitor, rep, cid = await _started(h)
    owner = await rep.expect("event", lambda f: f["event"]["kind"] == "owner_changed")
    assert owner["seq"] == 2 and owner["event"]["owner"]["id"] == h.org.reps[0].id
    assert owner["actor"]["kind"] == "rep"
    seen = await visitor.expect("event", lambda f: f["event"]["kind"] == "owner_changed")
    assert seen["seq"] == 2

    note = await rep.request({"type": "note", "conversation_id": cid, "body": "VIP, be nice"})
    assert note["type"] == "ack" and note["seq"] == 3
    assert note["message"]["audience"] == "reps"
    reply = await rep.request({"type": "message", "conversation_id": cid, "body": "Hi there"})
    assert reply["seq"] == 4
    closed = await rep.request({"type": "close_conversation", "conversation_id": cid})
    assert closed["type"] == "ack"
    await rep.expect("event", lambda f: f["event"]["kind"] == "closed" and f["seq"] == 5)

    await visitor.expect("event", lambda f: f["event"]["kind"] == "closed" and f["seq"] == 5)
    await visitor.barrier()
    got = visitor.drain()
    assert all(f.get("body") != "VIP, be nice" for f in got), "a rep-only note reached the visitor"
    assert 3 not in _seqs(got)


async def test_one_item_of_each_audience_live_and_on_replay(h: Harness) -> None:
    """Every frame a visitor receives, live and replayed, is one its audience allows."""
    visitor, rep, cid = await _started(h)
    async with unit_of_work(h.rt) as uow:
        conv = await chat_store.get_conversation(uow.conn, org_id=h.org.id, conversation_id=cid)
        assert conv is not None
        for audience in (Audience.ALL, Audience.REPS, Audience.VISITOR):
            item = await chat_store.append_message(
                uow.conn,
                org_id=h.org.id,
                conversation_id=cid,
                author_kind=AuthorKind.SYSTEM,
                author_id=None,
                client_id=None,
                body=f"for {audience.value}",
                html=f"<p>for {audience.value}</p>",
                audience=audience,
            )
            stream.post_item(uow, conv, item, None)
    live_visitor = [f["body"] for f in await _bodies(visitor)]
    live_rep = [f["body"] for f in await _bodies(rep)]
    assert live_visitor == ["for all", "for visitor"]
    assert live_rep == ["for all", "for reps"]

    for sock, expected in ((visitor, ["for all", "for visitor"]), (rep, ["for all", "for reps"])):
        await sock.send_json({"type": "resume", "after": {cid: 0}})
        resumed = await sock.expect("resumed")
        assert resumed["conversations"][cid] >= 4  # the last item this side may see
        replayed = sock.drain()
        bodies = [f["body"] for f in replayed if f["type"] == "message" and "for " in f["body"]]
        assert bodies == expected
        kinds = [f["event"]["kind"] for f in replayed if f["type"] == "event"]
        assert kinds == ["owner_changed"]


async def _bodies(sock: MemorySocket) -> list[Frame]:
    await sock.barrier()
    return [f for f in sock.drain() if f["type"] == "message" and f["body"].startswith("for ")]


async def test_rep_only_events_never_reach_the_visitor(h: Harness) -> None:
    visitor, rep, cid = await _started(h)
    marked = await rep.request({"type": "set_outcome", "conversation_id": cid, "outcome": "spam"})
    assert marked["type"] == "ack"
    outcome = await rep.expect("event", lambda f: f["event"]["kind"] == "outcome_set")
    assert outcome["event"]["outcome"] == "spam"
    await visitor.expect("event", lambda f: f["event"]["kind"] == "closed")
    await visitor.barrier()
    assert all(f["event"]["kind"] != "outcome_set" for f in visitor.drain() if f["type"] == "event")
    await visitor.send_json({"type": "resume", "after": {cid: 0}})
    await visitor.expect("resumed")
    replayed = [f["event"]["kind"] for f in visitor.drain() if f["type"] == "event"]
    assert replayed == ["owner_changed", "closed"]


async def test_a_resume_brings_missed_events_in_order_with_messages(h: Harness) -> None:
    _visitor, rep, cid = await _started(h)
    await rep.request({"type": "message", "conversation_id": cid, "body": "one"})
    await rep.request({"type": "close_conversation", "conversation_id": cid})
    reopened = await rep.request({"type": "reopen_conversation", "conversation_id": cid})
    assert reopened["type"] == "ack" and reopened["conversation"]["status"] == "active"
    await rep.request({"type": "message", "conversation_id": cid, "body": "two"})
    fresh, _ = await h.rep(0, available=False)
    await fresh.send_json({"type": "resume", "after": {cid: 1}})
    await fresh.expect("resumed")
    items = [
        (f["seq"], f.get("body") or f["event"]["kind"])
        for f in fresh.drain()
        if f["type"] in ("message", "event")
    ]
    assert items == [(2, "owner_changed"), (3, "one"), (4, "closed"), (5, "reopened"), (6, "two")]


async def test_reopen_is_refused_when_open_and_when_the_visitor_moved_on(h: Harness) -> None:
    visitor, rep, cid = await _started(h)
    again = await rep.request({"type": "reopen_conversation", "conversation_id": cid})
    assert again["type"] == "error" and again["code"] == "not_closed"
    await rep.request({"type": "close_conversation", "conversation_id": cid})
    # The visitor writes again: a new conversation opens, so the old one stays closed.
    await visitor.request({"type": "message", "body": "me again"})
    moved = await rep.request({"type": "reopen_conversation", "conversation_id": cid})
    assert moved["type"] == "error" and moved["code"] == "conflict"
    other, _ = await h.rep(1)
    foreign = await other.request({"type": "reopen_conversation", "conversation_id": "c_nope"})
    assert foreign["code"] == "not_found"


async def test_replay_comes_a_page_at_a_time(h: Harness) -> None:
    visitor, _rep, cid = await _started(h)
    await _many(h, cid, stream.REPLAY_PAGE + 20, "m")
    await visitor.barrier()
    visitor.drain()
    await visitor.send_json({"type": "resume", "after": {cid: 0}})
    first = await visitor.expect("resumed")
    page = _seqs(visitor.drain())
    assert len(page) == stream.REPLAY_PAGE
    assert first["more"] == [cid] and first["conversations"][cid] == page[-1]
    await visitor.send_json({"type": "resume", "after": {cid: page[-1]}})
    second = await visitor.expect("resumed")
    rest = _seqs(visitor.drain())
    assert second.get("more", []) == []
    assert rest[0] == page[-1] + 1 and rest[-1] == second["conversations"][cid]
    assert len(page) + len(rest) == stream.REPLAY_PAGE + 22  # + the first message, the event


async def test_asking_for_the_same_history_again_and_again_is_budgeted(h: Harness) -> None:
    """A 54-byte resume from seq 0 cannot make the server send gigabytes."""
    visitor, _rep, cid = await _started(h)
    body = "x" * 7000
    await _many(h, cid, 30, body)
    await visitor.barrier()
    visitor.drain()
    visitor.raw.clear()
    burst = h.rt.settings.ws_replay_burst_bytes
    sent = 0
    refused = None
    for attempt in range(20):
        await visitor.send_json({"type": "resume", "id": f"r{attempt}", "after": {cid: 0}})
        reply = await visitor.expect_any(("resumed", "error"))
        if reply["type"] == "error":
            refused = reply
            break
        sent += sum(len(r) for r in visitor.raw)
        visitor.raw.clear()
        visitor.drain()
    assert refused is not None, "the replay budget never ran out"
    assert refused["code"] == "rate_limited" and refused["id"] == f"r{attempt}"
    assert refused["retry_after_ms"] > 0
    page = 32 * 2 * len(body)  # a whole page of these messages (body and html)
    assert sent < burst + page + 20_000  # the burst, and at most one page past it
    # Other frames still work meanwhile; the socket stays open.
    await visitor.barrier()
    assert visitor.close_code is None
