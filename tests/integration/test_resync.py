"""After the bus lost frames, clients catch up without reconnecting: consoles get the
state now (`sync`, built once per org) and everyone resumes by seq (in-process; the
Redis restart itself is in test_scaleout.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from pounce.api import sockets
from pounce.realtime import connection
from tests.support.harness import Harness, counting, harness


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        yield made


async def test_consoles_get_their_state_and_messengers_are_asked_to_resume(h: Harness) -> None:
    ann, _ = await h.rep(0)
    bob, _ = await h.rep(1)
    visitor, _ = await h.visitor()
    ack = await visitor.request({"type": "message", "body": "anyone?"})
    for rep in (ann, bob):
        await rep.expect("alert")
    count = await sockets.resync(h.rt, spread=0)
    assert count == 3
    for rep in (ann, bob):
        synced = await rep.expect("sync")
        assert [a["conversation"]["id"] for a in synced["alerts"]] == [ack["conversation_id"]]
        present = {r["id"] for r in synced["reps"] if r["availability"] == "available"}
        assert present == {h.org.reps[0].id, h.org.reps[1].id}
        assert [v["online"] for v in synced["visitors"]] == [True]
    await visitor.expect("resync")
    assert all(s.close_code is None for s in (ann, bob, visitor))


async def test_the_sync_costs_the_same_for_one_console_or_several(h: Harness) -> None:
    first, _ = await h.rep(0)
    with counting(h) as one:
        await sockets.resync(h.rt, spread=0)
        await first.expect("sync")
    others = [(await h.rep(1))[0], (await h.rep(-1))[0], (await h.rep(0))[0]]
    with counting(h) as four:
        await sockets.resync(h.rt, spread=0)
        for sock in [first, *others]:
            await sock.expect("sync")
    assert len(four) == len(one), (len(one), len(four))


async def test_what_the_bus_brings_before_the_client_resumed_waits_for_its_replay(
    h: Harness,
) -> None:
    """After a reconnect a live frame must not reach a client before it has asked for
    what was lost: its highest seq would then skip the loss. The frame waits until the
    replay has gone out, and comes after it."""
    rep, _ = await h.rep(0)
    visitor, _ = await h.visitor()
    ack = await visitor.request({"type": "message", "body": "hello"})
    cid = ack["conversation_id"]
    await rep.request({"type": "start_conversation", "conversation_id": cid})
    await rep.request({"type": "message", "conversation_id": cid, "body": "before"})
    before = await visitor.expect("message", lambda f: f["body"] == "before")
    visitor.drain()
    await sockets.resync(h.rt, spread=0)
    # Sent after the reconnect, before the visitor was asked to resync.
    await rep.request({"type": "message", "conversation_id": cid, "body": "after"})
    await visitor.expect("resync")
    assert not visitor.drain("message"), "a live frame overtook the resync"
    await visitor.send_json({"type": "resume", "id": "r1", "after": {cid: before["seq"]}})
    await visitor.expect("resumed", lambda f: f.get("id") == "r1")
    after = await visitor.expect("message", lambda f: f["body"] == "after")
    assert after["seq"] == before["seq"] + 1


async def test_a_client_that_does_not_resume_is_closed_to_resume_on_reconnect(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sockets, "RESYNC_RESUME_SECONDS", 0.05)
    visitor, _ = await h.visitor()
    rep, _ = await h.rep(0)
    await sockets.resync(h.rt, spread=0)
    await visitor.expect("resync")
    await rep.expect("sync")
    await rep.send_json({"type": "resume", "after": {}})  # the console asks; the visitor not
    await rep.barrier()
    assert await visitor.closed(timeout=5) == 1013
    assert rep.close_code is None


async def test_a_held_socket_that_falls_too_far_behind_is_closed(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "MAX_HELD_FRAMES", 3)
    visitor, _ = await h.visitor()
    ack = await visitor.request({"type": "message", "body": "hi"})
    cid = ack["conversation_id"]
    rep, _ = await h.rep(0)
    await rep.request({"type": "start_conversation", "conversation_id": cid})
    await visitor.barrier()
    visitor.drain()
    await sockets.resync(h.rt, spread=0)
    await rep.expect("sync")
    await rep.send_json({"type": "resume", "after": {}})  # the console asks; the visitor not
    await rep.barrier()
    for i in range(4):
        await rep.request({"type": "message", "conversation_id": cid, "body": f"m{i}"})
    assert visitor.close_code == 1013
    assert not visitor.drain("message")


async def test_a_warm_transfer_still_waiting_is_sent_again_after_the_sync(h: Harness) -> None:
    """A transfer result the bus lost must not leave a stale prompt: the sync is followed,
    as a welcome is, by the warm transfers still waiting."""
    ann, _ = await h.rep(0)
    bob, _ = await h.rep(1)
    visitor, _ = await h.visitor()
    ack = await visitor.request({"type": "message", "body": "anyone?"})
    cid = ack["conversation_id"]
    started = await ann.request({"type": "start_conversation", "conversation_id": cid})
    assert started["type"] == "ack", started
    asked = await ann.request(
        {
            "type": "transfer",
            "conversation_id": cid,
            "owner_id": h.org.reps[0].id,
            "to": h.org.reps[1].id,
            "warm": True,
        }
    )
    assert asked["type"] == "ack", asked
    waiting = await ann.expect("transfer_waiting")
    request = await bob.expect("transfer_request")

    marks = {sock: len(sock.raw) for sock in (ann, bob)}
    await sockets.resync(h.rt, spread=0)
    for sock, kind, before in (
        (ann, "transfer_waiting", waiting),
        (bob, "transfer_request", request),
    ):
        again = await sock.expect(kind)
        assert again == before
        # In order: the sync (which clears the console's warm transfers), then the
        # ones still waiting, once.
        since = [orjson.loads(raw)["type"] for raw in sock.raw[marks[sock] :]]
        assert since == ["sync", kind], since
