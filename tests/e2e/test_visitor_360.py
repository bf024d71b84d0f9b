"""Visitor 360 in Chromium: a Live View row opens the visitor's profile with the pages
they viewed, live; the site's `Pounce.identify` with a signed token shows Verified, and a
tampered one is refused in the browser's console; a company-data service's answer shows
in the Company section, and Live View's columns fit beside the panel at 1280x800."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN, Demo, demo_server, shot
from tests.e2e.helpers import NewContext, api, rep_console, visitor_page
from tests.support.enrichment import KEY, company_data_service


def test_a_live_view_row_opens_visitor_360_and_identify_verifies(
    demo: Demo, new_context: NewContext
) -> None:
    rep = rep_console(new_context, demo, ADMIN)
    visitor, _messenger = visitor_page(new_context, demo, "/demo/pricing", open_launcher=False)
    errors: list[str] = []
    visitor.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    mark = secrets.token_hex(4)
    # Welcomed (the loader keeps a copy of the visitor token): the first page is recorded.
    visitor.wait_for_function("() => !!(window.Pounce && localStorage.getItem('pounce.visitor'))")
    visitor.evaluate(
        "m => { document.title = 'Docs ' + m; history.pushState({}, '', '/demo/docs-' + m); }",
        mark,
    )

    rep.get_by_test_id("nav-live").click()
    row = rep.get_by_test_id("visitor-row").filter(has_text=f"docs-{mark}")
    expect(row).to_be_visible()
    row = rep.locator(f"tr[data-visitor-id='{row.get_attribute('data-visitor-id')}']")
    row.locator("td.num.mono").click()  # anywhere on the row
    panel = rep.get_by_test_id("visitor-panel")
    expect(panel).to_be_visible()
    pages = panel.get_by_test_id("viewed-page")
    expect(pages.first).to_contain_text(f"Docs {mark}")  # newest first
    expect(pages).to_have_count(2)
    expect(panel.get_by_test_id("v360-presence")).to_contain_text("Online now")

    # Live: another page shows on top without reopening the panel.
    visitor.evaluate(
        "m => { document.title = 'Pricing ' + m; history.pushState({}, '', '/demo/again-' + m); }",
        mark,
    )
    expect(pages.first).to_contain_text(f"Pricing {mark}")
    expect(pages).to_have_count(3)

    site = api(rep, "GET", "/api/v1/sites").json()["items"][0]
    secret = api(rep, "GET", f"/api/v1/sites/{site['id']}/identity-secret").json()[
        "identity_secret"
    ]
    claims = {"sub": f"user-{mark}", "exp": int(time.time()) + 600}
    good = jwt.encode({**claims, "email": f"ann-{mark}@acme.test", "name": "Ann Lee"}, secret)
    head, _body, sig = good.split(".")
    forged = jwt.encode(
        {**claims, "email": "ceo@acme.test"}, "not the secret, but long enough " + mark
    )
    tampered = ".".join([head, forged.split(".")[1], sig])

    refused = visitor.evaluate("t => Pounce.identify({ token: t })", tampered)
    assert refused["verified"] is False and refused["error"]["code"] == "invalid_identity"
    assert any("signature does not match" in e for e in errors), errors

    done = visitor.evaluate("t => Pounce.identify({ token: t })", good)
    assert done == {"verified": True}
    email = panel.get_by_test_id("identity-email")
    expect(email).to_have_attribute("data-provenance", "verified")
    expect(email).to_contain_text(f"ann-{mark}@acme.test")
    expect(email).to_contain_text("Verified")
    expect(panel.get_by_test_id("v360-name")).to_have_text("Ann Lee")
    expect(row).to_contain_text("Ann Lee")
    shot(rep, "visitor-360")

    # An unverified email does not displace the verified one; it shows as unverified.
    visitor.evaluate("() => Pounce.identify({ email: 'someone@else.test' })")
    expect(email.get_by_test_id("other-claim")).to_contain_text("someone@else.test")
    expect(email.locator(".v360-value").first).to_have_text(f"ann-{mark}@acme.test")


@pytest.fixture
def enriched_demo(tmp_path: Path) -> Iterator[Demo]:
    """The demo org on a server of its own whose enrichment is a company-data service."""
    with (
        company_data_service() as service,
        demo_server(
            tmp_path / "enriched",
            POUNCE_ENRICHMENT="http",
            POUNCE_ENRICHMENT_URL=service.url,
            POUNCE_ENRICHMENT_KEY=KEY,
        ) as demo,
    ):
        yield demo


def test_visitor_360_shows_the_enriched_company_beside_live_view_at_1280(
    enriched_demo: Demo, new_context: NewContext
) -> None:
    demo = enriched_demo
    rep = rep_console(new_context, demo, ADMIN)
    rep.set_viewport_size({"width": 1280, "height": 800})
    visitor, _messenger = visitor_page(new_context, demo, "/demo/pricing", open_launcher=False)
    visitor.wait_for_function("() => !!(window.Pounce && localStorage.getItem('pounce.visitor'))")
    assert visitor.evaluate("() => Pounce.identify({ email: 'ann@acme.test' })") == {
        "verified": False
    }

    rep.get_by_test_id("nav-live").click()
    row = rep.get_by_test_id("visitor-row").filter(has_text="ann@acme.test")
    expect(row).to_be_visible()
    row.get_by_test_id("open-visitor").click()
    panel = rep.get_by_test_id("visitor-panel")
    company = panel.get_by_test_id("v360-company")
    # The company-data service's answer, each with where it came from (live: the
    # lookup runs in the outbox worker after the identify).
    industry = company.get_by_test_id("identity-industry")
    expect(industry).to_contain_text("Software")
    expect(industry).to_have_attribute("data-provenance", "enriched")
    expect(industry).to_contain_text("Enriched by 127.0.0.1 · Very high confidence")
    expect(company.get_by_test_id("identity-company_size")).to_contain_text("51-200")
    expect(company.get_by_test_id("identity-company_domain")).to_contain_text("acme.test")
    expect(company.get_by_test_id("identity-company")).to_contain_text("Acme Analytics")

    # Live View beside the open panel at 1280x800: every column fits, none is cut off.
    shot(rep, "live-view-with-visitor-360")
    table = rep.get_by_test_id("live-view").locator("table")
    wrap = rep.get_by_test_id("live-view").locator(".table-wrap").bounding_box()
    assert wrap is not None
    for cell in (row.get_by_text("Browsing"), row.get_by_test_id("pounce-button")):
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= wrap["x"] + wrap["width"], (
            box,
            wrap,
        )
    sizes = table.evaluate("t => [t.scrollWidth, t.parentElement.clientWidth]")
    assert sizes[0] <= sizes[1], f"the table is wider than its panel: {sizes}"

    # Closed, the page column has its room back: the title is not cut.
    panel.get_by_test_id("close-visitor-panel").click()
    expect(panel).to_be_hidden()
    title = row.locator(".page-title-cell")
    expect(title).to_have_text("Pricing — Acme Analytics")
    shot(rep, "live-view-without-visitor-360")
    assert title.evaluate("e => e.scrollWidth <= e.clientWidth"), "the page title is cut"
