"""Transfer in Chromium: the new owner sees the whole transcript live (the auto pounce
greeting and nudge included), the old owner's window closes and the server refuses
their sends, the visitor is told who they are chatting with now; a warm transfer
declined, accepted, kept across reloads, and left unanswered until its deadline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN, RILEY, Demo, demo_server, shot
from tests.e2e.helpers import (
    NewContext,
    api,
    rep_console,
    rep_says,
    take_alert_and_start,
    visitor_page,
    visitor_says,
)
from tests.e2e.test_auto_pounce import fast_auto_pounce

__all__ = ["fast_auto_pounce"]  # the fixture, shared with the auto pounce tests

# A second console socket of the signed-in rep, opened from their page: what the server
# answers when they write in a conversation that is no longer theirs.
_SEND_AS_ME = """
async ([cid]) => {
  const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws/console');
  const frames = [];
  const answer = new Promise((resolve, reject) => {
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      frames.push(f);
      if (f.type === 'welcome') {
        ws.send(JSON.stringify({type: 'message', id: 'after-transfer', conversation_id: cid,
                                body: 'Am I still here?'}));
      }
      if ((f.type === 'ack' || f.type === 'error') && f.id === 'after-transfer') resolve(f);
    };
    ws.onerror = () => reject(new Error('socket error'));
  });
  ws.onopen = () => ws.send(JSON.stringify({type: 'hello', v: 1}));
  const f = await answer;
  ws.close();
  return f;
}
"""


def test_cold_transfer_hands_the_whole_conversation_on_live(
    demo: Demo, new_context: NewContext, fast_auto_pounce: Page
) -> None:
    ada = fast_auto_pounce
    riley = rep_console(new_context, demo, RILEY)
    api(riley, "PUT", "/api/v1/me/auto-pounce", {"enabled": False})  # Ada greets, not Riley
    visitor, messenger = visitor_page(new_context, demo, "/demo/pricing", open_launcher=False)
    expect(messenger.locator("[data-seq='2'][data-author-kind='rep']")).to_be_visible(
        timeout=15_000
    )
    visitor_says(messenger, "Can someone walk me through onboarding?")
    alert = ada.get_by_test_id("alert-card").filter(has_text="onboarding")
    expect(alert).to_be_visible()
    alert.click()
    rep_says(ada, "Riley runs onboarding, handing you over.")
    expect(messenger.get_by_text("Riley runs onboarding")).to_be_visible()
    conversation_id = ada.url.rsplit("/", 1)[-1]

    # Ada picks Riley in the owner drop-down: only reps who can take it now, with their load.
    ada.get_by_test_id("owner-button").click()
    candidate = ada.get_by_test_id("transfer-candidate").filter(has_text="Riley Rep")
    expect(candidate).to_be_visible()
    expect(candidate).to_contain_text("open conversation")
    shot(ada, "transfer-owner-menu")
    candidate.get_by_test_id("transfer-now").click()

    # Ada's window closes and says where the conversation went; the server refuses her sends.
    expect(ada.get_by_test_id("transfer-notice")).to_contain_text("is now with Riley Rep")
    expect(ada.get_by_test_id("composer")).to_have_count(0)
    refused: Any = ada.evaluate(_SEND_AS_ME, [conversation_id])
    assert refused["type"] == "error" and refused["code"] == "not_owner", refused

    # Riley is alerted and opens it with everything said before, without a reload.
    handed = riley.get_by_test_id("alert-card").filter(has_text="onboarding")
    expect(handed).to_be_visible()
    handed.click()
    transcript = riley.get_by_test_id("transcript")
    expect(transcript.locator("[data-auto-pounce='true']")).to_have_count(2)
    expect(transcript.get_by_test_id("message").filter(has_text="onboarding")).to_have_count(2)
    expect(transcript.locator("[data-event='transferred']")).to_contain_text(
        "Ada Admin transferred the conversation to you"
    )
    expect(riley.get_by_test_id("owner-control")).to_contain_text("Riley Rep (you)")
    shot(riley, "transfer-new-owner")

    # The visitor sees the new rep from now on, and the line saying so.
    expect(messenger.get_by_test_id("messenger-line")).to_have_text(
        "You\u2019re now chatting with Riley Rep"
    )
    expect(messenger.get_by_test_id("messenger-status")).to_contain_text("Riley Rep")
    rep_says(riley, "Hi, Riley here: let's start with your data sources.")
    expect(messenger.get_by_text("Riley here")).to_be_visible()
    visitor_says(messenger, "We use Postgres.")
    expect(transcript.get_by_test_id("message").filter(has_text="Postgres")).to_be_visible()
    shot(visitor, "transfer-visitor")


def test_warm_transfer_declined_then_accepted_with_a_note_only_reps_see(
    demo: Demo, new_context: NewContext
) -> None:
    ada = rep_console(new_context, demo, ADMIN)
    # Earlier tests leave Riley's chats open: no limit on them here.
    api(ada, "PUT", "/api/v1/proactive/settings", {"max_open_chats_per_rep": 0})
    _, messenger = visitor_page(new_context, demo, "/demo/blog")
    visitor_says(messenger, "Who can help with SSO setup?")
    take_alert_and_start(ada, "SSO setup")
    riley = rep_console(new_context, demo, RILEY)
    note = "Wants SAML with Okta, on the Enterprise trial"

    def ask_riley() -> None:
        ada.get_by_test_id("owner-button").click()
        candidate = ada.get_by_test_id("transfer-candidate").filter(has_text="Riley Rep")
        candidate.get_by_test_id("transfer-ask").click()
        candidate.get_by_test_id("transfer-note").fill(note)
        candidate.get_by_test_id("transfer-ask-send").click()
        expect(ada.get_by_test_id("transfer-asked")).to_contain_text("Riley Rep")

    ask_riley()
    request = riley.get_by_test_id("transfer-request")
    expect(request).to_contain_text("Ada Admin asks you to take the chat")
    # A reload on either side keeps the request: Ada still waits, Riley is still asked.
    ada.reload()
    riley.reload()
    expect(ada.get_by_test_id("transfer-asked")).to_contain_text("Asked Riley Rep to take it")
    expect(ada.get_by_test_id("transfer-asked-countdown")).to_be_visible()
    expect(request).to_contain_text("Ada Admin asks you to take the chat")
    expect(request.get_by_test_id("transfer-request-note")).to_contain_text(note)
    expect(riley.get_by_test_id("connection-status")).to_be_hidden()
    request.get_by_test_id("transfer-decline").click()
    expect(request).to_have_count(0)
    expect(ada.get_by_test_id("transfer-notice")).to_have_attribute("data-result", "declined")
    expect(ada.get_by_test_id("transfer-asked")).to_have_count(0)
    expect(ada.get_by_test_id("composer")).to_be_enabled()  # still Ada's

    ask_riley()
    riley.get_by_test_id("transfer-request").get_by_test_id("transfer-accept").click()
    transcript = riley.get_by_test_id("transcript")
    expect(transcript.get_by_test_id("message").filter(has_text="SSO setup")).to_be_visible()
    expect(transcript.locator("[data-audience='reps']").filter(has_text="SAML")).to_have_count(2)
    expect(riley.get_by_test_id("composer")).to_be_enabled()
    expect(ada.get_by_test_id("transfer-notice")).to_have_attribute("data-result", "transferred")
    expect(messenger.get_by_test_id("messenger-line")).to_have_text(
        "You\u2019re now chatting with Riley Rep"
    )
    shot(riley, "transfer-warm-accepted")
    assert messenger.get_by_text("SAML").count() == 0, "the handoff note reached the visitor"


ACCEPT_SECONDS = 5


@pytest.fixture(scope="module")
def short_accept_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo org on a server of its own whose warm transfers wait ACCEPT_SECONDS."""
    tmp = Path(tmp_path_factory.mktemp("transfer-timeout"))
    with demo_server(tmp, POUNCE_TRANSFER_ACCEPT_SECONDS=str(ACCEPT_SECONDS)) as demo:
        yield demo


