"""A frame for exactly one socket (one tab): `conn:{connection id}` reaches that socket
and no other, in one process and across processes through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pounce.realtime.frames import server as sf
from pounce.realtime.redis import RedisBus
from pounce.services import events
from tests.conftest import require_services
from tests.support.harness import Harness, harness
from tests.support.stack import REDIS_URL


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        yield made


async def test_a_rep_with_two_tabs_gets_a_frame_in_one(h: Harness) -> None:
    first, first_welcome = await h.rep(0)
    second, second_welcome = await h.rep(0, available=False)
    assert first_welcome["connection_id"] != second_welcome["connection_id"]
    events.to_connection(h.rt.bus, second_welcome["connection_id"], sf.Pong(t="for tab two"))
    got = await second.expect("pong", lambda f: f["t"] == "for tab two")
    assert got["t"] == "for tab two"
    await first.barrier()
    assert not [f for f in first.inbox if f.get("t") == "for tab two"]


async def test_a_frame_for_a_closed_tab_is_dropped(h: Harness) -> None:
    tab, welcome = await h.rep(0)
    await tab.disconnect()
    events.to_connection(h.rt.bus, welcome["connection_id"], sf.Pong(t="late"))  # no error
    assert not [f for f in tab.inbox if f.get("t") == "late"]


async def test_through_redis_a_frame_goes_to_the_node_holding_the_socket() -> None:
    require_services()
    got: dict[str, list[tuple[str, bytes]]] = {"a": [], "b": []}
    buses = {
        node: RedisBus(
            REDIS_URL, node=node, deliver=lambda cid, data, n=node: got[n].append((cid, data))
        )
        for node in ("a", "b")
    }
    for bus in buses.values():
        await bus.start()
    try:
        async with asyncio.timeout(10):
            while not all(bus.healthy for bus in buses.values()):
                await asyncio.sleep(0.01)
        # one socket on node b, one on node a; both published from node a
        buses["a"].post_many(["conn:console-b-7"], b'{"type":"pong","t":1}')
        buses["a"].post_many(["conn:console-a-3"], b'{"type":"pong","t":2}')
        async with asyncio.timeout(10):
            while not got["b"]:
                await asyncio.sleep(0.01)
        assert got["b"] == [("console-b-7", b'{"type":"pong","t":1}')]
        assert got["a"] == [("console-a-3", b'{"type":"pong","t":2}')]  # delivered at home
    finally:
        for bus in buses.values():
            await bus.close()
