"""Every REST route checks the session, the role, CSRF, and never crosses orgs."""

from __future__ import annotations

import httpx

from pounce.app import create_app
from pounce.config import Settings
from tests.integration.conftest import World
from tests.support import clients
from tests.support.copilot import cross_org_calls as copilot_routes
from tests.support.proactive import cross_org_calls as proactive_routes
from tests.support.seed import Org, seed_org


async def _session(base: str, email: str, password: str) -> httpx.AsyncClient:
    cookie, csrf = await clients.login(base, email, password)
    return httpx.AsyncClient(
        base_url=base, cookies={"pounce_session": cookie}, headers={"X-CSRF-Token": csrf}
    )


async def _org_a_with_a_conversation(world: World) -> dict[str, str]:
    """Org A: a visitor, a conversation with a message, a rule id."""
    visitor, welcome = await clients.visitor(world.url, world.org.site_key)
    ack = await visitor.request({"type": "message", "body": "secret of org A"})
    await visitor.close()
    async with await _session(world.url, world.org.admin.email, world.org.password) as a:
        rules = (await a.get("/api/v1/routing-rules")).json()["items"]
    return {
        "visitor": welcome["visitor_id"],
        "conversation": ack["conversation_id"],
        "rule": rules[0]["id"],
        "site": world.org.site_id,
        "user": world.org.reps[0].id,
    }


def _api_routes() -> set[tuple[str, str]]:
    """Every (method, path) of the REST API, from the app's own OpenAPI document."""
    app = create_app(Settings(secret_key="x" * 32, _env_file=None))  # type: ignore[call-arg]
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert len(found) > 20, found  # the walk itself must see the API
    return found


async def test_no_route_crosses_orgs(world: World) -> None:
    ids = await _org_a_with_a_conversation(world)
    org_b: Org = await seed_org(world.stack.database_url, origins=[world.url])
    calls: dict[tuple[str, str], tuple[str, str, dict[str, object] | None, set[int]]] = {
        ("PATCH", "/api/v1/users/{user_id}"): (
            "PATCH",
            f"/api/v1/users/{ids['user']}",
            {"name": "pwned"},
            {404},
        ),
        ("GET", "/api/v1/sites/{site_id}"): ("GET", f"/api/v1/sites/{ids['site']}", None, {404}),
        ("PATCH", "/api/v1/sites/{site_id}"): (
            "PATCH",
            f"/api/v1/sites/{ids['site']}",
            {"name": "pwned"},
            {404},
        ),
        ("GET", "/api/v1/sites/{site_id}/identity-secret"): (
            "GET",
            f"/api/v1/sites/{ids['site']}/identity-secret",
            None,
            {404},
        ),
        ("POST", "/api/v1/sites/{site_id}/identity-secret/rotate"): (
            "POST",
            f"/api/v1/sites/{ids['site']}/identity-secret/rotate",
            None,
            {404},
        ),
        ("PATCH", "/api/v1/routing-rules/{rule_id}"): (
            "PATCH",
            f"/api/v1/routing-rules/{ids['rule']}",
            {"name": "pwned"},
            {404},
        ),
        ("DELETE", "/api/v1/routing-rules/{rule_id}"): (
            "DELETE",
            f"/api/v1/routing-rules/{ids['rule']}",
            None,
            {404},
        ),
        ("GET", "/api/v1/visitors/{visitor_id}"): (
            "GET",
            f"/api/v1/visitors/{ids['visitor']}",
            None,
            {404},
        ),
        ("GET", "/api/v1/conversations/{conversation_id}"): (
            "GET",
            f"/api/v1/conversations/{ids['conversation']}",
            None,
            {404},
        ),
        ("GET", "/api/v1/conversations/{conversation_id}/messages"): (
            "GET",
            f"/api/v1/conversations/{ids['conversation']}/messages",
            None,
            {404},
        ),
        ("POST", "/api/v1/conversations/{conversation_id}/transcript-email"): (
            "POST",
            f"/api/v1/conversations/{ids['conversation']}/transcript-email",
            None,
            {404},
        ),
        ("POST", "/api/v1/conversations/{conversation_id}/email-reply"): (
            "POST",
            f"/api/v1/conversations/{ids['conversation']}/email-reply",
            {"client_id": "x1", "body": "hi"},
            {404},
        ),
        ("POST", "/api/v1/outbox/{row_id}/retry"): ("POST", "/api/v1/outbox/1/retry", None, {404}),
        ("POST", "/api/v1/routing-rules"): (
            "POST",
            "/api/v1/routing-rules",
            {"name": "steal", "rep_ids": [ids["user"]]},
            {422},
        ),
        ("POST", "/api/v1/teams"): (
            "POST",
            "/api/v1/teams",
            {"name": "steal", "member_ids": [ids["user"]]},
            {422},
        ),
    }
    async with await _session(world.url, world.org.admin.email, world.org.password) as a:
        ip_block = (await a.post("/api/v1/blocks/ips", json={"cidr": "203.0.113.7"})).json()
    calls[("DELETE", "/api/v1/blocks/visitors/{visitor_id}")] = (
        "DELETE",
        f"/api/v1/blocks/visitors/{ids['visitor']}",
        None,
        {404},
    )
    calls[("DELETE", "/api/v1/blocks/ips/{block_id}")] = (
        "DELETE",
        f"/api/v1/blocks/ips/{ip_block['id']}",
        None,
        {404},
    )
    calls.update(await proactive_routes(world.url, world.org))  # auto pounce rules, templates
    calls.update(await copilot_routes(world.url, world.org))  # shortcuts, knowledge, tone
    async with await _session(world.url, org_b.admin.email, org_b.password) as b:
        for method, url, body, statuses in calls.values():
            res = await b.request(method, url, json=body)
            assert res.status_code in statuses, (method, url, res.status_code, res.text)
        # Listing routes only ever show org B's own rows.
        listings = {
            "/api/v1/users": {p.id for p in [org_b.admin, *org_b.reps]},
            "/api/v1/sites": {org_b.site_id},
            "/api/v1/conversations": set(),
            "/api/v1/visitors": set(),
        }
        for url, expected in listings.items():
            items = (await b.get(url)).json()["items"]
            assert {i["id"] for i in items} == expected, url
        by_visitor = await b.get("/api/v1/conversations", params={"visitor_id": ids["visitor"]})
        assert by_visitor.json()["items"] == []
        rules = (await b.get("/api/v1/routing-rules")).json()["items"]
        assert ids["rule"] not in {r["id"] for r in rules}
    # Org A's data is untouched.
    async with await _session(world.url, world.org.admin.email, world.org.password) as a:
        rule = [r for r in (await a.get("/api/v1/routing-rules")).json()["items"]]
        assert ids["rule"] in {r["id"] for r in rule}
        site = (await a.get(f"/api/v1/sites/{ids['site']}")).json()
        assert site["name"] == "Site"
        msgs = (await a.get(f"/api/v1/conversations/{ids['conversation']}/messages")).json()
        assert msgs["items"][0]["body"] == "secret of org A"
    # Every id-taking route of the API is in the table above (a new route must be added).
    id_routes = {r for r in _api_routes() if "{" in r[1]}
    assert id_routes <= set(calls), id_routes - set(calls)


