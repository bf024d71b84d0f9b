"""What every use case is handed: settings, store, bus, presence, the clock and the
ports to the outside world (`pounce.ports`, chosen in `app.py`)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from pounce.config import Settings
from pounce.ports import Clock, Enrichment, Mailer
from pounce.realtime.bus import Bus
from pounce.realtime.presence import Presence
from pounce.services.guard import Guard
from pounce.services.ingest import CommitPacer, GroupCommit, MessageLog
from pounce.store import accounts, chat
from pounce.store import outbox as outbox_store
from pounce.store import proactive as proactive_store
from pounce.store.db import Database
from pounce.store.records import Site, User

USER_CACHE_SECONDS = 5.0
# Sites (by key) and org names are read on every messenger connect and change rarely;
# an edit (e.g. an allowed origin removed) takes effect within this many seconds.
SITE_CACHE_SECONDS = 5.0
# An org's auto pounce settings are read on every page view, to arm the greeting. An
# edit takes effect at once on the node that saved it and within this many seconds on
# the others; the greeting job reads them afresh when it fires.
PROACTIVE_CACHE_SECONDS = 5.0

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """Values read from the store, kept for a few seconds (absent ones too); a node's
    own edits forget their entry at once. Callers that miss while a read of the same key
    is under way wait for that read (under load hundreds of connects miss together when
    an entry expires)."""

    __slots__ = ("_entries", "_reading", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[K, tuple[float, V]] = {}
        self._reading: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        reading = self._reading.get(key)
        if reading is None:
            reading = self._reading[key] = asyncio.ensure_future(self._read(key, read))
        return await asyncio.shield(reading)

    async def _read(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await read()
        finally:
            mine = self._reading.get(key) is asyncio.current_task()
            if mine:
                del self._reading[key]
        if mine:  # else the entry was forgotten meanwhile: this read may predate the edit
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.seconds, value)
        return value

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)
        self._reading.pop(key, None)  # a read under way may predate the edit


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: Bus
    presence: Presence
    secret_key: str
    clock: Clock = field(default=time.time)
    # Seconds for measuring intervals (rate limits); tests hand the same hand-moved clock.
    monotonic: Clock = field(default=time.monotonic)
    node_id: str = "node"
    # None: POUNCE_SMTP_URL is unset and email is off.
    mailer: Mailer | None = None
    # What is known of a visitor from outside (app.py: the built-in one unless
    # POUNCE_ENRICHMENT=off); None: no enrichment is queued.
    enrichment: Enrichment | None = None
    # The location of a client address (POUNCE_GEOIP_DB); None: no location is looked up.
    locator: Enrichment | None = None
    # Set after a commit that wrote outbox rows: the outbox worker wakes at once.
    outbox_wake: asyncio.Event = field(default_factory=asyncio.Event)
    messages: MessageLog = field(init=False)
    visits: GroupCommit[chat.Visit] = field(init=False)
    guard: Guard = field(init=False, default_factory=Guard)
    _users: Recent[tuple[str, str], User | None] = field(
        init=False, default_factory=lambda: Recent(USER_CACHE_SECONDS)
    )
    _sites: Recent[str, tuple[Site | None, str]] = field(
        init=False, default_factory=lambda: Recent(SITE_CACHE_SECONDS)
    )
    _proactive: Recent[str, proactive_store.OrgSettings] = field(
        init=False, default_factory=lambda: Recent(PROACTIVE_CACHE_SECONDS)
    )

    def now(self) -> datetime:
        """The runtime's clock as a UTC datetime, for stamps that timers are measured against."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def __post_init__(self) -> None:
        self.messages = MessageLog(self.db, pacer=CommitPacer(self.settings.commit_delay_ms / 1000))
        self.visits = GroupCommit(self._record_visits, name="visits")

    async def _record_visits(self, visits: list[chat.Visit]) -> None:
        queued = 0
        async with self.db.write() as conn:
            await chat.record_visits(conn, visits)
            if self.locator is not None:
                queued = await queue_locations(self, conn, [v for v in visits if v.locate])
        if queued:
            self.outbox_wake.set()

    async def user(self, org_id: str, user_id: str) -> User | None:
        """A rep's card for message authors, cached for a few seconds (names rarely change)."""

        async def read() -> User | None:
            async with self.db.read() as conn:
                return await accounts.get_user(conn, org_id=org_id, user_id=user_id)

        return await self._users.get((org_id, user_id), read)

    async def site(self, site_key: str) -> tuple[Site | None, str]:
        """The site with this key and its org's name, cached for a few seconds."""

        async def read() -> tuple[Site | None, str]:
            async with self.db.read() as conn:
                site = await accounts.find_site_by_key(conn, site_key)
                org = await accounts.get_org(conn, site.org_id) if site else None
            return site, str(org["name"]) if org else ""

        return await self._sites.get(site_key, read)

    def forget_site(self, site_key: str) -> None:
        self._sites.forget(site_key)

    async def proactive_settings(self, org_id: str) -> proactive_store.OrgSettings:
        """The org's auto pounce settings, cached for a few seconds."""

        async def read() -> proactive_store.OrgSettings:
            async with self.db.read() as conn:
                return await proactive_store.get_settings(conn, org_id=org_id)

        return await self._proactive.get(org_id, read)

    def forget_proactive_settings(self, org_id: str) -> None:
        self._proactive.forget(org_id)


# The outbox kind that looks a visitor's new client address up (`Runtime.locator`).
LOCATE_KIND = "visitor.locate"


async def queue_locations(rt: Runtime, conn: AsyncConnection, visits: list[chat.Visit]) -> int:
    """In the transaction that stored the visits: look each new address up later, through
    the outbox (once per visitor and address). An org whose outbox is full skips it; the
    visits are stored anyway."""
    queued = 0
    for v in visits:
        org_id, ip = v.visitor.org_id, v.client_ip
        if not ip:
            continue
        digest = hashlib.sha256(f"{org_id}:{v.visitor.id}:{ip}".encode()).hexdigest()
        key = f"{LOCATE_KIND}:{digest[:40]}"
        if await outbox_store.key_exists(conn, key=key):
            continue
        if await outbox_store.pending_count(conn, org_id=org_id) >= (
            rt.settings.outbox_max_pending_per_org
        ):
            continue
        try:
            async with conn.begin_nested():  # another node queued it just now: fine
                await outbox_store.add(
                    conn,
                    org_id=org_id,
                    kind=LOCATE_KIND,
                    key=key,
                    payload={"visitor_id": v.visitor.id, "ip": ip},
                    now=rt.clock(),
                )
            queued += 1
        except IntegrityError:
            continue
    return queued
