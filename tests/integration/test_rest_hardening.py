"""REST answers an outside probe got wrong: 500s for a password change, unknown users,
explicit nulls and undecodable uploads; lax types; control characters in the AI
provider's URL; error bodies and 405s that disagreed with the OpenAPI document."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from pounce.store import copilot as copilot_store
from pounce.store.db import Database
from tests.integration.conftest import World
from tests.support import clients
from tests.support import proactive as auto_pounce
from tests.support.seed import PASSWORD, seed_org


async def _session(base: str, email: str, password: str = PASSWORD) -> httpx.AsyncClient:
    cookie, csrf = await clients.login(base, email, password)
    return httpx.AsyncClient(
        base_url=base + "/api/v1",
        cookies={"pounce_session": cookie},
        headers={"X-CSRF-Token": csrf},
    )


def _is_problem(res: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The answer is `status` with the documented error body."""
    assert res.status_code == status, (res.request.method, res.request.url, res.text)
    body: dict[str, Any] = res.json()
    assert isinstance(body["detail"], str) and body["detail"], body
    assert set(body) <= {"detail", "code", "errors", "retry_after_seconds"}, body
    if code is not None:
        assert body["code"] == code, body
    return body


async def _can_log_in(base: str, email: str, password: str) -> int:
    async with httpx.AsyncClient(base_url=base) as c:
        res = await c.post("/api/v1/session", json={"email": email, "password": password})
        return res.status_code


async def test_changing_a_password_and_unknown_or_foreign_users(world: World) -> None:
    org = world.org
    rep, other = org.reps
    async with await _session(world.url, org.admin.email) as admin:
        res = await admin.patch(f"/users/{rep.id}", json={"password": "a brand new secret"})
        assert res.status_code == 200 and res.json()["id"] == rep.id
        assert await _can_log_in(world.url, rep.email, "a brand new secret") == 200
        assert await _can_log_in(world.url, rep.email, PASSWORD) == 401
        for body in ({"password": "long enough!"}, {"name": "Nobody"}, {"role": "admin"}):
            _is_problem(await admin.patch("/users/u_unknown", json=body), 404, "not_found")
    async with await _session(world.url, other.email) as own:
        res = await own.patch(f"/users/{other.id}", json={"password": "my own new one"})
        assert res.status_code == 200
    assert await _can_log_in(world.url, other.email, "my own new one") == 200
    org_b = await seed_org(world.stack.database_url, origins=[world.url])
    async with await _session(world.url, org_b.admin.email) as foreign:
        for body in ({"password": "long enough!"}, {"name": "pwned"}):
            _is_problem(await foreign.patch(f"/users/{rep.id}", json=body), 404, "not_found")


async def test_null_is_refused_where_it_means_nothing(world: World) -> None:
    org = world.org
    async with await _session(world.url, org.admin.email) as admin:
        rule = (await admin.get("/routing-rules")).json()["items"][0]
        users_before = (await admin.get("/users")).json()
        for field in ("role", "name", "password"):
            res = await admin.patch(f"/users/{org.reps[0].id}", json={field: None})
            problem = _is_problem(res, 422, "invalid")
            assert [e["loc"] for e in problem["errors"]] == [["body", field]], problem
        assert (await admin.get("/users")).json() == users_before
        for field in ("mode", "rep_ids", "name", "enabled", "url_pattern", "position"):
            res = await admin.patch(f"/routing-rules/{rule['id']}", json={field: None})
            problem = _is_problem(res, 422, "invalid")
            assert [e["loc"] for e in problem["errors"]] == [["body", field]], problem
        assert (await admin.get("/routing-rules")).json()["items"][0] == rule
        # Where null means "none", it is accepted.
        res = await admin.patch(f"/routing-rules/{rule['id']}", json={"company": None})
        assert res.status_code == 200 and res.json()["company"] is None
        res = await admin.patch(f"/users/{org.reps[0].id}", json={"avatar_url": None})
        assert res.status_code == 200 and res.json()["avatar_url"] is None
        _is_problem(await admin.patch(f"/routing-rules/{rule['id']}", json={}), 422, "invalid")


async def test_knowledge_that_is_not_utf8_is_refused(world: World) -> None:
    async with await _session(world.url, world.org.admin.email) as admin:
        before = (await admin.get("/knowledge")).json()["items"]
        json_type = {"content-type": "application/json"}
        not_utf8 = b'{"title": "caf\xe9", "body": "x"}'
        res = await admin.post("/knowledge", content=not_utf8, headers=json_type)
        _is_problem(res, 400, "bad_request")
        res = await admin.post(
            "/knowledge", content=b"\xff\xfe text", headers={"content-type": "text/plain"}
        )
        _is_problem(res, 415, "unsupported_media_type")
        res = await admin.post("/knowledge", files={"file": ("faq.md", b"caf\xe9 au lait")})
        assert "UTF-8" in _is_problem(res, 422, "invalid")["detail"]
        res = await admin.post("/knowledge", content=b'{"title": "x"', headers=json_type)
        _is_problem(res, 422, "invalid")
        assert (await admin.get("/knowledge")).json()["items"] == before
        res = await admin.post("/knowledge", files={"file": ("faq.md", "café".encode())})
        assert res.status_code == 201 and res.json()["title"] == "faq"


