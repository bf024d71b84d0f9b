"""The WebSocket protocol itself (RFC 6455, RFC 7692) on a real server, byte by byte.

Frames here are built by hand (tests/support/rawws.py) so that malformed ones can be
sent; the chat protocol on top is tested elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from tests.integration.conftest import World
from tests.support import clients, rawws
from tests.support.rawws import RawSocket, encode
from tests.support.seed import seed_org


@pytest.fixture(autouse=True)
async def _close_raw_sockets() -> AsyncIterator[None]:
    yield
    await rawws.close_all()


HELLO = json.dumps({"type": "hello", "v": 1, "page": {"url": "http://x.test/", "title": ""}})


async def _messenger(world: World, **kwargs: Any) -> RawSocket:
    ws = await RawSocket.open(
        world.url, f"/ws/messenger?site_key={world.org.site_key}", origin=world.url, **kwargs
    )
    assert ws.status == 101, ws.status
    return ws


async def _welcomed(world: World, token: str | None = None, **kwargs: Any) -> RawSocket:
    ws = await _messenger(world, **kwargs)
    hello = json.loads(HELLO)
    if token is not None:
        hello["visitor_token"] = token
    ws.text(json.dumps(hello))
    frame = await ws.recv_until(0x1)
    assert json.loads(frame.payload)["type"] == "welcome"
    return ws


async def _answer_pings(ws: RawSocket, seconds: float) -> None:
    """Read for `seconds`, answering each ping as a live client does."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                frame = await ws.recv_until(0x9, timeout=seconds + 1)
                ws.send(0xA, frame.payload)


async def _json(ws: RawSocket, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await ws.recv_until(0x1, max(0.05, deadline - loop.time()))
        data: dict[str, Any] = json.loads(frame.payload)
        if data["type"] == kind:
            return data


async def test_handshake_answers_101_with_the_accept_key(world: World) -> None:
    ws = await RawSocket.open(
        world.url,
        f"/ws/messenger?site_key={world.org.site_key}",
        key="dGhlIHNhbXBsZSBub25jZQ==",  # the example key of RFC 6455 section 1.3
    )
    assert ws.status == 101
    assert ws.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert ws.headers["upgrade"].lower() == "websocket"
    assert "sec-websocket-extensions" not in ws.headers  # no compression by default
    ws.close()


@pytest.mark.parametrize(
    ("path", "kwargs", "status"),
    [
        ("/ws/nowhere", {}, 404),
        ("/ws/messenger?site_key=x", {"version": "8"}, 426),
        ("/ws/messenger?site_key=x", {"key": "not base64!"}, 400),
        ("/ws/messenger?site_key=x", {"key": "c2hvcnQ="}, 400),  # 5 bytes, not 16
    ],
)
async def test_bad_handshakes_get_precise_http_errors(
    world: World, path: str, kwargs: dict[str, str], status: int
) -> None:
    ws = await RawSocket.open(world.url, path, **kwargs)
    assert ws.status == status
    if status == 426:
        assert ws.headers["sec-websocket-version"] == "13"
    assert await ws.eof()


async def test_fragmented_message_with_a_ping_in_between(world: World) -> None:
    ws = await _welcomed(world)
    body = json.dumps({"type": "message", "id": "frag-1", "body": "in three parts"}).encode()
    ws.send(0x1, body[:10], fin=False)
    ws.send(0x9, b"are you there")  # control frames may come between fragments
    ws.send(0x0, body[10:20], fin=False)
    ws.send(0x0, body[20:])
    pong = await ws.recv_until(0xA)
    assert pong.payload == b"are you there"
    ack = await _json(ws, "ack")
    assert ack["id"] == "frag-1" and ack["seq"] == 1
    ws.close()


async def test_a_message_split_into_one_byte_tcp_writes_still_arrives(world: World) -> None:
    ws = await _welcomed(world)
    data = encode(0x1, json.dumps({"type": "ping", "t": 7}).encode())
    for i in range(len(data)):
        ws.send_bytes(data[i : i + 1])
        await ws.writer.drain()
    assert (await _json(ws, "pong"))["t"] == 7
    ws.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (encode(0x1, b'{"type":"ping"}', mask=False), 1002),  # client frames are masked
        (encode(0x1, b"\xff\xfe not utf-8"), 1007),
        (encode(0x3, b"x"), 1002),  # reserved opcode
        (encode(0x1, b"{}", rsv1=True), 1002),  # compression was not negotiated
        (encode(0x1, b"{}", rsv2=True), 1002),
        (encode(0x0, b"stray continuation"), 1002),
        (encode(0x9, b"x" * 126), 1002),  # control frames carry at most 125 bytes
        (encode(0x9, b"x", fin=False), 1002),  # and are never fragmented
        (encode(0x8, b"\x03"), 1002),  # a close payload of one byte
        (encode(0x8, struct.pack("!H", 1005)), 1002),  # a code that may not be sent
        (encode(0x8, struct.pack("!H", 1000) + b"\xff"), 1007),
    ],
)
async def test_protocol_violations_close_with_the_rfc_code(
    world: World, frame: bytes, code: int
) -> None:
    ws = await _welcomed(world)
    ws.send_bytes(frame)
    assert await ws.closed_with() == code
    assert await ws.eof()


