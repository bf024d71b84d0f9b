"""After the bus lost frames, clients catch up without reconnecting: consoles get the
state now (`sync`, built once per org) and everyone resumes by seq (in-process; the
Redis restart itself is in test_scaleout.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pounce.api import sockets
from tests.integration.test_welcome import counting
from tests.support.harness import Harness, harness


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
