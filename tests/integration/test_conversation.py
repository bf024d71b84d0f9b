"""A whole conversation over both sockets, the claim race, resume and idempotency."""

from __future__ import annotations

import asyncio

from pounce.services.chat import AWAY_TEXTS
from pounce.store import chat as chat_store
from pounce.store.db import Database
from pounce.store.records import Message
from tests.integration.conftest import World
from tests.support import clients
from tests.support.clients import Client


async def _reps(world: World, n: int = 2) -> list[Client]:
    out = []
    for person in world.org.reps[:n]:
        cookie, _ = await clients.login(world.url, person.email, world.org.password)
        client, _ = await clients.rep(world.url, cookie)
        out.append(client)
    return out


async def _stored(world: World, conversation_id: str, *, after_seq: int = 0) -> list[Message]:
    """The conversation's messages (not its events) as stored, read with a connection of
    our own."""
    db = Database(world.stack.database_url)
    try:
        async with db.read() as conn:
            return await chat_store.messages_after(
                conn,
                org_id=world.org.id,
                conversation_id=conversation_id,
                after_seq=after_seq,
                messages_only=True,
            )
    finally:
        await db.dispose()


async def test_whole_conversation(world: World) -> None:
    alice, bob = await _reps(world)
    visitor, welcome = await clients.visitor(world.url, world.org.site_key)
    assert welcome["conversation"] is None and welcome["visitor_token"]
    assert welcome["reps_available"] is True

    # Live View: reps see the visitor online with the page they are on.
    seen = await alice.expect("visitor", lambda f: f["visitor"]["id"] == welcome["visitor_id"])
    assert seen["visitor"]["current_page"]["url"].endswith("/demo/")

    ack = await visitor.request({"type": "message", "body": "Hi, do you *integrate* with Slack?"})
    assert ack["type"] == "ack" and ack["seq"] == 1
    conversation_id = ack["conversation_id"]

    alert = await alice.expect("alert")
    assert alert["conversation"]["id"] == conversation_id
    assert alert["message"]["html"] == "<p>Hi, do you <em>integrate</em> with Slack?</p>"
    assert alert["visitor"]["id"] == welcome["visitor_id"]
    await bob.expect("alert")

    started = await alice.request(
        {"type": "start_conversation", "conversation_id": conversation_id}
    )
    assert started["type"] == "ack"
    assert started["conversation"]["owner"]["id"] == world.org.reps[0].id
    taken = await bob.expect("conversation", lambda f: f["conversation"]["id"] == conversation_id)
    assert taken["conversation"]["owner"]["name"] == world.org.reps[0].name
    joined = await visitor.expect("conversation")
    assert joined["conversation"]["owner"]["name"] == world.org.reps[0].name
    assert "routed_to" not in joined["conversation"]  # rep-only data stays with reps
    # Taking it is an event of the stream, seq 2, that both sides see.
    event = await visitor.expect("event")
    assert (event["seq"], event["event"]["kind"]) == (2, "owner_changed")
    assert event["event"]["owner"]["id"] == world.org.reps[0].id
    await alice.expect("event", lambda f: f["seq"] == 2)

    await visitor.send({"type": "typing", "typing": True})
    typing = await alice.expect("typing")
    assert typing["conversation_id"] == conversation_id and typing["typing"] is True

    reply = await alice.request(
        {
            "type": "message",
            "conversation_id": conversation_id,
            "body": "**Yes!** See [our docs](https://example.com/slack)",
        }
    )
    assert reply["type"] == "ack" and reply["seq"] == 3
    got = await visitor.expect("message", lambda f: f["seq"] == 3)
    assert got["author"]["kind"] == "rep" and got["author"]["name"] == world.org.reps[0].name
    assert got["html"] == (
        '<p><strong>Yes!</strong> See <a href="https://example.com/slack" target="_blank" '
        'rel="noopener noreferrer nofollow">our docs</a></p>'
    )

    await visitor.send({"type": "read", "conversation_id": conversation_id, "seq": 3})
    read = await alice.expect("read")
    assert read["seq"] == 3

    await alice.send({"type": "typing", "conversation_id": conversation_id, "typing": True})
    rep_typing = await visitor.expect("typing")
    assert rep_typing["author"]["name"] == world.org.reps[0].name

    not_owner = await bob.request(
        {"type": "message", "conversation_id": conversation_id, "body": "me too"}
    )
    assert not_owner["type"] == "error" and not_owner["code"] == "not_owner"

    closed = await alice.request({"type": "close_conversation", "conversation_id": conversation_id})
    assert closed["type"] == "ack"
    done = await visitor.expect("conversation", lambda f: f["conversation"]["status"] == "closed")
    assert done["conversation"]["id"] == conversation_id
    ended = await visitor.expect("event", lambda f: f["event"]["kind"] == "closed")
    assert ended["seq"] == 4 and ended["actor"]["id"] == world.org.reps[0].id
    for c in (visitor, alice, bob):
        await c.close()