LAX = [
    ("PUT", "/proactive/settings", {"max_open_chats_per_rep": "5"}),
    ("PUT", "/proactive/settings", {"auto_pounce_enabled": "yes"}),
    ("PUT", "/proactive/settings", {"nudge_delay_seconds": "30"}),
    ("PUT", "/proactive/settings", {"auto_pounce_enabled": 1}),
    ("PUT", "/me/auto-pounce", {"enabled": "yes"}),
    ("PUT", "/me/auto-pounce", {"enabled": 1}),
    ("POST", "/routing-rules", {"name": "r", "enabled": "true"}),
    ("POST", "/routing-rules", {"name": "r", "position": "3"}),
    ("POST", "/routing-rules", {"name": 5}),
    ("POST", "/proactive/rules", {"name": "r", "min_pages_viewed": 2.5}),
    ("POST", "/proactive/rules", {"name": "r", "min_seconds_on_page": "10"}),
    ("POST", "/teams", {"name": "t", "member_ids": "u_1"}),
    ("GET", "/visitors?online=yes", None),
    ("GET", "/visitors?online=1", None),
    ("GET", "/visitors?limit=ten", None),
]


@pytest.mark.parametrize(("method", "path", "body"), LAX, ids=[f"{m} {p}" for m, p, _ in LAX])
async def test_types_are_strict(world: World, method: str, path: str, body: Any) -> None:
    async with await _session(world.url, world.org.admin.email) as admin:
        before = (await admin.get("/proactive/settings")).json()
        _is_problem(await admin.request(method, path, json=body), 422, "invalid")
        assert (await admin.get("/proactive/settings")).json() == before
        # The documented types are accepted (an int where a number is documented too).
        res = await admin.put("/proactive/settings", json={"nudge_delay_seconds": 30})
        assert res.status_code == 200 and res.json()["nudge_delay_seconds"] == 30.0
        assert (await admin.get("/visitors?online=true&limit=10")).status_code == 200


def _log(world: World) -> Path:
    return world.stack.var_dir / f"server-{urlsplit(world.url).port}.log"


async def _logged(path: Path, start: int, text: str, timeout: float = 20.0) -> str:
    """The log written since `start`, once it holds `text`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        with path.open("rb") as f:
            f.seek(start)
            written = f.read().decode(errors="replace")
        if text in written or loop.time() > deadline:
            return written
        await asyncio.sleep(0.05)  # polling a file; nothing to wait on


async def test_provider_urls_are_validated_and_a_stored_bad_one_is_harmless(
    world: World,
) -> None:
    org = world.org
    async with await _session(world.url, org.admin.email) as admin:
        for url in ["http://a\x01b.test/v1", "http://a b/v1", "ftp://a.test", "http://", "x"]:
            body = {"provider": "openai_compatible", "base_url": url, "model": "m"}
            problem = _is_problem(await admin.put("/ai-settings", json=body), 422, "invalid")
            assert problem["errors"][0]["loc"] == ["body", "base_url"], problem
        assert (await admin.get("/ai-settings")).json()["provider"] == "default"
    # One stored before the check existed (or written by another tool).
    db = Database(world.stack.database_url)
    try:
        async with db.write() as conn:
            await copilot_store.put_ai_settings(
                conn,
                org_id=org.id,
                ai={"provider": "openai_compatible", "base_url": "http://a\x01b.test/v1"},
            )
    finally:
        await db.dispose()
    log = _log(world)
    start = log.stat().st_size
    await auto_pounce.enable(world.url, org)
    cookie, _ = await clients.login(world.url, org.reps[0].email, org.password)
    rep, _ = await clients.rep(world.url, cookie)
    await rep.expect("auto_pounce")
    visitor, _ = await clients.visitor(world.url, org.site_key)
    greeting = await visitor.expect("message", lambda f: f["seq"] == 1, timeout=20)
    assert greeting["body"].startswith("Hi there!")  # the template: the provider was unusable
    conversation_id = greeting["conversation_id"]
    await rep.expect("message", lambda f: f["conversation_id"] == conversation_id)
    async with await _session(world.url, org.reps[0].email) as http:
        res = await http.post(
            "/copilot/expand", json={"conversation_id": conversation_id, "text": "thx, bye"}
        )
        assert res.status_code == 200, res.text
        assert res.json()["source"] == "offline"
        assert "base_url is not usable" in res.json()["fallback"]
    written = await _logged(log, start, "auto pounce greeting: the model gave nothing usable")
    assert "base_url is not usable" in written
    assert "Traceback" not in written, written
    await visitor.close()
    await rep.close()


async def test_error_bodies_and_405s_match_the_document(world: World) -> None:
    async with await _session(world.url, world.org.admin.email) as admin:
        problem = _is_problem(await admin.put("/me/availability", json={}), 422, "invalid")
        assert problem["errors"] == [
            {"loc": ["body", "status"], "msg": "Field required", "type": "missing"}
        ]
        assert problem["detail"] == "status: Field required"
        res = await admin.put("/me/availability", content=b"{", headers={"content-type": "x/y"})
        _is_problem(res, 422, "invalid")
        _is_problem(await admin.get("/nothing-here"), 404, "not_found")
        _is_problem(await admin.get("/sites/s_unknown"), 404, "not_found")
        res = await admin.delete(f"/sites/{world.org.site_id}")
        _is_problem(res, 405, "method_not_allowed")
        assert res.headers["allow"] == "GET, HEAD, PATCH"
        res = await admin.post(f"/users/{world.org.reps[0].id}", json={})
        assert res.status_code == 405 and res.headers["allow"] == "PATCH"
        res = await admin.put("/users", json={})
        assert res.status_code == 405 and res.headers["allow"] == "GET, HEAD, POST"
        # A concrete path's own methods, not those of /shortcuts/{shortcut_id} too.
        res = await admin.options("/shortcuts/menu")
        assert res.status_code == 405 and res.headers["allow"] == "GET, HEAD"
        dup = {"email": world.org.reps[0].email, "name": "dup", "password": "longenough"}
        _is_problem(await admin.post("/users", json=dup), 409, "conflict")
    async with httpx.AsyncClient(base_url=world.url) as anon:
        _is_problem(await anon.get("/api/v1/me"), 401, "not_authenticated")
