"""The WebSocket protocol itself (RFC 6455, RFC 7692) on a real server, byte by byte.

Frames here are built by hand (tests/support/rawws.py) so that malformed ones can be
sent; the chat protocol on top is tested elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import struct
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from pounce.cli import server_options
from pounce.config import Settings
from pounce.realtime.httpserver import HttpProtocol
from pounce.realtime.websocket import STATE_KEY, Options, Router, WebSocketProtocol
from tests.integration.conftest import World
from tests.support import clients, rawws
from tests.support.rawws import RawSocket, encode
from tests.support.seed import seed_org
from tests.support.stack import free_port


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
    """Read for `seconds`, answering each ping as a live client does. A deadline of its
    own rather than `asyncio.timeout` around the read: on Python 3.11 `wait_for` inside
    can swallow that timeout's cancellation, and the loop then never ends."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            frame = await ws.recv_until(0x9, timeout=left)
        except TimeoutError:
            return
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
    # the frames hold random mask keys: name the cases so every collection agrees
    ids=[
        "unmasked",
        "invalid-utf8",
        "reserved-opcode",
        "rsv1",
        "rsv2",
        "stray-continuation",
        "long-control",
        "fragmented-control",
        "one-byte-close",
        "close-1005",
        "close-reason-not-utf8",
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


async def test_a_refused_message_still_being_sent_gets_the_close_frame_then_a_clean_end(
    world: World,
) -> None:
    """The server refuses a message on its header while its payload keeps arriving. It
    must not close with that input unread (the kernel would answer with a reset, which
    can discard the close frame before the client reads it): it half-closes, discards
    what still comes, and ends the connection when the client does."""
    ws = await _welcomed(world)
    ws.send_bytes(bytes((0x81, 0xFF)) + struct.pack("!Q", 4 << 20) + b"mask")
    for _ in range(64):  # 4 MiB of payload, written while the server has refused it
        ws.send_bytes(b"x" * (64 << 10))
        await ws.writer.drain()
    assert await ws.closed_with() == 1009
    assert await asyncio.wait_for(ws.reader.read(), 5) == b""  # a FIN, not a reset
    ws.close()


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


# -- abuse: each of these was possible before (issue 18) ---------------------------------


def _server_cpu(world: World) -> float:
    """CPU seconds the world's server process has used so far."""
    port = int(world.url.rsplit(":", 1)[1])
    pid = world.stack.procs[port].pid
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _healthy(url: str, timeout: float = 2.0) -> bool:
    async with httpx.AsyncClient(base_url=url, timeout=timeout) as http:
        return (await http.get("/healthz")).status_code == 200


async def test_a_ping_flood_is_cut_off(world: World) -> None:
    """A client that floods pings and never reads gets a few pongs, then 1008."""
    ws = await _welcomed(world)
    ws.send_bytes(b"".join(encode(0x9, b"p" * 125) for _ in range(500)))
    pongs, code = 0, None
    while True:
        frame = await ws.recv(timeout=5)
        assert frame is not None, "the connection ended without a close frame"
        if frame.opcode == 0xA:
            pongs += 1
        elif frame.opcode == 0x8:
            code = frame.close_code
            break
    assert code == 1008
    assert pongs <= 20  # the burst; none for the rest
    assert await ws.eof()


@pytest.mark.parametrize(
    ("lines", "what"),
    [
        ([f"Cookie: c{i}=v" for i in range(200_000)], "200,000 Cookie lines"),
        (["X-Big: " + "a" * (32 << 20)], "a 32 MB header"),
        ([f"X-H{i}: v" for i in range(101)], "101 small headers"),
    ],
)
async def test_oversized_handshake_heads_get_431_at_once(
    world: World, lines: list[str], what: str
) -> None:
    """Limits on the head (16 KiB, 100 header lines) hold before any parsing, in time
    linear in what arrived: the server does not stall (health checks answer)."""
    before = _server_cpu(world)
    ws = await RawSocket.open(
        world.url, f"/ws/messenger?site_key={world.org.site_key}", lines=lines
    )
    assert ws.status == 431, what
    assert await ws.eof()
    assert await _healthy(world.url)
    assert _server_cpu(world) - before < 1.0, what


async def test_zero_length_continuations_cannot_flood(world: World) -> None:
    """Fragments per message are capped (1024) whatever their size."""
    ws = await _welcomed(world)
    ws.send(0x1, b'{"type":', fin=False)
    ws.send_bytes(b"".join(encode(0x0, b"", fin=False) for _ in range(5000)))
    assert await ws.closed_with() == 1009
    assert await ws.eof()


async def test_fragment_headers_count_toward_the_message_limit(world: World) -> None:
    """1 MiB less 100 bytes of payload in 32 frames: with their headers it is over 1 MiB."""
    ws = await _welcomed(world)
    ws.send(0x1, b"x" * ((1 << 20) - 100), fin=False)
    for _ in range(30):
        ws.send(0x0, b"", fin=False)
    ws.send(0x0, b"")
    assert await ws.closed_with(timeout=10) == 1009


async def test_a_request_without_host_is_refused(world: World) -> None:
    ws = await RawSocket.open(world.url, f"/ws/messenger?site_key={world.org.site_key}", host=None)
    assert ws.status == 400
    assert await ws.eof()


async def test_http_1_0_upgrades_are_refused(world: World) -> None:
    ws = await RawSocket.open(
        world.url, f"/ws/messenger?site_key={world.org.site_key}", http="HTTP/1.0"
    )
    assert ws.status == 400
    assert await ws.eof()


async def test_the_console_origin_is_the_public_url_not_the_host_header(world: World) -> None:
    cookie, _ = await clients.login(world.url, world.org.reps[0].email, world.org.password)
    session = {"Cookie": f"pounce_session={cookie}"}
    forged = await RawSocket.open(
        world.url, "/ws/console", origin="http://evil.test", host="evil.test", headers=session
    )
    assert forged.status == 403
    own = await RawSocket.open(world.url, "/ws/console", origin=world.url, headers=session)
    assert own.status == 101
    own.close()


async def test_a_half_sent_handshake_is_closed_after_the_header_timeout(
    fresh_stack: Any,
) -> None:
    stack = fresh_stack(POUNCE_HEADER_TIMEOUT_SECONDS="1")
    url = urlsplit(stack.start())
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    silent_reader, silent = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(b"GET /ws/messenger?site_key=x HTTP/1.1\r\nHost: x\r\nUpgrade: web")
        started = asyncio.get_running_loop().time()
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert asyncio.get_running_loop().time() - started < 3
        # a connection that never says anything goes the same way
        assert (await asyncio.wait_for(silent_reader.read(), 5)).startswith(b"HTTP/1.1 408 ")
    finally:
        writer.close()
        silent.close()


async def test_first_ping_and_drop_come_on_time(fresh_stack: Any) -> None:
    """Pinged within a quarter interval after `interval` quiet seconds, dropped within a
    quarter after `timeout` more (2 s and 2 s here: 2.0-2.5 s, then 4.0-5.0 s)."""
    stack = fresh_stack(POUNCE_WS_PING_INTERVAL="2", POUNCE_WS_PING_TIMEOUT="2")
    url = stack.start()
    org = await seed_org(stack.database_url, origins=[url])
    world = World(url=url, stack=stack, org=org)
    loop = asyncio.get_running_loop()

    async def one() -> tuple[float, float]:
        ws = await _messenger(world)
        ws.text(HELLO)
        quiet_from = loop.time()
        await _json(ws, "welcome")
        await ws.recv_until(0x9, timeout=6)
        pinged = loop.time() - quiet_from
        assert await ws.closed_with(timeout=6) is None  # dropped: no close frame
        return pinged, loop.time() - quiet_from

    timings = await asyncio.gather(*(one() for _ in range(8)))
    for pinged, dropped in timings:
        assert 1.95 <= pinged <= 3.0, timings
        assert 3.95 <= dropped <= 5.8, timings


async def test_sockets_per_address_are_limited(fresh_stack: Any) -> None:
    """Counted per trusted client address: spoofed forwarding headers from an untrusted
    peer change nothing; through a trusted proxy (127.0.0.1) the right-most untrusted
    forwarded address counts."""
    stack = fresh_stack(POUNCE_WS_MAX_SOCKETS_PER_ADDRESS="3")
    url = stack.start()
    org = await seed_org(stack.database_url, origins=[url])
    path = f"/ws/messenger?site_key={org.site_key}"

    async def status(local: str, forwarded: str | None = None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded else None
        ws = await RawSocket.open(url, path, local=local, headers=headers)
        return ws.status

    spoofed = [f"198.51.100.{i}" for i in range(4)]
    assert [await status("127.0.0.2", f) for f in spoofed] == [101, 101, 101, 429]
    assert await status("127.0.0.3") == 101  # another address
    # through the trusted proxy: the client is 198.51.100.50 whatever is left of it
    chain = [f"203.0.113.{i}, 198.51.100.50" for i in range(4)]
    assert [await status("127.0.0.1", c) for c in chain] == [101, 101, 101, 429]
    assert await status("127.0.0.1", "198.51.100.51") == 101
    # closed sockets free their places (once the server has seen them go)
    await rawws.close_all()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while await status("127.0.0.2") != 101:
        assert loop.time() < deadline, "places were not freed"
    assert [await status("127.0.0.2") for _ in range(3)] == [101, 101, 429]


async def _access_log_line(stack: Any, url: str, probe: str) -> str:
    port = int(url.rsplit(":", 1)[1])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while loop.time() < deadline:
        for line in stack.log_tail(port).splitlines():
            if probe in line and "uvicorn.access" in line:
                return line
        await asyncio.sleep(0.05)
    raise AssertionError(f"no access log line for {probe}")


async def _get_from(url: str, local: str, headers: dict[str, str]) -> str:
    probe = secrets.token_hex(6)
    transport = httpx.AsyncHTTPTransport(local_address=local)
    async with httpx.AsyncClient(base_url=url, transport=transport) as http:
        assert (await http.get(f"/healthz?probe={probe}", headers=headers)).status_code == 200
    return probe


async def test_rest_client_addresses_come_through_trusted_proxies_only(world: World) -> None:
    """REST requests log (and rate-limit by) the same trusted address as sockets."""
    cases = [
        ("127.0.0.2", {"X-Forwarded-For": "198.51.100.7"}, "127.0.0.2:"),  # untrusted peer
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}, "198.51.100.7:0 "),
        ("127.0.0.1", {"Forwarded": "for=198.51.100.8"}, "127.0.0.1:"),  # not the header used
    ]
    for local, headers, shown in cases:
        probe = await _get_from(world.url, local, headers)
        line = await _access_log_line(world.stack, world.url, probe)
        assert f" {shown}" in line, (headers, line)