async def test_a_new_message_inside_a_fragmented_one_is_refused(world: World) -> None:
    ws = await _welcomed(world)
    ws.send(0x1, b'{"type":', fin=False)
    ws.send(0x1, b'"ping"}')
    assert await ws.closed_with() == 1002


async def test_oversized_message_closes_with_1009_without_buffering_it(world: World) -> None:
    ws = await _welcomed(world)
    # Only the header: the server refuses on the announced length alone.
    ws.send_bytes(bytes((0x81, 0xFF)) + struct.pack("!Q", 2 << 20) + b"mask")
    assert await ws.closed_with() == 1009


async def test_fragments_adding_up_past_the_limit_close_with_1009(world: World) -> None:
    ws = await _welcomed(world)
    chunk = b"x" * (600 << 10)
    ws.send(0x1, chunk, fin=False)
    ws.send(0x0, chunk, fin=False)
    assert await ws.closed_with() == 1009


async def test_client_close_is_echoed_then_the_connection_ends(world: World) -> None:
    ws = await _welcomed(world)
    ws.send(0x8, struct.pack("!H", 1000) + b"bye")
    assert await ws.closed_with() == 1000
    assert await ws.eof()


async def test_a_bad_frame_on_one_socket_leaves_the_others_alone(world: World) -> None:
    good, _ = await clients.visitor(world.url, world.org.site_key)
    bad = await _welcomed(world)
    bad.send_bytes(encode(0x1, b"x", mask=False))
    assert await bad.closed_with() == 1002
    ack = await good.request({"type": "message", "body": "still here"})
    assert ack["type"] == "ack"
    await good.close()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=12))
async def test_any_split_of_a_frame_stream_reads_the_same(world: World, cuts: list[int]) -> None:
    ws = await _messenger(world)
    stream = encode(0x1, HELLO.encode()) + b"".join(
        encode(0x1, json.dumps({"type": "ping", "t": i}).encode()) for i in range(5)
    )
    at = 0
    for cut in sorted(set(cuts)):
        if at < cut < len(stream):
            ws.send_bytes(stream[at:cut])
            await ws.writer.drain()
            at = cut
    ws.send_bytes(stream[at:])
    assert (await _json(ws, "welcome"))["type"] == "welcome"
    assert [(await _json(ws, "pong"))["t"] for _ in range(5)] == [0, 1, 2, 3, 4]
    ws.close()


# -- settings of their own: keepalive, slow clients, compression, shutdown -------------


async def test_quiet_sockets_are_pinged_and_dead_ones_dropped(fresh_stack: Any) -> None:
    stack = fresh_stack(POUNCE_WS_PING_INTERVAL="0.4", POUNCE_WS_PING_TIMEOUT="0.6")
    url = stack.start()
    org = await seed_org(stack.database_url, origins=[url])
    world = World(url=url, stack=stack, org=org)
    alive = await _welcomed(world)
    ping = await alive.recv_until(0x9, timeout=3)
    alive.send(0xA, ping.payload)
    # A socket that never answers is cut off (no close frame: the peer is presumed gone),
    # while the one that answers every ping meanwhile is kept.
    dead = await _welcomed(world)
    dropped = asyncio.create_task(dead.closed_with(timeout=5))
    while not dropped.done():
        await _answer_pings(alive, 0.1)
    assert dropped.result() is None
    # The one that answered pings is still served.
    alive.text(json.dumps({"type": "ping", "t": 1}))
    assert (await _json(alive, "pong"))["t"] == 1
    alive.close()


