"""Visitors: connecting the messenger, page views, email capture, going offline."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pounce.domain.model import ConversationStatus
from pounce.realtime.frames import server as sf
from pounce.services import blocks, events, identity, proactive
from pounce.services.auth import read_visitor_token, sign_visitor
from pounce.services.errors import ServiceError
from pounce.services.routing import ready_reps
from pounce.services.runtime import Runtime
from pounce.store import accounts, chat
from pounce.store.records import Conversation, Site, User, Visitor

SESSION_GAP = timedelta(minutes=30)
OFFLINE_GRACE_SECONDS = 4.0
# New visitors each client address may bring per minute (a browser without a visitor
# token is a new visitor: a script that drops its token makes a row per connect),
# counted in the node's guard windows.
NEW_VISITOR_WINDOW = 60.0


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def origin_allowed(site: Site, origin: str | None, *, own_origin: str) -> bool:
    """The messenger runs in our iframe (our own origin) or on a page the site allows."""
    if not origin:
        return False
    origin = origin.rstrip("/").lower()
    allowed = {o.rstrip("/").lower() for o in site.allowed_origins}
    return origin == own_origin.lower() or origin in allowed or "*" in allowed


@dataclass(frozen=True, slots=True)
class VisitorSession:
    visitor: Visitor
    site: Site
    token: str
    conversation: Conversation | None
    owner: User | None
    reps_available: bool
    org_name: str
    language: str  # of the visitor's messenger, e.g. "fr"


async def find_site(rt: Runtime, site_key: str) -> Site | None:
    site, _ = await rt.site(site_key)
    return site


async def connect(
    rt: Runtime,
    *,
    site: Site,
    token: str | None,
    conn_id: str,
    page: dict[str, Any] | None,
    locale: str | None = None,
    client_ip: str | None = None,
) -> VisitorSession:
    """Identify (or create) the visitor, mark them online and record the page they are on.
    A client address that brings more new visitors a minute than allowed is refused
    (`rate_limited`)."""
    visitor_id = read_visitor_token(rt, token, org_id=site.org_id) if token else None
    visitor: Visitor | None = None
    conversation = owner = None
    views: list[dict[str, Any]] = []
    if visitor_id:
        async with rt.db.read() as conn:
            visitor = await chat.get_visitor(conn, org_id=site.org_id, visitor_id=visitor_id)
            if visitor is not None:
                conversation = await chat.current_conversation(
                    conn, org_id=site.org_id, visitor_id=visitor.id
                )
                if conversation and conversation.owner_id:
                    owner = await accounts.get_user(
                        conn, org_id=site.org_id, user_id=conversation.owner_id
                    )
                views = await chat.page_views_since(
                    conn,
                    org_id=site.org_id,
                    visitor_id=visitor.id,
                    since=rt.now() - timedelta(hours=24),
                )
    created = visitor is None
    if visitor is None:
        if client_ip is not None:
            windows, key, at = rt.guard.windows, f"new-visitor:{client_ip}", rt.clock()
            limit = rt.settings.new_visitors_per_address_per_minute
            if windows.wait(key, limit, NEW_VISITOR_WINDOW, at) > 0:
                raise ServiceError(
                    "rate_limited",
                    "Too many new visitors from this address; try again in a minute.",
                )
            windows.hit(key, NEW_VISITOR_WINDOW, at)
        visitor = chat.new_visitor(org_id=site.org_id, site_id=site.id, at=rt.now())
    if visitor.blocked:
        async with rt.db.write() as conn:  # rare: a temporary block that ran out lifts itself
            if await blocks.still_blocked(rt, conn, visitor):
                raise ServiceError("blocked", "This visitor is blocked.")
    # Stored with the other connects and page views of this moment (one transaction,
    # `Runtime.visits`); the welcome waits until it is durable.
    visit = chat.Visit(
        visitor,
        created=created,
        at=visitor.first_seen_at if created else rt.now(),
        url=(page or {}).get("url") or None,
        title=(page or {}).get("title") or "",
        referrer=(page or {}).get("referrer"),
        client_ip=client_ip,
        # A first connect or a new address: its location is looked up (off this path).
        locate=bool(client_ip) and rt.locator is not None and client_ip != visitor.client_ip,
    )
    await rt.visits.add(visit)
    if visit.url:
        views.append(
            {
                "url": visit.url,
                "title": visit.title,
                "referrer": visit.referrer,
                "viewed_at": visit.at,
            }
        )
    _, org_name = await rt.site(site.site_key)
    ready = await ready_reps(rt, org_id=site.org_id)
    lang = language(locale)
    info = {**_session_info(views, conversation, rt.now()), "locale": lang}
    first = await rt.presence.visitor_connected(site.org_id, visitor.id, conn_id, info)
    if not first:
        await rt.presence.visitor_update(site.org_id, visitor.id, info)
    events.to_org_reps(
        rt.bus,
        site.org_id,
        sf.VisitorUpdate(visitor=events.visitor_presence(visitor, info, online=True)),
    )
    await proactive.page_viewed(rt, visitor=visitor, info=info)
    return VisitorSession(
        visitor=visitor,
        site=site,
        token=sign_visitor(rt, org_id=site.org_id, visitor_id=visitor.id),
        conversation=conversation,
        owner=owner,
        reps_available=bool(ready),
        org_name=org_name,
        language=lang,
    )


def language(locale: str | None) -> str:
    """The language of a BCP 47 tag from the messenger ("fr-CA" -> "fr"), lower case."""
    return (locale or "en").split("-")[0].split("_")[0].lower()[:8] or "en"


def _session_info(
    views: list[dict[str, Any]], conv: Conversation | None, now: datetime
) -> dict[str, Any]:
    """Current page, start of this visit (page views less than 30 min apart) and its count."""
    start_index = 0
    for i in range(len(views) - 1, 0, -1):
        if views[i]["viewed_at"] - views[i - 1]["viewed_at"] > SESSION_GAP:
            start_index = i
            break
    session = views[start_index:]
    current = session[-1] if session else None
    return {
        "current_page": (
            {
                "url": current["url"],
                "title": current["title"],
                "referrer": current["referrer"],
                "viewed_at": events.iso(current["viewed_at"]),
            }
            if current
            else None
        ),
        "session_started_at": events.iso(session[0]["viewed_at"] if session else now),
        "pages_viewed": len(session),
        "conversation_id": (
            conv.id if conv and conv.status is not ConversationStatus.CLOSED else None
        ),
    }


async def page_view(
    rt: Runtime, *, visitor: Visitor, url: str, title: str, referrer: str | None
) -> None:
    stamp = rt.now()
    await rt.visits.add(
        chat.Visit(visitor, created=False, at=stamp, url=url, title=title, referrer=referrer)
    )
    info = await rt.presence.visitor_info(visitor.org_id, visitor.id) or {}
    info = {
        **info,
        "current_page": {
            "url": url,
            "title": title,
            "referrer": referrer,
            "viewed_at": events.iso(stamp),
        },
        "pages_viewed": int(info.get("pages_viewed", 0)) + 1,
    }
    await rt.presence.visitor_update(visitor.org_id, visitor.id, info)
    events.to_org_reps(
        rt.bus,
        visitor.org_id,
        sf.VisitorUpdate(visitor=events.visitor_presence(visitor, info, online=True)),
    )
    await proactive.page_viewed(rt, visitor=visitor, info=info)


async def leave_email(rt: Runtime, *, visitor: Visitor, email: str) -> None:
    """The email the away message asks for: the visitor's own claim, which Live View
    shows at once unless a verified email is known."""
    await identity.visitor_typed(
        rt, visitor=visitor, field_name="email", value=email.strip(), source="away_message"
    )


async def disconnect(rt: Runtime, *, visitor: Visitor, conn_id: str) -> None:
    """Forget the socket; tell reps the visitor left only if no tab returns shortly.

    Moving to another page of the site closes the messenger and opens it again a
    moment later, so Live View waits a few seconds before showing them offline.
    """
    info = await rt.presence.visitor_info(visitor.org_id, visitor.id)
    gone = await rt.presence.visitor_disconnected(visitor.org_id, visitor.id, conn_id)
    if not gone:
        return

    async def later() -> None:
        await asyncio.sleep(OFFLINE_GRACE_SECONDS)
        if await rt.presence.visitor_info(visitor.org_id, visitor.id) is not None:
            return
        events.to_org_reps(
            rt.bus,
            visitor.org_id,
            sf.VisitorUpdate(visitor=events.visitor_presence(visitor, info, online=False)),
        )

    task = asyncio.create_task(later())
    _background.add(task)
    task.add_done_callback(_background.discard)


_background: set[asyncio.Task[None]] = set()


async def reload_visitor(rt: Runtime, visitor: Visitor) -> Visitor:
    async with rt.db.read() as conn:
        fresh = await chat.get_visitor(conn, org_id=visitor.org_id, visitor_id=visitor.id)
    if fresh is None:
        raise ServiceError("not_found", "No such visitor.")
    return fresh
