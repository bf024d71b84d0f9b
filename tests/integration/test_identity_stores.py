"""`identify` and Visitor 360 on a running server, on SQLite and on PostgreSQL + Redis:
the profile's queries, the contact across two devices and the push to reps."""

from __future__ import annotations

import hashlib
import hmac
import time

import jwt

from pounce.store import accounts
from pounce.store.db import Database
from tests.integration.conftest import World
from tests.support import clients


async def _secret(world: World) -> str:
    db = Database(world.stack.database_url)
    try:
        async with db.read() as conn:
            site = await accounts.get_site(conn, org_id=world.org.id, site_id=world.org.site_id)
    finally:
        await db.dispose()
    assert site is not None
    return site.identity_secret


async def test_identify_on_two_devices_shows_one_verified_contact(world: World) -> None:
    cookie, _ = await clients.login(world.url, world.org.reps[0].email, world.org.password)
    rep, _ = await clients.rep(world.url, cookie)
    laptop, first = await clients.visitor(world.url, world.org.site_key)
    phone, second = await clients.visitor(world.url, world.org.site_key, page="/docs")
    secret = await _secret(world)
    token = jwt.encode(
        {"sub": "u-1", "exp": int(time.time()) + 600, "email": "ann@acme.test"}, secret
    )
    assert (await laptop.request({"type": "identify", "token": token}))["verified"] is True
    digest = hmac.new(secret.encode(), b"u-1", hashlib.sha256).hexdigest()
    ack = await phone.request({"type": "identify", "user_id": "u-1", "user_hash": digest})
    assert ack["verified"] is True
    both = {first["visitor_id"], second["visitor_id"]}
    pushed = await rep.expect("visitor_identity", lambda f: set(f["visitor_ids"]) == both)
    assert pushed["identity"][0]["provenance"] == "verified"
    await rep.send({"type": "visitor_profile", "id": "p-1", "visitor_id": second["visitor_id"]})
    reply = await rep.expect("visitor_profile", lambda f: f["id"] == "p-1")
    profile = reply["profile"]
    assert profile["visitor"]["email"] == "ann@acme.test"
    assert set(profile["contact"]["visitor_ids"]) == both
    assert {p["url"].rsplit("/", 1)[1] for p in profile["pages"]} == {"", "docs"}
    for client in (rep, laptop, phone):
        await client.close()
