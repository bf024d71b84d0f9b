"""Blocking in Chromium: a rep blocks a visitor from the conversation's menu; the messenger
goes away and stays away on reload, while a fresh browser still gets it."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN, Demo, shot
from tests.e2e.helpers import (
    NewContext,
    rep_console,
    take_alert_and_start,
    visitor_page,
    visitor_says,
)


def test_a_blocked_visitor_loses_the_messenger_and_a_new_browser_keeps_it(
    demo: Demo, new_context: NewContext
) -> None:
    rep = rep_console(new_context, demo, ADMIN)
    visitor, messenger = visitor_page(new_context, demo, "/demo/pricing")
    visitor_says(messenger, "BUY CHEAP WATCHES block me")
    take_alert_and_start(rep, "CHEAP WATCHES")

    rep.get_by_test_id("conversation-menu").click()
    rep.get_by_test_id("menu-block-report").click()
    dialog = rep.get_by_test_id("block-dialog")
    expect(dialog).to_contain_text("Block and report this visitor?")
    rep.get_by_test_id("block-reason").fill("Spam links")
    shot(rep, "block-confirm")
    rep.get_by_test_id("block-confirm").click()
    expect(rep.get_by_test_id("visitor-blocked")).to_be_visible()
    expect(rep.locator("[data-event='visitor_blocked']")).to_contain_text(
        "You blocked and reported the visitor"
    )

    # The open messenger closes at once and its launcher goes.
    expect(visitor.locator("#pounce-messenger")).to_have_count(0)
    # On reload the loader is told "blocked" and shows nothing.
    with visitor.expect_response(lambda r: "/messenger/embed" in r.url) as answered:
        visitor.reload()
    assert answered.value.json() == {"allowed": False, "reason": "blocked"}
    expect(visitor.locator("#pounce-messenger")).to_have_count(0)

    # A fresh browser context is a new visitor: the messenger works.
    _, fresh = visitor_page(new_context, demo, "/demo/pricing")
    visitor_says(fresh, "Hello from a new browser")
    expect(fresh.locator("[data-seq='1'][data-author-kind='visitor']")).to_be_visible()

    # The admin sees the report and the blocked visitor, and unblocks them.
    rep.goto(f"{demo.url}/app/#/blocks")
    expect(rep.get_by_test_id("report").filter(has_text="Spam links")).to_be_visible()
    blocked = rep.get_by_test_id("blocked-visitor")
    expect(blocked).to_have_count(1)
    shot(rep, "blocks-admin")
    blocked.get_by_test_id("unblock").click()
    expect(rep.get_by_test_id("blocked-visitor")).to_have_count(0)
    with visitor.expect_response(lambda r: "/messenger/embed" in r.url) as answered:
        visitor.reload()
    assert answered.value.json() == {"allowed": True}
    expect(visitor.locator("[data-testid=launcher]")).to_be_visible()
