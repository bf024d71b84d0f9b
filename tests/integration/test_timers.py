"""Durable timers: an unanswered chat turns into the away message, even across a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pounce.store import chat as chat_store
from pounce.store import jobs as job_store
from pounce.store.db import Database
from tests.support import clients
from tests.support.harness import harness
from tests.support.seed import seed_org


async def _messages(database_url: str, org_id: str, conversation_id: str) -> list[str]:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            found = await chat_store.messages_after(
                conn,
                org_id=org_id,
                conversation_id=conversation_id,
                after_seq=0,
                messages_only=True,
            )
    finally:
        await db.dispose()
    return [m.author_kind.value for m in found]


async def _pending(database_url: str, org_id: str) -> int:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            return len(await job_store.pending(conn, org_id=org_id))
    finally:
        await db.dispose()


@pytest.mark.parametrize("mode", ["embedded", "scaleout"])
async def test_unanswered_alert_fires_once_after_a_restart(fresh_stack, mode: str) -> None:  # type: ignore[no-untyped-def]
    stack = fresh_stack(mode, POUNCE_UNANSWERED_SECONDS="3")
    url = stack.start()
    port = int(url.rsplit(":", 1)[1])
    org = await seed_org(stack.database_url, origins=[url])
    cookie, _ = await clients.login(url, org.reps[0].email, org.password)
    rep, _ = await clients.rep(url, cookie)
    visitor, welcome = await clients.visitor(url, org.site_key)
    ack = await visitor.request({"type": "message", "body": "hello?"})
    conversation_id = ack["conversation_id"]
    await rep.expect("alert")
    assert await _pending(stack.database_url, org.id) == 1

    # The process dies with the timer pending; a new one must fire it.
    stack.kill(port)
    await visitor.close()
    await rep.close()
    url2 = stack.start()
    back, _ = await clients.visitor(url2, org.site_key, token=welcome["visitor_token"])
    await back.send({"type": "resume", "after": {conversation_id: 1}})
    deadline = asyncio.get_running_loop().time() + 15
    while await _pending(stack.database_url, org.id):
        assert asyncio.get_running_loop().time() < deadline, "timer never fired"
        await asyncio.sleep(0.2)
    # Live as `away`, or in the replay if it fired before the visitor was back.
    await back.expect("resumed")
    replayed = [f for f in back.drain("message") if f["author"]["kind"] == "system"]
    if not replayed:
        away = await back.expect("away", timeout=5)
        assert away["conversation_id"] == conversation_id
        replayed = [away["message"]]
    assert len(replayed) == 1 and "email" in replayed[0]["body"]
    assert await _messages(stack.database_url, org.id, conversation_id) == ["visitor", "system"]
    await back.close()


async def test_starting_the_conversation_cancels_the_timer(tmp_path: Path) -> None:
    async with harness(tmp_path, unanswered_seconds=2) as h:
        rep, _ = await h.rep(0)
        visitor, _ = await h.visitor()
        ack = await visitor.request({"type": "message", "body": "hello?"})
        await rep.expect("alert")
        started = await rep.request(
            {"type": "start_conversation", "conversation_id": ack["conversation_id"]}
        )
        assert started["type"] == "ack"
        assert await _pending(h.rt.settings.resolved_database_url(), h.org.id) == 0
        h.clock.advance(3)  # past the deadline: nothing is due
        assert await h.run_due() == 0
        await visitor.barrier()
        url = h.rt.settings.resolved_database_url()
        assert await _messages(url, h.org.id, ack["conversation_id"]) == ["visitor"]
        assert not [f for f in visitor.inbox if f["type"] == "away"]
