"""`identify`: a JWT or user hash signed with the site's secret verifies who a visitor
is; anything else is refused or kept as an unverified claim (in-process)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from pounce.domain.model import Actor
from pounce.integrations.enrichment import EmailDomain
from pounce.services import identity
from pounce.store import accounts
from tests.support.harness import Frame, Harness, MemorySocket, harness


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        yield made


async def secret_of(h: Harness) -> str:
    async with h.rt.db.read() as conn:
        site = await accounts.get_site(conn, org_id=h.org.id, site_id=h.org.site_id)
    assert site is not None and site.identity_secret
    return site.identity_secret


def token(h: Harness, secret: str, **claims: Any) -> str:
    body = {"sub": "user-42", "exp": h.clock() + 600, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, "HS256")


async def ask_profile(rep: MemorySocket, visitor_id: str) -> Frame:
    frame_id = f"profile-{visitor_id}"
    await rep.send_json({"type": "visitor_profile", "id": frame_id, "visitor_id": visitor_id})
    return await rep.expect_any(("visitor_profile", "error"), lambda f: f.get("id") == frame_id)


def shown(profile: Frame, field: str) -> Frame:
    return next(c for c in profile["profile"]["identity"] if c["field"] == field)


async def test_a_valid_token_verifies_the_visitor(h: Harness) -> None:
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor()
    me = welcome["visitor_id"]
    signed = token(h, await secret_of(h), email="ann@acme.test", name="Ann Lee", company="Acme")
    ack = await visitor.request({"type": "identify", "token": signed})
    assert ack == {"type": "ack", "id": ack["id"], "verified": True}
    pushed = await rep.expect("visitor_identity", lambda f: me in f["visitor_ids"])
    assert pushed["contact"] == {"user_id": "user-42", "visitor_ids": [me]}
    update = await rep.expect("visitor", lambda f: f["visitor"]["email"] == "ann@acme.test")
    assert update["visitor"]["name"] == "Ann Lee"
    got = await ask_profile(rep, me)
    assert got["type"] == "visitor_profile"
    for field, value in [("email", "ann@acme.test"), ("name", "Ann Lee"), ("company", "Acme")]:
        claim = shown(got, field)
        assert (claim["value"], claim["provenance"]) == (value, "verified")


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("tampered", "signature does not match"),
        ("expired", "expired"),
        ("wrong_site", "signature does not match"),
        ("no_exp", "'exp'"),
        ("no_sub", "'sub'"),
        ("other_audience", "another site"),
        ("none_alg", "HS256"),
    ],
)
async def test_a_bad_token_is_refused_with_an_error_frame(h: Harness, case: str, why: str) -> None:
    visitor, welcome = await h.visitor()
    secret = await secret_of(h)
    if case == "tampered":
        head, _body, sig = token(h, secret, email="ann@acme.test").split(".")
        forged = jwt.encode({"sub": "admin", "exp": h.clock() + 600}, "x" * 32, "HS256")
        signed = ".".join([head, forged.split(".")[1], sig])
    elif case == "expired":
        signed = token(h, secret, exp=h.clock() - 120)
    elif case == "wrong_site":
        other = accounts.new_identity_secret()
        signed = token(h, other)
    elif case == "no_exp":
        signed = jwt.encode({"sub": "user-42"}, secret, "HS256")
    elif case == "no_sub":
        signed = jwt.encode({"exp": h.clock() + 600}, secret, "HS256")
    elif case == "other_audience":
        signed = token(h, secret, aud="sk_another_site")
    else:
        signed = jwt.encode({"sub": "user-42", "exp": h.clock() + 600}, None, "none")
    reply = await visitor.request({"type": "identify", "token": signed})
    assert reply["type"] == "error" and reply["code"] == "invalid_identity", reply
    assert why in reply["message"]
    await visitor.barrier()  # the socket stays open
    rep, _ = await h.rep(0)
    got = await ask_profile(rep, welcome["visitor_id"])
    assert got["profile"]["identity"] == [] and got["profile"]["contact"] is None


async def test_user_hash_verifies_the_user_id_only(h: Harness) -> None:
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor()
    secret = await secret_of(h)
    good = hmac.new(secret.encode(), b"user-7", hashlib.sha256).hexdigest()
    bad = await visitor.request({"type": "identify", "user_id": "user-8", "user_hash": good})
    assert bad["type"] == "error" and bad["code"] == "invalid_identity"
    alone = await visitor.request({"type": "identify", "user_id": "user-7"})
    assert alone["type"] == "error" and "user_hash" in alone["message"]
    ok = await visitor.request(
        {"type": "identify", "user_id": "user-7", "user_hash": good, "email": "bo@acme.test"}
    )
    assert ok["verified"] is True
    got = await ask_profile(rep, welcome["visitor_id"])
    assert got["profile"]["contact"]["user_id"] == "user-7"
    # the hash signs the user id, not the email sent beside it
    assert shown(got, "email")["provenance"] == "visitor"


async def test_an_unverified_email_never_replaces_a_verified_one(h: Harness) -> None:
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor()
    me = welcome["visitor_id"]
    signed = token(h, await secret_of(h), email="ann@acme.test")
    assert (await visitor.request({"type": "identify", "token": signed}))["verified"] is True
    unsigned = await visitor.request({"type": "identify", "email": "ceo@acme.test"})
    assert unsigned["verified"] is False
    typed = await visitor.request({"type": "leave_email", "email": "mallory@evil.test"})
    assert typed["type"] == "ack"
    got = await ask_profile(rep, me)
    emails = [
        (c["value"], c["provenance"]) for c in got["profile"]["identity"] if c["field"] == "email"
    ]
    assert emails[0] == ("ann@acme.test", "verified")
    assert ("mallory@evil.test", "visitor") in emails  # shown, as unverified
    assert got["profile"]["visitor"]["email"] == "ann@acme.test"  # Live View's too


async def test_a_typed_email_shows_until_a_verified_one_arrives(h: Harness) -> None:
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor()
    me = welcome["visitor_id"]
    await visitor.request({"type": "leave_email", "email": "ann@home.test"})
    got = await ask_profile(rep, me)
    assert (shown(got, "email")["value"], shown(got, "email")["provenance"]) == (
        "ann@home.test",
        "visitor",
    )
    assert shown(got, "email")["source"] == "away_message"
    signed = token(h, await secret_of(h), email="ann@acme.test")
    await visitor.request({"type": "identify", "token": signed})
    got = await ask_profile(rep, me)
    assert shown(got, "email")["value"] == "ann@acme.test"


async def test_the_same_user_on_two_devices_is_one_contact(h: Harness) -> None:
    rep, _ = await h.rep(0)
    laptop, first = await h.visitor(client="127.0.0.3")
    phone, second = await h.visitor(client="127.0.0.4")
    secret = await secret_of(h)
    await laptop.request({"type": "identify", "token": token(h, secret, name="Ann Lee")})
    digest = hmac.new(secret.encode(), b"user-42", hashlib.sha256).hexdigest()
    ack = await phone.request({"type": "identify", "user_id": "user-42", "user_hash": digest})
    assert ack["verified"] is True
    for vid in (first["visitor_id"], second["visitor_id"]):
        got = await ask_profile(rep, vid)
        contact = got["profile"]["contact"]
        assert contact["user_id"] == "user-42"
        assert set(contact["visitor_ids"]) == {first["visitor_id"], second["visitor_id"]}
        assert got["profile"]["visitor"]["name"] == "Ann Lee"


async def test_a_rotated_secret_refuses_old_tokens(h: Harness) -> None:
    visitor, _ = await h.visitor()
    old = await secret_of(h)
    admin = h.org.admin
    actor = Actor(user_id=admin.id, org_id=h.org.id, role=admin.role)
    new = await identity.site_secret(h.rt, actor=actor, site_id=h.org.site_id, rotate=True)
    assert new != old
    refused = await visitor.request({"type": "identify", "token": token(h, old)})
    assert refused["code"] == "invalid_identity"
    ok = await visitor.request({"type": "identify", "token": token(h, new)})
    assert ok["verified"] is True


async def test_an_email_is_enriched_through_the_outbox_never_over_a_better_value(
    h: Harness,
) -> None:
    h.rt.enrichment = EmailDomain()
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor()
    me = welcome["visitor_id"]
    await visitor.request({"type": "leave_email", "email": "ann@acme-analytics.com"})
    got = await ask_profile(rep, me)
    assert [c["field"] for c in got["profile"]["identity"]] == ["email"]  # not on the way
    assert await h.deliver_due() == 1
    pushed = await rep.expect(
        "visitor_identity", lambda f: any(c["field"] == "company" for c in f["identity"])
    )
    company = next(c for c in pushed["identity"] if c["field"] == "company")
    assert company == {
        "field": "company",
        "value": "Acme Analytics",
        "provenance": "enriched",
        "source": "email domain",
        "confidence": 0.5,
        "updated_at": company["updated_at"],
    }
    await rep.expect("visitor", lambda f: f["visitor"]["company"] == "Acme Analytics")
    # what the visitor says themselves comes first; the same email is looked up once
    await visitor.request({"type": "identify", "company": "Acme Inc."})
    await visitor.request({"type": "leave_email", "email": "ann@acme-analytics.com"})
    assert await h.deliver_due() == 0
    got = await ask_profile(rep, me)
    assert shown(got, "company")["value"] == "Acme Inc."
    assert [c["provenance"] for c in got["profile"]["identity"] if c["field"] == "company"] == [
        "visitor",
        "enriched",
    ]


async def test_free_mail_and_switched_off_enrichment_add_nothing(h: Harness) -> None:
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor()
    await visitor.request({"type": "leave_email", "email": "ann@acme.com"})
    assert await h.deliver_due() == 0  # rt.enrichment is None: nothing queued
    h.rt.enrichment = EmailDomain()
    await visitor.request({"type": "leave_email", "email": "ann@gmail.com"})
    assert await h.deliver_due() == 1
    got = await ask_profile(rep, welcome["visitor_id"])
    assert not [c for c in got["profile"]["identity"] if c["field"] == "company"]
