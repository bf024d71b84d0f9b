"""Harper's fixes: the ones applied, the ones refused, and frequency re-ranking."""

from __future__ import annotations

import pytest

from pounce.integrations.ai.grammar import Proofreader, agree, shared_proofreader


@pytest.fixture(scope="module")
def proofreader() -> Proofreader:
    shared = shared_proofreader()
    shared.warm()
    return shared


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i recieve teh email", "I receive the email"),
        ("we has a plan", "we have a plan"),
        ("we was going", "we were going"),
        ("its a great day", "it's a great day"),
        ("we should of called", "we should have called"),
        ("thanks alot", "thanks a lot"),
        ("check the the docs", "check the docs"),
        ("their is a problem", "there is a problem"),
        ("an user and a apple", "a user and an apple"),
        ("definately tomorow", "definitely tomorrow"),
        # Re-ranked by frequency: Harper offers "wish" first for "wich".
        ("wich one", "which one"),
        # Case-only fixes of known names are taken.
        ("we love shopify", "we love Shopify"),
    ],
)
def test_fixes(proofreader: Proofreader, text: str, expected: str) -> None:
    assert proofreader.fix(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "We use HubSpot and Zendesk.",  # names mid-sentence
        "We support SSO and SAML via Okta.",  # acronyms
        "Yeah, it's ready.",  # Harper's ItsPossessive would break this
        "Setup takes 10 minutes.",  # and PhrasalVerbAsCompoundNoun this
        "We integrate with pipedrive and zendesk.",  # unknown lower-case names
        "Our B2B plan costs $49.",
        "Ping me on gdpr or sso questions.",  # short, vowel-less or rare tokens
        "Visit ⟦0⟧ for more.",  # sentinels are masked
    ],
)
def test_correct_text_is_left_alone(proofreader: Proofreader, text: str) -> None:
    assert proofreader.fix(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It have all models", "It has all models"),
        ("he dont have admin rights", "he doesn't have admin rights"),
        ("she do not know", "she does not know"),
        ("and it work fine", "and it works fine"),
        ("everyone love it", "everyone loves it"),
        ("its included in your plan", "it's included in your plan"),
        ("lets book a call", "let's book a call"),
        # Right as typed: objects, questions, past forms, possessives, subjunctives.
        ("make it work", "make it work"),
        ("does it have SSO", "does it have SSO"),
        ("it cost $5", "it cost $5"),
        ("if it were free", "if it were free"),
        ("its price is fine", "its price is fine"),
        ("it lets you book", "it lets you book"),
    ],
)
def test_agreement(text: str, expected: str) -> None:
    assert agree(text) == expected
