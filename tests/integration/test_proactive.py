"""Pounce and auto pounce over real sockets, in both modes: the greeting and the nudge, the
rep's countdown and its outcomes, re-routing a missed response, and the REST settings.

The test clients validate every frame against its schema, and the messenger's shapes
forbid `meta` and every other rep-only field: a leak fails the test that receives it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from pounce.store import chat as chat_store
from pounce.store import jobs as job_store
from pounce.store import proactive as proactive_store
from pounce.store.db import Database
from tests.integration.conftest import World
from tests.support import clients
from tests.support import proactive as setup
from tests.support.clients import Client
from tests.support.seed import Org, seed_org


async def _rep(url: str, org: Org, i: int) -> tuple[Client, dict[str, Any]]:
    cookie, _ = await clients.login(url, org.reps[i].email, org.password)
    return await clients.rep(url, cookie)


async def _switch_off(url: str, org: Org, i: int) -> None:
    async with await setup.session(url, org.reps[i].email, org.password) as http:
        res = await http.put("/api/v1/me/auto-pounce", json={"enabled": False})
        assert res.json() == {"enabled": False, "reason": "rep"}


async def _stored(database_url: str, org_id: str, conversation_id: str) -> dict[str, Any]:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            conv = await chat_store.get_conversation(
                conn, org_id=org_id, conversation_id=conversation_id
            )
            row = await proactive_store.get_pounce(
                conn, org_id=org_id, conversation_id=conversation_id
            )
            stream = await chat_store.messages_after(
                conn, org_id=org_id, conversation_id=conversation_id, after_seq=0
            )
            messages = [m for m in stream if not m.is_event]
            events = [m.kind for m in stream if m.is_event]
            pending = [
                j
                for j in await job_store.pending(conn, org_id=org_id)
                if j.payload.get("conversation_id") == conversation_id
            ]
            switches = await proactive_store.rep_switches(conn, org_id=org_id)
    finally:
        await db.dispose()
    assert conv is not None
    return {
        "conversation": conv,
        "pounce": row.pounce if row else None,
        "messages": messages,
        "events": events,
        "pending": pending,
        "switches": switches,
    }


def _no_meta_reached(visitor: Client) -> None:
    for frame in visitor.inbox:
        assert "meta" not in frame and "meta" not in (frame.get("message") or {}), frame


async def _greeted(visitor: Client, rep: Client) -> str:
    opened = await visitor.expect("conversation")
    conversation_id: str = opened["conversation"]["id"]
    await visitor.expect("message", lambda f: f["conversation_id"] == conversation_id)
    await rep.expect("message", lambda f: f["conversation_id"] == conversation_id)
    return conversation_id


async def test_greeting_nudge_alert_with_deadline_and_a_reply_in_time(world: World) -> None:
    org = world.org
    await setup.enable(world.url, org)
    alice, welcome = await _rep(world.url, org, 0)
    assert welcome["user"]["auto_pounce"] is False  # never Available before
    switched = await alice.expect("auto_pounce")
    assert switched == {
        "type": "auto_pounce",
        "enabled": True,
        "reason": "available",
        "conversation_id": None,
    }
    await alice.expect(
        "presence", lambda f: f["rep"]["id"] == org.reps[0].id and f["rep"]["auto_pounce"]
    )

    visitor, _ = await clients.visitor(world.url, org.site_key)
    opened = await visitor.expect("conversation")
    conversation_id = opened["conversation"]["id"]
    assert opened["conversation"]["owner"]["id"] == org.reps[0].id
    assert opened["conversation"]["status"] == "active"
    greeting = await visitor.expect("message", lambda f: f["seq"] == 1)
    first_name = org.reps[0].name.split()[0]
    assert greeting["author"] == {
        "kind": "rep",
        "id": org.reps[0].id,
        "name": org.reps[0].name,
        "avatar_url": None,
    }
    assert greeting["body"] == f"Hi there! I'm {first_name}. Questions about the demo?"
    marked = await alice.expect("message", lambda f: f["conversation_id"] == conversation_id)
    assert marked["meta"] == {"auto_pounce": True, "kind": "greeting", "source": "template"}
    as_rep = await alice.expect(
        "conversation", lambda f: f["conversation"]["id"] == conversation_id
    )
    assert as_rep["conversation"]["source"] == "auto_pounce"

    nudge = await visitor.expect("message", lambda f: f["seq"] == 2)
    assert nudge["author"]["id"] == org.reps[0].id
    nudged = await alice.expect("message", lambda f: f["seq"] == 2)
    assert nudged["meta"] == {"auto_pounce": True, "kind": "nudge", "source": "template"}

    sent_at = time.time()
    ack = await visitor.request({"type": "message", "body": "Yes: how much is it?"})
    assert ack["conversation_id"] == conversation_id and ack["seq"] == 3
    alert = await alice.expect("alert", lambda f: f["conversation"]["id"] == conversation_id)
    assert alert["message"]["body"] == "Yes: how much is it?"
    assert (sent_at - 1) * 1000 + 1500 <= alert["deadline"] <= (time.time() + 1) * 1000 + 1500

    # A console opened during the countdown shows it too.
    tab, welcome2 = await _rep(world.url, org, 0)
    pending = [a for a in welcome2["alerts"] if a["conversation"]["id"] == conversation_id]
    assert [a["deadline"] for a in pending] == [alert["deadline"]]
    assert welcome2["user"]["auto_pounce"] is True

    reply = await alice.request(
        {"type": "message", "conversation_id": conversation_id, "body": "From $10 a month."}
    )
    assert reply["type"] == "ack"
    assert (await visitor.expect("message", lambda f: f["seq"] == 4))["body"] == (
        "From $10 a month."
    )
    await alice.expect(
        "conversation",
        lambda f: (
            f["conversation"]["id"] == conversation_id and f["conversation"]["outcome"] == "replied"
        ),
    )
    # The reply cancelled the countdown in the transaction that set the outcome: no job
    # is left that could fire past the deadline.
    stored = await _stored(world.stack.database_url, org.id, conversation_id)
    assert stored["conversation"].outcome == "replied"
    assert stored["pounce"].outcome.value == "replied" and stored["pending"] == []
    assert not alice.drain("auto_pounce") and not tab.drain("auto_pounce")
    assert stored["switches"][org.reps[0].id] is True
    assert [m.author_kind.value for m in stored["messages"]] == ["rep", "rep", "visitor", "rep"]
    assert stored["events"] == ["outcome_set"]  # for reps only
    assert not [f for f in visitor.inbox if f["type"] == "event"]
    _no_meta_reached(visitor)
    for c in (visitor, alice, tab):
        await c.close()


async def test_a_missed_response_switches_the_rep_off_and_reroutes(world: World) -> None:
    org = world.org
    await setup.enable(world.url, org)
    alice, _ = await _rep(world.url, org, 0)
    bob, _ = await _rep(world.url, org, 1)
    await _switch_off(world.url, org, 1)  # only Alice pounces
    assert (await bob.expect("auto_pounce"))["reason"] == "available"
    off = await bob.expect("auto_pounce", lambda f: f["enabled"] is False)
    assert off["reason"] == "rep"

    visitor, _ = await clients.visitor(world.url, org.site_key)
    conversation_id = await _greeted(visitor, alice)
    await visitor.request({"type": "message", "body": "hello?"})
    await alice.expect("alert", lambda f: f["conversation"]["id"] == conversation_id)

    missed = await alice.expect("auto_pounce", lambda f: f["enabled"] is False, timeout=6)
    assert missed == {
        "type": "auto_pounce",
        "enabled": False,
        "reason": "missed_response",
        "conversation_id": conversation_id,
    }
    seen = await bob.expect(
        "presence",
        lambda f: f["rep"]["id"] == org.reps[0].id and f["rep"]["auto_pounce"] is False,
    )
    assert seen["rep"]["availability"] == "available"  # still there for inbound chats
    rerouted = await bob.expect("alert", lambda f: f["conversation"]["id"] == conversation_id)
    assert rerouted["routed_to"] == [org.reps[1].id] and rerouted.get("deadline") is None
    assert rerouted["conversation"]["owner"] is None
    assert rerouted["conversation"]["outcome"] == "missed_response"
    back = await visitor.expect(
        "conversation", lambda f: f["conversation"]["owner"] is None, timeout=2
    )
    assert back["conversation"]["status"] == "open"

    started = await bob.request({"type": "start_conversation", "conversation_id": conversation_id})
    assert started["type"] == "ack"
    too_late = await alice.request(
        {"type": "message", "conversation_id": conversation_id, "body": "sorry!"}
    )
    assert too_late["type"] == "error" and too_late["code"] == "not_owner"
    await bob.request({"type": "message", "conversation_id": conversation_id, "body": "Hi, Bob"})
    assert (await visitor.expect("message", lambda f: f["body"] == "Hi, Bob"))["author"][
        "name"
    ] == org.reps[1].name

    stored = await _stored(world.stack.database_url, org.id, conversation_id)
    assert stored["conversation"].outcome == "missed_response"
    assert stored["pounce"].outcome.value == "missed_response"
    assert stored["switches"][org.reps[0].id] is False
    async with await setup.session(world.url, org.reps[0].email, org.password) as http:
        assert (await http.get("/api/v1/me/auto-pounce")).json() == {
            "enabled": False,
            "reason": "missed_response",
        }
        report = (
            await http.get("/api/v1/reports/auto-pounce", params={"rep_id": org.reps[0].id})
        ).json()
    (row,) = report["items"]
    assert row["rep_id"] == org.reps[0].id and row["rep_name"] == org.reps[0].name
    assert (row["pounces_sent"], row["replies"], row["missed_responses"]) == (1, 1, 1)
    assert report["totals"]["missed_responses"] == 1
    _no_meta_reached(visitor)
    for c in (visitor, alice, bob):
        await c.close()


@pytest.mark.parametrize("outcome", ["spam", "no_response_needed"])
async def test_marking_spam_or_no_response_needed_stops_the_countdown(
    world: World, outcome: str
) -> None:
    org = world.org
    await setup.enable(world.url, org)
    alice, _ = await _rep(world.url, org, 0)
    bob, _ = await _rep(world.url, org, 1)
    await _switch_off(world.url, org, 1)
    visitor, _ = await clients.visitor(world.url, org.site_key)
    conversation_id = await _greeted(visitor, alice)
    await visitor.request({"type": "message", "body": "buy cheap watches"})
    await alice.expect("alert", lambda f: f["conversation"]["id"] == conversation_id)

    frame = {"type": "set_outcome", "conversation_id": conversation_id, "outcome": outcome}
    refused = await bob.request(frame)
    assert refused["type"] == "error" and refused["code"] == "not_owner"
    bad = await alice.request({**frame, "outcome": "missed_response"})
    assert bad["type"] == "error" and bad["code"] == "invalid"
    ack = await alice.request(frame)
    assert ack["type"] == "ack"
    assert ack["conversation"]["status"] == "closed" and ack["conversation"]["outcome"] == outcome
    closed = await visitor.expect("conversation", lambda f: f["conversation"]["status"] == "closed")
    assert closed["conversation"]["id"] == conversation_id
    again = await alice.request(frame)
    assert again["type"] == "error" and again["code"] == "closed"

    # Closing cancelled the countdown with it: no job is left to fire past the deadline.
    stored = await _stored(world.stack.database_url, org.id, conversation_id)
    assert stored["conversation"].outcome == outcome
    assert stored["pounce"].outcome.value == outcome and stored["pending"] == []
    assert not [f for f in alice.drain("auto_pounce") if f["enabled"] is False]
    assert not [f for f in bob.inbox if f.get("type") == "alert"]
    assert stored["switches"][org.reps[0].id] is True
    _no_meta_reached(visitor)
    for c in (visitor, alice, bob):
        await c.close()


async def test_manual_pounce(world: World) -> None:
    org = world.org  # auto pounce is off in this org: only the rep pounces
    alice, _ = await _rep(world.url, org, 0)
    bob, _ = await _rep(world.url, org, 1)
    visitor, welcome = await clients.visitor(world.url, org.site_key)
    visitor_id = welcome["visitor_id"]
    frame = {"type": "pounce", "id": "pounce-1", "visitor_id": visitor_id, "body": "**Hi!**"}
    await alice.send(frame)
    ack = await alice.expect_reply("pounce-1")
    assert ack["type"] == "ack" and ack["seq"] == 1
    conversation_id = ack["conversation_id"]
    assert ack["conversation"]["source"] == "pounce"
    assert ack["conversation"]["owner"]["id"] == org.reps[0].id
    assert ack["message"]["author"]["name"] == org.reps[0].name
    opened = await visitor.expect("conversation")
    assert opened["conversation"]["id"] == conversation_id
    got = await visitor.expect("message", lambda f: f["seq"] == 1)
    assert got["html"] == "<p><strong>Hi!</strong></p>" and got["author"]["id"] == org.reps[0].id
    assert (await bob.expect("conversation"))["conversation"]["owner"]["id"] == org.reps[0].id

    await alice.send(frame)  # a resend stores nothing new
    resent = await alice.expect_reply("pounce-1")
    assert resent["seq"] == 1 and resent["conversation_id"] == conversation_id
    taken = await bob.request({"type": "pounce", "visitor_id": visitor_id, "body": "me too"})
    assert taken["type"] == "error" and taken["code"] == "conflict"
    assert taken["conversation_id"] == conversation_id
    nobody = await bob.request({"type": "pounce", "visitor_id": "v_nope", "body": "hi"})
    assert nobody["type"] == "error" and nobody["code"] == "not_found"

    await visitor.request({"type": "message", "body": "Oh, hello"})
    answer = await alice.expect("message", lambda f: f["body"] == "Oh, hello")
    assert answer["conversation_id"] == conversation_id
    assert not [f for f in alice.inbox if f.get("type") == "alert"]  # an owned chat, no alert

    gone, gone_welcome = await clients.visitor(world.url, org.site_key)
    await gone.close()
    await asyncio.sleep(0.3)
    offline = await bob.request(
        {"type": "pounce", "visitor_id": gone_welcome["visitor_id"], "body": "hi"}
    )
    assert offline["type"] == "error" and offline["code"] == "not_found"
    stored = await _stored(world.stack.database_url, org.id, conversation_id)
    assert stored["conversation"].source.value == "pounce" and stored["pounce"] is None
    for c in (visitor, alice, bob):
        await c.close()


async def test_two_reps_pouncing_at_once_open_one_conversation(world: World) -> None:
    org = world.org
    alice, _ = await _rep(world.url, org, 0)
    bob, _ = await _rep(world.url, org, 1)
    wins: Counter[str] = Counter()
    for round_ in range(20):
        visitor, welcome = await clients.visitor(world.url, org.site_key)
        frame = {"type": "pounce", "visitor_id": welcome["visitor_id"], "body": "Hi!"}
        a_id, b_id = f"a-{round_}", f"b-{round_}"
        await asyncio.gather(alice.send({**frame, "id": a_id}), bob.send({**frame, "id": b_id}))
        replies = {"alice": await alice.expect_reply(a_id), "bob": await bob.expect_reply(b_id)}
        assert sorted(r["type"] for r in replies.values()) == ["ack", "error"], replies
        winner = next(name for name, r in replies.items() if r["type"] == "ack")
        loser = next(r for r in replies.values() if r["type"] == "error")
        assert loser["code"] == "conflict"
        assert loser["conversation_id"] == replies[winner]["conversation_id"]
        wins[winner] += 1
        await visitor.expect("conversation")
        await visitor.close()
        alice.drain()
        bob.drain()
    assert sum(wins.values()) == 20
    await alice.close()
    await bob.close()


async def test_no_auto_pounce_in_a_conversation_in_the_quiet_period_or_when_off(
    world: World,
) -> None:
    org = world.org
    await setup.enable(world.url, org, seconds_on_page=0.6)
    alice, _ = await _rep(world.url, org, 0)

    # Writing first: an inbound chat, no greeting on top of it.
    inbound, _ = await clients.visitor(world.url, org.site_key)
    ack = await inbound.request({"type": "message", "body": "I have a question"})
    await alice.expect("alert", lambda f: f["conversation"]["id"] == ack["conversation_id"])

    # Pounced once, closed as spam, then another page: the quiet period holds.
    quiet, _ = await clients.visitor(world.url, org.site_key)
    conversation_id = await _greeted(quiet, alice)
    await alice.request(
        {"type": "set_outcome", "conversation_id": conversation_id, "outcome": "spam"}
    )
    await quiet.expect("conversation", lambda f: f["conversation"]["status"] == "closed")
    page = await quiet.request({"type": "page_view", "url": world.url + "/demo/pricing"})
    assert page["type"] == "ack"

    # Alice switches auto pounce off: nobody is left to speak as.
    async with await setup.session(world.url, org.reps[0].email, org.password) as http:
        res = await http.put("/api/v1/me/auto-pounce", json={"enabled": False})
        assert res.json()["enabled"] is False
    off = await alice.expect("auto_pounce", lambda f: f["enabled"] is False)
    assert off["reason"] == "rep"
    ignored, _ = await clients.visitor(world.url, org.site_key)

    await asyncio.sleep(1.5)
    assert not [f for f in inbound.inbox if f.get("author", {}).get("kind") == "rep"]
    assert not quiet.drain("conversation") and not ignored.drain("conversation")
    assert not ignored.drain("message") and not quiet.drain("message")
    for c in (inbound, quiet, ignored, alice):
        await c.close()


async def test_switching_auto_pounce_on_counts_from_the_next_page_view(world: World) -> None:
    """The node caches an org's settings for page views; saving them forgets that at once."""
    org = world.org
    early, _ = await clients.visitor(world.url, org.site_key)  # read while still off
    await setup.enable(world.url, org, seconds_on_page=0.3)
    alice, _ = await _rep(world.url, org, 0)
    page = await early.request({"type": "page_view", "url": world.url + "/demo/pricing"})
    assert page["type"] == "ack"
    await _greeted(early, alice)
    for c in (early, alice):
        await c.close()


