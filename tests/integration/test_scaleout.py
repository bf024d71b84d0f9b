"""Many `pounce serve` processes on PostgreSQL + Redis: fan-out, races, timers and faults."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pounce.domain.model import AuthorKind, Source
from pounce.store import chat as chat_store
from pounce.store import jobs as job_store
from pounce.store import proactive as proactive_store
from pounce.store.db import Database
from tests.conftest import require_services
from tests.support import clients
from tests.support.seed import Org, seed_org
from tests.support.services import PrivatePostgres, PrivateRedis
from tests.support.stack import Stack, drop_stack, make_stack


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Stack]:
    require_services()
    stack = make_stack("scaleout", tmp_path, POUNCE_UNANSWERED_SECONDS="4")
    try:
        yield stack
    finally:
        drop_stack(stack)


async def _stored(database_url: str, org_id: str, conversation_id: str) -> list[tuple[int, str]]:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            found = await chat_store.messages_after(
                conn, org_id=org_id, conversation_id=conversation_id, after_seq=0, limit=10_000
            )
    finally:
        await db.dispose()
    return [(m.seq, m.body) for m in found]


async def _rep(url: str, org: Org, i: int) -> clients.Client:
    cookie, _ = await clients.login(url, org.reps[i].email, org.password)
    client, _ = await clients.rep(url, cookie)
    return client


async def test_three_processes_share_presence_alerts_and_one_owner(cluster: Stack) -> None:
    p1, p2, p3 = cluster.start(), cluster.start(), cluster.start()
    org = await seed_org(cluster.database_url, origins=[p1, p2, p3])
    alice = await _rep(p2, org, 0)
    bob = await _rep(p3, org, 1)
    # Presence crosses processes: each rep sees the other become available.
    seen = await alice.expect(
        "presence",
        lambda f: f["rep"]["id"] == org.reps[1].id and f["rep"]["availability"] == "available",
    )
    assert seen["rep"]["online"] is True

    visitor, welcome = await clients.visitor(p1, org.site_key)
    assert welcome["reps_available"] is True
    live = await bob.expect("visitor", lambda f: f["visitor"]["id"] == welcome["visitor_id"])
    assert live["visitor"]["online"] is True

    ack = await visitor.request({"type": "message", "body": "hello from process one"})
    conversation_id = ack["conversation_id"]
    for rep in (alice, bob):
        alert = await rep.expect("alert", lambda f: f["conversation"]["id"] == conversation_id)
        assert alert["message"]["body"] == "hello from process one"
    start = await alice.request({"type": "start_conversation", "conversation_id": conversation_id})
    assert start["type"] == "ack"
    await visitor.send({"type": "typing", "typing": True})
    assert (await alice.expect("typing"))["conversation_id"] == conversation_id
    await alice.request({"type": "message", "conversation_id": conversation_id, "body": "hi!"})
    assert (await visitor.expect("message", lambda f: f["seq"] == 3))["body"] == "hi!"
    await alice.send({"type": "typing", "conversation_id": conversation_id, "typing": True})
    assert (await visitor.expect("typing"))["typing"] is True
    await visitor.close()

    wins = {org.reps[0].id: 0, org.reps[1].id: 0}
    for round_ in range(100):
        v, _ = await clients.visitor([p1, p2, p3][round_ % 3], org.site_key)
        ack = await v.request({"type": "message", "body": f"race {round_}"})
        cid = ack["conversation_id"]
        await alice.expect("alert", lambda f, c=cid: f["conversation"]["id"] == c)
        await bob.expect("alert", lambda f, c=cid: f["conversation"]["id"] == c)
        frame = {"type": "start_conversation", "conversation_id": cid}
        await asyncio.gather(
            alice.send({**frame, "id": f"a{round_}"}), bob.send({**frame, "id": f"b{round_}"})
        )
        replies = [await alice.expect_reply(f"a{round_}"), await bob.expect_reply(f"b{round_}")]
        assert sorted(r["type"] for r in replies) == ["ack", "error"], replies
        winner = next(r for r in replies if r["type"] == "ack")["conversation"]["owner"]["id"]
        loser = next(r for r in replies if r["type"] == "error")
        assert loser["code"] == "already_taken" and loser["owner"]["id"] == winner
        wins[winner] += 1
        await v.close()
        alice.drain()
        bob.drain()
    assert sum(wins.values()) == 100
    await alice.close()
    await bob.close()


class Follower:
    """A visitor that reconnects to any live process and resumes after the last seq it saw."""

    def __init__(self, site_key: str, token: str, conversation_id: str, last_seq: int) -> None:
        self.site_key = site_key
        self.token = token
        self.conversation_id = conversation_id
        self.received: list[int] = []
        self.last = last_seq
        self.connections = 0
        self.resyncs = 0

    async def run(self, urls: list[str], stop: asyncio.Event) -> None:
        turn = 0
        while not stop.is_set():
            url = urls[turn % len(urls)]
            turn += 1
            try:
                async with connect(
                    clients.ws_url(url, f"/ws/messenger?site_key={self.site_key}"),
                    origin=url,  # type: ignore[arg-type]
                    open_timeout=2,
                ) as ws:
                    await ws.send(
                        json.dumps({"type": "hello", "v": 1, "visitor_token": self.token})
                    )
                    await ws.send(
                        json.dumps({"type": "resume", "after": {self.conversation_id: self.last}})
                    )
                    self.connections += 1
                    while not stop.is_set():
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 0.2)
                        except TimeoutError:
                            continue
                        frame = json.loads(raw)
                        if frame.get("type") == "resync":  # the bus lost frames: catch up
                            self.resyncs += 1
                            await ws.send(
                                json.dumps(
                                    {"type": "resume", "after": {self.conversation_id: self.last}}
                                )
                            )
                            continue
                        if frame.get("type") != "message":
                            continue
                        if frame["conversation_id"] != self.conversation_id:
                            continue
                        if frame["seq"] <= self.last:
                            continue  # already have it (live and replay may overlap)
                        self.received.append(frame["seq"])  # any gap or disorder shows here
                        self.last = frame["seq"]
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError):
                await asyncio.sleep(0.1)


class Sender:
    """A rep who keeps sending, reconnecting to any live process and resending by id."""

    def __init__(self, org: Org, conversation_id: str) -> None:
        self.org = org
        self.conversation_id = conversation_id
        self.acked: dict[str, int] = {}
        self.errors: list[str] = []

    async def run(self, urls: list[str], count: int, interval: float) -> None:
        rep: clients.Client | None = None
        turn = 0
        for i in range(count):
            frame = {
                "type": "message",
                "id": f"s{i}",
                "conversation_id": self.conversation_id,
                "body": f"message {i}",
            }
            while True:
                try:
                    if rep is None or rep.closed_code is not None:
                        url = urls[turn % len(urls)]
                        turn += 1
                        rep = await _rep(url, self.org, 0)
                    await rep.send(frame)
                    reply = await rep.expect_reply(frame["id"], timeout=5)
                except (OSError, ConnectionClosed, InvalidStatus, AssertionError, Exception):
                    rep = None
                    await asyncio.sleep(0.1)
                    continue
                if reply["type"] == "ack":
                    self.acked[frame["id"]] = reply["seq"]
                    break
                self.errors.append(reply["code"])
                await asyncio.sleep(0.2)
            await asyncio.sleep(interval)
        if rep is not None:
            with contextlib.suppress(Exception):
                await rep.close()


async def _owned_conversation(url: str, org: Org) -> tuple[str, str]:
    rep = await _rep(url, org, 0)
    visitor, welcome = await clients.visitor(url, org.site_key)
    ack = await visitor.request({"type": "message", "body": "hi"})
    await rep.expect("alert")
    await rep.request({"type": "start_conversation", "conversation_id": ack["conversation_id"]})
    await visitor.close()
    await rep.close()
    return welcome["visitor_token"], ack["conversation_id"]


async def _follow_while_sending(
    org: Org,
    token: str,
    conversation_id: str,
    visitor_urls: list[str],
    rep_urls: list[str],
    fault: AsyncIterator[None],
    count: int = 60,
) -> tuple[Follower, Sender]:
    follower = Follower(org.site_key, token, conversation_id, last_seq=1)
    sender = Sender(org, conversation_id)
    stop = asyncio.Event()
    following = asyncio.create_task(follower.run(visitor_urls, stop))
    sending = asyncio.create_task(sender.run(rep_urls, count, 0.05))
    await anext(fault)  # the fault happens while both are busy
    await sending
    with contextlib.suppress(StopAsyncIteration):
        await anext(fault)
    deadline = asyncio.get_running_loop().time() + 20
    while follower.last < 1 + count and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    await following
    return follower, sender


async def test_a_visitor_with_tabs_on_two_processes_stays_online_until_the_last(
    cluster: Stack,
) -> None:
    p1, p2, p3 = cluster.start(), cluster.start(), cluster.start()
    org = await seed_org(cluster.database_url, origins=[p1, p2, p3])
    rep = await _rep(p3, org, 0)
    first, welcome = await clients.visitor(p1, org.site_key)
    visitor_id = welcome["visitor_id"]
    second, again = await clients.visitor(p2, org.site_key, token=welcome["visitor_token"])
    assert again["visitor_id"] == visitor_id
    await rep.expect("visitor", lambda f: f["visitor"]["id"] == visitor_id)

    # Closing one tab is not leaving: no "offline" after the grace period, and a console
    # that connects now (on yet another process) lists the visitor as online.
    await first.close()
    await asyncio.sleep(5.5)
    assert not [
        f
        for f in rep.drain("visitor")
        if f["visitor"]["id"] == visitor_id and not f["visitor"]["online"]
    ]
    cookie, _ = await clients.login(p1, org.reps[1].email, org.password)
    late, late_welcome = await clients.rep(p1, cookie)
    assert visitor_id in {v["id"] for v in late_welcome["visitors"] if v["online"]}

    # The last tab going away is.
    await second.close()
    gone = await rep.expect(
        "visitor",
        lambda f: f["visitor"]["id"] == visitor_id and not f["visitor"]["online"],
        timeout=10,
    )
    assert gone["visitor"]["online"] is False
    for client in (rep, late):
        await client.close()


async def test_killing_the_visitors_process_loses_nothing(cluster: Stack) -> None:
    p1, p2, p3 = cluster.start(), cluster.start(), cluster.start()
    org = await seed_org(cluster.database_url, origins=[p1, p2, p3])
    token, conversation_id = await _owned_conversation(p1, org)
    port1 = int(p1.rsplit(":", 1)[1])

    async def fault() -> AsyncIterator[None]:
        await asyncio.sleep(1.0)
        cluster.kill(port1)  # SIGKILL, mid-conversation
        yield

    follower, sender = await _follow_while_sending(
        org, token, conversation_id, [p1, p2, p3], [p3], fault()
    )
    stored = await _stored(cluster.database_url, org.id, conversation_id)
    # seq 1 the visitor's message, 2 the rep taking it, then the rep's 60
    assert [s for s, _ in stored] == list(range(1, 63))
    assert follower.received == list(range(3, 63))  # 0 lost, 0 duplicated, 0 reordered
    assert len(sender.acked) == 60 and follower.connections >= 2


async def test_redis_restart_recovers_delivery_and_loses_nothing(tmp_path: Path) -> None:
    require_services()
    private = PrivateRedis()
    private.start()
    base = make_stack("scaleout", tmp_path)
    stack = Stack(
        mode="scaleout", var_dir=tmp_path, database_url=base.database_url, redis_url=private.url
    )
    try:
        p1, p2 = stack.start(), stack.start()
        org = await seed_org(stack.database_url, origins=[p1, p2])
        token, conversation_id = await _owned_conversation(p1, org)

        async def fault() -> AsyncIterator[None]:
            await asyncio.sleep(0.8)
            private.stop()
            await asyncio.sleep(1.5)
            private.start()
            yield

        follower, sender = await _follow_while_sending(
            org, token, conversation_id, [p1], [p2], fault()
        )
        stored = await _stored(stack.database_url, org.id, conversation_id)
        assert [s for s, _ in stored] == list(range(1, 63))
        assert follower.received == list(range(3, 63))
        assert len(sender.acked) == 60
        # Caught up on the socket it had: asked to resync, not closed.
        assert follower.resyncs >= 1 and follower.connections == 1
        metrics = (await _get(p1, "/metrics")).decode()
        assert "pounce_bus_reconnects_total 1.0" in metrics
        ready = json.loads(await _get(p1, "/readyz"))
        assert ready["checks"]["redis"] is True, ready
    finally:
        stack.stop_all()
        drop_stack(base)
        private.stop()


async def _get(url: str, path: str) -> bytes:
    import httpx

    async with httpx.AsyncClient(base_url=url) as http:
        return (await http.get(path)).content


async def test_postgres_restart_gives_errors_not_silence_and_keeps_acks(tmp_path: Path) -> None:
    require_services()
    pg = PrivatePostgres()
    redis_server = PrivateRedis()
    try:
        pg.start()
        redis_server.start()
        stack = Stack(
            mode="scaleout", var_dir=tmp_path, database_url=pg.url(), redis_url=redis_server.url
        )
        stack.cli("migrate")
        url = stack.start()
        org = await seed_org(stack.database_url, origins=[url])
        token, conversation_id = await _owned_conversation(url, org)

        async def fault() -> AsyncIterator[None]:
            await asyncio.sleep(0.8)
            await asyncio.to_thread(pg.stop)
            await asyncio.sleep(1.5)
            await asyncio.to_thread(pg.start)
            yield

        follower, sender = await _follow_while_sending(
            org, token, conversation_id, [url], [url], fault(), count=50
        )
        assert "unavailable" in sender.errors  # told, not left waiting
        stored = dict(await _stored(stack.database_url, org.id, conversation_id))
        for client_id, seq in sender.acked.items():
            assert stored[seq] == f"message {client_id[1:]}"
        assert len(sender.acked) == 50
        assert sorted(stored) == list(range(1, 53))
        assert follower.received == list(range(3, 53))
        stack.stop_all()
    finally:
        redis_server.stop()
        pg.destroy()


async def _system_messages(database_url: str, org_id: str, conversation_id: str) -> int:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            found = await chat_store.messages_after(
                conn,
                org_id=org_id,
                conversation_id=conversation_id,
                after_seq=0,
                kinds=(AuthorKind.SYSTEM,),
            )
            pending = await job_store.pending(conn, org_id=org_id)
    finally:
        await db.dispose()
    assert not pending
    return len(found)


async def test_two_transfers_at_once_on_two_processes_exactly_one_applies(
    cluster: Stack,
) -> None:
    """The owner on one process and an admin on another hand the same conversation on at
    the same moment, 50 times: exactly one transfer each time, the other is refused."""
    p1, p2 = cluster.start(), cluster.start()
    org = await seed_org(cluster.database_url, origins=[p1, p2])
    owner = await _rep(p1, org, 0)
    target = await _rep(p2, org, 1)
    admin_cookie, _ = await clients.login(p2, org.admin.email, org.password)
    admin, _ = await clients.rep(p2, admin_cookie, available=False)
    await owner.expect(
        "presence",
        lambda f: f["rep"]["id"] == org.reps[1].id and f["rep"]["availability"] == "available",
    )
    db = Database(cluster.database_url)
    try:
        async with db.write() as conn:
            # The race is over who owns it, not the target's load: 50 go to one rep.
            await proactive_store.put_settings(conn, org_id=org.id, max_open_chats_per_rep=0)
            visitor = await chat_store.create_visitor(conn, org_id=org.id, site_id=org.site_id)
            conversations = [
                (
                    await chat_store.create_conversation(
                        conn,
                        org_id=org.id,
                        site_id=org.site_id,
                        visitor_id=visitor.id,
                        source=Source.INBOUND,
                        owner_id=org.reps[0].id,
                    )
                ).id
                for _ in range(50)
            ]
        for round_, cid in enumerate(conversations):
            frame = {
                "type": "transfer",
                "conversation_id": cid,
                "owner_id": org.reps[0].id,
                "to": org.reps[1].id,
            }
            await asyncio.gather(
                owner.send({**frame, "id": f"o{round_}"}),
                admin.send({**frame, "id": f"a{round_}"}),
            )
            replies = [
                await owner.expect_reply(f"o{round_}"),
                await admin.expect_reply(f"a{round_}"),
            ]
            assert sorted(r["type"] for r in replies) == ["ack", "error"], replies
            refused = next(r for r in replies if r["type"] == "error")
            assert refused["code"] == "owner_changed", refused
            assert refused["owner"]["id"] == org.reps[1].id
            await target.expect("alert", lambda f, c=cid: f["conversation"]["id"] == c)
            owner.drain()
            admin.drain()
        async with db.read() as conn:
            for cid in conversations:
                items = await chat_store.messages_after(
                    conn, org_id=org.id, conversation_id=cid, after_seq=0, limit=100
                )
                assert [i.kind for i in items] == ["transferred", "now_chatting_with"], cid
                conv = await chat_store.get_conversation(conn, org_id=org.id, conversation_id=cid)
                assert conv is not None and conv.owner_id == org.reps[1].id
    finally:
        await db.dispose()
    for client in (owner, target, admin):
        await client.close()


@pytest.mark.parametrize("kill_origin", [False, True])
async def test_timer_fires_exactly_once_across_three_processes(
    cluster: Stack, kill_origin: bool
) -> None:
    p1, p2, p3 = cluster.start(), cluster.start(), cluster.start()
    org = await seed_org(cluster.database_url, origins=[p1, p2, p3])
    conversations = []
    rep = await _rep(p2, org, 0)
    for i in range(5):
        visitor, _ = await clients.visitor(p1, org.site_key)
        ack = await visitor.request({"type": "message", "body": f"anyone? {i}"})
        conversations.append(ack["conversation_id"])
        await visitor.close()
    if kill_origin:
        cluster.kill(int(p1.rsplit(":", 1)[1]))
    await asyncio.sleep(4 + 2.5)
    for conversation_id in conversations:
        assert await _system_messages(cluster.database_url, org.id, conversation_id) == 1
    await rep.close()


def test_migrations_run_once_not_on_every_start(cluster: Stack) -> None:
    assert cluster.env()["POUNCE_RUN_MIGRATIONS_ON_START"] == "false"
    out = cluster.cli("migrate")
    assert "up to date" in out
