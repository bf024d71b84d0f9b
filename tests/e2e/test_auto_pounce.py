"""Auto pounce in Chromium: greeting, nudge, the countdown, a reply in time, a timeout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN, RILEY, Demo, shot
from tests.e2e.helpers import (
    NewContext,
    api,
    rep_console,
    rep_says,
    take_alert_and_start,
    visitor_page,
    visitor_says,
)


@pytest.fixture
def fast_auto_pounce(demo: Demo, new_context: NewContext) -> Iterator[Page]:
    """The demo's auto pounce with short timings; put back afterwards."""
    admin = rep_console(new_context, demo, ADMIN)
    before = api(admin, "GET", "/api/v1/proactive/settings").json()
    rules = api(admin, "GET", "/api/v1/proactive/rules").json()["items"]
    pricing = next(r for r in rules if "pricing" in r["url_pattern"])
    api(
        admin,
        "PUT",
        "/api/v1/proactive/settings",
        {
            "auto_pounce_enabled": True,
            "nudge_delay_seconds": 3,
            "rep_timeout_seconds": 6,
            "max_open_chats_per_rep": 0,  # earlier tests leave this rep's chats open
        },
    )
    api(admin, "PATCH", f"/api/v1/proactive/rules/{pricing['id']}", {"min_seconds_on_page": 1})
    api(admin, "PUT", "/api/v1/me/auto-pounce", {"enabled": True})
    expect(admin.get_by_test_id("auto-pounce-indicator")).to_be_visible()
    yield admin
    keep = {
        k: before[k] for k in ("auto_pounce_enabled", "nudge_delay_seconds", "rep_timeout_seconds")
    }
    api(admin, "PUT", "/api/v1/proactive/settings", keep)
    api(
        admin,
        "PATCH",
        f"/api/v1/proactive/rules/{pricing['id']}",
        {"min_seconds_on_page": pricing["min_seconds_on_page"]},
    )


def test_greeting_nudge_reply_in_time(
    demo: Demo, new_context: NewContext, fast_auto_pounce: Page
) -> None:
    rep = fast_auto_pounce
    expect(rep.get_by_test_id("auto-pounce-indicator")).to_be_visible()
    visitor, messenger = visitor_page(new_context, demo, "/demo/pricing", open_launcher=False)
    # The greeting opens the messenger by itself, as the rep.
    greeting = messenger.locator("[data-seq='1'][data-author-kind='rep']")
    expect(greeting).to_be_visible(timeout=15_000)
    expect(greeting).to_contain_text("Comparing plans?")
    expect(messenger.get_by_test_id("messenger-status")).to_contain_text("Ada Admin")
    nudge = messenger.locator("[data-seq='2'][data-author-kind='rep']")
    expect(nudge).to_be_visible(timeout=15_000)
    # Visitors never see that these were automatic.
    assert messenger.locator("[data-auto-pounce]").count() == 0
    visitor_says(messenger, "Yes, which plan fits 20 people?")

    alert = rep.get_by_test_id("alert-card").filter(has_text="20 people")
    expect(alert).to_be_visible()
    expect(rep.get_by_test_id("countdown").first).to_be_visible()
    alert.click()
    transcript = rep.get_by_test_id("transcript")
    expect(transcript.locator("[data-auto-pounce='true']")).to_have_count(2)
    shot(rep, "auto-pounce-rep")
    rep_says(rep, "Growth is the usual pick for 20 people.")
    expect(messenger.locator("[data-seq='4']")).to_contain_text("Growth is the usual pick")
    shot(visitor, "auto-pounce-visitor")
    # The outcome and the cancelled countdown are one transaction: once the console shows
    # "Replied", the timeout can no longer fire (the engine's tests cover the rest).
    expect(rep.get_by_test_id("conversation-outcome")).to_have_text("Replied")
    expect(rep.get_by_test_id("auto-pounce-indicator")).to_be_visible()
    expect(rep.get_by_test_id("auto-pounce-notice")).to_be_hidden()


def test_missed_response_switches_auto_pounce_off_and_is_reported(
    demo: Demo, new_context: NewContext, fast_auto_pounce: Page
) -> None:
    rep = fast_auto_pounce
    _, messenger = visitor_page(new_context, demo, "/demo/pricing", open_launcher=False)
    expect(messenger.locator("[data-seq='1'][data-author-kind='rep']")).to_be_visible(
        timeout=15_000
    )
    visitor_says(messenger, "Is there a discount for nonprofits?")
    expect(rep.get_by_test_id("alert-card").filter(has_text="nonprofits")).to_be_visible()
    # The rep does nothing; the timeout fires.
    notice = rep.get_by_test_id("auto-pounce-notice")
    expect(notice).to_be_visible(timeout=20_000)
    expect(rep.get_by_test_id("auto-pounce-indicator")).to_be_hidden()
    rep.get_by_test_id("user-menu").click()
    expect(rep.get_by_test_id("auto-pounce-toggle")).to_have_attribute("aria-checked", "false")
    rep.keyboard.press("Escape")
    shot(rep, "auto-pounce-missed")
    rep.get_by_test_id("nav-reports").click()
    table = rep.get_by_test_id("report-table")
    expect(table).to_be_visible()
    row = table.locator("tr", has_text="Ada Admin")
    expect(row).to_be_visible()
    report = api(rep, "GET", "/api/v1/reports/auto-pounce").json()
    mine = next(i for i in report["items"] if i["rep_name"] == "Ada Admin")
    assert mine["missed_responses"] >= 1
    shot(rep, "auto-pounce-report")


def test_a_missed_chat_reaches_the_next_rep_with_its_whole_history_live(
    demo: Demo, new_context: NewContext, fast_auto_pounce: Page
) -> None:
    """Handed on after a missed response, the conversation opens for the rep who takes it
    with the greeting and nudge the first rep never answered: no reload needed."""
    riley = rep_console(new_context, demo, RILEY)
    api(riley, "PUT", "/api/v1/me/auto-pounce", {"enabled": False})  # Ada greets, not Riley
    _, messenger = visitor_page(new_context, demo, "/demo/pricing", open_launcher=False)
    expect(messenger.locator("[data-seq='2'][data-author-kind='rep']")).to_be_visible(
        timeout=15_000
    )
    visitor_says(messenger, "Do you have a plan for schools?")
    # Ada lets the countdown run out; the chat goes to Riley, who was not in it.
    handed_on = riley.get_by_test_id("alert-card").filter(has_text="schools")
    expect(handed_on).to_be_visible(timeout=20_000)
    take_alert_and_start(riley, "schools")
    transcript = riley.get_by_test_id("transcript")
    expect(transcript.locator("[data-auto-pounce='true']")).to_have_count(2)
    expect(transcript.get_by_test_id("message").filter(has_text="schools")).to_be_visible()
    expect(transcript.locator("[data-event='owner_changed']").last).to_contain_text(
        "You started the conversation"
    )
    shot(riley, "handed-on-history")
    rep_says(riley, "Yes: schools get Growth at half price.")
    expect(messenger.get_by_text("schools get Growth")).to_be_visible()
