"""Shortcuts and the copilot in the composer, in Chromium against the demo org."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN, RILEY, Demo, shot
from tests.e2e.helpers import (
    NewContext,
    api,
    rep_console,
    take_alert_and_start,
    visitor_page,
    visitor_says,
)

PROFESSIONAL = (
    "Hello, we have received your message. Our sales representative will call you "
    "tomorrow. Best regards"
)


def test_slash_wel_inserts_the_welcome_shortcut_with_placeholders(
    demo: Demo, new_context: NewContext
) -> None:
    riley = rep_console(new_context, demo, RILEY)
    _, messenger = visitor_page(new_context, demo, "/demo/blog")
    visitor_says(messenger, "Hello, quick question about your blog")
    take_alert_and_start(riley, "quick question")

    composer = riley.get_by_test_id("composer")
    composer.fill("/wel")
    menu = riley.get_by_test_id("slash-menu")
    expect(menu).to_be_visible()
    first = menu.get_by_test_id("slash-item").first
    expect(first).to_have_attribute("data-name", "Welcome")
    expect(first).to_contain_text("Org")
    shot(riley, "slash-menu")
    composer.press("Enter")
    expected = "Hi there! Riley here from Acme Analytics. How can I help today?"
    expect(composer).to_have_value(expected)
    expect(menu).to_be_hidden()
    composer.press("Enter")
    reply = messenger.locator("[data-seq='3'][data-author-kind='rep']")  # 2: Riley took it
    expect(reply).to_contain_text(expected)


def test_a_rep_cannot_create_an_org_shortcut(demo: Demo, new_context: NewContext) -> None:
    riley = rep_console(new_context, demo, RILEY)
    riley.get_by_test_id("nav-shortcuts").click()
    riley.get_by_test_id("new-shortcut").click()
    form = riley.get_by_test_id("shortcut-form")
    expect(form).to_be_visible()
    scope = form.get_by_test_id("shortcut-scope")
    # The UI does not let a rep pick the org scope...
    offered = scope.locator("option").evaluate_all(
        "os => os.filter(o => !o.disabled).map(o => o.value)"
    )
    assert offered == ["mine"], offered
    # ...and the API refuses it too.
    refused = api(
        riley, "POST", "/api/v1/shortcuts", {"name": "Sneaky", "text": "x", "scope": "org"}
    )
    assert refused.status == 403
    # A private shortcut is fine and shows up labelled as mine.
    form.get_by_test_id("shortcut-name").fill("Thanks")
    form.get_by_test_id("shortcut-text").fill("Thanks, {visitor.first_name|friend}!")
    form.get_by_test_id("shortcut-save").click()
    row = riley.get_by_test_id("shortcut-row").filter(has_text="Thanks")
    expect(row).to_be_visible()
    shot(riley, "shortcuts-page")


def test_tune_professional_rewrites_the_composer(demo: Demo, new_context: NewContext) -> None:
    admin = rep_console(new_context, demo, ADMIN)
    _, messenger = visitor_page(new_context, demo, "/demo/blog")
    visitor_says(messenger, "Can someone call me tomorrow about pricing?")
    take_alert_and_start(admin, "call me tomorrow")
    composer = admin.get_by_test_id("composer")
    composer.fill("hey we got ur msg, our sales guy wil call u tmrw /tune")
    menu = admin.get_by_test_id("slash-menu")
    expect(menu).to_be_visible()
    with admin.expect_response(lambda r: r.url.endswith("/tone") and r.request.method == "PUT"):
        menu.get_by_test_id("tone-select").select_option("professional")
    expect(menu.get_by_test_id("tone-select")).to_have_value("professional")
    menu.locator("[data-testid=slash-item][data-name=tune]").click()
    expect(composer).to_have_value(PROFESSIONAL, timeout=15_000)
    expect(admin.get_by_test_id("copilot-source")).to_contain_text("offline")
    shot(admin, "tune-professional")
    # Nothing reached the visitor: the rep decides whether to send.
    expect(messenger.locator("[data-author-kind='rep']")).to_have_count(0)
