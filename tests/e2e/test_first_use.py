"""What a first-time self-hoster and rep meet, in Chromium: setting up an org, a clean
browser console, the messenger on allowed and refused origins, alert cards that say who
is writing, and settings forms whose messages never go stale."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.conftest import ADMIN, DEMO_PASSWORD, RILEY, Demo, shot
from tests.e2e.helpers import NewContext, api, rep_console, visitor_page, visitor_says
from tests.support.stack import drop_stack, make_stack

LINK = re.compile(r"(http://\S+/app/#/set-password/\S+)")


class ConsoleLog:
    """Every console message, page error and failed response of a page."""

    def __init__(self, page: Page) -> None:
        self.messages: list[ConsoleMessage] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        page.on("console", lambda m: self.messages.append(m))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on(
            "response",
            lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )

    def problems(self) -> list[str]:
        noisy = [f"{m.type}: {m.text}" for m in self.messages if m.type in ("error", "warning")]
        return noisy + self.errors + self.failed

    def warnings(self) -> list[str]:
        return [m.text for m in self.messages if m.type == "warning"]


def sign_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("availability-toggle")).to_be_visible()
    expect(page.get_by_test_id("connection-status")).to_be_hidden()


# ---- item: the browser console stays clean ------------------------------------------


def test_console_and_demo_site_log_no_errors_or_warnings(
    demo: Demo, new_context: NewContext
) -> None:
    page = new_context().new_page()
    log = ConsoleLog(page)
    page.goto(f"{demo.url}/app/")
    expect(page.get_by_test_id("login-email")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert log.problems() == [], "signed out"  # the session probe is a 200 now

    sign_in(page, ADMIN)
    page.wait_for_load_state("networkidle")
    page.reload()  # a signed-in load, from the start
    expect(page.get_by_test_id("availability-toggle")).to_be_visible()
    expect(page.get_by_test_id("connection-status")).to_be_hidden()
    page.wait_for_load_state("networkidle")
    assert log.problems() == [], "signed in"

    site = new_context().new_page()
    site_log = ConsoleLog(site)
    favicon = []
    site.on("response", lambda r: favicon.append(r.status) if "favicon" in r.url else None)
    site.goto(f"{demo.url}/demo/")
    site.locator("[data-testid=launcher]").click()
    messenger = site.frame_locator("iframe[title]")
    expect(messenger.get_by_test_id("messenger-composer")).to_be_visible()
    site.wait_for_load_state("networkidle")
    assert favicon == [200]
    assert site_log.problems() == [], "demo site"
    # Served from Pounce's own origin, the frame is not sandboxed (a same-origin frame
    # that runs scripts could lift any sandbox; Chromium warns about exactly that).
    assert site.locator("#pounce-messenger iframe").get_attribute("sandbox") is None


# ---- item: the launcher shows only where the messenger may run -----------------------


@contextmanager
def host_page(address: str, body: str) -> Iterator[str]:
    """Serve one HTML page from `address` (127.0.0.x): another site's origin."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body.encode()
            self.send_response(200 if self.path in ("/", "/favicon.ico") else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer((address, 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def snippet_page(demo: Demo, site_key: str = "sk_demo_acme") -> str:
    return (
        "<!doctype html><html><head><title>Another site</title>"
        '<link rel="icon" href="data:,"></head><body><h1>Another site</h1>'
        f'<script src="{demo.url}/messenger/loader.js" data-site-key="{site_key}" async>'
        "</script></body></html>"
    )


def test_refused_origin_shows_nothing_and_says_why(demo: Demo, new_context: NewContext) -> None:
    with host_page("127.0.0.2", snippet_page(demo)) as origin:
        page = new_context().new_page()
        log = ConsoleLog(page)
        with page.expect_console_message(lambda m: m.type == "warning") as warned:
            page.goto(origin + "/")
        text = warned.value.text
        assert origin in text and "sk_demo_acme" in text, text
        assert "Allowed origins" in text and f"{demo.url}/app/#/sites" in text, text
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        expect(page.locator("#pounce-messenger")).to_have_count(0)
        expect(page.locator("iframe")).to_have_count(0)
        assert log.warnings() == [text]  # one clear explanation, nothing else
        assert [m for m in log.messages if m.type == "error"] == []

    with host_page("127.0.0.2", snippet_page(demo, "sk_nobody")) as origin:
        page = new_context().new_page()
        with page.expect_console_message(lambda m: m.type == "warning") as warned:
            page.goto(origin + "/")
        assert "sk_nobody" in warned.value.text and "unknown" in warned.value.text
        expect(page.locator("#pounce-messenger")).to_have_count(0)


def test_allowed_origin_gets_a_sandboxed_messenger_without_warnings(
    demo: Demo, new_context: NewContext
) -> None:
    admin = rep_console(new_context, demo, ADMIN)
    with host_page("127.0.0.3", snippet_page(demo)) as origin:
        site = api(admin, "GET", "/api/v1/sites").json()["items"][0]
        origins = sorted({*site["allowed_origins"], origin})
        saved = api(admin, "PATCH", f"/api/v1/sites/{site['id']}", {"allowed_origins": origins})
        assert saved.status == 200, saved.text()
        page = new_context().new_page()
        log = ConsoleLog(page)
        page.goto(origin + "/")
        launcher = page.locator("[data-testid=launcher]")
        expect(launcher).to_be_visible()
        launcher.click()
        messenger = page.frame_locator("iframe[title]")
        expect(messenger.get_by_test_id("messenger-composer")).to_be_visible()
        sandbox = page.locator("#pounce-messenger iframe").get_attribute("sandbox") or ""
        assert set(sandbox.split()) == {
            "allow-scripts",
            "allow-same-origin",
            "allow-popups",
            "allow-popups-to-escape-sandbox",
            "allow-forms",
        }
        page.wait_for_load_state("networkidle")
        assert log.problems() == []


# ---- item: a self-hoster sets up their own org --------------------------------------


def test_org_add_link_sets_the_password_and_signs_in(demo: Demo, new_context: NewContext) -> None:
    out = demo.stack.cli(
        "org",
        "add",
        "--name",
        "Initech",
        "--admin-email",
        "bill@initech.test",
        "--admin-name",
        "Bill Lumbergh",
    )
    found = LINK.search(out)
    assert found, out
    link = found.group(1)
    assert link.startswith(f"{demo.url}/app/#/set-password/")
    page = new_context().new_page()
    log = ConsoleLog(page)
    page.goto(link)
    expect(page.get_by_test_id("set-password-email")).to_have_text("bill@initech.test")
    shot(page, "set-password")
    page.get_by_test_id("setup-password").fill("correct horse")
    page.get_by_test_id("setup-again").fill("correct hose")
    page.get_by_test_id("set-password-submit").click()
    expect(page.get_by_test_id("field-error-again")).to_have_text("The two passwords differ.")
    page.get_by_test_id("setup-again").fill("correct horse")
    expect(page.get_by_test_id("field-error-again")).to_be_hidden()
    page.get_by_test_id("set-password-submit").click()
    expect(page.get_by_test_id("availability-toggle")).to_be_visible()
    expect(page.locator(".brand-org")).to_have_text("Initech")
    assert "set-password" not in page.url  # the spent link left the address bar
    assert log.problems() == []
    # The link works once.
    again = new_context().new_page()
    again.goto(link)
    expect(again.get_by_test_id("set-password-dead")).to_contain_text("used already")
    # And the password is the one chosen.
    login = new_context().new_page()
    login.goto(f"{demo.url}/app/")
    sign_in(login, "bill@initech.test", "correct horse")


@pytest.fixture
def empty_install(tmp_path: Path) -> Iterator[str]:
    stack = make_stack("embedded", tmp_path / "empty")
    try:
        yield stack.start()
    finally:
        drop_stack(stack)


def test_first_run_screen_creates_the_org_once(empty_install: str, new_context: NewContext) -> None:
    page = new_context().new_page()
    log = ConsoleLog(page)
    page.goto(f"{empty_install}/app/")
    expect(page.get_by_test_id("first-run")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert log.problems() == []
    # A second browser on the same screen, who will be too late.
    late = new_context().new_page()
    late.goto(f"{empty_install}/app/")
    expect(late.get_by_test_id("first-run")).to_be_visible()

    for name, value in {
        "org_name": "Globex",
        "name": "Hank Scorpio",
        "email": "hank@globex.test",
        "password": "correct horse",
        "website": "https://www.globex.test",
    }.items():
        page.get_by_test_id(f"setup-{name}").fill(value)
    shot(page, "first-run")
    page.get_by_test_id("setup-submit").click()
    expect(page.get_by_test_id("availability-toggle")).to_be_visible()
    expect(page.locator(".brand-org")).to_have_text("Globex")
    page.goto(f"{empty_install}/app/#/sites")
    expect(page.get_by_test_id("site-origin")).to_have_text("https://www.globex.test")

    for name, value in {
        "org_name": "Evil",
        "name": "Mallory",
        "email": "mallory@evil.test",
        "password": "correct horse",
    }.items():
        late.get_by_test_id(f"setup-{name}").fill(value)
    late.get_by_test_id("setup-submit").click()
    expect(late.get_by_test_id("setup-taken")).to_be_visible()
    late.get_by_role("button", name="Go to sign in").click()
    expect(late.get_by_test_id("login-email")).to_be_visible()
    # A new visitor to the console now gets the sign-in page, not the set-up.
    fresh = new_context().new_page()
    fresh.goto(f"{empty_install}/app/")
    expect(fresh.get_by_test_id("login-email")).to_be_visible()
    expect(fresh.get_by_test_id("first-run")).to_have_count(0)


# ---- item: alert cards say who is writing, and from where ----------------------------


def test_alert_card_shows_the_best_identity_and_the_page(
    demo: Demo, new_context: NewContext
) -> None:
    rep = rep_console(new_context, demo, RILEY)
    _, messenger = visitor_page(new_context, demo, "/demo/enterprise")
    visitor_says(messenger, "Who handles SSO for large teams?")
    card = rep.get_by_test_id("alert-card").filter(has_text="SSO for large teams")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("alert-visitor")).to_have_text(
        "Visitor on Enterprise — Acme Analytics"
    )
    expect(card.get_by_test_id("alert-page")).to_have_count(0)  # said once, in the heading
    shot(rep, "alert-identity")


# ---- item: settings forms never show a stale message ---------------------------------


def test_settings_form_clears_its_messages_and_shows_server_errors_by_the_field(
    demo: Demo, new_context: NewContext
) -> None:
    admin = rep_console(new_context, demo, ADMIN)
    admin.goto(f"{demo.url}/app/#/auto-pounce")
    form = admin.get_by_test_id("auto-pounce-settings")
    timeout = admin.get_by_test_id("setting-rep-timeout")
    status = admin.get_by_test_id("settings-status")
    expect(timeout).to_have_value("60")
    timeout.fill("45")
    admin.get_by_test_id("settings-save").click()
    expect(status).to_have_text("Saved.")

    # The browser refuses -5 itself: "Saved." must not stay beside its bubble.
    timeout.fill("-5")
    expect(status).to_be_hidden()
    admin.get_by_test_id("settings-save").click()
    assert timeout.evaluate("el => el.validity.rangeUnderflow") is True
    expect(status).to_be_hidden()

    # Saved once more, then a value only the server refuses (it wants more than 0): its
    # message shows beside the field, and the old "Saved." is gone.
    timeout.fill("50")
    admin.get_by_test_id("settings-save").click()
    expect(status).to_have_text("Saved.")
    timeout.fill("0")
    admin.get_by_test_id("settings-save").click()
    problem = form.get_by_test_id("field-error-rep_timeout_seconds")
    expect(problem).to_contain_text("greater than 0")
    expect(status).to_be_hidden()
    expect(timeout).to_have_attribute("aria-invalid", "true")
    shot(admin, "settings-field-error")
    timeout.fill("60")
    expect(problem).to_be_hidden()
    admin.get_by_test_id("settings-save").click()
    expect(status).to_have_text("Saved.")
    assert api(admin, "GET", "/api/v1/proactive/settings").json()["rep_timeout_seconds"] == 60