async def test_the_forwarded_header_when_configured(fresh_stack: Any) -> None:
    stack = fresh_stack(POUNCE_FORWARDED_HEADER="forwarded")
    url = stack.start()
    both = {
        "Forwarded": 'for=203.0.113.9, for="198.51.100.9:4711";proto=https',
        "X-Forwarded-For": "198.51.100.10",
    }
    probe = await _get_from(url, "127.0.0.1", both)
    assert " 198.51.100.9:0 " in await _access_log_line(stack, url, probe)
    probe = await _get_from(url, "127.0.0.2", both)
    assert " 127.0.0.2:" in await _access_log_line(stack, url, probe)


async def _deflate_offer(stack: Any, offer: str) -> RawSocket:
    url = stack.start()
    org = await seed_org(stack.database_url, origins=[url])
    return await RawSocket.open(
        url,
        f"/ws/messenger?site_key={org.site_key}",
        headers={"Sec-WebSocket-Extensions": offer},
    )


async def test_invalid_compressed_data_closes_with_1007(fresh_stack: Any) -> None:
    stack = fresh_stack(POUNCE_MESSENGER_COMPRESSION="true")
    ws = await _deflate_offer(stack, "permessage-deflate")
    assert ws.headers["sec-websocket-extensions"].startswith("permessage-deflate")
    ws.send(0x1, b"\xff\xfe\xfd not deflate", rsv1=True)
    assert await ws.closed_with() == 1007  # a close frame, not a TCP abort
    assert await ws.eof()
    assert "Traceback" not in stack.log_tail(next(iter(stack.procs)))


