"""What every use case is handed: settings, store, bus, presence and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pounce.config import Settings
from pounce.realtime.bus import Bus
from pounce.realtime.presence import Presence
from pounce.services.ingest import MessageLog
from pounce.store import accounts
from pounce.store.db import Database
from pounce.store.records import Site, User

USER_CACHE_SECONDS = 5.0
# Sites (by key) and org names are read on every messenger connect and change rarely;
# an edit (e.g. an allowed origin removed) takes effect within this many seconds.
SITE_CACHE_SECONDS = 5.0


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: Bus
    presence: Presence
    secret_key: str
    clock: Callable[[], float] = field(default=time.time)
    node_id: str = "node"
    messages: MessageLog = field(init=False)
    _users: dict[tuple[str, str], tuple[float, User | None]] = field(
        init=False, default_factory=dict
    )
    _sites: dict[str, tuple[float, Site | None, str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.messages = MessageLog(self.db)

    async def user(self, org_id: str, user_id: str) -> User | None:
        """A rep's card for message authors, cached for a few seconds (names rarely change)."""
        key = (org_id, user_id)
        hit = self._users.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self.db.read() as conn:
            user = await accounts.get_user(conn, org_id=org_id, user_id=user_id)
        if len(self._users) > 10_000:
            self._users.clear()
        self._users[key] = (now + USER_CACHE_SECONDS, user)
        return user

    async def site(self, site_key: str) -> tuple[Site | None, str]:
        """The site with this key and its org's name, cached for a few seconds."""
        hit = self._sites.get(site_key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        async with self.db.read() as conn:
            site = await accounts.find_site_by_key(conn, site_key)
            org = await accounts.get_org(conn, site.org_id) if site else None
        name = str(org["name"]) if org else ""
        if len(self._sites) > 10_000:
            self._sites.clear()
        self._sites[site_key] = (now + SITE_CACHE_SECONDS, site, name)
        return site, name

    def forget_site(self, site_key: str) -> None:
        self._sites.pop(site_key, None)