async def test_settings_rules_templates_and_the_report_over_rest(world: World) -> None:
    org = world.org
    async with await setup.session(world.url, org.reps[0].email, org.password) as rep:
        defaults = (await rep.get("/api/v1/proactive/settings")).json()
        assert defaults == {
            "auto_pounce_enabled": False,
            "nudge_delay_seconds": 30.0,
            "quiet_period_hours": 24.0,
            "max_open_chats_per_rep": 3,
            "rep_timeout_seconds": 60.0,
            "nudge_template": defaults["nudge_template"],
        }
        for method, path, body in [
            ("PUT", "/api/v1/proactive/settings", {"auto_pounce_enabled": True}),
            ("POST", "/api/v1/proactive/rules", {"name": "r"}),
            ("POST", "/api/v1/proactive/templates", {"name": "t", "body": "Hi"}),
        ]:
            res = await rep.request(method, path, json=body)
            assert res.status_code == 403, (path, res.text)
    async with await setup.session(world.url, org.admin.email, org.password) as admin:
        saved = await admin.put(
            "/api/v1/proactive/settings", json={"rep_timeout_seconds": 45, "nudge_template": "Hey"}
        )
        assert saved.json()["rep_timeout_seconds"] == 45.0
        assert saved.json()["nudge_template"] == "Hey"
        assert saved.json()["auto_pounce_enabled"] is False  # untouched
        for body in (
            {"rep_timeout_seconds": 0},
            {"max_open_chats_per_rep": -1},
            {"surprise": 1},
            {"nudge_template": ""},
        ):
            assert (await admin.put("/api/v1/proactive/settings", json=body)).status_code == 422
        rule = (
            await admin.post(
                "/api/v1/proactive/rules",
                json={
                    "name": "Pricing",
                    "url_pattern": "/pricing*",
                    "min_seconds_on_page": 20,
                    "min_pages_viewed": 2,
                    "attributes": {"plan": "enterprise"},
                },
            )
        ).json()
        assert rule["enabled"] is True and rule["position"] == 1
        patched = await admin.patch(
            f"/api/v1/proactive/rules/{rule['id']}", json={"min_seconds_on_page": 5.5}
        )
        assert patched.json()["min_seconds_on_page"] == 5.5
        assert (
            await admin.patch(f"/api/v1/proactive/rules/{rule['id']}", json={})
        ).status_code == 422
        template = (
            await admin.post(
                "/api/v1/proactive/templates",
                json={"name": "Pricing", "url_pattern": "/pricing*", "body": "Plans?"},
            )
        ).json()
        edited = await admin.patch(
            f"/api/v1/proactive/templates/{template['id']}", json={"body": "Which plan?"}
        )
        assert edited.json()["body"] == "Which plan?"
        listed = (await admin.get("/api/v1/proactive/templates")).json()["items"]
        assert [t["id"] for t in listed] == [template["id"]]
        assert (await admin.delete(f"/api/v1/proactive/rules/{rule['id']}")).status_code == 204
        assert (await admin.delete(f"/api/v1/proactive/rules/{rule['id']}")).status_code == 404
        assert (await admin.get("/api/v1/proactive/rules")).json()["items"] == []
        report = await admin.get(
            "/api/v1/reports/auto-pounce", params={"from": "2026-01-01", "to": "2026-01-31"}
        )
        assert report.json() == {
            "from": "2026-01-01",
            "to": "2026-01-31",
            "rep_id": None,
            "items": [],
            "totals": {
                "pounces_sent": 0,
                "replies": 0,
                "response_seconds_median": None,
                "replied": 0,
                "missed_responses": 0,
                "spam": 0,
                "no_response_needed": 0,
            },
        }
        backwards = await admin.get(
            "/api/v1/reports/auto-pounce", params={"from": "2026-02-01", "to": "2026-01-01"}
        )
        assert backwards.status_code == 422
        assert (
            await admin.get("/api/v1/reports/auto-pounce", params={"from": "yesterday"})
        ).status_code == 422


