"""Pounce and auto pounce: the greeting and the nudge, the rep's countdown and its outcomes,
re-routing a missed response, and the REST settings.

The behaviour runs in-process (tests/support/harness.py) on the hand-moved clock: a timer
fires when the test advances the clock and runs the due jobs, and an absence ("nothing
fires past the deadline") is checked after doing that past the deadline and a barrier.
Real `pounce serve` processes, in both modes, keep what needs them: the greeting over the
real wire, two reps pouncing at once on the real store (PostgreSQL's row locks), and the
rep timeout firing exactly once across three processes.

Both kinds of test socket validate every frame against its schema, and the messenger's
shapes forbid `meta` and every other rep-only field: a leak fails the test."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from pounce.store import chat as chat_store
from pounce.store import jobs as job_store
from pounce.store import proactive as proactive_store
from pounce.store.db import Database
from tests.integration.conftest import World
from tests.support import clients
from tests.support import proactive as setup
from tests.support.clients import Client
from tests.support.harness import Harness, MemorySocket, harness
from tests.support.seed import Org, seed_org

NUDGE = setup.FAST["nudge_delay_seconds"]
REP_TIMEOUT = setup.FAST["rep_timeout_seconds"]
ON_PAGE = 0.3  # the rule's seconds on page (`setup.enable`)
# Timers are stepped over by a moment: at epoch magnitudes, 0.3 s after a stamp is not
# exactly 0.3 s in floats, and a greeting re-checks its time on page when it runs.
PAST = 0.05


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        yield made


async def _enable(h: Harness, *, seconds_on_page: float = ON_PAGE) -> None:
    async with h.http(-1) as admin:
        await setup.configure(admin, seconds_on_page=seconds_on_page)


async def _switch_rep_off(h: Harness, i: int) -> None:
    async with h.http(i) as http:
        res = await http.put("/api/v1/me/auto-pounce", json={"enabled": False})
        assert res.json() == {"enabled": False, "reason": "rep"}


async def _on_demo_page(h: Harness, n: int) -> MemorySocket:
    """A visitor on a page the auto pounce rule targets."""
    visitor, _ = await h.visitor(page="/demo/", client=f"127.0.1.{n}")
    return visitor


async def _later(h: Harness, seconds: float, *barriers: MemorySocket) -> None:
    """Move the clock, run the jobs due by then, and wait until every socket named has
    handled what that sent it."""
    h.clock.advance(seconds)
    await h.run_due()
    for sock in barriers:
        await sock.barrier()


async def _stored(db: Database, org_id: str, conversation_id: str) -> dict[str, Any]:
    async with db.read() as conn:
        conv = await chat_store.get_conversation(
            conn, org_id=org_id, conversation_id=conversation_id
        )
        row = await proactive_store.get_pounce(conn, org_id=org_id, conversation_id=conversation_id)
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
    assert conv is not None
    return {
        "conversation": conv,
        "pounce": row.pounce if row else None,
        "messages": messages,
        "events": events,
        "pending": pending,
        "switches": switches,
    }


async def _stored_at(database_url: str, org_id: str, conversation_id: str) -> dict[str, Any]:
    db = Database(database_url)
    try:
        return await _stored(db, org_id, conversation_id)
    finally:
        await db.dispose()


def _no_meta_reached(visitor: MemorySocket | Client) -> None:
    """Every frame the visitor was sent (those the test consumed too) kept its schema and
    carried no `meta`."""
    if isinstance(visitor, MemorySocket):
        assert not visitor.invalid, visitor.invalid
        frames = [orjson.loads(raw) for raw in visitor.raw]
    else:
        frames = visitor.inbox
    for frame in frames:
        assert "meta" not in frame and "meta" not in (frame.get("message") or {}), frame


async def _greeted(visitor: MemorySocket | Client, rep: MemorySocket | Client) -> str:
    opened = await visitor.expect("conversation")
    conversation_id: str = opened["conversation"]["id"]
    await visitor.expect("message", lambda f: f["conversation_id"] == conversation_id)
    await rep.expect("message", lambda f: f["conversation_id"] == conversation_id)
    return conversation_id


async def _greeted_after_time_on_page(h: Harness, visitor: MemorySocket, rep: MemorySocket) -> str:
    await _later(h, ON_PAGE + PAST)
    return await _greeted(visitor, rep)


# --------------------------------------------------------------------------- in-process


async def test_greeting_nudge_alert_with_deadline_and_a_reply_in_time(h: Harness) -> None:
    org = h.org
    await _enable(h)
    alice, welcome = await h.rep(0)
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

    visitor = await _on_demo_page(h, 1)
    await _later(h, ON_PAGE - PAST, visitor)  # not yet on the page long enough
    assert not visitor.drain("conversation") and not visitor.drain("message")
    await _later(h, 2 * PAST)
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

    await _later(h, NUDGE + PAST)
    nudge = await visitor.expect("message", lambda f: f["seq"] == 2)
    assert nudge["author"]["id"] == org.reps[0].id
    nudged = await alice.expect("message", lambda f: f["seq"] == 2)
    assert nudged["meta"] == {"auto_pounce": True, "kind": "nudge", "source": "template"}

    replied_at = h.clock.now
    ack = await visitor.request({"type": "message", "body": "Yes: how much is it?"})
    assert ack["conversation_id"] == conversation_id and ack["seq"] == 3
    alert = await alice.expect("alert", lambda f: f["conversation"]["id"] == conversation_id)
    assert alert["message"]["body"] == "Yes: how much is it?"
    assert alert["deadline"] == round((replied_at + REP_TIMEOUT) * 1000)  # the clock's

    # A console opened during the countdown shows it too.
    tab, welcome2 = await h.rep(0)
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
    await _later(h, REP_TIMEOUT + 0.5, alice, tab)  # past the deadline: nothing fires any more
    assert not alice.drain("auto_pounce") and not tab.drain("auto_pounce")
    stored = await _stored(h.rt.db, org.id, conversation_id)
    assert stored["conversation"].outcome == "replied"
    assert stored["pounce"].outcome.value == "replied" and stored["pending"] == []
    assert stored["switches"][org.reps[0].id] is True
    assert [m.author_kind.value for m in stored["messages"]] == ["rep", "rep", "visitor", "rep"]
    assert stored["events"] == ["outcome_set"]  # for reps only
    await visitor.barrier()
    assert not [f for f in map(orjson.loads, visitor.raw) if f["type"] == "event"]
    _no_meta_reached(visitor)


async def test_a_missed_response_switches_the_rep_off_and_reroutes(h: Harness) -> None:
    org = h.org
    await _enable(h)
    alice, _ = await h.rep(0)
    assert (await alice.expect("auto_pounce"))["reason"] == "available"
    bob, _ = await h.rep(1)
    await _switch_rep_off(h, 1)  # only Alice pounces
    assert (await bob.expect("auto_pounce"))["reason"] == "available"
    off = await bob.expect("auto_pounce", lambda f: f["enabled"] is False)
    assert off["reason"] == "rep"

    visitor = await _on_demo_page(h, 1)
    conversation_id = await _greeted_after_time_on_page(h, visitor, alice)
    await visitor.request({"type": "message", "body": "hello?"})
    await alice.expect("alert", lambda f: f["conversation"]["id"] == conversation_id)

    await _later(h, REP_TIMEOUT - PAST, alice, bob, visitor)  # not yet: nothing fires
    assert not alice.drain("auto_pounce") and not bob.drain("alert")
    await _later(h, 2 * PAST)  # the deadline passes
    missed = await alice.expect("auto_pounce", lambda f: f["enabled"] is False)
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
    back = await visitor.expect("conversation", lambda f: f["conversation"]["owner"] is None)
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

    stored = await _stored(h.rt.db, org.id, conversation_id)
    assert stored["conversation"].outcome == "missed_response"
    assert stored["pounce"].outcome.value == "missed_response"
    assert stored["switches"][org.reps[0].id] is False
    async with h.http(0) as http:
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


@pytest.mark.parametrize("outcome", ["spam", "no_response_needed"])
async def test_marking_spam_or_no_response_needed_stops_the_countdown(
    h: Harness, outcome: str
) -> None:
    org = h.org
    await _enable(h)
    alice, _ = await h.rep(0)
    bob, _ = await h.rep(1)
    await _switch_rep_off(h, 1)
    visitor = await _on_demo_page(h, 1)
    conversation_id = await _greeted_after_time_on_page(h, visitor, alice)
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

    await _later(h, REP_TIMEOUT + 0.5, alice, bob)  # past the deadline
    assert not [f for f in alice.drain("auto_pounce") if f["enabled"] is False]
    assert not [f for f in bob.inbox if f.get("type") == "alert"]
    stored = await _stored(h.rt.db, org.id, conversation_id)
    assert stored["conversation"].outcome == outcome
    assert stored["pounce"].outcome.value == outcome and stored["pending"] == []
    assert stored["switches"][org.reps[0].id] is True
    _no_meta_reached(visitor)


async def test_manual_pounce(h: Harness) -> None:
    org = h.org  # auto pounce is off in this org: only the rep pounces
    alice, _ = await h.rep(0)
    bob, _ = await h.rep(1)
    visitor, welcome = await h.visitor(client="127.0.1.1")
    visitor_id = welcome["visitor_id"]
    frame = {"type": "pounce", "id": "pounce-1", "visitor_id": visitor_id, "body": "**Hi!**"}
    await alice.send_json(frame)
    ack = await alice.expect_any(("ack", "error"), lambda f: f.get("id") == "pounce-1")
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

    await alice.send_json(frame)  # a resend stores nothing new
    resent = await alice.expect_any(("ack", "error"), lambda f: f.get("id") == "pounce-1")
    assert resent["seq"] == 1 and resent["conversation_id"] == conversation_id
    taken = await bob.request({"type": "pounce", "visitor_id": visitor_id, "body": "me too"})
    assert taken["type"] == "error" and taken["code"] == "conflict"
    assert taken["conversation_id"] == conversation_id
    nobody = await bob.request({"type": "pounce", "visitor_id": "v_nope", "body": "hi"})
    assert nobody["type"] == "error" and nobody["code"] == "not_found"

    await visitor.request({"type": "message", "body": "Oh, hello"})
    answer = await alice.expect("message", lambda f: f["body"] == "Oh, hello")
    assert answer["conversation_id"] == conversation_id
    await alice.barrier()
    assert not [f for f in alice.inbox if f.get("type") == "alert"]  # an owned chat, no alert

    gone, gone_welcome = await h.visitor(client="127.0.1.2")
    await gone.disconnect()
    offline = await bob.request(
        {"type": "pounce", "visitor_id": gone_welcome["visitor_id"], "body": "hi"}
    )
    assert offline["type"] == "error" and offline["code"] == "not_found"
    stored = await _stored(h.rt.db, org.id, conversation_id)
    assert stored["conversation"].source.value == "pounce" and stored["pounce"] is None
    _no_meta_reached(visitor)


async def test_no_auto_pounce_in_a_conversation_in_the_quiet_period_or_when_off(
    h: Harness,
) -> None:
    await _enable(h, seconds_on_page=0.6)
    alice, _ = await h.rep(0)

    # Writing first: an inbound chat, no greeting on top of it.
    inbound = await _on_demo_page(h, 1)
    ack = await inbound.request({"type": "message", "body": "I have a question"})
    await alice.expect("alert", lambda f: f["conversation"]["id"] == ack["conversation_id"])

    # Pounced once, closed as spam, then another page: the quiet period holds.
    quiet = await _on_demo_page(h, 2)
    await _later(h, 0.6 + PAST)
    conversation_id = await _greeted(quiet, alice)
    await alice.request(
        {"type": "set_outcome", "conversation_id": conversation_id, "outcome": "spam"}
    )
    await quiet.expect("conversation", lambda f: f["conversation"]["status"] == "closed")
    page = await quiet.request({"type": "page_view", "url": "http://pounce.test/demo/pricing"})
    assert page["type"] == "ack"
    await _later(h, 0.6 + PAST, quiet, alice)  # Alice is still there to speak as
    assert not quiet.drain("conversation") and not quiet.drain("message")

    # Alice switches auto pounce off: nobody is left to speak as.
    async with h.http(0) as http:
        res = await http.put("/api/v1/me/auto-pounce", json={"enabled": False})
        assert res.json()["enabled"] is False
    off = await alice.expect("auto_pounce", lambda f: f["enabled"] is False)
    assert off["reason"] == "rep"
    ignored = await _on_demo_page(h, 3)

    await _later(h, 1.5, inbound, quiet, ignored, alice)  # past every greeting's time on page
    assert not [
        f for f in map(orjson.loads, inbound.raw) if f.get("author", {}).get("kind") == "rep"
    ]
    assert not quiet.drain("conversation") and not ignored.drain("conversation")
    assert not ignored.drain("message") and not quiet.drain("message")


async def test_the_time_on_page_is_measured_on_the_runtimes_clock(h: Harness) -> None:
    """Page views are stamped on the runtime's clock, which the greeting re-checks the time
    on page against: with that clock an hour behind the wall clock, it still greets."""
    h.clock.now = time.time() - 3600
    await _enable(h)
    alice, _ = await h.rep(0)
    visitor = await _on_demo_page(h, 1)
    await _greeted_after_time_on_page(h, visitor, alice)


async def test_switching_auto_pounce_on_counts_from_the_next_page_view(h: Harness) -> None:
    """The node caches an org's settings for page views; saving them forgets that at once."""
    early = await _on_demo_page(h, 1)  # read while still off
    await _enable(h)
    alice, _ = await h.rep(0)
    page = await early.request({"type": "page_view", "url": "http://pounce.test/demo/pricing"})
    assert page["type"] == "ack"
    await _greeted_after_time_on_page(h, early, alice)


