"""A delivery cut short by kill -9 is delivered again after a restart, and the receiver,
recognising the Message-ID, sees one effect (a real `pounce serve`, a real SMTP server)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pounce.store import outbox as store
from pounce.store.db import Database
from tests.support import clients
from tests.support.seed import seed_org
from tests.support.smtp import Inbox, smtp_server


async def _admin(base: str, email: str, password: str) -> httpx.AsyncClient:
    cookie, csrf = await clients.login(base, email, password)
    return httpx.AsyncClient(
        base_url=base, cookies={"pounce_session": cookie}, headers={"X-CSRF-Token": csrf}
    )


async def _until_done(admin: httpx.AsyncClient, n: int, timeout: float = 10.0) -> list[dict]:  # type: ignore[type-arg]
    """The org's delivered rows, once there are `n` (marked right after the 250)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        items = (await admin.get("/api/v1/outbox", params={"status": "done"})).json()["items"]
        if len(items) >= n or loop.time() > deadline:
            return list(items)
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("mode", ["embedded", "scaleout"])
async def test_kill_9_mid_delivery_then_delivered_again_and_seen_once(
    fresh_stack, mode: str
) -> None:  # type: ignore[no-untyped-def]
    inbox = Inbox(hang_first=True)
    with smtp_server(inbox) as smtp:
        # Only transcript rows here (no enrichment row for the email left).
        stack = fresh_stack(
            mode,
            POUNCE_SMTP_URL=smtp,
            POUNCE_OUTBOX_LEASE_SECONDS="2",
            POUNCE_ENRICHMENT="off",
        )
        url = stack.start()
        org = await seed_org(stack.database_url, origins=[url])
        async with await _admin(url, org.admin.email, org.password) as admin:
            settings = (await admin.get("/api/v1/email-settings")).json()
            assert settings == {"smtp_configured": True, "transcript_email": True}
        visitor, _ = await clients.visitor(url, org.site_key)
        left = await visitor.request({"type": "leave_email", "email": "ann@example.com"})
        assert left["type"] == "ack", left
        ack = await visitor.request({"type": "message", "body": "hello <b>there</b>"})
        cid = ack["conversation_id"]
        cookie, _ = await clients.login(url, org.reps[0].email, org.password)
        rep, _ = await clients.rep(url, cookie)
        await rep.request({"type": "start_conversation", "conversation_id": cid})
        closed = await rep.request({"type": "close_conversation", "conversation_id": cid})
        assert closed["type"] == "ack", closed

        [first] = await inbox.arrived(1)  # the server is inside the SMTP conversation
        stack.kill(int(url.rsplit(":", 1)[1]))  # SIGKILL before it could mark the row done
        await visitor.close()
        await rep.close()

        url2 = stack.start()  # its worker claims the row when the dead one's lease ends
        arrivals = await inbox.arrived(2, timeout=30)
        assert arrivals[1]["Message-ID"] == first["Message-ID"]
        assert len(inbox.effects) == 1  # recognised as a repeat: one effect
        async with await _admin(url2, org.admin.email, org.password) as admin:
            [done] = await _until_done(admin, 1)
            assert done["conversation_id"] == cid and done["attempts"] == 2
            metrics = (await admin.get("/metrics")).text
            assert 'pounce_outbox_rows{status="failed"} 0.0' in metrics
            # An admin resends it: a new delivery, a new Message-ID, a second effect.
            res = await admin.post(f"/api/v1/conversations/{cid}/transcript-email")
            assert res.status_code == 202 and res.json() == {"to": "ann@example.com"}
            third = (await inbox.arrived(3))[2]
            assert third["Message-ID"] != first["Message-ID"]
            assert len(inbox.effects) == 2
            assert len(await _until_done(admin, 2)) == 2
            off = await admin.put("/api/v1/email-settings", json={"transcript_email": False})
            assert off.json() == {"smtp_configured": True, "transcript_email": False}


async def test_workers_on_postgresql_claim_different_rows(fresh_stack) -> None:  # type: ignore[no-untyped-def]
    """Two workers claiming at once (their transactions open together) each get rows
    the other skipped: `FOR UPDATE SKIP LOCKED`."""
    stack = fresh_stack("scaleout")
    org = await seed_org(stack.database_url, origins=[])
    db = Database(stack.database_url)
    try:
        async with db.write() as conn:
            for n in range(6):
                await store.add(
                    conn, org_id=org.id, kind="test", key=f"k{n}", payload={}, now=100.0
                )
        async with db.write() as one, db.write() as two:
            first = await store.claim(one, now=200.0, lease_seconds=60, limit=4, skip_locked=True)
            second = await store.claim(two, now=200.0, lease_seconds=60, limit=4, skip_locked=True)
        assert len(first) == 4 and len(second) == 2
        assert not {r.id for r in first} & {r.id for r in second}
    finally:
        await db.dispose()