async def test_deflate_offers_with_duplicate_parameters_are_declined(fresh_stack: Any) -> None:
    stack = fresh_stack(POUNCE_MESSENGER_COMPRESSION="true")
    offer = "permessage-deflate; server_no_context_takeover; server_no_context_takeover"
    ws = await _deflate_offer(stack, offer)
    assert ws.status == 101
    assert "sec-websocket-extensions" not in ws.headers  # RFC 7692 section 7


# -- in this process: the protocol with options of its own, and uvicorn's hand-off -------


class _Keeper:
    """A session that keeps what it receives."""

    def __init__(self) -> None:
        self.socket: Any = None
        self.messages: list[tuple[bytes, bool]] = []
        self.gone = asyncio.Event()

    def opened(self, socket: Any) -> None:
        self.socket = socket

    def received(self, message: bytes, text: bool) -> None:
        self.messages.append((message, text))
        if message == b"echo":
            self.socket.send(b"echoed")

    def closed(self) -> None:
        self.gone.set()


class _Door:
    """An endpoint that admits everyone and remembers what it saw."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.sessions: list[_Keeper] = []

    async def admit(self, request: Any) -> _Keeper:
        self.requests.append(request)
        self.sessions.append(_Keeper())
        return self.sessions[-1]


@contextlib.asynccontextmanager
async def _in_process(options: Options) -> AsyncIterator[tuple[str, _Door]]:
    door = _Door()
    router = Router({"/keep": door}, options)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: WebSocketProtocol(router=router), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", door
    finally:
        server.close()
        await rawws.close_all()
        await server.wait_closed()


async def test_the_linger_after_a_refusal_ends_after_the_close_timeout() -> None:
    """A client that keeps its side open after the server failed the connection holds
    it at most `close_timeout`."""
    async with _in_process(Options(close_timeout=1.0)) as (url, door):
        ws = await RawSocket.open(url, "/keep")
        assert ws.status == 101
        ws.send_bytes(bytes((0x81, 0xFF)) + struct.pack("!Q", 4 << 20) + b"mask")
        assert await ws.closed_with() == 1009
        assert await asyncio.wait_for(ws.reader.read(), 5) == b""  # half-closed
        assert not door.sessions[0].gone.is_set()  # still reading what the client sends
        await asyncio.wait_for(door.sessions[0].gone.wait(), 5)


async def test_pongs_count_toward_the_send_buffer_limit() -> None:
    """With the ping budget out of the way, a client that sends pings and never reads
    is closed with 4429 once the pongs waiting for it pass the limit."""
    options = Options(send_buffer_limit=16 << 10)
    options.control_burst = 10**9  # type: ignore[misc]
    options.control_per_second = 1e9  # type: ignore[misc]
    async with _in_process(options) as (url, door):
        ws = await RawSocket.open(url, "/keep", rcvbuf=4096)
        assert ws.status == 101
        server_side = door.sessions[0].socket.transport.get_extra_info("socket")
        server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        ping = encode(0x9, b"p" * 125)
        for _ in range(20_000):
            if door.sessions[0].socket.close_code is not None:
                break
            ws.send_bytes(ping)
            await ws.writer.drain()
            await asyncio.sleep(0)
        assert door.sessions[0].socket.close_code == 4429
        assert await ws.closed_with(timeout=10) == 4429


async def test_a_large_frame_in_small_pieces_costs_linear_cpu() -> None:
    """A frame arriving 128 bytes per read is parsed incrementally: four times the size
    costs about four times the CPU, not sixteen (the old parser copied everything pending
    on every read: over a second for 1 MiB)."""
    async with _in_process(Options()) as (url, door):

        async def cpu_for(size: int) -> float:
            ws = await RawSocket.open(url, "/keep")
            session = door.sessions[-1]
            data = encode(0x2, b"x" * size)
            started = time.process_time()
            for at in range(0, len(data), 128):
                session.socket.data_received(data[at : at + 128])  # one read each
            spent = time.process_time() - started
            assert session.messages == [(b"x" * size, False)]
            ws.close()
            return spent

        await cpu_for(1 << 16)  # warm up
        small = min([await cpu_for(1 << 18) for _ in range(3)])
        large = min([await cpu_for(1 << 20) for _ in range(3)])
        assert large < 0.5 and large / small < 8, (small, large)


async def test_uvicorn_hands_the_upgraded_socket_and_its_request_over(tmp_path: Any) -> None:
    """`pounce serve`'s uvicorn options (cli.server_options): uvicorn parses the upgrade
    request, then gives the connection and the request it read to WebSocketProtocol.
    This is uvicorn internals, hence the pinned version range in pyproject.toml."""
    door = _Door()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        while (await receive())["type"] != "lifespan.shutdown":
            scope["state"][STATE_KEY] = Router({"/keep": door})
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})

    settings = Settings(var_dir=tmp_path, port=free_port(), secret_key="k" * 32)
    options = {**server_options(app, settings), "log_level": "warning"}
    assert options["ws"] is WebSocketProtocol and options["http"] is HttpProtocol
    server = uvicorn.Server(uvicorn.Config(**options))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "uvicorn did not start"
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{settings.port}"
        ws = await RawSocket.open(url, "/keep?a=1", headers={"X-Probe": "seen"}, lines=["C: 1"])
        assert ws.status == 101
        [request] = door.requests
        assert (request.path, dict(request.query)) == ("/keep", {"a": "1"})
        assert request.headers["x-probe"] == "seen" and request.headers["c"] == "1"
        assert request.client == "127.0.0.1"
        keeper = door.sessions[0]
        assert isinstance(keeper.socket, WebSocketProtocol)
        assert keeper.socket in server.server_state.connections
        ws.text(b"echo")
        assert (await ws.recv_until(0x1)).payload == b"echoed"
        ws.send(0x8, struct.pack("!H", 1000))
        assert await ws.closed_with() == 1000
        await asyncio.wait_for(keeper.gone.wait(), 5)
    finally:
        server.should_exit = True
        await serving
