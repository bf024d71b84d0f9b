"""The HTTP enrichment provider (`POUNCE_ENRICHMENT=http`) against a real local HTTP
server that speaks the documented format; bad answers are retried by the outbox."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from pounce.app import build_enrichment
from pounce.config import ConfigError, Settings
from pounce.integrations.http_enrichment import MAX_BYTES, HttpEnrichment
from pounce.services.identity import ENRICH_KIND
from pounce.store import chat
from pounce.store import outbox as outbox_store
from tests.support.enrichment import GOOD, KEY, Service, company_data_service
from tests.support.harness import Frame, Harness, MemorySocket, harness


@pytest.fixture
def service() -> Iterator[Service]:
    with company_data_service() as made:
        yield made


@pytest.fixture
async def h(tmp_path: Path, service: Service) -> AsyncIterator[Harness]:
    async with harness(tmp_path) as made:
        provider = HttpEnrichment(service.url, KEY, timeout=0.5)
        made.rt.enrichment = provider
        yield made
        await provider.close()


async def ask_profile(rep: MemorySocket, visitor_id: str) -> Frame:
    frame_id = f"profile-{visitor_id}"
    await rep.send_json({"type": "visitor_profile", "id": frame_id, "visitor_id": visitor_id})
    return await rep.expect("visitor_profile", lambda f: f.get("id") == frame_id)


async def enrich_rows(h: Harness) -> list[outbox_store.Row]:
    async with h.rt.db.read() as conn:
        rows = []
        for status in ("pending", "done", "failed"):
            rows += await outbox_store.list_rows(
                conn,
                org_id=h.org.id,
                status=status,
                limit=10,
                before_id=None,  # type: ignore[arg-type]
            )
    return [r for r in rows if r.kind == ENRICH_KIND]


async def test_a_left_email_is_enriched_by_the_service(h: Harness, service: Service) -> None:
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor(client="127.0.0.2")
    me = welcome["visitor_id"]
    await visitor.request({"type": "leave_email", "email": "ann@acme.test"})
    assert service.requests == []  # not on the message path
    assert await h.deliver_due() == 1
    assert service.requests == [
        {
            "path": "/v1/lookup",
            "query": {"email": "ann@acme.test", "ip": "127.0.0.2"},
            "authorization": f"Bearer {KEY}",
        }
    ]
    pushed = await rep.expect(
        "visitor_identity", lambda f: any(c["field"] == "company" for c in f["identity"])
    )
    claims = {c["field"]: c for c in pushed["identity"] if c["provenance"] == "enriched"}
    assert {k: (c["value"], c["source"], c["confidence"]) for k, c in claims.items()} == {
        "company": ("Acme Analytics", "127.0.0.1", 0.9),
        "company_domain": ("acme.test", "127.0.0.1", 0.9),
        "industry": ("Software", "127.0.0.1", 0.9),
        "company_size": ("51-200", "127.0.0.1", 0.9),
        "country": ("FR", "127.0.0.1", 0.9),
        "city": ("Lyon", "127.0.0.1", 0.9),
    }
    got = await ask_profile(rep, me)
    assert got["profile"]["city"] == "Lyon" and got["profile"]["visitor"]["country"] == "FR"
    # Visitor 360 has the company's details with their provenance, company first.
    assert [
        (c["field"], c["value"], c["provenance"], c["source"])
        for c in got["profile"]["identity"]
        if c["field"] not in ("country", "city")
    ] == [
        ("email", "ann@acme.test", "visitor", "away_message"),
        ("company", "Acme Analytics", "enriched", "127.0.0.1"),
        ("company_domain", "acme.test", "enriched", "127.0.0.1"),
        ("industry", "Software", "enriched", "127.0.0.1"),
        ("company_size", "51-200", "enriched", "127.0.0.1"),
    ]
    async with h.rt.db.read() as conn:
        stored = await chat.get_visitor(conn, org_id=h.org.id, visitor_id=me)
    assert stored is not None and stored.attributes == {
        "company_domain": "acme.test",
        "industry": "Software",
        "company_size": "51-200",
        "city": "Lyon",
    }
    assert [r.status for r in await enrich_rows(h)] == ["done"]


async def test_unknown_to_the_service_is_nothing(h: Harness, service: Service) -> None:
    service.status, service.body = 404, b"{}"
    rep, _ = await h.rep(0)
    visitor, welcome = await h.visitor()
    await visitor.request({"type": "leave_email", "email": "ann@acme.test"})
    assert await h.deliver_due() == 1
    got = await ask_profile(rep, welcome["visitor_id"])
    assert [c["field"] for c in got["profile"]["identity"]] == ["email"]
    assert [r.status for r in await enrich_rows(h)] == ["done"]


@pytest.mark.parametrize(
    ("status", "body", "hold", "why"),
    [
        (200, json.dumps({**GOOD, "confidence": 2}).encode(), False, "documented shape"),
        (200, b'{"company": {"name": 42}}', False, "documented shape"),
        (200, b"<html>oops</html>", False, "documented shape"),
        (200, json.dumps({"company": {"name": "x" * MAX_BYTES}}).encode(), False, "bytes"),
        (500, b"{}", False, "answered HTTP 500"),
        (200, b"{}", True, "unreachable: ReadTimeout"),
    ],
)
async def test_a_bad_answer_is_retried_with_a_clear_log_line(
    h: Harness,
    service: Service,
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: bytes,
    hold: bool,
    why: str,
) -> None:
    service.status, service.body, service.hold = status, body, hold
    visitor, _ = await h.visitor()
    await visitor.request({"type": "leave_email", "email": "ann@acme.test"})
    with caplog.at_level(logging.WARNING, logger="pounce"):
        assert await h.deliver_due() == 1
    [row] = await enrich_rows(h)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error is not None and "EnrichmentFailed" in row.last_error
    assert why in row.last_error and "127.0.0.1" in row.last_error
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert why in logged
    assert KEY not in logged and KEY not in row.last_error


def test_the_http_provider_needs_a_usable_url(tmp_path: Path) -> None:
    def settings(**kw: Any) -> Settings:
        return Settings(var_dir=tmp_path, enrichment="http", **kw)

    with pytest.raises(ConfigError, match="required"):
        build_enrichment(settings())
    with pytest.raises(ConfigError, match="https"):
        build_enrichment(settings(enrichment_url="http://data.example.com/lookup"))
    made = build_enrichment(settings(enrichment_url="https://data.example.com/lookup"))
    assert isinstance(made, HttpEnrichment) and made.source == "data.example.com"
    assert build_enrichment(Settings(var_dir=tmp_path, enrichment="off")) is None
