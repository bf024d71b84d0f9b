"""Shortcut names, placeholder filling and the `/` menu's ranking."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pounce.domain.shortcuts import (
    COPILOT_COMMANDS,
    PLACEHOLDERS,
    Command,
    fill_placeholders,
    filter_menu,
    normalise_name,
    placeholder_values,
)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("/Welcome", "Welcome"),
        ("Welcome", "Welcome"),
        ("  /pricing-2025 ", "pricing-2025"),
        ("snake_case", "snake_case"),
        ("/" + "a" * 40, "a" * 40),
    ],
)
def test_names_are_stored_without_the_slash(raw: str, name: str) -> None:
    assert normalise_name(raw) == name


@pytest.mark.parametrize("raw", ["", "/", "//x", "hello world", "a" * 41, "émoji", "x!", "/a/b"])
def test_bad_names_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="shortcut name"):
        normalise_name(raw)


VALUES = placeholder_values(
    rep_name="Ada Lovelace",
    visitor_name="Grace Hopper",
    visitor_company="Navy",
    company_name="Acme",
)


@pytest.mark.parametrize(
    ("text", "values", "filled", "unfilled"),
    [
        (
            "Hi {visitor.first_name}, {rep.first_name} from {company.name} here!",
            VALUES,
            "Hi Grace, Ada from Acme here!",
            (),
        ),
        ("{rep.name} / {visitor.company}", VALUES, "Ada Lovelace / Navy", ()),
        ("{ Rep.First_Name } says hi", VALUES, "Ada says hi", ()),
        # Unknown placeholders stay visible as typed, so the rep notices.
        ("Hi {visitor.nickname}!", VALUES, "Hi {visitor.nickname}!", ("{visitor.nickname}",)),
        ("Hi {name}", VALUES, "Hi {name}", ("{name}",)),
        # Known, but no value: also left as typed.
        (
            "Hi {visitor.first_name} from {visitor.company}",
            placeholder_values(
                rep_name="Ada", visitor_name=None, visitor_company="  ", company_name="Acme"
            ),
            "Hi {visitor.first_name} from {visitor.company}",
            ("{visitor.first_name}", "{visitor.company}"),
        ),
        # A fallback fills in for a missing value, as in auto pounce greetings.
        (
            "Hi {visitor.first_name|there}, from {rep.first_name|us} {visitor.company|}!",
            placeholder_values(
                rep_name="Ada", visitor_name=None, visitor_company=None, company_name=None
            ),
            "Hi there, from Ada !",
            (),
        ),
        ("{visitor.nickname|friend}", VALUES, "friend", ()),
        # The same unfilled placeholder is listed once.
        ("{x.y} and {x.y}", VALUES, "{x.y} and {x.y}", ("{x.y}",)),
        # Braces that are not placeholders are text.
        ("{not a placeholder} {}", VALUES, "{not a placeholder} {}", ()),
    ],
)
def test_fill_placeholders(
    text: str, values: dict[str, str | None], filled: str, unfilled: tuple[str, ...]
) -> None:
    result = fill_placeholders(text, values)
    assert result.text == filled
    assert result.unfilled == unfilled


def test_visitor_values_cannot_inject_markdown() -> None:
    values = placeholder_values(
        rep_name="Ada",
        visitor_name="[click](https://evil.test) *x*",
        visitor_company=None,
        company_name=None,
    )
    filled = fill_placeholders("Hi {visitor.name}", values)
    assert filled.text == r"Hi \[click\]\(https://evil.test\) \*x\*"


def test_every_documented_placeholder_has_a_value() -> None:
    assert set(VALUES) == set(PLACEHOLDERS)
    assert all(VALUES[name] for name in PLACEHOLDERS)


@dataclass
class Item:
    name: str


def names(items: list[Item] | list[Item | Command]) -> list[str]:
    return [i.name for i in items]


MENU = [Item(n) for n in ["Hello", "Welcome", "pricing", "wellness", "Owl", "we_lcome", "Bye"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Hello", "Welcome", "pricing", "wellness", "Owl", "we_lcome", "Bye"]),
        ("/", ["Hello", "Welcome", "pricing", "wellness", "Owl", "we_lcome", "Bye"]),
        # Prefix matches first (in order), then substrings, then letters in order.
        ("/wel", ["Welcome", "wellness", "we_lcome"]),
        ("wel", ["Welcome", "wellness", "we_lcome"]),
        ("/WEL", ["Welcome", "wellness", "we_lcome"]),
        ("/wl", ["Owl", "Welcome", "wellness", "we_lcome"]),
        ("/lo", ["Hello", "Welcome", "we_lcome"]),
        ("/wlc", ["Welcome", "we_lcome"]),
        ("/zzz", []),
    ],
)
def test_filter_menu_ranks_prefix_then_fuzzy(query: str, expected: list[str]) -> None:
    assert names(filter_menu(query, MENU)) == expected


def test_filter_menu_is_stable_and_takes_a_key() -> None:
    items = [("b", "Welcome"), ("a", "welcome2"), ("c", "Welcome")]
    found = filter_menu("/wel", items, name=lambda i: i[1])
    assert [i[0] for i in found] == ["b", "a", "c"]


def test_copilot_commands_are_menu_items() -> None:
    assert [c.name for c in COPILOT_COMMANDS] == ["suggest", "expand", "tune"]
    menu: list[Item | Command] = [*COPILOT_COMMANDS, *MENU]
    assert names(filter_menu("/su", menu)) == ["suggest"]
    assert names(filter_menu("/t", menu)) == ["tune", "suggest"]
    assert names(filter_menu("/ex", menu)) == ["expand"]
    assert names(filter_menu("", menu))[:3] == ["suggest", "expand", "tune"]
