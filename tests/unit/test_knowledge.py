"""Knowledge pages cut into passages, tokens for BM25, and the per-org index."""

from __future__ import annotations

from pounce.integrations.ai.base import Passage
from pounce.services.knowledge import CHUNK_CHARS, OrgIndex, chunk_page, tokens


def test_pages_are_cut_at_headings_and_named_by_them() -> None:
    body = (
        "Intro paragraph.\n\n"
        "## Do you integrate with Slack?\nYes, with our app.\n\n"
        "### Pricing ###\nFrom $49.\n\nBilled yearly.\n\n"
        "#NotAHeading because no space"
    )
    assert chunk_page("FAQ", body) == [
        ("FAQ", "Intro paragraph."),
        ("FAQ > Do you integrate with Slack?", "Yes, with our app."),
        ("FAQ > Pricing", "From $49.\n\nBilled yearly.\n\n#NotAHeading because no space"),
    ]


def test_long_sections_are_split_near_the_chunk_size() -> None:
    paragraph = ("word " * 40).strip()  # 199 characters: four fit in a chunk
    pieces = chunk_page("Guide", "\n\n".join([paragraph] * 9))
    assert [text.count("\n\n") + 1 for _, text in pieces] == [4, 4, 1]
    assert all(len(text) <= CHUNK_CHARS for _, text in pieces)
    assert chunk_page("Empty", "  \n\n  ") == []


def test_tokens_are_stemmed_without_stop_words() -> None:
    assert tokens("Does it integrate with the Slack integrations?") == [
        "integr",
        "slack",
        "integr",
    ]


def test_an_empty_index_finds_nothing() -> None:
    assert OrgIndex([]).search("anything", k=3, skip=lambda p: False) == []
    only_stop_words = OrgIndex([Passage("page", "1", "the", "and of")])
    assert only_stop_words.search("the", k=3, skip=lambda p: False) == []


def test_skip_filters_before_the_cut() -> None:
    index = OrgIndex(
        [
            Passage("transcript", "c_1#2", "slack?", "Yes, Slack."),
            Passage("transcript", "c_2#2", "slack?", "Slack works."),
        ]
    )
    found = index.search("slack", k=1, skip=lambda p: p.id.startswith("c_1#"))
    assert [p.id for p in found] == ["c_2#2"]
