"""Blocks over the wire: a real server, real sockets from two loopback client addresses
(127.0.0.2 and 127.0.0.3), and the admins' REST."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_services
from tests.integration.conftest import World
from tests.support import clients
from tests.support.proactive import session
from tests.support.seed import seed_org
from tests.support.stack import Stack, drop_stack, make_stack


async def _embed(world: World, local: str, token: str | None = None) -> dict[str, object]:
    transport = httpx.AsyncHTTPTransport(local_address=local)
    async with httpx.AsyncClient(base_url=world.url, transport=transport) as http:
        res = await http.get(
            "/messenger/embed",
            params={"site_key": world.org.site_key, "host": world.url, "visitor": token or ""},
        )
        res.raise_for_status()
        answer: dict[str, object] = res.json()
        return answer


async def test_block_report_and_ip_block_over_the_wire(world: World) -> None:
    cookie, _ = await clients.login(world.url, world.org.reps[0].email, world.org.password)
    rep, _ = await clients.rep(world.url, cookie)
    visitor, welcome = await clients.visitor(world.url, world.org.site_key, local_addr="127.0.0.2")
    token = welcome["visitor_token"]
    ack = await visitor.request({"type": "message", "body": "spam spam spam"})
    cid = ack["conversation_id"]
    await rep.expect("alert")
    assert (await rep.request({"type": "start_conversation", "conversation_id": cid}))[
        "type"
    ] == "ack"
    assert await _embed(world, "127.0.0.2", token) == {"allowed": True}

    started = time.monotonic()
    reply = await rep.request(
        {"type": "block_visitor", "conversation_id": cid, "report": True, "reason": "Spam"}
    )
    assert reply["type"] == "ack", reply
    assert (await visitor.expect("error"))["code"] == "blocked"
    assert await visitor.wait_closed() == 4403
    assert time.monotonic() - started < 1.0
    # The loader is told not to show the messenger to this browser; a new one may.
    assert await _embed(world, "127.0.0.2", token) == {"allowed": False, "reason": "blocked"}
    assert await _embed(world, "127.0.0.2") == {"allowed": True}

    async with await session(world.url, world.org.admin.email, world.org.password) as admin:
        blocked = (await admin.get("/api/v1/blocks/visitors")).json()["items"]
        assert [(b["id"], b["conversation_id"]) for b in blocked] == [(welcome["visitor_id"], cid)]
        [report] = (await admin.get("/api/v1/blocks/reports")).json()["items"]
        assert report["reason"] == "Spam" and report["client_ip"] == "127.0.0.2"
        # A 4-second block of the report's address.
        made = await admin.post(
            "/api/v1/blocks/ips", json={"report_id": report["id"], "expires_in_hours": 4 / 3600}
        )
        assert made.status_code == 201, made.text
        assert made.json()["cidr"] == "127.0.0.2/32"
        assert [i["id"] for i in (await admin.get("/api/v1/blocks/ips")).json()["items"]] == [
            made.json()["id"]
        ]
        bad = await admin.post("/api/v1/blocks/ips", json={"cidr": "10.0.0.0/4"})
        assert bad.status_code == 422, bad.text

    refused, first = await clients.visitor(
        world.url, world.org.site_key, local_addr="127.0.0.2", expect="error"
    )
    assert first["code"] == "blocked" and await refused.wait_closed() == 4403
    assert await _embed(world, "127.0.0.2") == {"allowed": False, "reason": "blocked"}
    other, _ = await clients.visitor(world.url, world.org.site_key, local_addr="127.0.0.3")
    assert (await other.request({"type": "message", "body": "hi"}))["type"] == "ack"
    await other.close()

    # The block runs out: a new visitor from 127.0.0.2 gets in again.
    deadline = time.monotonic() + 10
    while (await _embed(world, "127.0.0.2"))["allowed"] is not True:
        assert time.monotonic() < deadline, "the IP block did not run out"
        await asyncio.sleep(0.2)
    back, _ = await clients.visitor(world.url, world.org.site_key, local_addr="127.0.0.2")
    await back.close()

    # An admin unblocks the visitor: their token works again.
    async with await session(world.url, world.org.admin.email, world.org.password) as admin:
        gone = await admin.delete(f"/api/v1/blocks/visitors/{welcome['visitor_id']}")
        assert gone.status_code == 204
        assert (await admin.get("/api/v1/blocks/visitors")).json()["items"] == []
    again, _ = await clients.visitor(
        world.url, world.org.site_key, token=token, local_addr="127.0.0.2"
    )
    await again.close()
    await rep.close()


async def test_reps_cannot_use_the_admin_block_routes(world: World) -> None:
    async with await session(world.url, world.org.reps[0].email, world.org.password) as rep:
        for method, url, body in [
            ("GET", "/api/v1/blocks/visitors", None),
            ("GET", "/api/v1/blocks/reports", None),
            ("GET", "/api/v1/blocks/ips", None),
            ("POST", "/api/v1/blocks/ips", {"cidr": "203.0.113.7"}),
            ("PUT", "/api/v1/blocks/settings", {"messages_per_minute": 1}),
        ]:
            res = await rep.request(method, url, json=body)
            assert res.status_code == 403, (method, url, res.status_code)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Stack]:
    require_services()
    stack = make_stack("scaleout", tmp_path)
    try:
        yield stack
    finally:
        drop_stack(stack)


async def test_blocks_close_sockets_on_every_process(cluster: Stack) -> None:
    """PostgreSQL + Redis, two processes: a block made on one closes the visitor's tabs on
    both within a second, and an IP block reaches the other process's cache at once."""
    p1, p2 = cluster.start(), cluster.start()
    org = await seed_org(cluster.database_url, origins=[p1, p2])
    cookie, _ = await clients.login(p1, org.reps[0].email, org.password)
    rep, _ = await clients.rep(p1, cookie)
    first, welcome = await clients.visitor(p1, org.site_key, local_addr="127.0.0.2")
    second, _ = await clients.visitor(
        p2, org.site_key, token=welcome["visitor_token"], local_addr="127.0.0.2"
    )
    ack = await first.request({"type": "message", "body": "hello"})
    cid = ack["conversation_id"]
    await rep.expect("alert")
    await rep.request({"type": "start_conversation", "conversation_id": cid})
    started = time.monotonic()
    assert (await rep.request({"type": "block_visitor", "conversation_id": cid}))["type"] == "ack"
    assert await first.wait_closed() == 4403
    assert await second.wait_closed() == 4403
    assert time.monotonic() - started < 1.0

    # An address blocked through process one: process two (which has read the org's IP
    # blocks already) closes its socket from there and refuses the next one.
    other, _ = await clients.visitor(p2, org.site_key, local_addr="127.0.0.3")
    async with await session(p1, org.admin.email, org.password) as admin:
        made = await admin.post("/api/v1/blocks/ips", json={"cidr": "127.0.0.3"})
        assert made.status_code == 201, made.text
    assert await other.wait_closed() == 4403
    _, refused = await clients.visitor(p2, org.site_key, local_addr="127.0.0.3", expect="error")
    assert refused["code"] == "blocked"
    still, _ = await clients.visitor(p2, org.site_key, local_addr="127.0.0.4")
    await still.close()
    await rep.close()
