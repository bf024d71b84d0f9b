"""Getting a real install going: the first-run org (once, race-safe across processes),
`pounce org add` and its one-time set-password link."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Callable
from urllib.parse import unquote

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.stack import Stack

LINK = re.compile(r"(http://\S+/app/#/set-password/(\S+))")


def setup_body(n: int = 0, **extra: str) -> dict[str, str]:
    return {
        "org_name": f"Globex {n}",
        "name": f"Hank {n}",
        "email": f"hank{n}@globex.test",
        "password": "correct horse",
        **extra,
    }


async def test_first_run_creates_one_org_then_never_again(
    fresh_stack: Callable[..., Stack],
) -> None:
    stack = fresh_stack("embedded")
    url = stack.start()
    async with httpx.AsyncClient(base_url=url) as anon:
        start = await anon.get("/api/v1/console/start")
        assert start.status_code == 200
        assert start.json() == {
            "authenticated": False,
            "setup_required": True,
            "user": None,
            "csrf_token": None,
        }
        bad = await anon.post("/api/v1/setup", json=setup_body(website="https://x.test/path"))
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "website"]
        made = await anon.post("/api/v1/setup", json=setup_body(website="https://WWW.Globex.test/"))
        assert made.status_code == 201, made.text
        assert made.json()["user"]["role"] == "admin"
        assert "pounce_session" in made.cookies
        me = await anon.get("/api/v1/console/start")  # the cookie it set signs us in
        assert me.json()["authenticated"] is True
        assert me.json()["user"]["email"] == "hank0@globex.test"
        sites = await anon.get("/api/v1/sites")
        assert sites.json()["items"][0]["allowed_origins"] == ["https://www.globex.test"]
    async with httpx.AsyncClient(base_url=url) as other:
        assert (await other.get("/api/v1/console/start")).json()["setup_required"] is False
        again = await other.post("/api/v1/setup", json=setup_body(1))
        assert again.status_code == 409 and again.json()["code"] == "conflict"
        login = await other.post(
            "/api/v1/session", json={"email": "hank0@globex.test", "password": "correct horse"}
        )
        assert login.status_code == 200


@pytest.mark.parametrize("mode", ["embedded", "scaleout"])
async def test_concurrent_first_runs_make_one_org(
    fresh_stack: Callable[..., Stack], mode: str
) -> None:
    """Two server processes on one database, 16 set-ups at once: exactly one wins."""
    stack = fresh_stack(mode)
    urls = [stack.start(), stack.start()]

    async def attempt(n: int) -> int:
        async with httpx.AsyncClient(base_url=urls[n % 2], timeout=30) as c:
            return (await c.post("/api/v1/setup", json=setup_body(n))).status_code

    codes = await asyncio.gather(*(attempt(n) for n in range(16)))
    assert sorted(codes) == [201] + [409] * 15, codes
    won = codes.index(201)
    assert await count_orgs(stack.database_url) == 1
    async with httpx.AsyncClient(base_url=urls[0]) as c:
        logins = [
            (
                await c.post(
                    "/api/v1/session",
                    json={"email": f"hank{n}@globex.test", "password": "correct horse"},
                )
            ).status_code
            for n in (won, (won + 1) % 16)
        ]
    assert logins == [200, 401], logins


async def count_orgs(database_url: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM orgs"))).scalar_one())
    finally:
        await engine.dispose()


def org_add(stack: Stack, *args: str) -> tuple[str, str]:
    out = stack.cli("org", "add", *args)
    found = LINK.search(out)
    assert found, out
    return found.group(1), unquote(found.group(2))


async def test_org_add_prints_a_one_time_link(fresh_stack: Callable[..., Stack]) -> None:
    stack = fresh_stack("embedded")
    url = stack.start()
    stack.env_extra["POUNCE_PUBLIC_URL"] = url  # what the CLI's links point at
    link, token = org_add(
        stack,
        "--name",
        "Initech",
        "--admin-email",
        "Bill@Initech.test",
        "--website",
        "https://initech.test",
    )
    assert link.startswith(f"{url}/app/#/set-password/")
    async with httpx.AsyncClient(base_url=url) as c:
        # No password yet: nothing signs in.
        for password in ("", "!unset:", "correct horse"):
            res = await c.post(
                "/api/v1/session", json={"email": "bill@initech.test", "password": password or "x"}
            )
            assert res.status_code == 401
        check = await c.post("/api/v1/set-password/check", json={"token": token})
        assert check.json() == {"email": "bill@initech.test", "name": "Bill", "org_name": "Initech"}
        short = await c.post("/api/v1/set-password", json={"token": token, "password": "short"})
        assert short.status_code == 422
        done = await c.post(
            "/api/v1/set-password", json={"token": token, "password": "correct horse"}
        )
        assert done.status_code == 200 and done.json()["user"]["email"] == "bill@initech.test"
        assert (await c.get("/api/v1/me")).status_code == 200  # signed in by the cookie
        used = await c.post(
            "/api/v1/set-password", json={"token": token, "password": "other horse"}
        )
        assert used.status_code == 400 and used.json()["code"] == "link_used"
        check = await c.post("/api/v1/set-password/check", json={"token": token})
        assert check.status_code == 400 and check.json()["code"] == "link_used"
    async with httpx.AsyncClient(base_url=url) as c:
        login = await c.post(
            "/api/v1/session", json={"email": "bill@initech.test", "password": "correct horse"}
        )
        assert login.status_code == 200
        assert (await c.get("/api/v1/console/start")).json()["setup_required"] is False
    # The email is taken now; a new link for an existing user works (once) too.
    with pytest.raises(subprocess.CalledProcessError) as taken:
        stack.cli("org", "add", "--name", "Other", "--admin-email", "bill@initech.test")
    assert "exists already" in taken.value.stderr
    fresh = LINK.search(stack.cli("org", "password-link", "--email", "bill@initech.test"))
    assert fresh
    async with httpx.AsyncClient(base_url=url) as c:
        res = await c.post(
            "/api/v1/set-password",
            json={"token": unquote(fresh.group(2)), "password": "battery staple"},
        )
        assert res.status_code == 200
    with pytest.raises(subprocess.CalledProcessError) as unknown:
        stack.cli("org", "password-link", "--email", "nobody@initech.test")
    assert "No user" in unknown.value.stderr
    listed = stack.cli("org", "list")
    assert re.search(r"^o_\S+  Initech  \(1 user\)$", listed, re.M), listed


async def test_links_expire_and_cannot_be_forged(fresh_stack: Callable[..., Stack]) -> None:
    stack = fresh_stack("embedded")
    url = stack.start()
    _, token = org_add(stack, "--name", "Umbrella", "--admin-email", "alice@umbrella.test")
    payload = URLSafeTimedSerializer(stack.secret, salt="pounce.set-password").loads(token)

    old = URLSafeTimedSerializer(stack.secret, salt="pounce.set-password")
    signer = old.make_signer()
    signer.get_timestamp = lambda: int(time.time()) - 25 * 3600  # type: ignore[method-assign]
    expired = signer.sign(old.dump_payload(payload)).decode()
    forged = URLSafeTimedSerializer("another secret key!", salt="pounce.set-password").dumps(
        payload
    )
    async with httpx.AsyncClient(base_url=url) as c:
        for bad, code in (
            (expired, "link_expired"),
            (forged, "link_invalid"),
            ("x.y.z", "link_invalid"),
        ):
            res = await c.post(
                "/api/v1/set-password", json={"token": bad, "password": "correct horse"}
            )
            assert res.status_code == 400 and res.json()["code"] == code, res.text
        # Of two uses of one link at once, one wins.
        codes = await asyncio.gather(
            *(
                c.post("/api/v1/set-password", json={"token": token, "password": f"password {n}"})
                for n in range(6)
            )
        )
        assert sorted(r.status_code for r in codes) == [200] + [400] * 5
