"""Shortcut rules: names, placeholder filling and the `/` menu's ranking (standard library only)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

Scope = Literal["mine", "org"]
SCOPES: Final = ("mine", "org")
NAME_MAX: Final = 40
TEXT_MAX: Final = 4000

_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,40}")
# `{rep.first_name}`, `{ visitor.company }`, `{visitor.first_name|there}` (a fallback, as in
# auto pounce greetings); a lone `{word}` is caught too, so a typo shows.
_PLACEHOLDER: Final = re.compile(
    r"\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(?:\|([^{}\n]{0,60}))?\}"
)
# Characters that would let a visitor-controlled value (a name) become Markdown
# markup (a link, an image, emphasis) in a message the rep sends.
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_\[\]()!<>#~|])")

PLACEHOLDERS: Final[tuple[str, ...]] = (
    "rep.first_name",
    "rep.name",
    "visitor.first_name",
    "visitor.name",
    "visitor.company",
    "company.name",
)


def normalise_name(raw: str) -> str:
    """`/Welcome` or `Welcome` → `Welcome`; ValueError unless 1-40 of `[A-Za-z0-9_-]`."""
    name = raw.strip()
    if name.startswith("/"):
        name = name[1:]
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"a shortcut name is 1-{NAME_MAX} letters, digits, '-' or '_' (a leading '/' is "
            "optional)"
        )
    return name


def name_key(name: str) -> str:
    """The form names are unique in: `/Welcome` and `/welcome` are the same shortcut."""
    return name.casefold()


def escape_markdown(value: str) -> str:
    """A value inserted into Markdown as literal text, never as markup."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", value)


def first_name(full_name: str | None) -> str | None:
    if not full_name or not full_name.strip():
        return None
    return full_name.split()[0]


@dataclass(frozen=True, slots=True)
class Filled:
    """A shortcut's text with placeholders filled; `unfilled` were left as typed."""

    text: str
    unfilled: tuple[str, ...]


def fill_placeholders(text: str, values: Mapping[str, str | None]) -> Filled:
    """Replace each known placeholder that has a value, or its `|fallback`; leave the rest
    visible as typed. Names match case-insensitively; values are escaped so they read as
    plain text.
    """
    lookup = {k.lower(): v for k, v in values.items()}
    unfilled: list[str] = []

    def replace(match: re.Match[str]) -> str:
        value = lookup.get(match.group(1).lower())
        if (value is None or not value.strip()) and match.group(2) is not None:
            return match.group(2).strip()
        if value is None or not value.strip():
            if match.group(0) not in unfilled:
                unfilled.append(match.group(0))
            return match.group(0)
        return escape_markdown(value.strip())

    return Filled(text=_PLACEHOLDER.sub(replace, text), unfilled=tuple(unfilled))


def placeholder_values(
    *,
    rep_name: str | None,
    visitor_name: str | None,
    visitor_company: str | None,
    company_name: str | None,
) -> dict[str, str | None]:
    """The value of every known placeholder for one rep, visitor and org."""
    return {
        "rep.first_name": first_name(rep_name),
        "rep.name": rep_name,
        "visitor.first_name": first_name(visitor_name),
        "visitor.name": visitor_name,
        "visitor.company": visitor_company,
        "company.name": company_name,
    }


@dataclass(frozen=True, slots=True)
class Command:
    """A copilot operation offered in the `/` menu next to the shortcuts."""

    name: str
    label: str
    description: str


COPILOT_COMMANDS: Final[tuple[Command, ...]] = (
    Command("suggest", "AI Suggest", "Answer the visitor's latest question from your knowledge"),
    Command("expand", "AI Expand", "Turn your notes into a full message"),
    Command("tune", "AI Tune", "Fix grammar and apply the conversation's tone"),
)

T = TypeVar("T")


def _subsequence(query: str, name: str) -> bool:
    it = iter(name)
    return all(ch in it for ch in query)


def filter_menu(
    query: str, items: Sequence[T], *, name: Callable[[T], str] | None = None
) -> list[T]:
    """Items whose name matches what follows `/`: prefix matches first, then names that
    contain the query, then names that contain its letters in order (`/wlc` finds
    `/Welcome`). Case-insensitive; each group keeps the items' order.
    """
    key = name or (lambda item: str(getattr(item, "name")))  # noqa: B009
    q = query.strip().lstrip("/").casefold()
    if not q:
        return list(items)
    prefix: list[T] = []
    inside: list[T] = []
    scattered: list[T] = []
    for item in items:
        candidate = key(item).lstrip("/").casefold()
        if candidate.startswith(q):
            prefix.append(item)
        elif q in candidate:
            inside.append(item)
        elif _subsequence(q, candidate):
            scattered.append(item)
    return prefix + inside + scattered
