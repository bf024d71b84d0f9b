"""The transcript email in a browser: a visitor leaves an email on the away message, a
rep closes the chat in the console, and a real SMTP server receives the transcript;
an admin resends it from the conversation view."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN, Demo, demo_server, shot
from tests.e2e.helpers import (
    NewContext,
    rep_console,
    take_alert_and_start,
    visitor_page,
    visitor_says,
)
from tests.support.smtp import Inbox, parts, smtp_server


@pytest.fixture
def mail_demo(tmp_path: Path) -> Iterator[tuple[Demo, Inbox]]:
    """The demo org on a server of its own that sends email to a local SMTP server; a
    chat waits 1 s before the away message asks for an email."""
    inbox = Inbox()
    with (
        smtp_server(inbox) as smtp,
        demo_server(tmp_path / "mail", POUNCE_SMTP_URL=smtp, POUNCE_UNANSWERED_SECONDS="1") as demo,
    ):
        yield demo, inbox


def test_closing_in_the_console_emails_the_transcript(
    mail_demo: tuple[Demo, Inbox], new_context: NewContext
) -> None:
    demo, inbox = mail_demo
    rep = rep_console(new_context, demo, ADMIN)
    _, messenger = visitor_page(new_context, demo, "/demo/pricing")
    visitor_says(messenger, "Can I pay <b>yearly</b>?")
    messenger.get_by_test_id("away-email").fill("ann@example.com")
    messenger.get_by_test_id("away-submit").click()
    expect(messenger.get_by_test_id("away-thanks")).to_be_visible()

    take_alert_and_start(rep, "pay")
    rep.get_by_test_id("close-conversation").click()
    rep.get_by_test_id("confirm-close-yes").click()
    [msg] = inbox.wait_arrivals(1, timeout=15)
    assert msg["To"] == "ann@example.com"
    plain, html = parts(msg)
    assert "Can I pay <b>yearly</b>?" in plain
    assert "&lt;b&gt;yearly&lt;/b&gt;" in html and "<b>" not in html

    # The admin sends it again from the conversation view: a new delivery.
    rep.get_by_test_id("resend-transcript").click()
    expect(rep.get_by_test_id("resend-status")).to_have_text("Transcript queued to ann@example.com")
    arrivals = inbox.wait_arrivals(2, timeout=15)
    assert arrivals[1]["Message-ID"] != msg["Message-ID"]
    shot(rep, "transcript-resent")

    rep.goto(f"{demo.url}/app/#/sites")
    expect(rep.get_by_test_id("transcript-email")).to_have_attribute("aria-checked", "true")
    expect(rep.get_by_test_id("email-off")).to_have_count(0)
