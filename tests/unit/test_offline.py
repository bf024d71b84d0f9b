"""The offline copilot: Tune, Expand and Suggest on tables of inputs, exact outputs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pounce.integrations.ai.base import Chunk, CopilotRequest, Done, Passage, Tone
from pounce.integrations.ai.offline import NO_ANSWER, OfflineCopilot
from pounce.services.knowledge import OrgIndex, passages_of
from pounce.store.copilot import Exchange, Page, Shortcut


@pytest.fixture(scope="module")
def offline() -> OfflineCopilot:
    copilot = OfflineCopilot()
    copilot.proofreader.warm()
    return copilot


DRAFT = "hey we got ur msg, our sales guy wil call u tmrw"
TUNE = [
    (DRAFT, "casual", "Hey, we got your message. Our sales guy will call you tomorrow. Cheers!"),
    (DRAFT, "friendly", "Hi, we got your message. Our sales guy will call you tomorrow. Thanks!"),
    (
        DRAFT,
        "professional",
        "Hello, we have received your message. Our sales representative will call you "
        "tomorrow. Best regards",
    ),
    (
        "thx for reaching out! we're gonna send u the pricing asap",
        "casual",
        "Thanks for reaching out! We're gonna send you the pricing as soon as possible.",
    ),
    (
        "thx for reaching out! we're gonna send u the pricing asap",
        "friendly",
        "Thanks for reaching out! We're gonna send you the pricing as soon as possible.",
    ),
    (
        "thx for reaching out! we're gonna send u the pricing asap",
        "professional",
        "Thank you for reaching out. We are going to send you the pricing as soon as "
        "possible. Best regards",
    ),
    (
        "hi Jane, i can't make it tmrw, can we do thursday?",
        "casual",
        "Hey Jane, I can't make it tomorrow, can we do Thursday?",
    ),
    (
        "hi Jane, i can't make it tmrw, can we do thursday?",
        "friendly",
        "Hi Jane, I can't make it tomorrow, can we do Thursday?",
    ),
    (
        "hi Jane, i can't make it tmrw, can we do thursday?",
        "professional",
        "Hello Jane, I cannot make it tomorrow, can we do Thursday?",
    ),
    (
        "I could of sent it. Its a great product, u will love it",
        "casual",
        "I could have sent it. It's a great product. You'll love it. Cheers!",
    ),
    (
        "I could of sent it. Its a great product, u will love it",
        "friendly",
        "I could have sent it. It's a great product. You will love it. Thanks!",
    ),
    (
        "I could of sent it. Its a great product, u will love it",
        "professional",
        "I could have sent it. It is a great product. You will love it. Best regards",
    ),
    # Names, brands, links and emails are never "corrected".
    (
        "we use HubSpot and zendesk, see https://acme.com/ur-page or email bob@acme.com",
        "friendly",
        "We use HubSpot and zendesk, see https://acme.com/ur-page or email bob@acme.com.",
    ),
    # Placeholders and Markdown links survive; "it's ready" stays right.
    (
        "Hey {visitor.first_name}! yeah, it's ready - check [ur docs](https://acme.com/u) pls",
        "professional",
        "Hello {visitor.first_name}. Yes, it is ready - check [ur docs](https://acme.com/u) "
        "please. Best regards",
    ),
    (
        "their is a 14 day trial and we has SSO on the enterprize plan",
        "casual",
        "There is a 14-day trial and we have SSO on the enterprise plan.",
    ),
    # The two drafts of issue 18 (Tune fixes words and grammar; Expand writes sentences).
    ("It have all models", "friendly", "It has all models."),
    (
        "Growth 899 per mo. Annual saves 20pct. Want demo Thurs?",
        "casual",
        "Growth 899 per month. Annual saves 20%. Want demo Thursday?",
    ),
    ("", "friendly", ""),
]


@pytest.mark.parametrize(("draft", "tone", "expected"), TUNE)
def test_tune(offline: OfflineCopilot, draft: str, tone: Tone, expected: str) -> None:
    assert offline.tune_text(draft, tone) == expected


NOTES = "pricing 49/mo, 14 day free trial, can set up demo tmrw"
EXPAND = [
    (
        NOTES,
        "casual",
        "Jane Doe",
        "Hey Jane! Pricing is 49 per month. There is a 14-day free trial. We can set up a demo "
        "tomorrow. Let me know if you've got any other questions!",
    ),
    (
        NOTES,
        "friendly",
        "Jane Doe",
        "Hi Jane! Thanks for reaching out. Pricing is 49 per month. There is a 14-day free "
        "trial. We can set up a demo tomorrow. Let me know if there's anything else I can "
        "help with!",
    ),
    (
        NOTES,
        "professional",
        "jane doe",
        "Hello Jane, thank you for reaching out. Pricing is 49 per month. There is a 14-day "
        "free trial. We can set up a demo tomorrow. Please let me know if you have any "
        "further questions.",
    ),
    (
        "- integrates w/ slack\n- SSO on enterprise plan\n- setup takes 10 mins",
        "friendly",
        None,
        "Hi there! Thanks for reaching out. It integrates with slack. SSO is available on the "
        "enterprise plan. The setup takes 10 minutes. Let me know if there's anything else I "
        "can help with!",
    ),
    (
        "we dont support on prem",
        "professional",
        None,
        "Hello, thank you for reaching out. We do not support on-premises. Please let me "
        "know if you have any further questions.",
    ),
    # A visitor-chosen "name" that is not a name is not used.
    (
        "call u tmrw",
        "casual",
        "[x](https://evil.test)",
        "Hey there! I'll call you tomorrow. Let me know if you've got any other questions!",
    ),
    ("  \n - \n", "friendly", "Jane", ""),
    # A figure with its unit ends a sentence too.
    (
        "annual plans save 20%\nSSO included",
        "friendly",
        None,
        "Hi there! Thanks for reaching out. Annual plans save 20%. SSO is included. Let me "
        "know if there's anything else I can help with!",
    ),
]


# The two drafts of issue 18.
EXPAND += [
    (
        "Growth 899 per mo. Annual saves 20pct. Want demo Thurs?",
        "friendly",
        None,
        "Hi there! Thanks for reaching out. The Growth plan is 899 per month. Annual billing "
        "saves 20%. Would you like a demo on Thursday?",
    ),
    (
        "It have all models",
        "professional",
        "Ann Lee",
        "Hello Ann, thank you for reaching out. It has all models. Please let me know if you "
        "have any further questions.",
    ),
]


@pytest.mark.parametrize(("notes", "tone", "visitor", "expected"), EXPAND)
def test_expand(
    offline: OfflineCopilot, notes: str, tone: Tone, visitor: str | None, expected: str
) -> None:
    assert offline.expand_text(notes, tone, visitor) == expected


NOW = datetime(2026, 1, 1, tzinfo=UTC)
CORPUS = passages_of(
    [
        Page(
            "kp_faq",
            "o",
            "FAQ",
            "## Do you integrate with Slack?\nYes: install the Slack app from our "
            "integrations page.\n\n## Is there a free trial?\nEvery plan has a 14-day free "
            "trial.\n\n## Where is my data stored?\nIn the EU (Frankfurt).",
            "markdown",
            NOW,
            NOW,
        )
    ],
    [
        Shortcut("sc_price", "o", "org", None, "Pricing", "Plans start at $49 a month.", NOW, NOW),
        Shortcut("sc_hi", "o", "org", None, "Welcome", "Hi! How can I help?", NOW, NOW),
    ],
    [
        Exchange("c_1", 2, "Does it work with Slack?", "Yes, our Slack integration takes 2 min."),
        Exchange("c_2", 4, "how much does it cost", "Plans start at $49/month."),
        Exchange("c_3", 2, "Do you have SSO?", "SSO is on the Enterprise plan."),
    ],
)
SUGGEST = [
    (
        "Do you integrate with Slack?",
        ["kp_faq#0", "c_1#2"],
        "Yes: install the Slack app from our integrations page.",
    ),
    ("How much does it cost per month?", ["c_2#4", "sc_price"], "Plans start at $49/month."),
    ("is there a free trial?", ["kp_faq#1"], "Every plan has a 14-day free trial."),
    ("can I get SSO", ["c_3#2"], "SSO is on the Enterprise plan."),
    ("kangaroo", [], ""),
]


@pytest.mark.parametrize(("question", "ids", "text"), SUGGEST)
async def test_suggest_ranks_stored_answers(
    offline: OfflineCopilot, question: str, ids: list[str], text: str
) -> None:
    found = OrgIndex(CORPUS).search(question, k=3, skip=lambda p: False)
    result = await offline.suggest(CopilotRequest(text=question, passages=tuple(found)))
    assert [p.id for p in result.sources] == ids
    assert result.text == text
    assert result.source == "offline"
    assert result.note == (None if ids else NO_ANSWER)
    scores = [p.score for p in result.sources]
    assert scores == sorted(scores, reverse=True)


async def test_suggest_returns_at_most_three(offline: OfflineCopilot) -> None:
    passages = tuple(Passage("page", str(i), "t", f"answer {i}", 1.0 - i / 10) for i in range(5))
    result = await offline.suggest(CopilotRequest(text="q", passages=passages))
    assert [p.id for p in result.sources] == ["0", "1", "2"]


async def test_offline_stream_is_one_chunk_then_done(offline: OfflineCopilot) -> None:
    request = CopilotRequest(text="see u tmrw", tone="casual")
    events = [e async for e in offline.stream("tune", request)]
    assert len(events) == 2 and events[0] == Chunk("See you tomorrow.")
    assert isinstance(events[1], Done) and events[1].result.text == "See you tomorrow."
