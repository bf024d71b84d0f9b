"""Live View follows a visitor's conversation and what they tell us, live (in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.harness import Harness, harness


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        yield made


async def test_closing_takes_the_visitor_out_of_the_conversation(h: Harness) -> None:
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor()
    me = welcome["visitor_id"]
    ack = await visitor.request({"type": "message", "body": "hello"})
    cid = ack["conversation_id"]
    await rep.expect(
        "visitor", lambda f: f["visitor"]["id"] == me and f["visitor"]["conversation_id"] == cid
    )
    await rep.request({"type": "start_conversation", "conversation_id": cid})
    closed = await rep.request({"type": "close_conversation", "conversation_id": cid})
    assert closed["type"] == "ack"
    update = await rep.expect(
        "visitor", lambda f: f["visitor"]["id"] == me and f["visitor"]["conversation_id"] is None
    )
    assert update["visitor"]["online"] is True


async def test_an_email_left_shows_at_once(h: Harness) -> None:
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor()
    left = await visitor.request({"type": "leave_email", "email": "ann@example.com"})
    assert left["type"] == "ack"
    update = await rep.expect(
        "visitor", lambda f: f["visitor"]["id"] == welcome["visitor_id"] and f["visitor"]["email"]
    )
    assert update["visitor"]["email"] == "ann@example.com"
