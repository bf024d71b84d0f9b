"""Leads never stranded (in-process): the Waiting list, alerts when a rep becomes
available (routing respected, a fixed number of statements), and answering by email
(a real SMTP server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pounce.domain.model import Actor, Audience, AuthorKind, Role
from pounce.integrations.mail import SmtpMailer
from pounce.services import leads, outbox
from pounce.services.errors import ServiceError
from pounce.store import chat
from tests.support.harness import Harness, MemorySocket, counting, harness
from tests.support.seed import seed_org
from tests.support.smtp import Inbox, parts, smtp_server


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        yield made


def _rep(h: Harness, index: int = 0) -> Actor:
    return Actor(user_id=h.org.reps[index].id, org_id=h.org.id, role=Role.REP)


async def _lead(
    h: Harness, n: int, *, email: str | None = None, body: str = "question"
) -> tuple[MemorySocket, str]:
    """A visitor asks while every rep is away (they get the away message), maybe
    leaving an email."""
    visitor, _ = await h.visitor(client=f"127.0.1.{n}")
    ack = await visitor.request({"type": "message", "body": body})
    assert ack["type"] == "ack", ack
    await visitor.expect("away")
    if email is not None:
        left = await visitor.request({"type": "leave_email", "email": email})
        assert left["type"] == "ack", left
    return visitor, str(ack["conversation_id"])


async def _available(sock: MemorySocket) -> None:
    reply = await sock.request({"type": "availability", "status": "available"})
    assert reply["type"] == "ack" and reply["status"] == "available", reply


async def _away(sock: MemorySocket) -> None:
    reply = await sock.request({"type": "availability", "status": "away"})
    assert reply["type"] == "ack", reply


async def test_the_waiting_list_is_oldest_first_with_identity_and_scoped_by_org(
    h: Harness, tmp_path: Path
) -> None:
    _first, c1 = await _lead(h, 1, email="ann@example.com", body="Do you ship to Oslo?")
    h.clock.advance(5)
    _second, c2 = await _lead(h, 2, body="Price for 10 seats?")
    # Another org on the same store has its own waiting conversation.
    other = await seed_org(f"sqlite+aiosqlite:///{tmp_path / 'pounce.db'}", origins=[])
    assert other.id != h.org.id

    items = await leads.waiting(h.rt, org_id=h.org.id)
    assert [w.conversation.id for w in items] == [c1, c2]
    # Over REST, the anonymous one is named as the console names it everywhere else.
    async with h.http(0) as http:
        listed = (await http.get("/api/v1/waiting")).json()["items"]
    anon = items[1].visitor.id.removeprefix("v_")[-6:]
    assert [i["visitor_name"] for i in listed] == ["ann@example.com", f"Visitor #{anon}"]
    assert items[0].visitor.email == "ann@example.com"
    assert items[0].question is not None and items[0].question.body == "Do you ship to Oslo?"
    assert items[1].visitor.email is None and items[0].online
    assert await leads.waiting(h.rt, org_id=other.id) == []

    # Started by a rep: no longer waiting.
    rep, _ = await h.rep(0)
    started = await rep.request({"type": "start_conversation", "conversation_id": c1})
    assert started["type"] == "ack", started
    assert [w.conversation.id for w in await leads.waiting(h.rt, org_id=h.org.id)] == [c2]


async def test_becoming_available_alerts_the_routed_reps_to_waiting_leads(h: Harness) -> None:
    rep, welcome = await h.rep(0, available=False)
    admin, _ = await h.rep(-1, available=False)  # the routing rule names the reps only
    assert welcome["alerts"] == []
    _visitor, cid = await _lead(h, 1, email="ann@example.com", body="Anyone there?")
    assert rep.drain("alert") == []

    await _available(rep)
    alert = await rep.expect("alert")
    assert alert["conversation"]["id"] == cid
    assert alert["message"]["body"] == "Anyone there?"
    assert alert["visitor"]["email"] == "ann@example.com"

    await _available(admin)
    await admin.barrier()
    assert admin.drain("alert") == []  # routing respected: the rule does not name the admin

    # Saying Available again alerts nobody twice.
    await _available(rep)
    await rep.barrier()
    assert rep.drain("alert") == []

    # A console that connects while Available starts with the waiting lead in its alerts.
    await rep.disconnect()
    _again, welcome = await h.rep(0, available=False)
    assert [a["conversation"]["id"] for a in welcome["alerts"]] == [cid]


async def test_a_rep_alerted_on_becoming_available_gets_the_visitors_next_message_live(
    h: Harness,
) -> None:
    rep, _ = await h.rep(0, available=False)
    other, _ = await h.rep(1, available=False)
    visitor, cid = await _lead(h, 1, body="Anyone there?")

    await _available(rep)
    alert = await rep.expect("alert")
    assert alert["conversation"]["id"] == cid
    assert alert["routed_to"] == [h.org.reps[0].id]
    await _available(other)
    assert (await other.expect("alert"))["routed_to"] == [h.org.reps[0].id, h.org.reps[1].id]
    async with h.rt.db.read() as conn:
        conv = await chat.get_conversation(conn, org_id=h.org.id, conversation_id=cid)
    assert conv is not None and conv.routed_to == (h.org.reps[0].id, h.org.reps[1].id)

    # The visitor writes again: both alerted reps see it live, before anyone starts it.
    sent = await visitor.request({"type": "message", "body": "Still here?"})
    assert sent["type"] == "ack", sent
    for sock in (rep, other):
        live = await sock.expect("message", lambda f: f["body"] == "Still here?")
        assert live["conversation_id"] == cid

    # Away and Available again alerts once more but routes the rep only once.
    await _away(rep)
    await _available(rep)
    assert (await rep.expect("alert"))["routed_to"] == [h.org.reps[0].id, h.org.reps[1].id]


async def test_a_console_that_connects_while_available_gets_the_next_message_live(
    h: Harness,
) -> None:
    rep, _ = await h.rep(0)  # Available, then the console closes: routing skips them
    await rep.disconnect()
    visitor, cid = await _lead(h, 1, body="Anyone there?")

    rep, welcome = await h.rep(0, available=False)
    [alert] = welcome["alerts"]
    assert alert["conversation"]["id"] == cid and alert["routed_to"] == [h.org.reps[0].id]
    sent = await visitor.request({"type": "message", "body": "Still here?"})
    assert sent["type"] == "ack", sent
    live = await rep.expect("message", lambda f: f["body"] == "Still here?")
    assert live["conversation_id"] == cid


async def test_alerts_on_becoming_available_cost_the_same_for_one_lead_or_twelve(
    h: Harness,
) -> None:
    rep, _ = await h.rep(0, available=False)

    async def statements_to_become_available(expected: int) -> int:
        with counting(h) as statements:
            await _available(rep)
            alerts = [await rep.expect("alert") for _ in range(expected)]
        assert len({a["conversation"]["id"] for a in alerts}) == expected
        await _away(rep)
        return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

    await _available(rep)  # the first time also switches auto pounce on (a write)
    await _away(rep)
    await _lead(h, 1)
    one = await statements_to_become_available(1)
    for n in range(2, 13):
        await _lead(h, n)
    twelve = await statements_to_become_available(12)
    assert twelve == one, f"{one} statements for one lead, {twelve} for twelve"


async def test_an_email_reply_arrives_escaped_with_a_text_part_and_is_stored_once(
    h: Harness,
) -> None:
    inbox = Inbox()
    visitor, cid = await _lead(h, 1, email="ann@example.com", body="Can I pay <b>yearly</b>?")
    await visitor.disconnect()
    actor = _rep(h)
    text = "Yes: <script>alert(1)</script> **yearly** & monthly"
    with pytest.raises(ServiceError) as off:
        await leads.answer_by_email(
            h.rt, actor=actor, conversation_id=cid, client_id="r1", body=text
        )
    assert off.value.code == "email_off"

    with smtp_server(inbox) as url:
        h.rt.mailer = SmtpMailer(url)
        first = await leads.answer_by_email(
            h.rt, actor=actor, conversation_id=cid, client_id="r1", body=text
        )
        again = await leads.answer_by_email(
            h.rt, actor=actor, conversation_id=cid, client_id="r1", body=text
        )
        assert first.created and not again.created and first.to == "ann@example.com"
        assert again.message.seq == first.message.seq
        # The same follow-up sent twice at once: stored and queued once.
        both = await asyncio.gather(
            *(
                leads.answer_by_email(
                    h.rt, actor=actor, conversation_id=cid, client_id="r2", body="And more."
                )
                for _ in range(2)
            )
        )
        assert sorted(r.created for r in both) == [False, True]
        assert await h.deliver_due() == 2
        arrived = await inbox.arrived(2)  # delivered concurrently: in either order
        assert await h.deliver_due() == 0
        [msg] = [m for m in arrived if "And more." not in parts(m)[0]]
        assert len({str(m["Message-ID"]) for m in arrived}) == 2
    assert msg["To"] == "ann@example.com"
    plain, html = parts(msg)
    assert text in plain and "Can I pay <b>yearly</b>?" in plain
    assert "<script>" not in html and "<b>yearly</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <strong>yearly</strong> &amp; monthly" in html

    async with h.rt.db.read() as conn:
        conv = await chat.get_conversation(conn, org_id=h.org.id, conversation_id=cid)
        items = await chat.messages_after(
            conn, org_id=h.org.id, conversation_id=cid, after_seq=0, messages_only=True
        )
    assert conv is not None and conv.owner_id == actor.user_id  # answering started it
    replies = [m for m in items if m.author_kind is AuthorKind.REP]
    assert [(m.body, m.audience) for m in replies] == [
        (text, Audience.ALL),
        ("And more.", Audience.ALL),
    ]
    assert (
        await outbox.list_rows(h.rt, org_id=h.org.id, status="done", limit=10, before_id=None) != []
    )
    assert await leads.waiting(h.rt, org_id=h.org.id) == []


async def test_an_email_reply_is_refused_while_the_visitor_is_online(h: Harness) -> None:
    visitor, cid = await _lead(h, 1, email="ann@example.com", body="Do you ship to Oslo?")
    h.rt.mailer = SmtpMailer("smtp://127.0.0.1:9")  # nothing is delivered in this test
    reply = {"client_id": "r1", "body": "Yes, in 3 days."}
    async with h.http(0) as http:
        online = await http.post(f"/api/v1/conversations/{cid}/email-reply", json=reply)
        assert online.status_code == 409, online.text
        assert online.json()["code"] == "visitor_online"
        assert "answer in the chat" in online.json()["detail"]
        # Nothing was stored or started: the lead still waits.
        assert [w.conversation.id for w in await leads.waiting(h.rt, org_id=h.org.id)] == [cid]

        await visitor.disconnect()  # the visitor left the site: email reaches them
        accepted = await http.post(f"/api/v1/conversations/{cid}/email-reply", json=reply)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["to"] == "ann@example.com" and accepted.json()["created"]
    pending = await outbox.list_rows(
        h.rt, org_id=h.org.id, status="pending", limit=10, before_id=None
    )
    assert [row.kind for row in pending] == [leads.KIND]


async def test_an_email_reply_is_refused_without_an_email_or_by_another_org(h: Harness) -> None:
    _visitor, cid = await _lead(h, 1)
    h.rt.mailer = SmtpMailer("smtp://127.0.0.1:9")
    with pytest.raises(ServiceError) as none:
        await leads.answer_by_email(
            h.rt, actor=_rep(h), conversation_id=cid, client_id="r1", body="hi"
        )
    assert none.value.code == "no_email"
    stranger = Actor(user_id=h.org.reps[0].id, org_id="other-org", role=Role.REP)
    with pytest.raises(ServiceError) as missing:
        await leads.answer_by_email(
            h.rt, actor=stranger, conversation_id=cid, client_id="r2", body="hi"
        )
    assert missing.value.code == "not_found"
    assert (
        await outbox.list_rows(h.rt, org_id=h.org.id, status="pending", limit=10, before_id=None)
        == []
    )
