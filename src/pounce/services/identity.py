"""Who a visitor is: the site's `identify` (verified by a JWT or a user hash signed with
the site's secret, or else an unverified claim), what the visitor typed, and Visitor 360.

A verified value is never replaced by an unverified one: every claim is kept with its
provenance and the visitor's shown name, email and company are the best of them
(`domain.identity.best`). The site's users are linked by user id, so every device a
user verified on shows the same contact. Publishes to the org's reps only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import jwt
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.domain.identity import (
    COMPANY_FIELDS,
    FIELDS,
    Claim,
    Provenance,
    best,
    ordered,
    user_hash_matches,
)
from pounce.domain.model import Actor, ConversationStatus
from pounce.realtime.frames import server as sf
from pounce.realtime.frames import shapes as s
from pounce.services import events, stream
from pounce.services.errors import ServiceError
from pounce.services.runtime import Runtime
from pounce.services.uow import UnitOfWork, unit_of_work
from pounce.store import accounts
from pounce.store import identity as store
from pounce.store.outbox import Row
from pounce.store.records import Site, Visitor, as_utc

# Clock skew allowed on a token's `exp` and `nbf`, in seconds.
LEEWAY_SECONDS = 30
# Visitor 360 lists at most this many page views and conversations (newest first).
PROFILE_PAGES = 50
PROFILE_CONVERSATIONS = 20
_LIMITS = {"name": 200, "email": 320, "company": 200}
# The outbox kind that looks a new email up (`rt.enrichment`), off the message path.
ENRICH_KIND = "visitor.enrich"
# What a company-data service may add about the company: enriched claims (Visitor 360
# shows them with their source), and the visitor's attributes (routing rules match them).
COMPANY_ATTRIBUTES = COMPANY_FIELDS


@dataclass(frozen=True, slots=True)
class Identity:
    """What an `identify` established: the site's user id (verified) and the fields."""

    user_id: str | None = None
    verified: dict[str, str] = field(default_factory=dict)
    unverified: dict[str, str] = field(default_factory=dict)


def refuse(why: str) -> ServiceError:
    return ServiceError("invalid_identity", f"Pounce.identify refused: {why}")


def check_identify(
    site: Site,
    *,
    now: float,
    token: str | None = None,
    user_id: str | None = None,
    user_hash: str | None = None,
    claims: dict[str, str | None] | None = None,
) -> Identity:
    """Validate an `identify` against the site's secret; what it proves, or a refusal."""
    loose = {k: v for k, v in (claims or {}).items() if v}
    if token is not None:
        if user_id is not None or user_hash is not None:
            raise refuse("send either a token or a user_id with its user_hash, not both.")
        found = _decode(site, token, now=now)
        signed = {
            k: v.strip()
            for k in FIELDS
            if isinstance(v := found.get(k), str) and v.strip() and len(v) <= _LIMITS[k]
        }
        if "email" in signed and "@" not in signed["email"]:
            del signed["email"]
        return Identity(
            user_id=found["sub"],
            verified=signed,
            unverified={k: v for k, v in loose.items() if k not in signed},
        )
    if user_id is not None or user_hash is not None:
        if user_id is None or user_hash is None:
            raise refuse(
                "a user_id needs its user_hash (HMAC-SHA256 of it with the site's secret)."
            )
        if not user_hash_matches(site.identity_secret, user_id, user_hash):
            raise refuse(
                "user_hash does not match user_id: sign it with this site's identity secret."
            )
        return Identity(user_id=user_id, unverified=loose)
    if not loose:
        raise refuse("give a token, a user_id with its user_hash, or an email, name or company.")
    return Identity(unverified=loose)


