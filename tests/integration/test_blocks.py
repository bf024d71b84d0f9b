"""Blocking a visitor, the report queue, IP blocks and the abuse limits, through the
protocol in-process (tests/support/harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from pounce.domain.model import Actor, AuthorKind, Role
from pounce.services import blocks
from pounce.store import chat as chat_store
from tests.support.harness import Harness, MemorySocket, harness

Frame = dict[str, Any]


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        yield made


def _admin(h: Harness) -> Actor:
    return Actor(user_id=h.org.admin.id, org_id=h.org.id, role=Role.ADMIN)


async def _started(
    h: Harness, client: str = "127.0.0.2"
) -> tuple[MemorySocket, MemorySocket, str, str]:
    """A chat a rep has started: (visitor socket, rep socket, conversation id, token)."""
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor(client=client)
    ack = await visitor.request({"type": "message", "body": "Hello?"})
    cid = ack["conversation_id"]
    await rep.expect("alert")
    reply = await rep.request({"type": "start_conversation", "conversation_id": cid})
    assert reply["type"] == "ack", reply
    return visitor, rep, cid, welcome["visitor_token"]


async def test_block_closes_the_visitor_and_refuses_them_after(h: Harness) -> None:
    visitor, rep, cid, token = await _started(h)
    second, _ = await h.visitor(token=token)  # another tab of the same visitor
    reply = await rep.request({"type": "block_visitor", "conversation_id": cid})
    assert reply["type"] == "ack", reply
    for sock in (visitor, second):
        refused = await sock.expect("error", lambda f: f["code"] == "blocked")
        assert refused["message"]
        assert sock.close_code == 4403
    # Reps see who blocked, and when, in the stream; the visitor never gets the event.
    event = await rep.expect("event", lambda f: f["event"]["kind"] == "visitor_blocked")
    assert event["actor"]["id"] == h.org.reps[0].id and event["created_at"]
    assert event["event"] == {"kind": "visitor_blocked", "reported": False, "until": None}
    assert not [
        f
        for f in visitor.inbox + second.inbox
        if f.get("type") == "event" and f["event"]["kind"] == "visitor_blocked"
    ]
    # The conversation closed.
    closed = await rep.expect("conversation", lambda f: f["conversation"]["status"] == "closed")
    assert closed["conversation"]["id"] == cid
    # Further connects with the same token are refused; a new visitor is not.
    again = await h.visitor_hello(token=token)
    refused = await again.expect("error")
    assert refused["code"] == "blocked" and again.close_code == 4403
    fresh, _ = await h.visitor()
    assert fresh.close_code is None
    # Admins see the blocked visitor and can unblock.
    listed = await blocks.blocked_visitors(h.rt, actor=_admin(h))
    assert [(x["blocked_by_name"], x["conversation_id"]) for x in listed] == [
        (h.org.reps[0].name, cid)
    ]
    await blocks.unblock_visitor(h.rt, actor=_admin(h), visitor_id=listed[0]["id"])
    back, _ = await h.visitor(token=token)
    assert back.close_code is None
    assert await blocks.blocked_visitors(h.rt, actor=_admin(h)) == []
    # Replay keeps the event from the visitor too; a rep's replay has it.
    await back.send_json({"type": "resume", "id": "r1", "after": {cid: 0}})
    await back.expect("resumed")
    kinds = [f["event"]["kind"] for f in back.drain("event")]
    assert "closed" in kinds and "visitor_blocked" not in kinds
    await rep.send_json({"type": "resume", "id": "r2", "after": {cid: 0}})
    await rep.expect("resumed", lambda f: f.get("id") == "r2")
    assert "visitor_blocked" in [f["event"]["kind"] for f in rep.drain("event")]


async def test_only_the_owner_or_an_admin_blocks(h: Harness) -> None:
    _, _, cid, _ = await _started(h)
    other, _ = await h.rep(1)
    reply = await other.request({"type": "block_visitor", "conversation_id": cid})
    assert reply["type"] == "error" and reply["code"] == "not_owner"
    reply = await other.request({"type": "block_visitor", "conversation_id": "c_nope"})
    assert reply["type"] == "error" and reply["code"] == "not_found"
    admin, _ = await h.rep(-1)
    reply = await admin.request({"type": "block_visitor", "conversation_id": cid})
    assert reply["type"] == "ack", reply
    with pytest.raises(Exception) as refused:
        await blocks.blocked_visitors(
            h.rt, actor=Actor(user_id=h.org.reps[0].id, org_id=h.org.id, role=Role.REP)
        )
    assert getattr(refused.value, "code", None) == "forbidden"


async def test_block_and_report_then_an_ip_block_from_the_report(h: Harness) -> None:
    _visitor, rep, cid, _ = await _started(h, client="127.0.0.2")
    reply = await rep.request(
        {"type": "block_visitor", "conversation_id": cid, "report": True, "reason": "Abuse"}
    )
    assert reply["type"] == "ack", reply
    event = await rep.expect("event", lambda f: f["event"]["kind"] == "visitor_blocked")
    assert event["event"]["reported"] is True
    [report] = await blocks.reports(h.rt, actor=_admin(h))
    assert report["reason"] == "Abuse" and report["conversation_id"] == cid
    assert report["client_ip"] == "127.0.0.2" and report["reported_by_name"] == h.org.reps[0].name
    # An admin blocks the report's address for an hour: a new visitor from it is refused,
    # one from another address is not, and the block lifts when it runs out.
    other_open, _ = await h.visitor(client="127.0.0.2")  # open before the block
    made = await blocks.add_ip_block(
        h.rt, actor=_admin(h), cidr=None, report_id=report["id"], expires_in_hours=1
    )
    assert made["cidr"] == "127.0.0.2/32"
    await other_open.expect("error", lambda f: f["code"] == "blocked")
    assert other_open.close_code == 4403
    refused = await h.visitor_hello(client="127.0.0.2")
    assert (await refused.expect("error"))["code"] == "blocked" and refused.close_code == 4403
    allowed, _ = await h.visitor(client="127.0.0.3")
    assert allowed.close_code is None
    h.clock.advance(3601)
    lifted, _ = await h.visitor(client="127.0.0.2")
    assert lifted.close_code is None


async def test_ip_block_ranges_are_checked(h: Harness) -> None:
    for bad in ("nonsense", "10.0.0.0/7", "2001:db8::/31"):
        with pytest.raises(Exception) as refused:
            await blocks.add_ip_block(
                h.rt, actor=_admin(h), cidr=bad, report_id=None, expires_in_hours=None
            )
        assert getattr(refused.value, "code", None) == "invalid"
    made = await blocks.add_ip_block(
        h.rt, actor=_admin(h), cidr="127.0.0.0/24", report_id=None, expires_in_hours=None
    )
    refused_sock = await h.visitor_hello(client="127.0.0.9")
    assert (await refused_sock.expect("error"))["code"] == "blocked"
    await blocks.remove_ip_block(h.rt, actor=_admin(h), block_id=made["id"])
    ok, _ = await h.visitor(client="127.0.0.9")
    assert ok.close_code is None


async def test_a_flood_gets_error_frames_and_the_socket_stays_usable(h: Harness) -> None:
    await blocks.put_settings(
        h.rt, actor=_admin(h), values={"messages_per_minute": 5, "conversations_per_hour": 2}
    )
    visitor, _ = await h.visitor()
    answers = [await visitor.request({"type": "message", "body": f"m{i}"}) for i in range(8)]
    acked = [a for a in answers if a["type"] == "ack"]
    limited = [a for a in answers if a["type"] == "error"]
    assert len(acked) == 5 and len(limited) == 3
    assert all(a["code"] == "rate_limited" and a["retry_after_ms"] > 0 for a in limited)
    assert visitor.close_code is None
    # Once the minute is over, the refused messages go through, each stored once.
    h.clock.advance(60)
    for a, i in zip(limited, range(5, 8), strict=True):
        await visitor.send_json({"type": "message", "id": a["id"], "body": f"m{i}"})
        ack = await visitor.expect_any(("ack", "error"), lambda f, a=a: f.get("id") == a["id"])
        assert ack["type"] == "ack", ack
    cid = acked[0]["conversation_id"]
    async with h.rt.db.read() as conn:
        stored = await chat_store.messages_after(
            conn,
            org_id=h.org.id,
            conversation_id=cid,
            after_seq=0,
            kinds=[AuthorKind.VISITOR],
            messages_only=True,
        )
    bodies = [m.body for m in stored]
    assert bodies == [f"m{i}" for i in range(8)]


async def test_the_address_limit_spans_visitors(h: Harness) -> None:
    await blocks.put_settings(h.rt, actor=_admin(h), values={"messages_per_minute": 3})
    first, _ = await h.visitor(client="127.0.0.5")
    second, _ = await h.visitor(client="127.0.0.5")
    third, _ = await h.visitor(client="127.0.0.6")
    for i in range(3):
        assert (await first.request({"type": "message", "body": f"a{i}"}))["type"] == "ack"
    refused = await second.request({"type": "message", "body": "b"})
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    assert (await third.request({"type": "message", "body": "c"}))["type"] == "ack"


async def test_new_conversations_per_hour(h: Harness) -> None:
    await blocks.put_settings(h.rt, actor=_admin(h), values={"conversations_per_hour": 1})
    first, _ = await h.visitor(client="127.0.0.7")
    assert (await first.request({"type": "message", "body": "one"}))["type"] == "ack"
    second, _ = await h.visitor(client="127.0.0.7")
    refused = await second.request({"type": "message", "body": "two"})
    assert refused["code"] == "rate_limited" and refused["retry_after_ms"] > 60_000


async def test_spam_marks_block_automatically_when_the_org_says_so(h: Harness) -> None:
    await blocks.put_settings(
        h.rt,
        actor=_admin(h),
        values={"spam_block_enabled": True, "spam_block_threshold": 2, "spam_block_hours": 1},
    )
    rep, _ = await h.rep(0)
    token = None
    for round_ in range(2):
        visitor, welcome = await h.visitor(token=token)
        token = welcome["visitor_token"]
        ack = await visitor.request({"type": "message", "body": f"buy now {round_}"})
        cid = ack["conversation_id"]
        await rep.expect("alert", lambda f, cid=cid: f["conversation"]["id"] == cid)
        await rep.request({"type": "start_conversation", "conversation_id": cid})
        marked = await rep.request(
            {"type": "set_outcome", "conversation_id": cid, "outcome": "spam"}
        )
        assert marked["type"] == "ack", marked
        if round_ == 0:
            await rep.barrier()
            assert visitor.close_code is None
    await visitor.expect("error", lambda f: f["code"] == "blocked")
    event = await rep.expect("event", lambda f: f["event"]["kind"] == "visitor_blocked")
    assert event["actor"] is None and event["event"]["until"]
    h.clock.advance(3601)  # a temporary block lifts itself
    back, _ = await h.visitor(token=token)
    assert back.close_code is None


async def test_a_conversation_opened_after_a_close_counts_too(h: Harness) -> None:
    await blocks.put_settings(h.rt, actor=_admin(h), values={"conversations_per_hour": 2})
    visitor, rep, cid, _ = await _started(h, client="127.0.0.8")
    closed = await rep.request({"type": "close_conversation", "conversation_id": cid})
    assert closed["type"] == "ack", closed
    await visitor.expect("conversation", lambda f: f["conversation"]["status"] == "closed")
    again = await visitor.request({"type": "message", "body": "one more thing"})
    assert again["type"] == "ack" and again["conversation_id"] != cid
    other, _ = await h.visitor(client="127.0.0.8")
    refused = await other.request({"type": "message", "body": "hello"})
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
