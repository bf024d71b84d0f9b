"""Malformed, oversized and unknown frames get error frames; the socket stays open."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.integration.conftest import World
from tests.support import clients

BAD_FRAMES: list[tuple[str | bytes, str]] = [
    ("not json at all", "bad_json"),
    ("[1, 2, 3]", "bad_json"),
    ("42", "bad_json"),
    ("{}", "unknown_type"),
    ('{"type": "teleport"}', "unknown_type"),
    ('{"type": 7}', "unknown_type"),
    ('{"type": "hello", "v": 1}', "unknown_type"),
    ('{"type": "message", "id": "x1"}', "invalid"),
    ('{"type": "message", "id": "x2", "body": ""}', "invalid"),
    ('{"type": "message", "id": "bad id!", "body": "hi"}', "invalid"),
    ('{"type": "message", "id": "x3", "body": 12}', "invalid"),
    ('{"type": "message", "id": "x4", "body": "hi", "admin": true}', "invalid"),
    ('{"type": "read", "conversation_id": "c", "seq": -1}', "invalid"),
    ('{"type": "resume", "after": []}', "invalid"),
    ('{"type": "page_view", "id": "p", "url": ' + json.dumps("x" * 3000) + "}", "invalid"),
    (json.dumps({"type": "message", "id": "big", "body": "a" * 9000}), "invalid"),
    (json.dumps({"type": "message", "id": "huge", "body": "a" * 20_000}), "too_large"),
    (b"\x00\x01binary", "bad_json"),
]


async def test_messenger_survives_every_bad_frame(world: World) -> None:
    visitor, _ = await clients.visitor(world.url, world.org.site_key)
    for raw, code in BAD_FRAMES:
        await visitor.send_raw(raw)
        error = await visitor.expect("error")
        assert error["code"] == code, (raw, error)
        assert error["message"]
    # Still connected and working; and nothing above was stored.
    await visitor.send({"type": "ping", "t": 5})
    assert (await visitor.expect("pong"))["t"] == 5
    ack = await visitor.request({"type": "message", "body": "first real message"})
    assert ack["type"] == "ack" and ack["seq"] == 1
    await visitor.close()


async def test_error_frame_names_the_field_and_carries_the_id(world: World) -> None:
    visitor, _ = await clients.visitor(world.url, world.org.site_key)
    await visitor.send({"type": "message", "id": "m-77", "body": ""})
    error = await visitor.expect("error")
    assert error["id"] == "m-77"
    assert "body" in error["message"]
    await visitor.close()


async def test_console_survives_bad_frames_and_refuses_foreign_conversations(world: World) -> None:
    cookie, _ = await clients.login(world.url, world.org.reps[0].email, world.org.password)
    rep, _ = await clients.rep(world.url, cookie)
    for raw, code in BAD_FRAMES[:6]:
        await rep.send_raw(raw)
        assert (await rep.expect("error"))["code"] == code
    missing = await rep.request({"type": "start_conversation", "conversation_id": "c_nope"})
    assert missing["type"] == "error" and missing["code"] == "not_found"
    await rep.send({"type": "ping"})
    await rep.expect("pong")
    await rep.close()


async def test_bad_hello_closes_with_4400(world: World) -> None:
    ws = await connect(
        clients.ws_url(world.url, f"/ws/messenger?site_key={world.org.site_key}"),
        origin=world.url,  # type: ignore[arg-type]
    )
    await ws.send(json.dumps({"type": "hello", "v": 99}))
    error = json.loads(await ws.recv())
    assert error["type"] == "error" and error["code"] == "bad_hello"
    with pytest.raises(ConnectionClosed):
        await ws.recv()
    assert ws.close_code == 4400


async def test_unknown_site_and_foreign_origin_are_refused(world: World) -> None:
    with pytest.raises(InvalidStatus) as unknown:
        await connect(
            clients.ws_url(world.url, "/ws/messenger?site_key=sk_nope"),
            origin=world.url,  # type: ignore[arg-type]
        )
    assert unknown.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as foreign:
        await connect(
            clients.ws_url(world.url, f"/ws/messenger?site_key={world.org.site_key}"),
            origin="https://evil.example",  # type: ignore[arg-type]
        )
    assert foreign.value.response.status_code == 403


async def test_console_requires_a_session_and_same_origin(world: World) -> None:
    with pytest.raises(InvalidStatus) as anonymous:
        await connect(clients.ws_url(world.url, "/ws/console"), origin=world.url)  # type: ignore[arg-type]
    assert anonymous.value.response.status_code == 403
    cookie, _ = await clients.login(world.url, world.org.reps[0].email, world.org.password)
    with pytest.raises(InvalidStatus) as hijack:
        await connect(
            clients.ws_url(world.url, "/ws/console"),
            origin="https://evil.example",  # type: ignore[arg-type]
            additional_headers={"Cookie": f"pounce_session={cookie}"},
        )
    assert hijack.value.response.status_code == 403


async def test_forged_visitor_token_gets_a_new_visitor(world: World) -> None:
    visitor, welcome = await clients.visitor(world.url, world.org.site_key)
    await visitor.close()
    forged = welcome["visitor_token"][:-4] + "AAAA"
    again, welcome2 = await clients.visitor(world.url, world.org.site_key, token=forged)
    assert welcome2["visitor_id"] != welcome["visitor_id"]
    await again.close()


async def test_an_origin_removed_from_a_site_is_refused_at_once(world: World) -> None:
    from tests.support.proactive import session

    page = "https://shop.example.test"
    async with await session(world.url, world.org.admin.email, world.org.password) as admin:
        sites = (await admin.get("/api/v1/sites")).json()["items"]
        site = next(s for s in sites if s["site_key"] == world.org.site_key)
        res = await admin.patch(
            f"/api/v1/sites/{site['id']}", json={"allowed_origins": [world.url, page]}
        )
        assert res.status_code == 200, res.text
        allowed, _ = await clients.visitor(world.url, world.org.site_key, origin=page)
        await allowed.close()
        res = await admin.patch(
            f"/api/v1/sites/{site['id']}", json={"allowed_origins": [world.url]}
        )
        assert res.status_code == 200, res.text
    with pytest.raises(InvalidStatus) as refused:
        await clients.visitor(world.url, world.org.site_key, origin=page)
    assert refused.value.response.status_code == 403


async def test_bad_frames_in_an_open_conversation_get_the_same_errors(world: World) -> None:
    # Once a conversation is open, messages skip the worker; everything malformed must
    # still reach the validator and its precise error, and store nothing.
    rep = await _online_rep(world)
    visitor, _ = await clients.visitor(world.url, world.org.site_key)
    first = await visitor.request({"type": "message", "body": "opening"})
    for raw, code in BAD_FRAMES:
        await visitor.send_raw(raw)
        error = await visitor.expect("error")
        assert error["code"] == code, (raw, error)
    ack = await visitor.request({"type": "message", "body": "still here"})
    assert ack["conversation_id"] == first["conversation_id"] and ack["seq"] == 2
    await visitor.close()
    await rep.close()


async def test_a_flood_of_messages_is_rate_limited_and_the_rest_stored_in_order(
    world: World,
) -> None:
    rep = await _online_rep(world)  # so no away message takes a seq
    visitor, _ = await clients.visitor(world.url, world.org.site_key)
    first = await visitor.request({"type": "message", "body": "opening"})
    # One at a time, each after the last one's reply, far faster than 30 frames/s.
    ids = [f"flood-{i}" for i in range(100)]
    replies = []
    for i, frame_id in enumerate(ids):
        await visitor.send({"type": "message", "id": frame_id, "body": f"flood {i}"})
        replies.append(await visitor.expect_reply(frame_id))
    acked = [r for r in replies if r["type"] == "ack"]
    limited = [r for r in replies if r["type"] == "error"]
    assert limited and all(r["code"] == "rate_limited" for r in limited)
    assert 50 <= len(acked) < 100
    # The accepted ones were stored in the order sent, densely after the first.
    assert [r["seq"] for r in acked] == list(range(2, 2 + len(acked)))
    assert [r["id"] for r in acked] == [
        i for i, r in zip(ids, replies, strict=True) if r["type"] == "ack"
    ]
    assert {r["conversation_id"] for r in acked} == {first["conversation_id"]}
    await visitor.close()
    await rep.close()


async def _online_rep(world: World) -> clients.Client:
    cookie, _ = await clients.login(world.url, world.org.reps[0].email, world.org.password)
    rep, _ = await clients.rep(world.url, cookie)
    return rep
