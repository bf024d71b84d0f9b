"""Enrichment from a company-data service over HTTP (`POUNCE_ENRICHMENT=http`): an
Enrichment port implementation.

    GET {url}?email=…&ip=…        Authorization: Bearer {key}
    200 {"company": {"name", "domain", "industry", "size"},
         "location": {"country", "city"}, "confidence": 0..1}

Every member is optional (null or absent: not known; other members are ignored);
`country` is an ISO 3166-1 alpha-2 code. 404 means nothing is known. Anything else (another
status, a body that is not this shape or larger than MAX_BYTES, a timeout) raises
`EnrichmentFailed`, so the outbox retries the lookup and then parks it. The key is never
logged or put in an error."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import httpx
import msgspec

# The largest response body read; a larger one is refused.
MAX_BYTES = 64 * 1024
Text = Annotated[str, msgspec.Meta(max_length=200)]


class EnrichmentFailed(Exception):
    """The service did not answer with the documented shape."""


class CompanyData(msgspec.Struct, frozen=True):
    name: Text | None = None
    domain: Text | None = None
    industry: Text | None = None
    size: Text | None = None


class LocationData(msgspec.Struct, frozen=True):
    country: Annotated[str, msgspec.Meta(pattern="^[A-Za-z]{2}$")] | None = None
    city: Text | None = None


class Answer(msgspec.Struct, frozen=True):
    company: CompanyData | None = None
    location: LocationData | None = None
    confidence: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None


_decode = msgspec.json.Decoder(Answer).decode


def check_url(url: str) -> str:
    """https, or http to this machine (tests, a sidecar); ValueError says what is wrong."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    local = host == "localhost" or host.startswith("127.") or host == "::1"
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and local:
        return url
    raise ValueError("must be an https:// URL (or http:// to 127.x / localhost)")


def to_attributes(answer: Answer) -> dict[str, str]:
    """The port's flat attributes (what Pounce stores) from a validated answer."""
    found: dict[str, str] = {}
    c, loc = answer.company, answer.location
    if c is not None:
        for key, value in (
            ("company", c.name),
            ("company_domain", c.domain),
            ("industry", c.industry),
            ("company_size", c.size),
        ):
            if value and value.strip():
                found[key] = value.strip()
    if loc is not None and loc.country:
        found["country"] = loc.country.upper()
        if loc.city and loc.city.strip():
            found["city"] = loc.city.strip()
    if found and answer.confidence is not None:
        found["confidence"] = str(answer.confidence)
    return found


class HttpEnrichment:
    """One shared connection pool; each lookup at most `timeout` seconds."""

    def __init__(self, url: str, key: str | None, *, timeout: float = 5.0) -> None:
        self.url = check_url(url)
        self.source = (urlsplit(url).hostname or "enrichment")[:100]
        headers = {"accept": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        self.client = httpx.AsyncClient(
            headers=headers, timeout=timeout, follow_redirects=False, trust_env=False
        )

    async def lookup(self, *, email: str | None, ip: str | None) -> dict[str, str]:
        params = {k: v for k, v in (("email", email), ("ip", ip)) if v}
        if not params:
            return {}
        try:
            async with self.client.stream("GET", self.url, params=params) as response:
                if response.status_code == 404:
                    return {}
                if response.status_code != 200:
                    raise EnrichmentFailed(
                        f"enrichment service {self.source} answered HTTP {response.status_code}"
                    )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise EnrichmentFailed(
                            f"enrichment service {self.source}: response over {MAX_BYTES} bytes"
                        )
        except httpx.HTTPError as exc:
            raise EnrichmentFailed(
                f"enrichment service {self.source} unreachable: {type(exc).__name__}"
            ) from None
        try:
            answer = _decode(bytes(body))
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            raise EnrichmentFailed(
                f"enrichment service {self.source}: response not in the documented shape: {exc}"
            ) from None
        found = to_attributes(answer)
        return {**found, "source": self.source} if found else {}

    async def close(self) -> None:
        await self.client.aclose()