# Routes for people not signed in (yet): each checks what it needs itself.
PUBLIC = {
    ("POST", "/api/v1/session"),  # sign in
    ("GET", "/api/v1/console/start"),  # signed in or not, and whether setup is needed
    ("POST", "/api/v1/setup"),  # the first org, only while none exists
    ("POST", "/api/v1/set-password/check"),  # a signed one-time link
    ("POST", "/api/v1/set-password"),
}


async def test_every_route_needs_a_session(world: World) -> None:
    routes = _api_routes()
    assert routes >= PUBLIC, PUBLIC - routes
    async with httpx.AsyncClient(base_url=world.url) as anon:
        for method, path in sorted(routes - PUBLIC):
            url = path.replace("{", "").replace("}", "")
            res = await anon.request(method, url, json={})
            assert res.status_code == 401, (method, path, res.status_code)


async def test_reps_cannot_do_admin_writes(world: World) -> None:
    async with await _session(world.url, world.org.reps[0].email, world.org.password) as rep:
        writes = [
            ("POST", "/api/v1/users", {"email": "x@y.test", "name": "X", "password": "longenough"}),
            ("POST", "/api/v1/sites", {"name": "s", "allowed_origins": []}),
            ("PATCH", f"/api/v1/sites/{world.org.site_id}", {"name": "s"}),
            ("POST", "/api/v1/routing-rules", {"name": "r"}),
            ("POST", "/api/v1/teams", {"name": "t"}),
            ("PATCH", f"/api/v1/users/{world.org.reps[1].id}", {"name": "other"}),
            ("PATCH", f"/api/v1/users/{world.org.reps[0].id}", {"role": "admin"}),
            ("GET", f"/api/v1/sites/{world.org.site_id}/identity-secret", None),
            ("POST", f"/api/v1/sites/{world.org.site_id}/identity-secret/rotate", None),
            ("PUT", "/api/v1/email-settings", {"transcript_email": False}),
            ("GET", "/api/v1/email-settings", None),
            ("GET", "/api/v1/outbox", None),
            ("POST", "/api/v1/outbox/1/retry", None),
        ]
        for method, url, body in writes:
            res = await rep.request(method, url, json=body)
            assert res.status_code == 403, (method, url, res.status_code, res.text)
        own = await rep.patch(f"/api/v1/users/{world.org.reps[0].id}", json={"name": "New Name"})
        assert own.status_code == 200 and own.json()["name"] == "New Name"