async def test_frames_after_a_message_are_answered_after_its_ack(world: World) -> None:
    (alice,) = await _reps(world, 1)
    visitor, _ = await clients.visitor(world.url, world.org.site_key)
    first = await visitor.request({"type": "message", "body": "opening"})
    # Messages, pings and typing sent back to back, without waiting for any reply.
    order: list[str] = []
    for i in range(20):
        await visitor.send({"type": "message", "id": f"burst-{i}", "body": f"burst {i}"})
        await visitor.send({"type": "ping", "t": i})
        order += [f"ack:burst-{i}", f"pong:{i}"]
    await visitor.send({"type": "typing", "typing": True})
    await alice.expect("typing")
    # the last reply to arrive; everything before it on this socket is in the inbox
    last = await visitor.expect("pong", lambda f: f["t"] == 19)
    seen = [
        f"ack:{frame['id']}" if frame["type"] == "ack" else f"pong:{frame['t']}"
        for frame in [*visitor.inbox, last]
        if frame["type"] in ("ack", "pong")
    ]
    assert seen == order
    acks = [frame for frame in visitor.inbox if frame["type"] == "ack"]
    assert [a["seq"] for a in acks] == list(range(2, 22))
    assert {a["conversation_id"] for a in acks} == {first["conversation_id"]}
    # The rep got them live, once each, in order.
    got = [await alice.expect("message", lambda f, s=s: f["seq"] == s) for s in range(2, 22)]
    assert [m["body"] for m in got] == [f"burst {i}" for i in range(20)]
    await visitor.close()
    await alice.close()


async def test_messages_sent_back_to_back_are_stored_and_acked_in_order(world: World) -> None:
    """Messages only: each one after the first arrives while an earlier one is still
    committing, and is taken on once that one is done."""
    (alice,) = await _reps(world, 1)
    visitor, _ = await clients.visitor(world.url, world.org.site_key)
    first = await visitor.request({"type": "message", "body": "opening"})
    for i in range(40):
        await visitor.send({"type": "message", "id": f"m-{i}", "body": f"**m** {i}"})
    last = await visitor.expect("ack", lambda f: f["id"] == "m-39")
    # every other ack came before the last one, in the order sent
    acks = [*visitor.drain("ack"), last]
    assert [a["id"] for a in acks] == [f"m-{i}" for i in range(40)]
    assert [a["seq"] for a in acks] == list(range(2, 42))
    assert {a["conversation_id"] for a in acks} == {first["conversation_id"]}
    got = [await alice.expect("message", lambda f, s=s: f["seq"] == s) for s in range(2, 42)]
    assert [m["body"] for m in got] == [f"**m** {i}" for i in range(40)]
    assert got[0]["html"] == "<p><strong>m</strong> 0</p>"
    stored = await _stored(world, first["conversation_id"], after_seq=1)
    assert [(m.seq, m.client_id) for m in stored] == [(i + 2, f"m-{i}") for i in range(40)]
    await visitor.close()
    await alice.close()


