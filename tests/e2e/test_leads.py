"""Leads never stranded, in a browser: a visitor leaves an email and a question while
every rep is away; a rep who goes Available is alerted and finds it in the Waiting
list, answers by email, and a real SMTP server receives the reply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN, DEMO_PASSWORD, Demo, demo_server, shot
from tests.e2e.helpers import NewContext, rep_console, visitor_page, visitor_says
from tests.support.smtp import Inbox, parts, smtp_server


@pytest.fixture
def mail_demo(tmp_path: Path) -> Iterator[tuple[Demo, Inbox]]:
    """The demo org on a server of its own that sends email to a local SMTP server."""
    inbox = Inbox()
    with smtp_server(inbox) as smtp, demo_server(tmp_path / "leads", POUNCE_SMTP_URL=smtp) as demo:
        yield demo, inbox


def test_a_lead_left_while_everyone_was_away_is_alerted_listed_and_answered_by_email(
    mail_demo: tuple[Demo, Inbox], new_context: NewContext
) -> None:
    demo, inbox = mail_demo
    # Nobody has the console open: the visitor gets the away message and leaves an email.
    visitor, messenger = visitor_page(new_context, demo, "/demo/pricing")
    visitor_says(messenger, "Do you ship to Oslo?")
    messenger.get_by_test_id("away-email").fill("ann@example.com")
    messenger.get_by_test_id("away-submit").click()
    expect(messenger.get_by_test_id("away-thanks")).to_be_visible()

    rep = new_context().new_page()
    rep.goto(f"{demo.url}/app/")
    rep.get_by_test_id("login-email").fill(ADMIN)
    rep.get_by_test_id("login-password").fill(DEMO_PASSWORD)
    rep.get_by_test_id("login-submit").click()
    toggle = rep.get_by_test_id("availability-toggle")
    expect(toggle).to_be_enabled()
    expect(rep.get_by_test_id("waiting-count")).to_have_text("1")
    item = rep.get_by_test_id("waiting-item")
    expect(item).to_contain_text("Do you ship to Oslo?")
    expect(item).to_contain_text("ann@example.com")
    if toggle.get_attribute("aria-checked") == "true":
        toggle.click()  # Away first, to go Available below
    expect(toggle).to_have_attribute("aria-checked", "false")
    expect(rep.get_by_test_id("alert-card")).to_have_count(0)

    toggle.click()  # Available: the waiting lead routed to me alerts me
    expect(toggle).to_have_attribute("aria-checked", "true")
    expect(rep.get_by_test_id("alert-card").filter(has_text="Oslo")).to_be_visible()

    item.click()
    expect(rep.get_by_test_id("start-conversation")).to_be_visible()
    # While the visitor is on the site the chat reaches them: no email reply is offered
    # (the server would refuse it with 409 visitor_online).
    form = rep.get_by_test_id("email-reply")
    expect(form).to_have_count(0)
    visitor.context.close()  # the visitor leaves the site
    expect(form).to_contain_text("ann@example.com", timeout=15_000)  # once shown offline
    form.get_by_test_id("email-reply-body").fill("Yes: **Oslo** in 3 days <i>by post</i>")
    form.get_by_test_id("email-reply-send").click()
    expect(form.get_by_test_id("email-reply-status")).to_have_text("Sent to ann@example.com")
    # Answering started the conversation: it is mine and no longer waiting.
    expect(rep.get_by_test_id("composer")).to_be_enabled()
    expect(rep.get_by_test_id("transcript")).to_contain_text("in 3 days")
    expect(rep.get_by_test_id("waiting-count")).to_have_text("0")
    shot(rep, "lead-answered-by-email")

    [msg] = inbox.wait_arrivals(1, timeout=15)
    assert msg["To"] == "ann@example.com"
    plain, html = parts(msg)
    assert "Yes: **Oslo** in 3 days <i>by post</i>" in plain
    assert "Do you ship to Oslo?" in plain
    assert "<strong>Oslo</strong>" in html and "&lt;i&gt;by post&lt;/i&gt;" in html
    assert "<i>" not in html


def test_without_smtp_the_console_says_email_is_off_and_disables_the_button(
    demo: Demo, new_context: NewContext
) -> None:
    visitor, messenger = visitor_page(new_context, demo, "/demo/pricing")
    visitor_says(messenger, "Any discount for NGOs?")
    messenger.get_by_test_id("away-email").fill("ngo@example.com")
    messenger.get_by_test_id("away-submit").click()
    expect(messenger.get_by_test_id("away-thanks")).to_be_visible()
    visitor.context.close()

    rep = rep_console(new_context, demo, ADMIN)
    item = rep.get_by_test_id("waiting-item").filter(has_text="Any discount for NGOs?")
    item.click()
    form = rep.get_by_test_id("email-reply")
    expect(form.get_by_test_id("email-reply-off")).to_be_visible(timeout=15_000)
    expect(form.get_by_test_id("email-reply-send")).to_be_disabled()
    expect(form.get_by_test_id("email-reply-body")).to_be_disabled()