async def test_a_client_that_stops_reading_is_closed_with_4429(fresh_stack: Any) -> None:
    stack = fresh_stack(
        POUNCE_WS_SEND_BUFFER_BYTES=str(64 << 10),
        POUNCE_WS_REPLAY_BURST_BYTES=str(64 << 20),  # replays are the flood here
    )
    url = stack.start()
    org = await seed_org(stack.database_url, origins=[url])
    world = World(url=url, stack=stack, org=org)
    writer, welcome = await clients.visitor(url, org.site_key)
    ack: dict[str, Any] = {}
    for i in range(40):
        ack = await writer.request({"type": "message", "body": f"message {i} " + "x" * 4000})
    conversation_id = ack["conversation_id"]
    # The same visitor in a second tab that stops reading: a tiny receive buffer.
    slow = await _welcomed(world, welcome["visitor_token"], rcvbuf=4096)
    for _ in range(30):
        slow.text(json.dumps({"type": "resume", "after": {conversation_id: 0}}))
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    assert await slow.closed_with(timeout=20) == 4429
    # The server itself is fine.
    again = await writer.request({"type": "message", "body": "after"})
    assert again["type"] == "ack"
    await writer.close()


async def _offering_deflate(stack: Any) -> tuple[str, Any]:
    """A messenger socket to a fresh server whose client offers permessage-deflate."""
    url = stack.start()
    org = await seed_org(stack.database_url, origins=[url])
    ws = await connect(
        clients.ws_url(url, f"/ws/messenger?site_key={org.site_key}"),
        origin=url,  # type: ignore[arg-type]
        compression="deflate",
    )
    return url, ws


async def test_compression_only_when_configured_and_then_it_works(fresh_stack: Any) -> None:
    _, ws = await _offering_deflate(fresh_stack())
    assert ws.protocol.extensions == []
    await ws.close()

    url, ws = await _offering_deflate(fresh_stack(POUNCE_MESSENGER_COMPRESSION="true"))
    assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
    client = clients.Client(ws, None)
    await client.send({"type": "hello", "v": 1, "page": {"url": url + "/p", "title": "P"}})
    welcome = await client.expect("welcome")
    assert welcome["visitor_id"]
    long_body = "compress me " * 300
    ack = await client.request({"type": "message", "body": long_body})
    assert ack["type"] == "ack" and ack["message"]["body"] == long_body
    await client.close()


async def test_stopping_the_server_asks_clients_to_reconnect(fresh_stack: Any) -> None:
    stack = fresh_stack()
    url = stack.start()
    org = await seed_org(stack.database_url, origins=[url])
    world = World(url=url, stack=stack, org=org)
    ws = await _welcomed(world)
    port = int(url.rsplit(":", 1)[1])
    loop = asyncio.get_running_loop()
    stopping = loop.run_in_executor(None, stack.kill, port, signal.SIGTERM)
    assert await ws.closed_with(timeout=10) == 1012  # service restart: come back later
    ws.send(0x8, struct.pack("!H", 1012))
    await stopping


async def test_a_burst_in_one_write_pauses_reading_then_every_frame_is_answered(
    world: World,
) -> None:
    """More frames than the session queues before it stops reading, in one TCP write:
    each gets its reply in the order sent, and reading resumes once the queue drains."""
    ws = await _welcomed(world)
    ws.text(json.dumps({"type": "message", "id": "open", "body": "hello"}))
    assert (await _json(ws, "ack"))["id"] == "open"
    ids = [f"b-{i}" for i in range(90)]
    burst = [encode(0x1, json.dumps({"type": "message", "id": i, "body": i}).encode()) for i in ids]
    ws.send_bytes(b"".join(burst))
    replies: list[dict[str, Any]] = []
    while len(replies) < len(ids):
        frame = json.loads((await ws.recv_until(0x1, timeout=10)).payload)
        if frame["type"] in ("ack", "error"):
            replies.append(frame)
    assert [r["id"] for r in replies] == ids  # one each, in the order sent
    acks = [r for r in replies if r["type"] == "ack"]
    assert {r["code"] for r in replies if r["type"] == "error"} <= {"rate_limited"}
    assert len(acks) >= 50
    assert [a["seq"] for a in acks] == list(range(acks[0]["seq"], acks[0]["seq"] + len(acks)))
    await asyncio.sleep(1.0)  # the budget refills
    ws.text(json.dumps({"type": "message", "id": "after", "body": "still there?"}))
    assert (await _json(ws, "ack"))["id"] == "after"