async def test_a_message_after_the_conversation_closed_opens_a_new_one(world: World) -> None:
    (alice,) = await _reps(world, 1)
    visitor, _ = await clients.visitor(world.url, world.org.site_key)
    first = await visitor.request({"type": "message", "body": "first question"})
    old = first["conversation_id"]
    await alice.expect("alert", lambda f: f["conversation"]["id"] == old)
    assert (await alice.request({"type": "start_conversation", "conversation_id": old}))[
        "type"
    ] == "ack"
    closed = await alice.request({"type": "close_conversation", "conversation_id": old})
    assert closed["type"] == "ack"
    await visitor.expect("conversation", lambda f: f["conversation"]["status"] == "closed")
    again = await visitor.request({"type": "message", "body": "one more thing"})
    assert again["type"] == "ack", again
    assert again["conversation_id"] != old and again["seq"] == 1
    alert = await alice.expect(
        "alert", lambda f: f["conversation"]["id"] == again["conversation_id"]
    )
    assert alert["message"]["body"] == "one more thing"
    # The next one joins the new conversation.
    after = await visitor.request({"type": "message", "body": "and another"})
    assert after["conversation_id"] == again["conversation_id"] and after["seq"] == 2
    await visitor.close()
    await alice.close()


async def test_start_conversation_race_has_one_winner(world: World) -> None:
    alice, bob = await _reps(world)
    db = Database(world.stack.database_url)
    try:
        for round_ in range(50):
            visitor, _ = await clients.visitor(world.url, world.org.site_key)
            ack = await visitor.request({"type": "message", "body": f"race {round_}"})
            conversation_id = ack["conversation_id"]
            await alice.expect("alert", lambda f, c=conversation_id: f["conversation"]["id"] == c)
            await bob.expect("alert", lambda f, c=conversation_id: f["conversation"]["id"] == c)
            frame = {"type": "start_conversation", "conversation_id": conversation_id}
            a_id, b_id = f"a-{round_}", f"b-{round_}"
            await asyncio.gather(alice.send({**frame, "id": a_id}), bob.send({**frame, "id": b_id}))
            replies = [await alice.expect_reply(a_id), await bob.expect_reply(b_id)]
            kinds = sorted(r["type"] for r in replies)
            assert kinds == ["ack", "error"], replies
            loser = next(r for r in replies if r["type"] == "error")
            winner = next(r for r in replies if r["type"] == "ack")
            assert loser["code"] == "already_taken"
            assert loser["owner"]["id"] == winner["conversation"]["owner"]["id"]
            async with db.read() as conn:
                stored = await chat_store.get_conversation(
                    conn, org_id=world.org.id, conversation_id=conversation_id
                )
            assert stored is not None and stored.owner_id == winner["conversation"]["owner"]["id"]
            await visitor.close()
            alice.drain()
            bob.drain()
    finally:
        await db.dispose()
        await alice.close()
        await bob.close()


async def test_resume_after_disconnect_gets_every_missed_message_once(world: World) -> None:
    (alice,) = await _reps(world, 1)
    visitor, welcome = await clients.visitor(world.url, world.org.site_key)
    token = welcome["visitor_token"]
    ack = await visitor.request({"type": "message", "body": "hello"})
    conversation_id = ack["conversation_id"]
    await alice.expect("alert")
    await alice.request({"type": "start_conversation", "conversation_id": conversation_id})
    await alice.request({"type": "message", "conversation_id": conversation_id, "body": "one"})
    seen = await visitor.expect("message", lambda f: f["seq"] == 3)  # 2: alice took it
    await visitor.close()

    for i in range(10):
        await alice.request(
            {"type": "message", "conversation_id": conversation_id, "body": f"missed {i}"}
        )

    back, welcome2 = await clients.visitor(world.url, world.org.site_key, token=token)
    assert welcome2["visitor_id"] == welcome["visitor_id"]
    assert welcome2["conversation"]["id"] == conversation_id
    await back.send({"type": "resume", "after": {conversation_id: seen["seq"]}})
    resumed = await back.expect("resumed")
    replayed = [f for f in back.drain("message") if f["conversation_id"] == conversation_id]
    assert [f["seq"] for f in replayed] == list(range(4, 14))
    assert [f["body"] for f in replayed] == [f"missed {i}" for i in range(10)]
    assert resumed["conversations"] == {conversation_id: 13}

    # Live delivery continues after the replay.
    await alice.request({"type": "message", "conversation_id": conversation_id, "body": "live"})
    live = await back.expect("message", lambda f: f["seq"] == 14)
    assert live["body"] == "live"
    await back.close()
    await alice.close()


