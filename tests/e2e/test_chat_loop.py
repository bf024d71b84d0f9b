"""The whole chat loop in Chromium: the demo site's messenger and the rep console."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN, RILEY, SAM, Demo, shot
from tests.e2e.helpers import NewContext, rep_console, rep_says, visitor_page, visitor_says


def test_visitor_writes_rep_answers_with_formatting_and_nothing_is_lost(
    demo: Demo, new_context: NewContext
) -> None:
    rep = rep_console(new_context, demo, ADMIN)
    visitor, messenger = visitor_page(new_context, demo, "/demo/pricing")
    visitor_says(messenger, "Hi! Do you offer annual billing on the Growth plan?")
    expect(messenger.locator("[data-seq='1'][data-author-kind='visitor']")).to_be_visible()

    alert = rep.get_by_test_id("alert-card").filter(has_text="annual billing")
    expect(alert).to_be_visible()
    expect(rep).to_have_title(re.compile(r"^\(\d+\) "))
    alert.click()
    rep.get_by_test_id("start-conversation").click()
    expect(rep.get_by_test_id("composer")).to_be_enabled()

    # Shift+Enter breaks the line; the preview renders through the server's renderer.
    composer = rep.get_by_test_id("composer")
    composer.fill("**Yes!** Annual billing saves 20%.")
    composer.press("Shift+Enter")
    composer.type(
        f"See [our pricing](https://acme.test/pricing) ![chart]({demo.url}/demo/chart.png)"
    )
    expect(rep.get_by_test_id("composer-preview").locator("strong")).to_have_text("Yes!")
    composer.press("Enter")

    # seq 2 is the event of Ada taking the conversation (reps see it; so does the visitor).
    reply = messenger.locator("[data-seq='3'][data-author-kind='rep']")
    expect(reply.locator("strong")).to_have_text("Yes!")
    link = reply.locator("a", has_text="our pricing")
    expect(link).to_have_attribute("href", "https://acme.test/pricing")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    image = reply.locator("img")
    expect(image).to_have_attribute("src", f"{demo.url}/demo/chart.png")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 480
    expect(reply.locator("br")).to_have_count(1)
    expect(messenger.get_by_test_id("messenger-status")).to_contain_text("Ada Admin")
    shot(visitor, "visitor-received-formatting")
    shot(rep, "rep-conversation")
    # The conversation list previews the rendered text, not the Markdown source.
    snippet = rep.locator(".convo-item.active .convo-snippet")
    expect(snippet).to_have_text("You: Yes! Annual billing saves 20%. See our pricing chart")

    # The visitor drops off the network; the rep keeps writing; nothing is lost or doubled.
    visitor.context.set_offline(True)
    visitor.wait_for_timeout(800)
    for i in range(3):
        rep_says(rep, f"While you were away {i}")
    expect(rep.locator("[data-testid=transcript] [data-seq='6']")).to_be_visible()
    visitor.wait_for_timeout(500)
    expect(messenger.locator("[data-seq='4']")).to_have_count(0)
    visitor.context.set_offline(False)
    expect(messenger.locator("[data-seq='6']")).to_be_visible(timeout=15_000)
    seqs = messenger.locator("[data-seq]").evaluate_all("els => els.map(e => e.dataset.seq)")
    assert seqs == ["1", "3", "4", "5", "6"]
    visitor_says(messenger, "Thanks, got all of them")
    expect(rep.locator("[data-testid=transcript] [data-seq='7']")).to_contain_text("got all")

    # Home previews the last message as rendered text too.
    rep_says(rep, "**Great**, talk _soon_")
    expect(rep.locator("[data-testid=transcript] [data-seq='8'] strong")).to_have_text("Great")
    rep.get_by_role("link", name="Home").click()
    row = rep.locator("a.row-link").filter(has_text="talk")
    expect(row.locator(".ellipsis")).to_have_text("Great, talk soon")


XSS = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 2">',
    "[click me](javascript:window.__pwned=3)",
    '![x](https://x.test/a.png" onerror="window.__pwned=4)',
    "<svg onload=window.__pwned=5>",
    '<a href="javascript:window.__pwned=6">a</a>',
]


def test_xss_vectors_show_as_text_in_both_apps(demo: Demo, new_context: NewContext) -> None:
    rep = rep_console(new_context, demo, ADMIN)
    visitor, messenger = visitor_page(new_context, demo, "/demo/blog")
    dialogs: list[str] = []
    for page in (rep, visitor):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    body = "\n".join(XSS)
    visitor_says(messenger, body)
    expect(messenger.locator("[data-seq='1']")).to_contain_text("<script>")
    alert = rep.get_by_test_id("alert-card").filter(has_text="<script>")
    expect(alert).to_be_visible()
    alert.click()
    rep.get_by_test_id("start-conversation").click()
    rep_says(rep, body)
    expect(messenger.locator("[data-seq='3']")).to_contain_text("onerror")
    for where in (rep.locator("[data-testid=transcript]"), messenger.locator("body")):
        expect(where.locator("script")).to_have_count(0)
        expect(where.locator("svg[onload], img[onerror], a[href^='javascript']")).to_have_count(0)
    rep.wait_for_timeout(300)
    assert rep.evaluate("window.__pwned") is None
    assert visitor.evaluate("window.__pwned") is None
    frame = next(f for f in visitor.frames if "/messenger/frame.html" in f.url)
    assert frame.evaluate("window.__pwned") is None
    assert dialogs == []


def test_two_reps_race_start_and_exactly_one_wins(demo: Demo, new_context: NewContext) -> None:
    riley = rep_console(new_context, demo, RILEY)
    sam = rep_console(new_context, demo, SAM)
    _, messenger = visitor_page(new_context, demo, "/demo/enterprise")
    visitor_says(messenger, "We need SSO for 4,000 seats. Who can help?")
    for rep in (riley, sam):
        card = rep.get_by_test_id("alert-card").filter(has_text="4,000 seats")
        expect(card).to_be_visible()
        card.click()
        expect(rep.get_by_test_id("start-conversation")).to_be_visible()
    # Both click at the same instant: each page arms a click for the same wall-clock time.
    at = riley.evaluate("Date.now() + 400")
    arm = """at => new Promise(done => setTimeout(() => {
        document.querySelector('[data-testid=start-conversation]').click(); done(true);
    }, at - Date.now()))"""
    riley.evaluate(f"at => {{ ({arm})(at); return true; }}", at)
    sam.evaluate(arm, at)
    winners = []
    for rep, name in ((riley, "Riley Rep"), (sam, "Sam Seller")):
        composer = rep.get_by_test_id("composer")
        notice = rep.get_by_test_id("taken-notice")
        expect(composer.or_(notice).first).to_be_visible()
        rep.wait_for_timeout(500)
        if notice.is_visible():
            expect(notice).to_contain_text("Already taken by")
        else:
            expect(composer).to_be_enabled()
            winners.append(name)
    assert len(winners) == 1, winners
    loser = sam if winners == ["Riley Rep"] else riley
    expect(loser.get_by_test_id("taken-notice")).to_contain_text(winners[0])
    expect(messenger.get_by_test_id("messenger-status")).to_contain_text(winners[0])
    shot(loser, "race-loser")
