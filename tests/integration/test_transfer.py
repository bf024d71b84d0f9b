"""Transfer: cold and warm (accept, decline, deadline), refusals, who sees what, and the
race between two transfers of one conversation. In-process (tests/support/harness.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pounce.domain.model import Source
from pounce.services.uow import unit_of_work
from pounce.store import chat as chat_store
from pounce.store import proactive as proactive_store
from tests.support.harness import Harness, MemorySocket, harness

Frame = dict[str, Any]
NOTE = "Handoff: wants the enterprise plan, budget signed off"


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path, transfer_accept_seconds=30.0) as made:
        yield made


async def _owned(
    h: Harness, owner: MemorySocket, visitor: MemorySocket | None = None
) -> tuple[MemorySocket, str]:
    """A conversation the visitor opened and `owner` started, with one reply."""
    if visitor is None:
        visitor, _ = await h.visitor()
    ack = await visitor.request({"type": "message", "body": "Hello, anyone?"})
    cid = str(ack["conversation_id"])
    await owner.expect("alert", lambda f: f["conversation"]["id"] == cid)
    started = await owner.request({"type": "start_conversation", "conversation_id": cid})
    assert started["type"] == "ack", started
    sent = await owner.request({"type": "message", "conversation_id": cid, "body": "Hi, Rep0"})
    assert sent["type"] == "ack", sent
    return visitor, cid


async def _ask_warm(h: Harness, rep0: MemorySocket, cid: str, *, note: str | None = None) -> Frame:
    """Rep 0, the owner, asks rep 1 to take the conversation (a warm transfer)."""
    frame: Frame = {
        "type": "transfer",
        "conversation_id": cid,
        "owner_id": h.org.reps[0].id,
        "to": h.org.reps[1].id,
        "warm": True,
    }
    if note is not None:
        frame["note"] = note
    return await rep0.request(frame)


def _kinds(frames: list[Frame]) -> list[str]:
    return [f["event"]["kind"] for f in frames if f["type"] == "event"]


async def _everything(sock: MemorySocket) -> list[Frame]:
    await sock.barrier()
    return sock.drain()


def _assert_visitor_saw_nothing_rep_only(frames: list[Frame]) -> None:
    for frame in frames:
        assert not frame["type"].startswith("transfer"), frame
        assert NOTE not in str(frame), f"the handoff note reached the visitor: {frame}"
        if frame["type"] == "event":
            assert frame["event"]["kind"] not in ("transferred", "outcome_set"), frame


async def test_candidates_are_available_routed_reps_with_their_load(h: Harness) -> None:
    rep0, _ = await h.rep(0)
    rep1, _ = await h.rep(1)
    admin, _ = await h.rep(-1)  # available, but the routing rule names only the reps
    _, cid = await _owned(h, rep0)
    await rep0.send_json({"type": "transfer_candidates", "id": "c1", "conversation_id": cid})
    answer = await rep0.expect("transfer_candidates")
    assert answer["owner"]["id"] == h.org.reps[0].id
    assert [(c["rep"]["id"], c["open_conversations"]) for c in answer["reps"]] == [
        (h.org.reps[1].id, 0)
    ]
    assert (await rep1.request({"type": "availability", "status": "away"}))["type"] == "ack"
    await rep0.send_json({"type": "transfer_candidates", "id": "c2", "conversation_id": cid})
    assert (await rep0.expect("transfer_candidates"))["reps"] == []
    refused = await rep1.request({"type": "transfer_candidates", "conversation_id": cid})
    assert refused["code"] == "not_owner"
    await admin.send_json({"type": "transfer_candidates", "id": "c3", "conversation_id": cid})
    assert (await admin.expect("transfer_candidates"))["conversation_id"] == cid


async def test_cold_transfer_moves_the_conversation_with_its_whole_stream(h: Harness) -> None:
    rep0, _ = await h.rep(0)
    rep1, _ = await h.rep(1)
    visitor, cid = await _owned(h, rep0)
    await _everything(rep1)

    ack = await rep0.request(
        {
            "type": "transfer",
            "conversation_id": cid,
            "owner_id": h.org.reps[0].id,
            "to": h.org.reps[1].id,
        }
    )
    assert ack["type"] == "ack", ack
    assert ack["conversation"]["owner"]["id"] == h.org.reps[1].id

    # the new owner is alerted and hears the transfer live
    alert = await rep1.expect("alert", lambda f: f["conversation"]["id"] == cid)
    assert alert["conversation"]["owner"]["id"] == h.org.reps[1].id
    moved = await rep1.expect("event", lambda f: f["event"]["kind"] == "transferred")
    assert moved["event"]["from_owner"]["id"] == h.org.reps[0].id
    assert moved["actor"]["id"] == h.org.reps[0].id
    # ... and loads the whole stream: the visitor, the old owner, the events
    await rep1.send_json({"type": "resume", "after": {cid: 0}})
    await rep1.expect("resumed")
    history = rep1.drain()
    bodies = [f["body"] for f in history if f["type"] == "message"]
    assert bodies == ["Hello, anyone?", "Hi, Rep0"]
    assert _kinds(history) == ["owner_changed", "transferred"]

    # the old owner's console hears the new owner; the server refuses their sends
    changed = await rep0.expect(
        "conversation", lambda f: f["conversation"]["owner"]["id"] == h.org.reps[1].id
    )
    assert changed["conversation"]["id"] == cid
    refused = await rep0.request({"type": "message", "conversation_id": cid, "body": "still me"})
    assert refused["type"] == "error" and refused["code"] == "not_owner"
    await rep0.send_json({"type": "typing", "conversation_id": cid, "typing": True})
    assert (await rep0.expect("error"))["code"] == "not_owner"

    # the visitor sees the new rep from now on, and the line saying so
    now = await visitor.expect("event", lambda f: f["event"]["kind"] == "now_chatting_with")
    assert now["event"]["rep"]["name"] == h.org.reps[1].name
    seen = await visitor.expect(
        "conversation", lambda f: f["conversation"]["owner"]["id"] == h.org.reps[1].id
    )
    assert seen["conversation"]["owner"]["name"] == h.org.reps[1].name
    reply = await rep1.request({"type": "message", "conversation_id": cid, "body": "Rep1 here"})
    assert reply["type"] == "ack", reply
    got = await visitor.expect("message", lambda f: f["body"] == "Rep1 here")
    assert got["author"]["name"] == h.org.reps[1].name

    # the visitor's next message reaches only the new owner
    await _everything(rep0)
    await visitor.request({"type": "message", "body": "Great, thanks"})
    await rep1.expect("message", lambda f: f["body"] == "Great, thanks")
    assert all(f.get("body") != "Great, thanks" for f in await _everything(rep0))
    _assert_visitor_saw_nothing_rep_only(await _everything(visitor))


async def test_warm_transfer_accepted_with_a_note_the_visitor_never_sees(h: Harness) -> None:
    rep0, _ = await h.rep(0)
    rep1, _ = await h.rep(1)
    visitor, cid = await _owned(h, rep0)
    ack = await _ask_warm(h, rep0, cid, note=NOTE)
    assert ack["type"] == "ack" and ack["conversation"]["owner"]["id"] == h.org.reps[0].id
    asked = await rep1.expect("transfer_request")
    assert asked["note"] == NOTE and asked["by"]["id"] == h.org.reps[0].id
    assert asked["conversation"]["id"] == cid
    assert asked["deadline"] == int((h.clock() + 30.0) * 1000)
    # still the owner's until the answer
    assert (await rep0.request({"type": "message", "conversation_id": cid, "body": "One sec"}))[
        "type"
    ] == "ack"

    accepted = await rep1.request(
        {"type": "transfer_reply", "conversation_id": cid, "accept": True}
    )
    assert accepted["type"] == "ack" and accepted["conversation"]["owner"]["id"] == h.org.reps[1].id
    told = await rep0.expect("transfer_result")
    assert told["result"] == "accepted" and told["to"]["id"] == h.org.reps[1].id
    moved = await rep1.expect("event", lambda f: f["event"]["kind"] == "transferred")
    assert moved["event"]["warm"] is True
    await rep1.send_json({"type": "resume", "after": {cid: 0}})
    await rep1.expect("resumed")
    assert NOTE in [f.get("body") for f in rep1.drain()]

    refused = await rep0.request({"type": "message", "conversation_id": cid, "body": "me?"})
    assert refused["code"] == "not_owner"
    await visitor.expect("event", lambda f: f["event"]["kind"] == "now_chatting_with")
    # the deadline's job is gone: nothing fires later
    h.clock.advance(60)
    assert await h.run_due() == 0

    frames = await _everything(visitor)
    await visitor.send_json({"type": "resume", "after": {cid: 0}})
    await visitor.expect("resumed")
    frames += visitor.drain()
    _assert_visitor_saw_nothing_rep_only(frames)


async def test_warm_transfer_declined_stays_with_the_owner(h: Harness) -> None:
    rep0, _ = await h.rep(0)
    rep1, _ = await h.rep(1)
    visitor, cid = await _owned(h, rep0)
    await _ask_warm(h, rep0, cid)
    asked = await rep1.expect("transfer_request")
    assert asked["note"] is None
    again = await _ask_warm(h, rep0, cid)
    assert again["code"] == "transfer_pending"
    declined = await rep1.request(
        {"type": "transfer_reply", "conversation_id": cid, "accept": False}
    )
    assert declined["type"] == "ack"
    assert declined["conversation"]["owner"]["id"] == h.org.reps[0].id
    told = await rep0.expect("transfer_result")
    assert told["result"] == "declined"
    assert (await rep1.request({"type": "transfer_reply", "conversation_id": cid, "accept": True}))[
        "code"
    ] == "no_transfer"
    assert (await rep0.request({"type": "message", "conversation_id": cid, "body": "Still here"}))[
        "type"
    ] == "ack"
    _assert_visitor_saw_nothing_rep_only(await _everything(visitor))


async def test_warm_transfer_expires_and_the_owner_is_told(h: Harness) -> None:
    rep0, _ = await h.rep(0)
    rep1, _ = await h.rep(1)
    _, cid = await _owned(h, rep0)
    await _ask_warm(h, rep0, cid, note=NOTE)
    await rep1.expect("transfer_request")
    h.clock.advance(29)
    assert await h.run_due() == 0
    h.clock.advance(2)
    assert await h.run_due() == 1
    assert (await rep0.expect("transfer_result"))["result"] == "expired"
    assert (await rep1.expect("transfer_result"))["result"] == "expired"
    late = await rep1.request({"type": "transfer_reply", "conversation_id": cid, "accept": True})
    assert late["code"] == "no_transfer"
    assert (await rep0.request({"type": "message", "conversation_id": cid, "body": "ok"}))[
        "type"
    ] == "ack"


async def test_refusals(h: Harness) -> None:
    rep0, _ = await h.rep(0)
    rep1, _ = await h.rep(1)
    admin, _ = await h.rep(-1)
    _, cid = await _owned(h, rep0)
    me, other = h.org.reps[0].id, h.org.reps[1].id

    def frame(**extra: Any) -> Frame:
        return {"type": "transfer", "conversation_id": cid, "owner_id": me, "to": other, **extra}

    assert (await rep1.request(frame(to=me)))["code"] == "not_owner"
    assert (await rep0.request(frame(owner_id=other)))["code"] == "owner_changed"
    assert (await rep0.request(frame(to=me)))["code"] == "invalid"
    assert (await rep0.request(frame(note="cold with a note")))["code"] == "invalid"
    assert (await rep0.request(frame(to=h.org.admin.id)))["code"] == "rep_unavailable"
    assert (await rep0.request(frame(conversation_id="c_nope")))["code"] == "not_found"
    bad = await rep0.request(frame(warm="yes"))
    assert bad["code"] == "invalid"
    # the rep went away between the drop-down and the click
    assert (await rep1.request({"type": "availability", "status": "away"}))["type"] == "ack"
    assert (await rep0.request(frame()))["code"] == "rep_unavailable"
    assert (await rep1.request({"type": "availability", "status": "available"}))["type"] == "ack"
    await rep1.disconnect()
    assert (await rep0.request(frame()))["code"] == "rep_unavailable"
    rep1, _ = await h.rep(1)
    # an admin may reassign any conversation
    moved = await admin.request(frame())
    assert moved["type"] == "ack" and moved["conversation"]["owner"]["id"] == other
    closed = await rep1.request({"type": "close_conversation", "conversation_id": cid})
    assert closed["type"] == "ack"
    assert (await rep1.request(frame(owner_id=other, to=me)))["code"] == "closed"


async def _owned_by_rep0(h: Harness, visitor_id: str, count: int) -> list[str]:
    """`count` conversations rep0 owns, stored at once (more than a console's frame
    budget lets it start in a few seconds)."""
    made = []
    async with unit_of_work(h.rt) as uow:
        for _ in range(count):
            conv = await chat_store.create_conversation(
                uow.conn,
                org_id=h.org.id,
                site_id=h.org.site_id,
                visitor_id=visitor_id,
                source=Source.INBOUND,
                owner_id=h.org.reps[0].id,
            )
            made.append(conv.id)
    return made


async def test_two_transfers_at_once_exactly_one_applies(h: Harness) -> None:
    rep0, _ = await h.rep(0)
    rep1, _ = await h.rep(1)
    admin, _ = await h.rep(-1)
    _, welcome = await h.visitor()
    me, other = h.org.reps[0].id, h.org.reps[1].id
    await _set_limit(h, 0)  # the race is over who owns it, not the target's load
    for attempt, cid in enumerate(await _owned_by_rep0(h, welcome["visitor_id"], 50)):
        ids = (f"owner-{attempt}", f"admin-{attempt}")
        await asyncio.gather(
            *(
                sock.send_json(
                    {
                        "type": "transfer",
                        "id": frame_id,
                        "conversation_id": cid,
                        "owner_id": me,
                        "to": other,
                    }
                )
                for sock, frame_id in zip((rep0, admin), ids, strict=True)
            )
        )
        answers = [
            await sock.expect_any(("ack", "error"), lambda f, i=frame_id: f.get("id") == i)
            for sock, frame_id in zip((rep0, admin), ids, strict=True)
        ]
        assert sorted(a["type"] for a in answers) == ["ack", "error"], answers
        error = next(a for a in answers if a["type"] == "error")
        assert error["code"] == "owner_changed" and error["owner"]["id"] == other, error
        await rep1.barrier()
        moved = [f for f in rep1.drain() if f["type"] == "event" and f["conversation_id"] == cid]
        assert _kinds(moved) == ["transferred"], moved
        rep0.drain()
        admin.drain()


async def test_a_request_survives_the_asked_reps_reload(h: Harness) -> None:
    rep0, _ = await h.rep(0)
    rep1, _ = await h.rep(1)
    _, cid = await _owned(h, rep0)
    await _ask_warm(h, rep0, cid, note=NOTE)
    first = await rep1.expect("transfer_request")
    await rep1.disconnect()
    rep1, _ = await h.rep(1)
    again = await rep1.expect("transfer_request")
    for field in ("by", "note", "deadline", "visitor"):
        assert again[field] == first[field], field
    assert again["conversation"]["last_seq"] == first["conversation"]["last_seq"]
    accepted = await rep1.request(
        {"type": "transfer_reply", "conversation_id": cid, "accept": True}
    )
    assert accepted["conversation"]["owner"]["id"] == h.org.reps[1].id


async def test_an_open_auto_pounce_cannot_change_hands(h: Harness) -> None:
    rep0, _ = await h.rep(0)
    await h.rep(1)
    _, welcome = await h.visitor()
    async with unit_of_work(h.rt) as uow:
        conv = await chat_store.create_conversation(
            uow.conn,
            org_id=h.org.id,
            site_id=h.org.site_id,
            visitor_id=welcome["visitor_id"],
            source=Source.AUTO_POUNCE,
            owner_id=h.org.reps[0].id,
        )
    refused = await rep0.request(
        {
            "type": "transfer",
            "conversation_id": conv.id,
            "owner_id": h.org.reps[0].id,
            "to": h.org.reps[1].id,
        }
    )
    assert refused["code"] == "auto_pounce_open"


async def test_the_askers_waiting_state_survives_their_reload(h: Harness) -> None:
    rep0, _ = await h.rep(0)
    rep1, _ = await h.rep(1)
    _, cid = await _owned(h, rep0)
    asked = await _ask_warm(h, rep0, cid, note=NOTE)
    assert asked["type"] == "ack", asked
    live = await rep0.expect("transfer_waiting")
    assert live["conversation_id"] == cid
    assert live["to"]["id"] == h.org.reps[1].id and live["by"]["id"] == h.org.reps[0].id
    request = await rep1.expect("transfer_request")
    assert live["deadline"] == request["deadline"]
    # The asked rep is not told they wait on themselves.
    await rep1.barrier()
    assert rep1.drain("transfer_waiting") == []

    await rep0.disconnect()
    rep0, _ = await h.rep(0)
    again = await rep0.expect("transfer_waiting")
    assert again == live
    assert rep0.drain("transfer_request") == []

    declined = await rep1.request(
        {"type": "transfer_reply", "conversation_id": cid, "accept": False}
    )
    assert declined["type"] == "ack", declined
    assert (await rep0.expect("transfer_result"))["result"] == "declined"
    # Answered: a console that connects now has nothing waiting.
    await rep0.disconnect()
    rep0, _ = await h.rep(0)
    await rep0.barrier()
    assert rep0.drain("transfer_waiting") == []


async def _set_limit(h: Harness, limit: int) -> None:
    async with unit_of_work(h.rt) as uow:
        await proactive_store.put_settings(uow.conn, org_id=h.org.id, max_open_chats_per_rep=limit)


async def test_a_rep_at_the_open_chat_limit_is_not_offered_and_is_refused(h: Harness) -> None:
    rep0, _ = await h.rep(0)
    await h.rep(1)
    _, cid = await _owned(h, rep0)
    _, other_visitor = await h.visitor()
    async with unit_of_work(h.rt) as uow:  # rep1 is busy with one chat already
        await chat_store.create_conversation(
            uow.conn,
            org_id=h.org.id,
            site_id=h.org.site_id,
            visitor_id=other_visitor["visitor_id"],
            source=Source.INBOUND,
            owner_id=h.org.reps[1].id,
        )
    me, other = h.org.reps[0].id, h.org.reps[1].id

    async def offered() -> tuple[list[tuple[str, int]], int]:
        await rep0.send_json({"type": "transfer_candidates", "id": "c", "conversation_id": cid})
        answer = await rep0.expect_any(("transfer_candidates", "error"))
        assert answer["type"] == "transfer_candidates", answer
        reps = [(c["rep"]["id"], c["open_conversations"]) for c in answer["reps"]]
        return reps, answer["max_open_conversations"]

    def frame(**extra: Any) -> Frame:
        return {"type": "transfer", "conversation_id": cid, "owner_id": me, "to": other, **extra}

    await _set_limit(h, 2)
    assert await offered() == ([(other, 1)], 2)
    await _set_limit(h, 1)
    assert await offered() == ([], 1)
    for warm in (False, True):
        refused = await rep0.request(frame(warm=warm))
        assert refused["code"] == "rep_at_capacity", refused
        assert "open conversations" in refused["message"]
    await _set_limit(h, 0)  # no limit
    assert await offered() == ([(other, 1)], 0)
    moved = await rep0.request(frame())
    assert moved["type"] == "ack" and moved["conversation"]["owner"]["id"] == other, moved
