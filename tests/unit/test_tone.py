"""The offline copilot's rule tables: shorthand, sentences, greetings, contractions, sign-offs."""

from __future__ import annotations

import pytest

from pounce.integrations.ai import tone as rules
from pounce.integrations.ai.base import Tone


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("u", "you"),
        ("U", "You"),
        ("ur", "your"),
        ("r", "are"),
        ("tmrw", "tomorrow"),
        ("Tmrw", "Tomorrow"),
        ("pls", "please"),
        ("plz", "please"),
        ("thx", "thanks"),
        ("ty", "thank you"),
        ("msg", "message"),
        ("msgs", "messages"),
        ("wil", "will"),
        ("b4", "before"),
        ("bc", "because"),
        ("btw", "by the way"),
        ("asap", "as soon as possible"),
        ("idk", "I don't know"),
        ("lmk", "let me know"),
        ("ppl", "people"),
        ("mins", "minutes"),
        ("mtg", "meeting"),
        ("im", "I'm"),
        ("dont", "don't"),
        ("cant", "can't"),
        ("w/ slack", "with slack"),
        ("w/o a card", "without a card"),
        ("$49/mo", "$49 per month"),
        ("99 / yr", "99 per year"),
        ("on prem", "on-premises"),
        ("sales & marketing", "sales and marketing"),
        # Figures and their units, percentages, weekdays, months, acronyms.
        ("20pct", "20%"),
        ("99.9 pct", "99.9%"),
        ("899 per mo", "899 per month"),
        ("2 wks", "2 weeks"),
        ("1 hr", "1 hour"),
        ("15 min max", "15 minutes max"),
        ("14 day free trial", "14-day free trial"),
        ("2 hrs free training", "2 hours of free training"),
        ("1000 req/min", "1000 requests per minute"),
        ("$1,500/mo", "$1,500 per month"),
        ("w/ 30 days notice", "with 30 days notice"),
        ("setup ~10 min", "setup about 10 minutes"),
        ("demo Thurs", "demo Thursday"),
        ("by fri", "by Friday"),
        ("Mon-Fri", "Monday to Friday"),
        ("closed Sat/Sun", "closed Saturday and Sunday"),
        ("wed 10am", "Wednesday 10am"),
        ("sign by Mar 31", "sign by March 31"),
        ("invoice for Nov", "invoice for November"),
        ("8am-6pm", "8am to 6pm"),
        ("Slack/Teams", "Slack or Teams"),
        ("api access, ios app", "API access, iOS app"),
        ("2pm est", "2pm EST"),
        ("b4 EOD", "before the end of the day"),
        ("sry, avail til Weds", "sorry, available until Wednesday"),
    ],
)
def test_shorthand_table(typed: str, expected: str) -> None:
    assert rules.expand_shorthand(typed) == expected


@pytest.mark.parametrize(
    "kept",
    [
        "ASAP",  # all caps: the rep meant it
        "BTW",
        "menu",  # `u` inside a word
        "your",
        "Q&A",
        "and/or",
        "u2",
        "user's",
        "the sun is out",  # `sun`, `wed`, `mon`, `mar` are words unless a date is near
        "we wed in May",
        "24/7",
        "R&D",
    ],
)
def test_shorthand_leaves_words_alone(kept: str) -> None:
    assert rules.expand_shorthand(kept) == kept


def test_every_shorthand_expansion_is_itself_plain() -> None:
    for short, long in rules.SHORTHAND.items():
        assert short == short.lower() and long and short != long.lower()


def test_protect_and_restore_round_trip() -> None:
    text = "see `u` at https://a.test/u?x=1, [ur docs](https://d.test) {visitor.name} bob@a.test"
    masked, kept = rules.protect(text)
    assert "u" not in rules.SENTINEL.sub("", masked).replace("docs", "").split()
    assert rules.restore(rules.expand_shorthand(masked), kept) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("we got it, our team will call", "we got it. our team will call"),
        ("thanks so much, we will be in touch soon", "thanks so much. we will be in touch soon"),
        ("if you want, we can call you", "if you want, we can call you"),
        ("hey, we got it", "hey, we got it"),
        ("apples, pears and plums", "apples, pears and plums"),
        ("ok, I see", "ok, I see"),
    ],
)
def test_comma_splices(text: str, expected: str) -> None:
    assert rules.split_comma_splices(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello. how are you? fine! i think so", "Hello. How are you? Fine! I think so"),
        ("first line\nsecond line\n- bullet", "First line\nSecond line\n- Bullet"),
        ("i'm sure i'll go", "I'm sure I'll go"),
        ("visit iPhone.com", "Visit iPhone.com"),
    ],
)
def test_capitalise_sentences(text: str, expected: str) -> None:
    assert rules.capitalise_sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "tone", "expected"),
    [
        ("hey we can help", "professional", "Hello, we can help"),
        ("hi there! we can help", "casual", "Hey, we can help"),
        ("Hello Jane, we can help", "friendly", "Hi Jane, we can help"),
        ("yo", "professional", "Hello."),
        ("history is fun", "casual", "history is fun"),
    ],
)
def test_greeting(text: str, tone: Tone, expected: str) -> None:
    assert rules.set_greeting(text, tone) == expected


@pytest.mark.parametrize(
    ("text", "tone", "expected"),
    [
        # Professional expands contractions, casual makes them, friendly keeps them.
        (
            "We're sure it's been great and we can't wait.",
            "professional",
            "We are sure it has been great and we cannot wait.",
        ),
        ("I am sure we will not be late.", "casual", "I'm sure we won't be late."),
        ("Yes, it is.", "casual", "Yes, it is."),
        ("We're sure we will be there.", "friendly", "We're sure we will be there."),
        ("Yeah, gonna be awesome!!", "professional", "Yes, going to be excellent."),
        ("Thank you, certainly!!", "casual", "Thanks, sure!"),
    ],
)
def test_tone_vocabulary_and_contractions(text: str, tone: Tone, expected: str) -> None:
    assert rules.apply_tone(text, tone, sign_off=False) == expected


@pytest.mark.parametrize(
    ("text", "tone", "expected"),
    [
        ("We got it. We will call.", "professional", "We got it. We will call. Best regards"),
        ("We got it. We will call.", "casual", "We got it. We will call. Cheers!"),
        ("We got it. We will call.", "friendly", "We got it. We will call. Thanks!"),
        ("We got it. Can we call?", "friendly", "We got it. Can we call?"),  # a question
        ("One sentence.", "professional", "One sentence."),
        ("We got it. Thanks!", "friendly", "We got it. Thanks!"),  # already closed
        ("Got it. Kind regards", "professional", "Got it. Kind regards"),
        ("Line one.\nLine two.", "professional", "Line one.\nLine two.\n\nBest regards"),
    ],
)
def test_sign_off(text: str, tone: Tone, expected: str) -> None:
    assert rules.add_sign_off(text, tone) == expected
