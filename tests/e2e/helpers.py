"""Shared steps of the browser tests: sign a rep in, open the demo's messenger, talk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, FrameLocator, Page, expect

from tests.e2e.conftest import DEMO_PASSWORD, Demo

NewContext = Callable[..., BrowserContext]


def rep_console(new_context: NewContext, demo: Demo, email: str) -> Page:
    page = new_context().new_page()
    page.goto(f"{demo.url}/app/")
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(DEMO_PASSWORD)
    page.get_by_test_id("login-submit").click()
    toggle = page.get_by_test_id("availability-toggle")
    expect(toggle).to_be_visible()
    # The toggle shows "away" until the welcome says what the rep's availability is.
    expect(page.locator(".shell[data-ready=true]")).to_be_visible()
    if toggle.get_attribute("aria-checked") != "true":
        toggle.click()
    expect(toggle).to_have_attribute("aria-checked", "true")
    return page


def visitor_page(
    new_context: NewContext, demo: Demo, path: str, *, open_launcher: bool = True
) -> tuple[Page, FrameLocator]:
    context = new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{demo.url}{path}")
    messenger = page.frame_locator("iframe[title]")
    if open_launcher:
        page.locator("[data-testid=launcher]").click()
        expect(messenger.get_by_test_id("messenger-composer")).to_be_visible()
    return page, messenger


def visitor_says(messenger: FrameLocator, text: str) -> None:
    composer = messenger.get_by_test_id("messenger-composer")
    composer.fill(text)
    composer.press("Enter")


def rep_says(rep: Page, text: str) -> None:
    composer = rep.get_by_test_id("composer")
    composer.fill(text)
    composer.press("Enter")


def api(page: Page, method: str, path: str, body: Any = None) -> Any:
    """Call the REST API as the page's signed-in user (cookie + CSRF header)."""
    base = page.url.split("/app/")[0]
    csrf = page.request.get(f"{base}/api/v1/session").json()["csrf_token"]
    return page.request.fetch(
        f"{base}{path}", method=method, data=body, headers={"X-CSRF-Token": csrf}
    )


def take_alert_and_start(rep: Page, text: str) -> None:
    alert = rep.get_by_test_id("alert-card").filter(has_text=text)
    expect(alert).to_be_visible()
    alert.click()
    rep.get_by_test_id("start-conversation").click()
    expect(rep.get_by_test_id("composer")).to_be_enabled()