async def test_settings_rules_templates_and_the_report_over_rest(h: Harness) -> None:
    async with h.http(0) as rep:
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
    async with h.http(-1) as admin:
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


# --------------------------------------------------------------------------- processes


async def _rep(url: str, org: Org, i: int) -> tuple[Client, dict[str, Any]]:
    cookie, _ = await clients.login(url, org.reps[i].email, org.password)
    return await clients.rep(url, cookie)


async def _switch_off(url: str, org: Org, i: int) -> None:
    async with await setup.session(url, org.reps[i].email, org.password) as http:
        res = await http.put("/api/v1/me/auto-pounce", json={"enabled": False})
        assert res.json() == {"enabled": False, "reason": "rep"}


async def test_the_greeting_reaches_the_visitor_over_the_wire(world: World) -> None:
    org = world.org
    await setup.enable(world.url, org)
    alice, _ = await _rep(world.url, org, 0)
    visitor, _ = await clients.visitor(world.url, org.site_key)
    opened = await visitor.expect("conversation")
    conversation_id = opened["conversation"]["id"]
    assert opened["conversation"]["owner"]["id"] == org.reps[0].id
    greeting = await visitor.expect("message", lambda f: f["seq"] == 1)
    first_name = org.reps[0].name.split()[0]
    assert greeting["body"] == f"Hi there! I'm {first_name}. Questions about the demo?"
    marked = await alice.expect("message", lambda f: f["conversation_id"] == conversation_id)
    assert marked["meta"] == {"auto_pounce": True, "kind": "greeting", "source": "template"}
    _no_meta_reached(visitor)
    for c in (visitor, alice):
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


def _in(conversation_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: bool(f["conversation_id"] == conversation_id)


def _about(conversation_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: bool(f["conversation"]["id"] == conversation_id)


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
        await alice.expect("auto_pounce", _in(conversation_id), timeout=8)
        await bob.expect("alert", _about(conversation_id))
    await asyncio.sleep(2.5)  # any duplicate would have arrived by now
    assert not alice.drain("auto_pounce")
    assert not [f for f in bob.inbox if f.get("type") == "alert"]
    for conversation_id in conversations:
        stored = await _stored_at(stack.database_url, org.id, conversation_id)
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