def test_warm_transfer_nobody_answers_stays_with_the_owner(
    short_accept_demo: Demo, new_context: NewContext
) -> None:
    demo = short_accept_demo
    ada = rep_console(new_context, demo, ADMIN)
    _, messenger = visitor_page(new_context, demo, "/demo/blog")
    visitor_says(messenger, "Is there an on-premise edition?")
    take_alert_and_start(ada, "on-premise")
    riley = rep_console(new_context, demo, RILEY)

    ada.get_by_test_id("owner-button").click()
    candidate = ada.get_by_test_id("transfer-candidate").filter(has_text="Riley Rep")
    candidate.get_by_test_id("transfer-ask").click()
    candidate.get_by_test_id("transfer-ask-send").click()
    expect(ada.get_by_test_id("transfer-asked")).to_contain_text("Asked Riley Rep to take it")
    expect(riley.get_by_test_id("transfer-request")).to_contain_text("Ada Admin asks you")
    # Riley does not answer; the deadline passes (the server's job).
    expect(riley.get_by_test_id("transfer-request")).to_have_count(
        0, timeout=ACCEPT_SECONDS * 4_000
    )
    notice = ada.get_by_test_id("transfer-notice")
    expect(notice).to_have_attribute("data-result", "expired", timeout=ACCEPT_SECONDS * 4_000)
    expect(notice).to_contain_text("Riley Rep did not answer in time")
    expect(ada.get_by_test_id("transfer-asked")).to_have_count(0)
    shot(ada, "transfer-warm-expired")

    # Still Ada's: the owner drop-down says so and her composer sends to the visitor.
    expect(ada.get_by_test_id("owner-control")).to_contain_text("Ada Admin (you)")
    rep_says(ada, "Riley is busy, I can answer that: yes, there is.")
    expect(messenger.get_by_text("I can answer that")).to_be_visible()
    expect(riley.get_by_test_id("transfer-notice")).to_have_count(0)
