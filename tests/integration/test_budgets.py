"""Frame budgets per class of frame: a burst of one class does not use up another's,
and a flood of any class is still refused with `rate_limited` (in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pounce.api.sockets import BUDGETS
from pounce.realtime.frames import client as cf
from tests.support.harness import Harness, harness


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        yield made


def _refused(frames: list[dict[str, object]]) -> int:
    return sum(1 for f in frames if f.get("type") == "error" and f.get("code") == "rate_limited")


async def test_a_burst_of_control_frames_leaves_the_chat_budget_alone(h: Harness) -> None:
    visitor, _ = await h.visitor()
    first = await visitor.request({"type": "message", "body": "hi"})
    assert first["type"] == "ack"
    control_burst = int(BUDGETS[cf.VisitorTyping.budget][1])
    chat_burst = int(BUDGETS[cf.VisitorSend.budget][1])
    assert cf.VisitorTyping.budget != cf.VisitorSend.budget
    for i in range(control_burst - 5):
        await visitor.send_json({"type": "typing", "typing": i % 2 == 0})
    reply = await visitor.request({"type": "message", "body": "still here"})
    assert reply["type"] == "ack", reply
    assert _refused(visitor.drain()) == 0
    # ... and the other way round: messages up to the chat burst leave typing working.
    for i in range(chat_burst - 5):
        await visitor.send_json({"type": "message", "id": f"m{i}", "body": f"m{i}"})
    await visitor.send_json({"type": "read", "conversation_id": first["conversation_id"], "seq": 1})
    await visitor.barrier()
    assert _refused(visitor.drain()) == 0


@pytest.mark.parametrize("frame", [{"type": "typing", "typing": True}, {"type": "message"}])
async def test_a_flood_of_any_class_is_refused(h: Harness, frame: dict[str, object]) -> None:
    visitor, _ = await h.visitor()
    await visitor.request({"type": "message", "body": "hi"})
    kind = cf.VisitorTyping if frame["type"] == "typing" else cf.VisitorSend
    burst = int(BUDGETS[kind.budget][1])
    for i in range(burst + 40):
        extra = {"id": f"f{i}", "body": f"flood {i}"} if frame["type"] == "message" else {}
        await visitor.send_json({**frame, **extra})
    # Typing frames get no answer, messages their ack: the refusals are what comes back.
    for _ in range(30):
        refused = await visitor.expect("error")
        assert refused["code"] == "rate_limited", refused
    assert visitor.close_code is None  # refused frames, not a closed socket


async def test_new_visitors_per_address_are_limited(tmp_path: Path) -> None:
    """A script that drops its visitor token makes a new visitor per connect: past the
    limit its address is refused (close 1013, `rate_limited`), another address and a
    returning visitor are not."""
    async with harness(tmp_path, new_visitors_per_address_per_minute=5) as h:
        tokens = []
        for _ in range(5):
            _sock, welcome = await h.visitor(client="127.0.0.2")
            tokens.append(welcome["visitor_token"])
        refused = await h.visitor_hello(client="127.0.0.2")
        error = await refused.expect("error")
        assert error["code"] == "rate_limited" and error["retry_after_ms"] > 0
        assert refused.close_code == 1013
        _other, welcome = await h.visitor(client="127.0.0.3")  # another address
        assert welcome["visitor_id"]
        _back, again = await h.visitor(client="127.0.0.2", token=tokens[0])  # a returning one
        assert again["visitor_token"]
