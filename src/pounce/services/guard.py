"""A node's memory for abuse checks: IP blocks and abuse limits per org, and the
counters of the limits (fixed windows per visitor and per client address)."""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from pounce.store.blocks import AbuseSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# A node re-reads an org's IP blocks at least this often, in case the bus lost the
# message that said they changed; the settings (limits) are kept a few seconds.
IP_BLOCKS_SECONDS = 60.0
SETTINGS_SECONDS = 5.0
# Counters kept per node: past this, the oldest window is dropped (a flood of fresh
# addresses cannot grow memory; a dropped key starts afresh, which only forgives).
MAX_WINDOWS = 50_000


@dataclass(frozen=True, slots=True)
class IpBlock:
    network: Network
    expires_at: float | None  # epoch seconds; None: until removed


class Windows:
    """Fixed windows of hits per key, at most `cap` keys."""

    __slots__ = ("_hits", "cap")

    def __init__(self, cap: int = MAX_WINDOWS) -> None:
        self.cap = cap
        self._hits: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def wait(self, key: str, limit: int, window: float, now: float) -> float:
        """Seconds until `key` may be hit again (0: now). A limit of 0 is no limit."""
        if limit <= 0:
            return 0.0
        hit = self._hits.get(key)
        if hit is None or hit[0] + window <= now or hit[1] < limit:
            return 0.0
        return hit[0] + window - now

    def hit(self, key: str, window: float, now: float) -> None:
        hit = self._hits.pop(key, None)
        if hit is None or hit[0] + window <= now:
            hit = (now, 0)
        self._hits[key] = (hit[0], hit[1] + 1)
        while len(self._hits) > self.cap:
            self._hits.popitem(last=False)

    def __len__(self) -> int:
        return len(self._hits)


@dataclass
class Guard:
    """Per node: each org's IP blocks (dropped when the bus says they changed), its
    abuse settings, and the limits' counters."""

    ip_blocks: dict[str, tuple[float, tuple[IpBlock, ...]]] = field(default_factory=dict)
    settings: dict[str, tuple[float, AbuseSettings]] = field(default_factory=dict)
    windows: Windows = field(default_factory=Windows)
    watching: bool = False

    def cached_ip_blocks(self, org_id: str) -> tuple[IpBlock, ...] | None:
        hit = self.ip_blocks.get(org_id)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def keep_ip_blocks(self, org_id: str, blocks: tuple[IpBlock, ...]) -> None:
        if len(self.ip_blocks) > 10_000:
            self.ip_blocks.clear()
        self.ip_blocks[org_id] = (time.monotonic() + IP_BLOCKS_SECONDS, blocks)

    def cached_settings(self, org_id: str) -> AbuseSettings | None:
        hit = self.settings.get(org_id)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def keep_settings(self, org_id: str, settings: AbuseSettings) -> None:
        if len(self.settings) > 10_000:
            self.settings.clear()
        self.settings[org_id] = (time.monotonic() + SETTINGS_SECONDS, settings)

    def forget(self, org_id: str) -> None:
        self.ip_blocks.pop(org_id, None)
        self.settings.pop(org_id, None)


def matches(blocks: tuple[IpBlock, ...], address: str | None, now: float) -> bool:
    """Is `address` inside a block still in force at `now`?"""
    if not blocks or not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for block in blocks:
        if (block.expires_at is None or block.expires_at > now) and ip in block.network:
            return True
    return False
