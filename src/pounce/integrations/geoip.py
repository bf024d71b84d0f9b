"""Location from a MaxMind-format database (GeoLite2/GeoIP2 City or Country, DB-IP's
free "lite" files, …): an Enrichment port implementation that reads the client address
only (`lookup(email=, ip=)` → `country`, `country_name`, `city`)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import maxminddb

SOURCE = "geoip"
# A database's country for an address is usually right; its city much less so.
CONFIDENCE = 0.8


class GeoIPError(ValueError):
    """The database file is missing or not a MaxMind-format database."""


def _name(node: Any) -> str:
    names = node.get("names") if isinstance(node, dict) else None
    if isinstance(names, dict):
        value = names.get("en") or next(iter(names.values()), "")
        return str(value)[:200] if isinstance(value, str) else ""
    return ""


class GeoIP:
    """Opened once (memory-mapped); each lookup is a few microseconds, no I/O wait."""

    def __init__(self, path: str | Path) -> None:
        try:
            self.reader = maxminddb.open_database(str(path), maxminddb.MODE_MMAP)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise GeoIPError(f"{path}: {exc}") from exc

    def locate(self, ip: str) -> dict[str, str]:
        """`country` (ISO 3166-1 alpha-2), `country_name` and `city` as far as known."""
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return {}
        if address.version == 6 and self.reader.metadata().ip_version == 4:
            return {}
        record = self.reader.get(address)
        if not isinstance(record, dict):
            return {}
        found: dict[str, str] = {}
        country = record.get("country")
        code = country.get("iso_code") if isinstance(country, dict) else None
        if isinstance(code, str) and len(code) == 2 and code.isalpha():
            found["country"] = code.upper()
            if name := _name(country):
                found["country_name"] = name
        if city := _name(record.get("city")):
            found["city"] = city
        return found

    async def lookup(self, *, email: str | None, ip: str | None) -> dict[str, str]:
        found = self.locate(ip) if ip else {}
        if not found:
            return {}
        return {**found, "source": SOURCE, "confidence": str(CONFIDENCE)}

    def close(self) -> None:
        self.reader.close()
