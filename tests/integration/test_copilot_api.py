"""The copilot over REST in offline mode: knowledge, suggest, expand, tune, streaming,
tones, rate limits, AI settings; never across orgs and never to the visitor."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from tests.integration.conftest import World
from tests.integration.test_shortcuts_api import session
from tests.support import clients
from tests.support.copilot import cross_org_calls
from tests.support.seed import Org, seed_org

DRAFT = "hey we got ur msg, our sales guy wil call u tmrw"


async def exchange(world: World, org: Org, question: str, answer: str | None) -> str:
    """A conversation where a visitor asks `question` and (if given) a rep answers."""
    visitor, _ = await clients.visitor(world.url, org.site_key)
    ack = await visitor.request({"type": "message", "body": question})
    conversation_id: str = ack["conversation_id"]
    if answer is not None:
        cookie, _ = await clients.login(world.url, org.reps[0].email, org.password)
        rep, _ = await clients.rep(world.url, cookie, available=False)
        started = await rep.request(
            {"type": "start_conversation", "conversation_id": conversation_id}
        )
        assert started["type"] == "ack", started
        sent = await rep.request(
            {"type": "message", "conversation_id": conversation_id, "body": answer}
        )
        assert sent["type"] == "ack", sent
        await rep.close()
    await visitor.close()
    return conversation_id


def events(body: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        found.append((lines["event"], json.loads(lines["data"])))
    return found


async def test_suggest_answers_from_the_orgs_knowledge(world: World) -> None:
    async with (
        await session(world, world.org.admin) as admin,
        await session(world, world.org.reps[0]) as rep,
    ):
        page = await admin.post(
            "/knowledge",
            json={
                "title": "FAQ",
                "body": "## Is there a free trial?\nEvery plan has a 14-day free trial.\n\n"
                "## Where is my data stored?\nIn the EU (Frankfurt).",
            },
        )
        assert page.status_code == 201, page.text
        assert page.json()["chars"] > 0 and "body" not in page.json()
        upload = await admin.post(
            "/knowledge",
            files={"file": ("security.md", b"# Security\n\nWe support SSO with SAML and Okta.")},
        )
        assert upload.status_code == 201, upload.text
        assert upload.json()["title"] == "security" and upload.json()["format"] == "markdown"
        await admin.post(
            "/shortcuts",
            json={
                "name": "Pricing",
                "text": "Hi {visitor.first_name}! Plans start at $49 a month.",
                "scope": "org",
            },
        )
        # Reps read knowledge but cannot change it.
        denied = await rep.post("/knowledge", json={"title": "x", "body": "y"})
        assert denied.status_code == 403
        listed = (await rep.get("/knowledge")).json()["items"]
        assert [p["title"] for p in listed] == ["FAQ", "security"]
        one = (await rep.get(f"/knowledge/{listed[1]['id']}")).json()
        assert one["body"] == "# Security\n\nWe support SSO with SAML and Okta."

        await exchange(
            world, world.org, "Do you integrate with Slack?", "Yes! Our Slack app takes 2 minutes."
        )
        asking = await exchange(world, world.org, "hi, does it work with slack?", None)
        started = time.perf_counter()
        res = await rep.post("/copilot/suggest", json={"conversation_id": asking})
        latency_ms = (time.perf_counter() - started) * 1000
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["text"] == "Yes! Our Slack app takes 2 minutes."
        assert body["html"] == "<p>Yes! Our Slack app takes 2 minutes.</p>"
        assert body["source"] == "offline" and body["fallback"] is None
        assert body["sources"][0]["kind"] == "transcript"
        assert body["sources"][0]["title"] == "Do you integrate with Slack?"
        print(f"offline suggest latency: {latency_ms:.0f} ms")

        # An explicit question overrides the visitor's; shortcuts come filled in.
        price = (
            await rep.post("/copilot/suggest", json={"conversation_id": asking, "text": "price?"})
        ).json()
        assert price["sources"][0]["kind"] == "shortcut"
        assert price["text"] == "Hi {visitor.first_name}! Plans start at $49 a month."
        sso = (
            await rep.post(
                "/copilot/suggest", json={"conversation_id": asking, "text": "Do you have SSO?"}
            )
        ).json()
        assert sso["sources"][0] | {"score": 0} == {
            "kind": "page",
            "id": f"{listed[1]['id']}#0",
            "title": "security > Security",
            "text": "We support SSO with SAML and Okta.",
            "html": "<p>We support SSO with SAML and Okta.</p>",
            "score": 0,
        }
        none = (
            await rep.post("/copilot/suggest", json={"conversation_id": asking, "text": "kangaroo"})
        ).json()
        assert none["text"] == "" and none["sources"] == [] and none["note"]

        # Deleting a page takes it out of the index at once.
        assert (await admin.delete(f"/knowledge/{listed[1]['id']}")).status_code == 204
        gone = (
            await rep.post(
                "/copilot/suggest", json={"conversation_id": asking, "text": "Do you have SSO?"}
            )
        ).json()
        assert all(s["kind"] != "page" or "SSO" not in s["text"] for s in gone["sources"])


async def test_knowledge_never_crosses_orgs(world: World) -> None:
    org_b = await seed_org(world.stack.database_url, origins=[world.url])
    async with (
        await session(world, world.org.admin) as a,
        httpx.AsyncClient() as _,
    ):
        page_a = (
            await a.post(
                "/knowledge", json={"title": "Secret", "body": "The launch codeword is PELICAN."}
            )
        ).json()
        await a.post(
            "/shortcuts",
            json={"name": "Code", "text": "Codeword pelican, org A only.", "scope": "org"},
        )
    await exchange(world, world.org, "what is the pelican codeword", "PELICAN, in org A.")
    cookie, csrf = await clients.login(world.url, org_b.admin.email, org_b.password)
    async with httpx.AsyncClient(
        base_url=world.url + "/api/v1",
        cookies={"pounce_session": cookie},
        headers={"X-CSRF-Token": csrf},
    ) as b:
        await b.post(
            "/knowledge", json={"title": "B facts", "body": "Our mascot is a pelican named Bo."}
        )
        asking_b = await exchange(world, org_b, "tell me the pelican codeword", None)
        found = (await b.post("/copilot/suggest", json={"conversation_id": asking_b})).json()
        assert [s["text"] for s in found["sources"]] == ["Our mascot is a pelican named Bo."]
        assert (await b.get(f"/knowledge/{page_a['id']}")).status_code == 404
        assert (await b.delete(f"/knowledge/{page_a['id']}")).status_code == 404
        assert [p["title"] for p in (await b.get("/knowledge")).json()["items"]] == ["B facts"]
        assert (await b.get("/shortcuts")).json()["items"] == []


async def test_tune_and_expand_follow_the_conversations_tone(world: World) -> None:
    conversation_id = await exchange(world, world.org, "hello", None)
    async with await session(world, world.org.reps[0]) as rep:
        tone = await rep.get(f"/conversations/{conversation_id}/tone")
        assert tone.json() == {"conversation_id": conversation_id, "tone": "friendly", "set": False}
        friendly = await rep.post(
            "/copilot/tune", json={"conversation_id": conversation_id, "text": DRAFT}
        )
        assert friendly.json()["text"] == (
            "Hi, we got your message. Our sales guy will call you tomorrow. Thanks!"
        )
        put = await rep.put(f"/conversations/{conversation_id}/tone", json={"tone": "professional"})
        assert put.json() == {
            "conversation_id": conversation_id,
            "tone": "professional",
            "set": True,
        }
        tuned = (
            await rep.post(
                "/copilot/tune", json={"conversation_id": conversation_id, "text": DRAFT}
            )
        ).json()
        assert tuned == {
            "op": "tune",
            "text": "Hello, we have received your message. Our sales representative will call "
            "you tomorrow. Best regards",
            "html": "<p>Hello, we have received your message. Our sales representative will "
            "call you tomorrow. Best regards</p>",
            "source": "offline",
            "tone": "professional",
            "fallback": None,
            "note": None,
        }
        casual = (
            await rep.post(
                "/copilot/tune",
                json={"conversation_id": conversation_id, "text": DRAFT, "tone": "casual"},
            )
        ).json()
        assert casual["tone"] == "casual" and casual["text"].startswith("Hey, we got")
        expanded = (
            await rep.post(
                "/copilot/expand",
                json={"conversation_id": conversation_id, "text": "pricing 49/mo, call u tmrw"},
            )
        ).json()
        assert expanded["text"] == (
            "Hello, thank you for reaching out. Pricing is 49 per month. I will call you "
            "tomorrow. Please let me know if you have any further questions."
        )
        bad = [
            ("PUT", f"/conversations/{conversation_id}/tone", {"tone": "grumpy"}, 422),
            ("PUT", "/conversations/c_nope/tone", {"tone": "casual"}, 404),
            ("GET", "/conversations/c_nope/tone", None, 404),
            ("POST", "/copilot/tune", {"conversation_id": conversation_id}, 422),
            ("POST", "/copilot/tune", {"conversation_id": conversation_id, "text": " "}, 422),
            ("POST", "/copilot/tune", {"conversation_id": "c_nope", "text": "hi"}, 404),
            ("POST", "/copilot/tune", {"text": "hi"}, 422),
            (
                "POST",
                "/copilot/tune",
                {"conversation_id": conversation_id, "text": "x" * 4001},
                422,
            ),
            (
                "POST",
                "/copilot/expand",
                {"conversation_id": conversation_id, "text": "x", "tone": "rude"},
                422,
            ),
        ]
        for method, url, body, status in bad:
            res = await rep.request(method, url, json=body)
            assert res.status_code == status, (method, url, res.status_code, res.text)


async def test_streaming_endpoint_sends_chunks_then_done(world: World) -> None:
    conversation_id = await exchange(world, world.org, "hello", None)
    async with (
        await session(world, world.org.reps[0]) as rep,
        rep.stream(
            "POST",
            "/copilot/tune/stream",
            json={"conversation_id": conversation_id, "text": DRAFT, "tone": "casual"},
        ) as res,
    ):
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        body = (await res.aread()).decode()
    got = events(body)
    assert [e for e, _ in got] == ["chunk", "done"]
    text = "Hey, we got your message. Our sales guy will call you tomorrow. Cheers!"
    assert got[0][1] == {"text": text}
    assert got[1][1]["text"] == text and got[1][1]["source"] == "offline"


async def test_rate_limit_per_rep(world: World) -> None:
    conversation_id = await exchange(world, world.org, "hello", None)
    payload = {"conversation_id": conversation_id, "text": "ok"}
    async with (
        await session(world, world.org.reps[0]) as rep0,
        await session(world, world.org.reps[1]) as rep1,
    ):
        codes = [(await rep0.post("/copilot/tune", json=payload)).status_code for _ in range(21)]
        assert codes == [200] * 20 + [429]
        limited = await rep0.post("/copilot/suggest", json=payload)
        assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
        streamed = await rep0.post("/copilot/tune/stream", json=payload)
        assert streamed.status_code == 429
        # Another rep has their own budget.
        assert (await rep1.post("/copilot/tune", json=payload)).status_code == 200


async def test_copilot_output_never_reaches_the_visitor(world: World) -> None:
    visitor, _ = await clients.visitor(world.url, world.org.site_key)
    ack = await visitor.request({"type": "message", "body": "do you integrate with slack?"})
    conversation_id = ack["conversation_id"]
    await asyncio.sleep(0.3)
    visitor.drain()  # the visitor's own message and the away notice
    async with await session(world, world.org.reps[0]) as rep:
        for op in ("suggest", "expand", "tune"):
            res = await rep.post(
                f"/copilot/{op}", json={"conversation_id": conversation_id, "text": DRAFT}
            )
            assert res.status_code == 200
            streamed = await rep.post(
                f"/copilot/{op}/stream", json={"conversation_id": conversation_id, "text": DRAFT}
            )
            assert streamed.status_code == 200
        msgs = (await rep.get(f"/conversations/{conversation_id}/messages")).json()["items"]
    await asyncio.sleep(0.3)
    try:
        assert [f for f in visitor.drain() if f.get("type") != "pong"] == []
        # Nothing was stored either: only the visitor's message and the away notice.
        assert [m["author"]["kind"] for m in msgs] == ["visitor", "system"]
    finally:
        await visitor.close()


async def test_ai_settings_never_return_the_key(world: World) -> None:
    async with (
        await session(world, world.org.admin) as admin,
        await session(world, world.org.reps[0]) as rep,
    ):
        assert (await rep.get("/ai-settings")).status_code == 403
        assert (await rep.put("/ai-settings", json={"provider": "offline"})).status_code == 403
        start = (await admin.get("/ai-settings")).json()
        assert start["provider"] == "default" and start["api_key_set"] is False
        assert start["effective"]["source"] == "offline"
        secret = "sk-test-DO-NOT-ECHO-1234"
        put = await admin.put(
            "/ai-settings",
            json={
                "provider": "openai_compatible",
                "base_url": "http://127.0.0.1:9/v1",
                "model": "tiny",
                "api_key": secret,
                "timeout_seconds": 2,
            },
        )
        assert put.status_code == 200, put.text
        assert secret not in put.text and put.json()["api_key_set"] is True
        assert put.json()["effective"] == {
            "source": "tiny",
            "configured_by": "org",
            "server_provider_set": False,
        }
        got = await admin.get("/ai-settings")
        assert secret not in got.text and "api_key" not in {
            k for k in got.json() if k != "api_key_set"
        }
        # Omitting the key keeps it; null clears it.
        kept = await admin.put(
            "/ai-settings",
            json={"provider": "openai_compatible", "base_url": "http://127.0.0.1:9/v1"},
        )
        assert kept.json()["api_key_set"] is True and kept.json()["model"] is None
        cleared = await admin.put("/ai-settings", json={"provider": "offline", "api_key": None})
        assert cleared.json()["api_key_set"] is False
        assert cleared.json()["effective"]["source"] == "offline"
        for body in [
            {"provider": "openai_compatible"},
            {"provider": "openai_compatible", "base_url": "ftp://x"},
            {"provider": "magic"},
            {"provider": "offline", "timeout_seconds": 0},
            {"provider": "offline", "extra": 1},
        ]:
            res = await admin.put("/ai-settings", json=body)
            assert res.status_code == 422, (body, res.text)


async def test_knowledge_upload_is_validated(world: World) -> None:
    async with await session(world, world.org.admin) as admin:
        cases: list[dict[str, Any]] = [
            {"files": {"file": ("x.pdf", b"%PDF-1.4")}},
            {"files": {"file": ("x.md", b"\xff\xfe\x00bad")}},
            {"files": {"file": ("x.md", b"   ")}},
            {"files": {"other": ("x.md", b"hello")}},
            {"json": {"title": "", "body": "x"}},
            {"json": {"title": "t", "body": "x" * 200_001}},
            {"json": {"title": "t", "body": "x", "format": "html"}},
            {"content": b"not json", "headers": {"content-type": "application/json"}},
        ]
        for case in cases:
            res = await admin.post("/knowledge", **case)
            assert res.status_code == 422, (case.get("json") or case.get("files"), res.text)
        big = await admin.post("/knowledge", files={"file": ("big.txt", b"word " * (110 * 1024))})
        assert big.status_code in (413, 422)
        text = await admin.post(
            "/knowledge",
            files={"file": ("notes.txt", "Café hours: 9\u20135".encode())},
            data={"title": "Hours"},
        )
        assert text.status_code == 201 and text.json()["format"] == "text"
        assert text.json()["title"] == "Hours"


async def test_no_copilot_route_crosses_orgs(world: World) -> None:
    calls = await cross_org_calls(world.url, world.org)
    conversation_id = calls[("GET", "/api/v1/conversations/{conversation_id}/tone")][1].split("/")[
        -2
    ]
    org_b = await seed_org(world.stack.database_url, origins=[world.url])
    cookie, csrf = await clients.login(world.url, org_b.admin.email, org_b.password)
    async with httpx.AsyncClient(
        base_url=world.url, cookies={"pounce_session": cookie}, headers={"X-CSRF-Token": csrf}
    ) as b:
        for method, url, body, statuses in calls.values():
            res = await b.request(method, url, json=body)
            assert res.status_code in statuses, (method, url, res.status_code, res.text)
        for op in ("suggest", "expand", "tune"):
            for suffix in ("", "/stream"):
                res = await b.post(
                    f"/api/v1/copilot/{op}{suffix}",
                    json={"conversation_id": conversation_id, "text": "x"},
                )
                assert res.status_code == 404, (op, suffix, res.text)
    async with await session(world, world.org.admin) as a:
        assert [s["text"] for s in (await a.get("/shortcuts")).json()["items"]] == ["a"]
        assert len((await a.get("/knowledge")).json()["items"]) == 1
        tone = (await a.get(f"/conversations/{conversation_id}/tone")).json()
        assert tone["set"] is False
