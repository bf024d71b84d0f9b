"""Location from a MaxMind-format database (POUNCE_GEOIP_DB): looked up through the
outbox when a visitor first connects or their address changes, stored as enriched
claims (source "geoip") and shown on the visitor (in-process)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pounce.app import build_locator
from pounce.config import ConfigError, Settings
from pounce.integrations.geoip import GeoIP
from pounce.store import chat
from tests.support import spawn
from tests.support.geoip import build_db
from tests.support.harness import Frame, Harness, MemorySocket, harness


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        made.rt.locator = GeoIP(build_db(tmp_path / "geo.mmdb"))
        yield made


async def ask_profile(rep: MemorySocket, visitor_id: str) -> Frame:
    frame_id = f"profile-{visitor_id}"
    await rep.send_json({"type": "visitor_profile", "id": frame_id, "visitor_id": visitor_id})
    return await rep.expect("visitor_profile", lambda f: f.get("id") == frame_id)


def location(frame: Frame) -> dict[str, str]:
    claims = frame["profile"]["identity"] if "profile" in frame else frame["identity"]
    return {c["field"]: c["value"] for c in claims if c["field"] in ("country", "city")}


async def attributes(h: Harness, visitor_id: str) -> dict[str, str]:
    async with h.rt.db.read() as conn:
        visitor = await chat.get_visitor(conn, org_id=h.org.id, visitor_id=visitor_id)
    assert visitor is not None
    return {"country": visitor.country or "", **visitor.attributes}


async def test_a_new_visitor_is_located_through_the_outbox(h: Harness) -> None:
    rep, _ = await h.rep(0)
    _, welcome = await h.visitor(client="127.0.0.2")  # the hello is answered first
    me = welcome["visitor_id"]
    assert location(await ask_profile(rep, me)) == {}  # not looked up on the way
    assert await h.deliver_due() == 1
    pushed = await rep.expect("visitor_identity", lambda f: me in f["visitor_ids"])
    country = next(c for c in pushed["identity"] if c["field"] == "country")
    assert country == {
        "field": "country",
        "value": "FR",
        "provenance": "enriched",
        "source": "geoip",
        "confidence": 0.8,
        "updated_at": country["updated_at"],
    }
    assert location(pushed) == {"country": "FR", "city": "Paris"}
    await rep.expect("visitor", lambda f: f["visitor"]["country"] == "FR")
    got = await ask_profile(rep, me)
    assert got["profile"]["city"] == "Paris"
    assert await attributes(h, me) == {"country": "FR", "city": "Paris", "country_name": "France"}
    assert await h.deliver_due() == 0  # once


async def test_the_same_address_is_not_looked_up_again_a_new_one_is(h: Harness) -> None:
    rep, _ = await h.rep(0)
    _, welcome = await h.visitor(client="127.0.0.2")
    me, token = welcome["visitor_id"], welcome["visitor_token"]
    assert await h.deliver_due() == 1
    await h.visitor(token=token, client="127.0.0.2")
    assert await h.deliver_due() == 0
    await h.visitor(token=token, client="127.0.1.9")  # Germany, no city known
    assert await h.deliver_due() == 1
    assert location(await ask_profile(rep, me)) == {"country": "DE"}
    assert await attributes(h, me) == {"country": "DE", "country_name": "Germany"}
    await h.visitor(token=token, client="127.0.2.1")  # not in the database: unknown
    assert await h.deliver_due() == 1
    assert location(await ask_profile(rep, me)) == {}
    assert await attributes(h, me) == {"country": ""}


async def test_a_lookup_for_an_address_the_visitor_has_left_is_skipped(h: Harness) -> None:
    rep, _ = await h.rep(0)
    _, welcome = await h.visitor(client="127.0.0.2")
    me, token = welcome["visitor_id"], welcome["visitor_token"]
    await h.visitor(token=token, client="127.0.1.9")
    assert await h.deliver_due() == 2  # both ran; Paris is no longer the visitor's address
    assert location(await ask_profile(rep, me)) == {"country": "DE"}


async def test_without_a_database_nothing_is_queued(h: Harness) -> None:
    h.rt.locator = None
    rep, _ = await h.rep(0)
    _, welcome = await h.visitor(client="127.0.0.2")
    assert await h.deliver_due() == 0
    assert location(await ask_profile(rep, welcome["visitor_id"])) == {}


def test_a_missing_or_invalid_database_is_a_config_error(tmp_path: Path) -> None:
    assert build_locator(Settings(var_dir=tmp_path)) is None
    with pytest.raises(ConfigError, match="POUNCE_GEOIP_DB"):
        build_locator(Settings(var_dir=tmp_path, geoip_db=tmp_path / "missing.mmdb"))
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(ConfigError, match="not a readable MaxMind-format database"):
        build_locator(Settings(var_dir=tmp_path, geoip_db=junk))
    good = build_locator(Settings(var_dir=tmp_path, geoip_db=build_db(tmp_path / "g.mmdb")))
    assert good is not None and good.locate("127.0.0.7")["country"] == "FR"
    good.close()


def test_the_command_refuses_to_start_with_a_bad_database(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "POUNCE_VAR_DIR": str(tmp_path),
        "POUNCE_GEOIP_DB": str(tmp_path / "missing.mmdb"),
    }
    done = spawn.run("pounce.cli", ["migrate"], env=env, cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 2
    assert "configuration error: POUNCE_GEOIP_DB" in done.stderr