async def test_resend_with_same_client_id_stores_one_message(world: World) -> None:
    visitor, _ = await clients.visitor(world.url, world.org.site_key)
    frame = {"type": "message", "id": "dup-1", "body": "only once"}
    await visitor.send(frame)
    first = await visitor.expect_reply("dup-1")
    await visitor.send(frame)
    second = await visitor.expect_reply("dup-1")
    assert first["type"] == second["type"] == "ack"
    assert first["seq"] == second["seq"] == 1
    stored = await _stored(world, first["conversation_id"])
    assert [(m.seq, m.body) for m in stored if m.client_id == "dup-1"] == [(1, "only once")]
    await visitor.close()


async def test_nobody_available_gets_away_message_and_email_capture(world: World) -> None:
    visitor, welcome = await clients.visitor(world.url, world.org.site_key)
    assert welcome["reps_available"] is False
    await visitor.request({"type": "message", "body": "anyone there?"})
    away = await visitor.expect("away")
    assert away["message"]["author"]["kind"] == "system"
    assert "email" in away["message"]["body"]
    bad = await visitor.request({"type": "leave_email", "email": "not-an-email"})
    assert bad["type"] == "error" and bad["code"] == "invalid"
    ok = await visitor.request({"type": "leave_email", "email": "ada@example.com"})
    assert ok["type"] == "ack"
    db = Database(world.stack.database_url)
    try:
        async with db.read() as conn:
            stored = await chat_store.get_visitor(
                conn, org_id=world.org.id, visitor_id=welcome["visitor_id"]
            )
    finally:
        await db.dispose()
    assert stored is not None and stored.email == "ada@example.com"
    await visitor.close()


async def test_the_away_message_speaks_the_messengers_language(world: World) -> None:
    french, welcome = await clients.visitor(world.url, world.org.site_key, locale="fr-CA")
    assert welcome["strings_locale"] == "fr"
    english, _ = await clients.visitor(world.url, world.org.site_key, locale="en-GB")
    unknown, _ = await clients.visitor(world.url, world.org.site_key, locale="xx")
    for visitor, text in (
        (french, AWAY_TEXTS["fr"]),
        (english, AWAY_TEXTS["en"]),
        (unknown, AWAY_TEXTS["en"]),  # a language we have no text for: English
    ):
        await visitor.request({"type": "message", "body": "anyone there?"})
        away = await visitor.expect("away")
        assert away["message"]["body"] == text
        await visitor.close()


async def test_a_console_starts_with_every_online_visitor_of_its_org_only(world: World) -> None:
    from tests.support.proactive import session
    from tests.support.seed import seed_org

    other = await seed_org(world.stack.database_url, origins=[world.url])
    ours = [await clients.visitor(world.url, world.org.site_key) for _ in range(3)]
    theirs, their_welcome = await clients.visitor(world.url, other.site_key)
    expected = {welcome["visitor_id"] for _, welcome in ours}

    cookie, _ = await clients.login(world.url, world.org.reps[0].email, world.org.password)
    rep, welcome = await clients.rep(world.url, cookie)
    listed = {v["id"] for v in welcome["visitors"] if v["online"]}
    assert listed == expected
    assert all(v["current_page"]["url"].endswith("/demo/") for v in welcome["visitors"])

    http = await session(world.url, world.org.reps[0].email, world.org.password)
    async with http:
        res = await http.get("/api/v1/visitors", params={"online": "true"})
        assert res.status_code == 200
        assert {v["id"] for v in res.json()["items"]} == expected
        assert their_welcome["visitor_id"] not in {v["id"] for v in res.json()["items"]}
    for client, _ in ours:
        await client.close()
    await theirs.close()
    await rep.close()


