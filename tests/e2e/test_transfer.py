"""Transfer in Chromium: the new owner sees the whole transcript live (the auto pounce
greeting and nudge included), the old owner's window closes and the server refuses
their sends, the visitor is told who they are chatting with now."""

from __future__ import annotations

from typing import Any

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
    expect(request.get_by_test_id("transfer-request-note")).to_contain_text(note)
    request.get_by_test_id("transfer-decline").click()
    expect(request).to_have_count(0)
    expect(ada.get_by_test_id("transfer-notice")).to_have_attribute("data-result", "declined")
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
