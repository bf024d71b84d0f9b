"""Visitor 360 over the console socket: a fixed number of queries, scoped to the rep's
org, and kept live by the frames reps already get (in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from pounce.realtime.frames import CONSOLE
from pounce.services import auth
from pounce.store import tables
from tests.support.harness import ORIGIN, Frame, Harness, MemorySocket, counting, harness
from tests.support.seed import seed_org


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        yield made


async def ask(rep: MemorySocket, visitor_id: str) -> Frame:
    frame_id = f"p-{visitor_id}-{len(rep.inbox)}"
    await rep.send_json({"type": "visitor_profile", "id": frame_id, "visitor_id": visitor_id})
    return await rep.expect_any(("visitor_profile", "error"), lambda f: f.get("id") == frame_id)


async def converse(h: Harness, rep: MemorySocket, visitor: MemorySocket, body: str) -> str:
    """A conversation the visitor opens and the rep starts and closes."""
    ack = await visitor.request({"type": "message", "body": body})
    cid = str(ack["conversation_id"])
    assert (await rep.request({"type": "start_conversation", "conversation_id": cid}))[
        "type"
    ] == "ack"
    assert (await rep.request({"type": "close_conversation", "conversation_id": cid}))[
        "type"
    ] == "ack"
    return cid


async def test_the_profile_costs_the_same_for_one_page_or_many(h: Harness) -> None:
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor()
    me = welcome["visitor_id"]
    await converse(h, rep, visitor, "first question")
    with counting(h) as statements:
        one = await ask(rep, me)
    few = len(statements)
    async with h.rt.db.write() as conn:  # more than a socket's frame budget allows at once
        stamp = h.rt.now()  # page views are stamped on the runtime's clock
        await conn.execute(
            insert(tables.page_views),
            [
                {
                    "org_id": h.org.id,
                    "visitor_id": me,
                    "url": f"{ORIGIN}/p/{i}",
                    "title": f"P{i}",
                    "viewed_at": stamp + timedelta(seconds=i),
                }
                for i in range(60)
            ],
        )
    for i in range(3):
        await converse(h, rep, visitor, f"question {i}")
    await visitor.request({"type": "message", "body": "still here"})  # open, unowned
    with counting(h) as statements:
        many = await ask(rep, me)
    assert len(statements) == few, (few, len(statements))
    assert len(one["profile"]["pages"]) == 1 and len(one["profile"]["conversations"]) == 1
    profile = many["profile"]
    assert len(profile["pages"]) == 50 and profile["more_pages"] is True
    assert profile["pages"][0]["url"] == f"{ORIGIN}/p/59"  # newest first
    assert [p["viewed_at"] for p in profile["pages"]] == sorted(
        (p["viewed_at"] for p in profile["pages"]), reverse=True
    )
    assert len(profile["conversations"]) == 5
    assert profile["conversations"][0]["status"] == "open"
    assert profile["conversations"][1]["owner"]["name"] == h.org.reps[0].name
    assert profile["visitor"]["online"] is True


async def test_the_owner_is_the_current_conversations(h: Harness) -> None:
    rep, welcome_rep = await h.rep(0)
    visitor, welcome = await h.visitor()
    ack = await visitor.request({"type": "message", "body": "hi"})
    await rep.request({"type": "start_conversation", "conversation_id": ack["conversation_id"]})
    got = await ask(rep, welcome["visitor_id"])
    assert got["profile"]["owner"]["id"] == welcome_rep["user"]["id"]


async def test_a_rep_of_another_org_gets_not_found(h: Harness, tmp_path: Path) -> None:
    _visitor, welcome = await h.visitor()
    other = await seed_org(h.rt.settings.database_url, origins=[ORIGIN])
    person = other.reps[0]
    session = await auth.login(
        h.rt, email=person.email, password=other.password, client_ip="127.0.0.1"
    )
    public = h.rt.settings.resolved_public_url()
    sock = await h._open(
        "/ws/console",
        CONSOLE,
        headers={
            "origin": public,
            "host": public.split("://", 1)[1],
            "cookie": f"{auth.SESSION_COOKIE}={session.token}",
        },
    )
    await sock.send_json({"type": "hello", "v": 1})
    await sock.expect("welcome")
    got = await ask(sock, welcome["visitor_id"])
    assert got["type"] == "error" and got["code"] == "not_found"


async def test_page_views_and_identity_reach_the_reps_live(h: Harness) -> None:
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor()
    me = welcome["visitor_id"]
    await ask(rep, me)
    await visitor.request({"type": "page_view", "url": f"{ORIGIN}/docs", "title": "Docs"})
    update = await rep.expect(
        "visitor", lambda f: (f["visitor"]["current_page"] or {}).get("title") == "Docs"
    )
    assert update["visitor"]["id"] == me and update["visitor"]["pages_viewed"] == 2
    await visitor.request({"type": "identify", "name": "Ann"})
    pushed = await rep.expect("visitor_identity", lambda f: me in f["visitor_ids"])
    assert pushed["identity"] == [
        {
            "field": "name",
            "value": "Ann",
            "provenance": "visitor",
            "source": "identify",
            "updated_at": pushed["identity"][0]["updated_at"],
        }
    ]
    await visitor.disconnect()
    got = await ask(rep, me)
    assert got["profile"]["visitor"]["online"] is False
    assert got["profile"]["visitor"]["name"] == "Ann"