async def test_the_rep_timeout_fires_exactly_once_across_three_processes(  # type: ignore[no-untyped-def]
    fresh_stack,
) -> None:
    stack = fresh_stack("scaleout")
    p1, p2, p3 = stack.start(), stack.start(), stack.start()
    org = await seed_org(stack.database_url, origins=[p1, p2, p3])
    await setup.enable(p1, org)
    alice, _ = await _rep(p2, org, 0)
    assert (await alice.expect("auto_pounce"))["reason"] == "available"
    bob, _ = await _rep(p3, org, 1)
    await _switch_off(p3, org, 1)
    visitors = []
    for url in (p1, p2, p3):
        visitor, _ = await clients.visitor(url, org.site_key)
        visitors.append(visitor)
    conversations = [await _greeted(v, alice) for v in visitors]
    assert len(set(conversations)) == 3
    for visitor in visitors:
        await visitor.request({"type": "message", "body": "still there?"})
    stack.kill(int(p1.rsplit(":", 1)[1]))  # the timers do not live in any one process

    for conversation_id in conversations:
        await alice.expect(
            "auto_pounce", lambda f, c=conversation_id: f["conversation_id"] == c, timeout=8
        )
        await bob.expect("alert", lambda f, c=conversation_id: f["conversation"]["id"] == c)
    await asyncio.sleep(2.5)  # any duplicate would have arrived by now
    assert not alice.drain("auto_pounce")
    assert not [f for f in bob.inbox if f.get("type") == "alert"]
    for conversation_id in conversations:
        stored = await _stored(stack.database_url, org.id, conversation_id)
        assert stored["conversation"].outcome == "missed_response"
        assert stored["conversation"].routed_to == (org.reps[1].id,)
        assert stored["pounce"].outcome.value == "missed_response" and stored["pending"] == []
        kinds = [(m.author_kind.value, (m.meta or {}).get("kind")) for m in stored["messages"]]
        assert kinds.count(("rep", "greeting")) == 1 and kinds.count(("rep", "nudge")) <= 1
    async with await setup.session(p2, org.admin.email, org.password) as admin:
        totals = (await admin.get("/api/v1/reports/auto-pounce")).json()["totals"]
    assert (totals["pounces_sent"], totals["missed_responses"]) == (3, 3)
    for c in (*visitors, alice, bob):
        await c.close()