def _decode(site: Site, token: str, *, now: float) -> dict[str, Any]:
    if not site.identity_secret:
        raise refuse("this site has no identity secret yet; an admin can create one under Sites.")
    try:
        found: dict[str, Any] = jwt.decode(
            token,
            site.identity_secret,
            algorithms=["HS256"],
            # `exp` is checked against our clock below (the one the server runs on).
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_aud": False},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.MissingRequiredClaimError as exc:
        raise refuse(f"the token has no '{exc.claim}' claim (exp and sub are required).") from exc
    except jwt.InvalidSignatureError as exc:
        raise refuse(
            "the token's signature does not match this site's identity secret "
            "(tampered, or signed for another site)."
        ) from exc
    except jwt.InvalidAlgorithmError as exc:
        raise refuse("the token must be signed with HS256.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise refuse("the token is not valid yet (nbf).") from exc
    except jwt.InvalidTokenError as exc:
        raise refuse(f"the token is malformed ({exc}).") from exc
    exp = found.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise refuse("the token's exp must be a number (seconds since the epoch).")
    if exp + LEEWAY_SECONDS < now:
        raise refuse("the token has expired; sign a new one for each page load.")
    aud = found.get("aud")
    if aud is not None and aud != site.site_key and site.site_key not in (aud or []):
        raise refuse("the token is for another site (aud is not this site's key).")
    sub = found.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 200:
        raise refuse("the token's sub must be the user's id (1 to 200 characters).")
    return found


async def identify(
    rt: Runtime,
    *,
    visitor: Visitor,
    token: str | None = None,
    user_id: str | None = None,
    user_hash: str | None = None,
    claims: dict[str, str | None] | None = None,
) -> bool:
    """`identify` from the visitor's messenger; True when it verified who they are."""
    async with rt.db.read() as conn:
        site = await accounts.get_site(conn, org_id=visitor.org_id, site_id=visitor.site_id)
    if site is None:
        raise ServiceError("not_found", "The visitor's site is gone.")
    found = check_identify(
        site, now=rt.clock(), token=token, user_id=user_id, user_hash=user_hash, claims=claims
    )
    org_id = visitor.org_id
    async with unit_of_work(rt) as uow:
        conn = uow.conn
        if found.user_id is not None:
            before = await store.link_contact(
                conn, org_id=org_id, visitor_id=visitor.id, user_id=found.user_id
            )
            await store.put_claims(
                conn,
                org_id=org_id,
                visitor_id=visitor.id,
                claims=[
                    store.NewClaim(k, v, Provenance.VERIFIED) for k, v in found.verified.items()
                ],
                # Another user signed in on this device: the last one's verified values go.
                replace=Provenance.VERIFIED if before not in (None, found.user_id) else None,
            )
        await store.put_claims(
            conn,
            org_id=org_id,
            visitor_id=visitor.id,
            claims=[
                store.NewClaim(k, v, Provenance.VISITOR, source="identify")
                for k, v in found.unverified.items()
            ],
        )
        email = found.verified.get("email") or found.unverified.get("email")
        if email:
            await queue_enrichment(uow, org_id=org_id, visitor_id=visitor.id, email=email)
        frame, contact = await _refresh(conn, org_id=org_id, visitor_id=visitor.id)
        events.to_org_reps(uow, org_id, frame)
    for visitor_id in contact.visitor_ids if contact else [visitor.id]:
        await stream.visitor_changed(rt, org_id, visitor_id)
    return found.user_id is not None


async def visitor_typed(
    rt: Runtime, *, visitor: Visitor, field_name: str, value: str, source: str
) -> None:
    """A field the visitor typed (e.g. the away message's email): stored as theirs,
    shown unless a better one (verified, CRM) is known."""
    async with unit_of_work(rt) as uow:
        await store.put_claims(
            uow.conn,
            org_id=visitor.org_id,
            visitor_id=visitor.id,
            claims=[store.NewClaim(field_name, value, Provenance.VISITOR, source=source)],
        )
        if field_name == "email":
            await queue_enrichment(uow, org_id=visitor.org_id, visitor_id=visitor.id, email=value)
        frame, contact = await _refresh(uow.conn, org_id=visitor.org_id, visitor_id=visitor.id)
        events.to_org_reps(uow, visitor.org_id, frame)
    for visitor_id in contact.visitor_ids if contact else [visitor.id]:
        await stream.visitor_changed(rt, visitor.org_id, visitor_id)


async def queue_enrichment(uow: UnitOfWork, *, org_id: str, visitor_id: str, email: str) -> bool:
    """In the transaction that stored an email: look it up later, through the outbox
    (once per visitor and email). A full outbox does not stop the change."""
    if uow.rt.enrichment is None:
        return False
    digest = hashlib.sha256(f"{org_id}:{visitor_id}:{email.lower()}".encode()).hexdigest()
    try:
        async with uow.savepoint():
            return await uow.outbox(
                org_id,
                ENRICH_KIND,
                {"visitor_id": visitor_id, "email": email},
                key=f"{ENRICH_KIND}:{digest[:40]}",
            )
    except ServiceError as exc:
        if exc.code != "outbox_full":
            raise
        return False


async def deliver_enrichment(rt: Runtime, row: Row) -> None:
    """The outbox handler for ENRICH_KIND: ask `rt.enrichment`, store what it found as
    enriched claims (source, confidence), which never displace a better one."""
    visitor_id, email = str(row.payload["visitor_id"]), str(row.payload["email"])
    if rt.enrichment is None:
        return  # switched off since it was queued
    async with rt.db.read() as conn:
        known = await store.visitor_and_contact(conn, org_id=row.org_id, visitor_id=visitor_id)
    if known is None:
        return  # the visitor is gone
    found = await rt.enrichment.lookup(email=email, ip=known[0].client_ip)  # no transaction
    company = (found.get("company") or "").strip()[: _LIMITS["company"]]
    # A provider's location counts when no GeoIP database is configured.
    located = bool(found.get("country")) and rt.locator is None
    extra = {k: found[k][:200] for k in COMPANY_ATTRIBUTES if found.get(k)}
    if not (company or located or extra):
        return
    confidence = _confidence(found.get("confidence"))
    async with unit_of_work(rt) as uow:
        known = await store.visitor_and_contact(uow.conn, org_id=row.org_id, visitor_id=visitor_id)
        if known is None:
            return  # the visitor is gone
        source = (found.get("source") or "enrichment")[:100]
        await store.put_claims(
            uow.conn,
            org_id=row.org_id,
            visitor_id=visitor_id,
            claims=[
                store.NewClaim(
                    name, value, Provenance.ENRICHED, source=source, confidence=confidence
                )
                for name, value in (("company", company), *extra.items())
                if value
            ],
        )
        visitor = replace(known[0], attributes={**known[0].attributes, **extra})
        if located:
            await store_location(uow, visitor=visitor, found=found)
        elif extra:
            await store.set_shown(
                uow.conn,
                org_id=row.org_id,
                visitor_ids=[visitor_id],
                values={"attributes": visitor.attributes},
            )
        frame, contact = await _refresh(uow.conn, org_id=row.org_id, visitor_id=visitor_id)
        events.to_org_reps(uow, row.org_id, frame)
    for linked in contact.visitor_ids if contact else [visitor_id]:
        await stream.visitor_changed(rt, row.org_id, linked)


async def _contact(
    conn: AsyncConnection, *, org_id: str, visitor_id: str, user_id: str | None
) -> s.Contact | None:
    if user_id is None:
        return None
    linked = await store.linked_visitors(conn, org_id=org_id, user_id=user_id)
    if visitor_id not in linked:
        linked.append(visitor_id)
    return s.Contact(user_id=user_id, visitor_ids=linked)


async def _refresh(
    conn: AsyncConnection, *, org_id: str, visitor_id: str
) -> tuple[sf.VisitorIdentity, s.Contact | None]:
    """Show the best values on the visitor (and on the contact's other devices); the
    frame that tells the reps."""
    found = await store.visitor_and_contact(conn, org_id=org_id, visitor_id=visitor_id)
    user_id = found[1] if found else None
    contact = await _contact(conn, org_id=org_id, visitor_id=visitor_id, user_id=user_id)
    ids = contact.visitor_ids if contact else [visitor_id]
    claims = await store.claims_of(conn, org_id=org_id, visitor_ids=ids)
    shown = best(claims)
    await store.set_shown(
        conn,
        org_id=org_id,
        visitor_ids=ids,
        values={name: shown[name].value for name in FIELDS if name in shown},
    )
    frame = sf.VisitorIdentity(visitor_ids=ids, identity=claim_shapes(claims), contact=contact)
    return frame, contact


async def deliver_location(rt: Runtime, row: Row) -> None:
    """The outbox handler for LOCATE_KIND: the location of the visitor's client address
    (`rt.locator`), stored as enriched claims and shown on the visitor (`country`, and
    `city` / `country_name` in its attributes). An address that has changed since is
    skipped (its own row follows); one the database does not know clears the location."""
    visitor_id, ip = str(row.payload["visitor_id"]), str(row.payload["ip"])
    if rt.locator is None:
        return  # switched off since it was queued
    found = await rt.locator.lookup(email=None, ip=ip)  # no transaction open
    async with unit_of_work(rt) as uow:
        known = await store.visitor_and_contact(uow.conn, org_id=row.org_id, visitor_id=visitor_id)
        if known is None or known[0].client_ip != ip:
            return  # the visitor is gone, or connects from another address now
        await store_location(uow, visitor=known[0], found=found)
        frame, contact = await _refresh(uow.conn, org_id=row.org_id, visitor_id=visitor_id)
        events.to_org_reps(uow, row.org_id, frame)
    for linked in contact.visitor_ids if contact else [visitor_id]:
        await stream.visitor_changed(rt, row.org_id, linked)


async def store_location(uow: UnitOfWork, *, visitor: Visitor, found: dict[str, str]) -> None:
    """A looked-up location (`country`, `country_name`, `city`, `source`, `confidence`)
    replaces the visitor's enriched one, or clears it when nothing was found."""
    country = (found.get("country") or "").strip().upper()
    if not (len(country) == 2 and country.isalpha()):
        country = ""
    city = (found.get("city") or "").strip()[:200] if country else ""
    country_name = (found.get("country_name") or "").strip()[:200] if country else ""
    source = (found.get("source") or "enrichment")[:100]
    confidence = _confidence(found.get("confidence"))
    values = {"country": country, "city": city}
    await store.drop_claims(
        uow.conn,
        org_id=visitor.org_id,
        visitor_id=visitor.id,
        fields=[k for k, v in values.items() if not v],
        provenance=Provenance.ENRICHED,
    )
    await store.put_claims(
        uow.conn,
        org_id=visitor.org_id,
        visitor_id=visitor.id,
        claims=[
            store.NewClaim(k, v, Provenance.ENRICHED, source=source, confidence=confidence)
            for k, v in values.items()
            if v
        ],
    )
    attributes = {k: v for k, v in visitor.attributes.items() if k not in ("city", "country_name")}
    attributes.update({k: v for k, v in (("city", city), ("country_name", country_name)) if v})
    await store.set_shown(
        uow.conn,
        org_id=visitor.org_id,
        visitor_ids=[visitor.id],
        values={"country": country or None, "attributes": attributes},
    )


def _confidence(text: str | None) -> float | None:
    try:
        return min(1.0, max(0.0, float(text or "")))
    except ValueError:
        return None


def claim_shapes(claims: list[Claim]) -> list[s.IdentityClaim]:
    return [
        s.IdentityClaim(
            field=c.field,  # type: ignore[arg-type]  # a field we store (domain.identity)
            value=c.value,
            provenance=c.provenance.value,
            updated_at=events.stamp(c.updated_at),
            source=c.source,
            confidence=c.confidence,
        )
        for c in ordered(claims)
    ]


async def profile(rt: Runtime, *, actor: Actor, visitor_id: str) -> s.VisitorProfile:
    """Visitor 360 of a visitor of the actor's org, in a fixed number of queries whatever
    the number of page views, conversations or devices."""
    org_id = actor.org_id
    async with rt.db.read() as conn:
        found = await store.visitor_and_contact(conn, org_id=org_id, visitor_id=visitor_id)
        if found is None:
            raise ServiceError("not_found", "No such visitor.")
        visitor, user_id = found
        contact = await _contact(conn, org_id=org_id, visitor_id=visitor_id, user_id=user_id)
        ids = contact.visitor_ids if contact else [visitor_id]
        claims = await store.claims_of(conn, org_id=org_id, visitor_ids=ids)
        pages = await store.recent_page_views(
            conn, org_id=org_id, visitor_ids=ids, limit=PROFILE_PAGES + 1
        )
        conversations = await store.recent_conversations(
            conn, org_id=org_id, visitor_ids=ids, limit=PROFILE_CONVERSATIONS
        )
    info = await rt.presence.visitor_info(org_id, visitor_id)
    # Values from before claims were recorded count as the visitor's own.
    known = {c.field for c in claims}
    for name in FIELDS:
        value = getattr(visitor, name)
        if value and name not in known:
            claims.append(
                Claim(visitor_id, name, value, Provenance.VISITOR, None, None, visitor.last_seen_at)
            )
    current = next((c for c, _ in conversations if c.status is not ConversationStatus.CLOSED), None)
    owner = next((o for c, o in conversations if c is current), None)
    return s.VisitorProfile(
        visitor=events.visitor_presence(visitor, info, online=info is not None),
        identity=claim_shapes(claims),
        contact=contact,
        city=str(visitor.attributes.get("city") or "") or None,
        pages=[
            s.ViewedPage(
                visitor_id=p["visitor_id"],
                url=p["url"],
                title=p["title"],
                viewed_at=events.stamp(p["viewed_at"]),
            )
            for p in pages[:PROFILE_PAGES]
        ],
        more_pages=len(pages) > PROFILE_PAGES,
        conversations=[
            s.PastConversation(
                id=c.id,
                visitor_id=c.visitor_id,
                status=c.status.value,
                source=c.source.value,
                outcome=c.outcome,
                owner=_card(o),
                created_at=events.stamp(c.created_at),
                closed_at=events.iso(c.closed_at),
                last_seq=c.last_seq,
            )
            for c, o in conversations
        ],
        owner=_card(owner),
        last_seen_at=events.stamp(as_utc(visitor.last_seen_at)),
    )


def _card(owner: dict[str, Any] | None) -> s.RepCard | None:
    if owner is None:
        return None
    name = str(owner["name"])
    return s.RepCard(
        id=owner["id"],
        name=name,
        first_name=name.split(" ", 1)[0],
        avatar_url=owner["avatar_url"],
    )


# -- the site's identity secret (admins) ------------------------------------------------


async def site_secret(rt: Runtime, *, actor: Actor, site_id: str, rotate: bool = False) -> str:
    """The site's identity secret (admins only); `rotate`: a new one (old tokens stop
    verifying at once)."""
    if not actor.is_admin:
        raise ServiceError("forbidden", "Only admins see a site's identity secret.")
    async with rt.db.write() as conn:
        site = await accounts.get_site(conn, org_id=actor.org_id, site_id=site_id)
        if site is None:
            raise ServiceError("not_found", "No such site.")
        secret = site.identity_secret
        if rotate or not secret:
            secret = accounts.new_identity_secret()
            await accounts.update_site(
                conn, org_id=actor.org_id, site_id=site_id, identity_secret=secret
            )
    rt.forget_site(site.site_key)
    return secret
