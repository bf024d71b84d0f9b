"""A failed fsync of the SQLite WAL is fatal to a real `pounce serve`: it refuses the
writes, fails readiness, exits non-zero, and a restart has everything it acknowledged."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from pounce.domain.model import AuthorKind
from pounce.store import chat as chat_store
from pounce.store.db import Database
from tests.support import clients
from tests.support.seed import seed_org


async def _replies(client: clients.Client, ids: list[str], timeout: float = 10.0) -> dict[str, Any]:
    """The `ack`/`error` each id got before the socket closed (or `timeout` passed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    got: dict[str, Any] = {}
    while len(got) < len(ids) and client.closed_code is None and loop.time() < deadline:
        for frame in client.drain():
            if frame.get("type") in ("ack", "error") and frame.get("id") in ids:
                got[frame["id"]] = frame
        await asyncio.sleep(0.02)
    for frame in client.drain():
        if frame.get("type") in ("ack", "error") and frame.get("id") in ids:
            got[frame["id"]] = frame
    return got


async def test_a_failed_fsync_stops_writes_fails_readiness_and_exits_non_zero(
    fresh_stack: Any, tmp_path: Path
) -> None:
    trigger, hold = tmp_path / "fail-next-fsync", tmp_path / "hold-the-stop"
    stack = fresh_stack(
        POUNCE_SQLITE_SYNCHRONOUS="FULL",  # the appender fsyncs the WAL itself
        POUNCE_TEST_FAIL_FSYNC=str(trigger),
        POUNCE_TEST_HOLD_STOP=str(hold),
        POUNCE_JSON_LOGS="true",
    )
    url = stack.start(module="tests.support.faulty_fsync")
    port = int(url.rsplit(":", 1)[1])
    proc = stack.procs[port]
    org = await seed_org(stack.database_url, origins=[url])
    visitor, welcome = await clients.visitor(url, org.site_key)
    acked = []
    for i in range(3):
        ack = await visitor.request({"type": "message", "id": f"ok-{i}", "body": f"kept {i}"})
        assert ack["type"] == "ack", ack
        acked.append((ack["seq"], f"kept {i}"))
    conversation_id = ack["conversation_id"]

    hold.touch()  # keep the failed server up while we look at it
    trigger.touch()  # the next fsync fails; the ones after it would succeed
    ids = ["lost-0", "lost-1", "lost-2"]
    for i, frame_id in enumerate(ids):  # back to back: the failing batch and what follows
        await visitor.send({"type": "message", "id": frame_id, "body": f"after {i}"})
    replies = await _replies(visitor, ids)
    assert sorted(replies) == ids
    assert all(r["type"] == "error" and r["code"] == "unavailable" for r in replies.values())
    assert not trigger.exists()  # the failure was injected once

    # Stopped for good: nothing more is acknowledged, readiness fails, REST writes 503.
    later = await visitor.request({"type": "message", "id": "later", "body": "later"})
    assert later["type"] == "error" and later["code"] == "unavailable", later
    ready = httpx.get(url + "/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": True, "writes": False}
    login = httpx.post(
        url + "/api/v1/session", json={"email": org.reps[0].email, "password": org.password}
    )
    assert login.status_code == 503 and login.json()["code"] == "unavailable"
    assert proc.poll() is None

    hold.unlink()  # now it stops, and exits non-zero for its supervisor to restart it
    assert await asyncio.to_thread(proc.wait, 60) == 1
    stack.procs.pop(port)
    await visitor.close()
    lines = [json.loads(line) for line in stack.log_tail(port).splitlines()]
    critical = [e["msg"] for e in lines if e["level"] == "CRITICAL"]
    assert critical and all("fsync of the SQLite WAL failed" in m for m in critical), lines

    # A restart recovers from the WAL: every acknowledged message is there, in order.
    url = stack.start()
    db = Database(stack.database_url)
    try:
        async with db.read() as conn:
            stored = await chat_store.messages_after(
                conn, org_id=org.id, conversation_id=conversation_id, after_seq=0
            )
            check = (await conn.exec_driver_sql("PRAGMA integrity_check")).scalar()
    finally:
        await db.dispose()
    assert check == "ok"
    assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
    kept = [(m.seq, m.body) for m in stored if m.author_kind is AuthorKind.VISITOR]
    assert kept[:3] == acked  # (the away message is among the seqs: nobody is online)
    # "after 0" was committed before its fsync failed and may survive; nothing after it
    assert [body for _, body in kept[3:]] in ([], ["after 0"])
    back, again = await clients.visitor(url, org.site_key, token=welcome["visitor_token"])
    assert again["conversation"]["id"] == conversation_id
    ack = await back.request({"type": "message", "body": "writes again"})
    assert ack["type"] == "ack" and ack["seq"] == len(stored) + 1
    await back.close()