async def test_a_client_id_reused_for_another_message_gets_id_reused_and_stores_nothing(
    world: World,
) -> None:
    """The same frame id for a different message (another conversation, another body) is
    refused with `id_reused` on every path: a rep's group-committed message, a visitor's
    message into their conversation and their first one after it closed, and a pounce.
    A true resend is still acknowledged with the stored message."""
    (alice,) = await _reps(world, 1)
    ann, _ = await clients.visitor(world.url, world.org.site_key)
    bob, bob_welcome = await clients.visitor(world.url, world.org.site_key)
    convs = []
    for visitor in (ann, bob):
        ack = await visitor.request({"type": "message", "id": "v-1", "body": "hello"})
        assert ack["type"] == "ack" and ack["seq"] == 1  # the same id, another author: fine
        convs.append(ack["conversation_id"])
        await alice.expect(
            "alert", lambda f, c=ack["conversation_id"]: f["conversation"]["id"] == c
        )
        started = await alice.request({"type": "start_conversation", "conversation_id": convs[-1]})
        assert started["type"] == "ack"
    a, b = convs

    def rep_message(conversation_id: str, body: str) -> dict[str, str]:
        return {"type": "message", "id": "r-1", "conversation_id": conversation_id, "body": body}

    first = await alice.request(rep_message(a, "for Ann"))
    assert first["type"] == "ack" and first["seq"] == 3  # 2: alice took it
    for reuse in (rep_message(b, "for Ann"), rep_message(a, "something else")):
        refused = await alice.request(reuse)
        assert refused["type"] == "error" and refused["code"] == "id_reused", refused
        assert refused["id"] == "r-1" and refused["message"]
    resent = await alice.request(rep_message(a, "for Ann"))
    assert resent["type"] == "ack" and resent["seq"] == 3

    # the visitor's message into their open conversation (group commit)
    other_body = await ann.request({"type": "message", "id": "v-1", "body": "not hello"})
    assert other_body["type"] == "error" and other_body["code"] == "id_reused"
    same = await ann.request({"type": "message", "id": "v-1", "body": "hello"})
    assert same["type"] == "ack" and same["seq"] == 1 and same["conversation_id"] == a

    # the visitor's next message after their conversation closed, on the socket that saw
    # it open (group commit, refused there) and on a new one (the slow path)
    assert (await alice.request({"type": "close_conversation", "conversation_id": b}))[
        "type"
    ] == "ack"
    await bob.expect("conversation", lambda f: f["conversation"]["status"] == "closed")
    reused = await bob.request({"type": "message", "id": "v-1", "body": "new question"})
    assert reused["type"] == "error" and reused["code"] == "id_reused", reused
    await bob.close()
    bob, welcome = await clients.visitor(
        world.url, world.org.site_key, token=bob_welcome["visitor_token"]
    )
    assert welcome["conversation"] is None
    reused = await bob.request({"type": "message", "id": "v-1", "body": "new question"})
    assert reused["type"] == "error" and reused["code"] == "id_reused", reused
    late_resend = await bob.request({"type": "message", "id": "v-1", "body": "hello"})
    assert late_resend["type"] == "ack" and late_resend["conversation_id"] == b

    # a pounce: its id may not be reused for another visitor, nor by a message
    cat, cat_welcome = await clients.visitor(world.url, world.org.site_key)
    dan, dan_welcome = await clients.visitor(world.url, world.org.site_key)
    pounced = await alice.request(
        {"type": "pounce", "id": "p-1", "visitor_id": cat_welcome["visitor_id"], "body": "Hi!"}
    )
    assert pounced["type"] == "ack"
    for reuse in (
        {"type": "pounce", "id": "p-1", "visitor_id": dan_welcome["visitor_id"], "body": "Hi!"},
        {"type": "pounce", "id": "p-1", "visitor_id": cat_welcome["visitor_id"], "body": "Yo"},
        {"type": "message", "id": "p-1", "conversation_id": a, "body": "Hi!"},
    ):
        refused = await alice.request(reuse)
        assert refused["type"] == "error" and refused["code"] == "id_reused", (reuse, refused)
    again = await alice.request(
        {"type": "pounce", "id": "p-1", "visitor_id": cat_welcome["visitor_id"], "body": "Hi!"}
    )
    assert again["type"] == "ack" and again["conversation_id"] == pounced["conversation_id"]

    stored = {c: await _stored(world, c) for c in (a, b)}
    assert [(m.seq, m.client_id, m.body) for m in stored[a]] == [
        (1, "v-1", "hello"),
        (3, "r-1", "for Ann"),  # 2: alice took it
    ]
    assert [(m.client_id, m.body) for m in stored[b]] == [("v-1", "hello")]
    assert not [f for f in bob.inbox if f.get("type") == "message" and f["body"] != "hello"]
    assert not [f for f in dan.inbox if f.get("type") in ("conversation", "message")]
    for client in (alice, ann, bob, cat, dan):
        await client.close()
