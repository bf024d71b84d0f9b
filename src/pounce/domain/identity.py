"""Who a visitor is: each field with where it came from, and which value wins."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Provenance(StrEnum):
    VERIFIED = "verified"  # the site's signed `identify` (JWT or user_hash)
    CRM = "crm"  # from the CRM
    VISITOR = "visitor"  # typed by the visitor, or claimed without a signature
    ENRICHED = "enriched"  # looked up (`source`, `confidence`)


FIELDS = ("name", "email", "company")
# What a company-data service adds about the visitor's company: only ever enriched.
COMPANY_FIELDS = ("company_domain", "industry", "company_size")
# Where the visitor is (`country`: ISO 3166-1 alpha-2): only ever enriched (GeoIP).
LOCATION_FIELDS = ("country", "city")
# Which claim a field shows first: a verified value is never displaced by another.
RANK = {
    Provenance.VERIFIED: 0,
    Provenance.CRM: 1,
    Provenance.VISITOR: 2,
    Provenance.ENRICHED: 3,
}


@dataclass(frozen=True, slots=True)
class Claim:
    visitor_id: str
    field: str
    value: str
    provenance: Provenance
    source: str | None
    confidence: float | None
    updated_at: datetime


def ordered(claims: Iterable[Claim]) -> list[Claim]:
    """Per field, one claim per provenance (the latest), best first; fields in FIELDS order."""
    latest: dict[tuple[str, Provenance], Claim] = {}
    for c in claims:
        kept = latest.get((c.field, c.provenance))
        if kept is None or c.updated_at > kept.updated_at:
            latest[(c.field, c.provenance)] = c
    order = {name: i for i, name in enumerate(FIELDS + COMPANY_FIELDS + LOCATION_FIELDS)}
    return sorted(
        latest.values(), key=lambda c: (order.get(c.field, len(order)), RANK[c.provenance])
    )


def best(claims: Iterable[Claim]) -> dict[str, Claim]:
    """The value each field shows: the highest provenance, the latest of that."""
    shown: dict[str, Claim] = {}
    for c in ordered(claims):
        shown.setdefault(c.field, c)
    return shown


def user_hash(secret: str, user_id: str) -> str:
    """The HMAC-SHA256 of a user id with the site's secret, hex (Intercom's convention)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def user_hash_matches(secret: str, user_id: str, given: str) -> bool:
    return bool(secret) and hmac.compare_digest(user_hash(secret, user_id), given.lower())