async def test_admins_see_and_rotate_the_identity_secret(world: World) -> None:
    path = f"/api/v1/sites/{world.org.site_id}/identity-secret"
    async with await _session(world.url, world.org.admin.email, world.org.password) as a:
        first = (await a.get(path)).json()["identity_secret"]
        assert len(first) >= 32 and (await a.get(path)).json()["identity_secret"] == first
        rotated = (await a.post(f"{path}/rotate")).json()["identity_secret"]
        assert rotated != first and (await a.get(path)).json()["identity_secret"] == rotated
        site = (await a.get(f"/api/v1/sites/{world.org.site_id}")).json()
        assert rotated not in str(site)  # the site's own JSON never carries it


async def test_writes_need_the_csrf_header(world: World) -> None:
    cookie, _ = await clients.login(world.url, world.org.admin.email, world.org.password)
    async with httpx.AsyncClient(base_url=world.url, cookies={"pounce_session": cookie}) as c:
        res = await c.put("/api/v1/me/availability", json={"status": "available"})
        assert res.status_code == 403
        res = await c.put(
            "/api/v1/me/availability",
            json={"status": "available"},
            headers={"X-CSRF-Token": "wrong"},
        )
        assert res.status_code == 403
        assert (await c.get("/api/v1/me")).status_code == 200


async def test_login_logout_and_rate_limit(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.url) as c:
        bad = await c.post(
            "/api/v1/session", json={"email": world.org.reps[1].email, "password": "nope"}
        )
        assert bad.status_code == 401
        malformed = await c.post("/api/v1/session", json={"email": 5})
        assert malformed.status_code == 422
    session = await _session(world.url, world.org.reps[1].email, world.org.password)
    async with session:
        assert (await session.get("/api/v1/me")).status_code == 200
        assert (await session.delete("/api/v1/session")).status_code == 204
        session.cookies.clear()
    async with httpx.AsyncClient(base_url=world.url) as c:
        email = f"nobody-{world.org.id}@example.test"
        answers = [
            await c.post("/api/v1/session", json={"email": email, "password": "x"})
            for _ in range(6)
        ]
        # Five free failures for an (email, address); then a delay (test_login_throttle.py).
        assert [a.status_code for a in answers] == [401] * 5 + [429]
        assert int(answers[-1].headers["Retry-After"]) >= 1
        assert answers[-1].json()["code"] == "rate_limited"


async def test_bad_input_gets_precise_4xx(world: World) -> None:
    async with await _session(world.url, world.org.admin.email, world.org.password) as a:
        cases = [
            ("POST", "/api/v1/sites", {"name": "x", "allowed_origins": ["not an origin"]}, 422),
            (
                "POST",
                "/api/v1/sites",
                {"name": "x", "allowed_origins": ["https://a.test/path"]},
                422,
            ),
            ("POST", "/api/v1/users", {"email": "bad", "name": "x", "password": "longenough"}, 422),
            ("POST", "/api/v1/users", {"email": "a@b.test", "name": "x", "password": "short"}, 422),
            ("POST", "/api/v1/routing-rules", {"name": "r", "mode": "sometimes"}, 422),
            ("PUT", "/api/v1/me/availability", {"status": "asleep"}, 422),
            ("GET", "/api/v1/conversations?limit=100000", None, 422),
            ("GET", "/api/v1/conversations?status=weird", None, 422),
            ("POST", "/api/v1/render", {"body": "x" * 9000}, 422),
        ]
        for method, url, body, status in cases:
            res = await a.request(method, url, json=body)
            assert res.status_code == status, (method, url, res.status_code, res.text)
            assert "detail" in res.json()
        dup = {"email": world.org.reps[0].email, "name": "dup", "password": "longenough"}
        res = await a.post("/api/v1/users", json=dup)
        assert res.status_code == 409
        created = await a.post(
            "/api/v1/sites", json={"name": "Blog", "allowed_origins": ["https://blog.acme.test/"]}
        )
        assert created.status_code == 201
        assert created.json()["allowed_origins"] == ["https://blog.acme.test"]
        assert created.json()["site_key"] in created.json()["snippet"]
