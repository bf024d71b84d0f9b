"""A small MaxMind-format database for tests, written with `mmdb-writer` and read by
the server's `maxminddb`: two networks with a country (one with a city)."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

# 127.0.0.0/24: Paris, France; 127.0.1.0/24: Germany without a city; the rest unknown.
PARIS = "127.0.0.0/24"
GERMANY = "127.0.1.0/24"


def _country(code: str, name: str) -> dict[str, object]:
    return {"iso_code": code, "names": {"en": name}}


def build_db(path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(
        IPSet([PARIS]),
        {"country": _country("FR", "France"), "city": {"names": {"en": "Paris", "fr": "Paris"}}},
    )
    writer.insert_network(IPSet([GERMANY]), {"country": _country("DE", "Germany")})
    writer.to_db_file(str(path))
    return path
