"""Routing rules: which reps an inbound chat alerts, in order, round-robin or everyone."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pounce.domain.model import RouteMode


@dataclass(frozen=True, slots=True)
class VisitorContext:
    """What routing may look at: the page, what we know of the visitor, where they are."""

    url: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    company: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One admin-defined rule; empty criteria match everything."""

    id: str
    url_pattern: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    company: str | None = None
    country: str | None = None
    rep_ids: Sequence[str] = ()
    mode: RouteMode = RouteMode.ROUND_ROBIN


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of routing: the queue it came from and the reps to alert."""

    queue: str
    alerted: tuple[str, ...]
    candidates: tuple[str, ...]


def url_matches(pattern: str, url: str) -> bool:
    """Glob match (`*` any run, `?` one char) on the full URL or on its path alone.

    A pattern without a scheme is tried against the path, so `/pricing*` matches
    `https://acme.test/pricing?plan=pro`. Matching is case-insensitive.
    """
    pattern = pattern.strip().lower()
    if not pattern:
        return True
    url = url.strip().lower()
    if fnmatch.fnmatchcase(url, pattern):
        return True
    parts = urlsplit(url)
    path = parts.path or "/"
    with_query = f"{path}?{parts.query}" if parts.query else path
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(with_query, pattern)


def rule_matches(rule: Rule, ctx: VisitorContext) -> bool:
    if not url_matches(rule.url_pattern, ctx.url):
        return False
    if rule.country and (ctx.country or "").upper() != rule.country.upper():
        return False
    if rule.company and (ctx.company or "").casefold() != rule.company.casefold():
        return False
    for key, expected in rule.attributes.items():
        actual = ctx.attributes.get(key)
        if actual is None or not fnmatch.fnmatchcase(str(actual).lower(), expected.lower()):
            return False
    return True


def first_matching(rules: Iterable[Rule], ctx: VisitorContext) -> Rule | None:
    """The first rule, in order, that matches the visitor."""
    for rule in rules:
        if rule_matches(rule, ctx):
            return rule
    return None


def pick_round_robin(
    candidates: Sequence[str], available: Iterable[str], last_turn: Mapping[str, int]
) -> str | None:
    """The available candidate who has waited longest for a chat (FIFO, fair).

    `last_turn` holds a counter that grows each time a rep is given a chat; reps never
    given one come first, in list order. Unavailable reps are skipped, not penalised:
    they keep their place in the queue for when they come back.
    """
    ready = set(available)
    best: str | None = None
    best_key: tuple[int, int] | None = None
    for position, rep in enumerate(candidates):
        if rep not in ready:
            continue
        key = (last_turn.get(rep, -1), position)
        if best_key is None or key < best_key:
            best, best_key = rep, key
    return best


def decide(
    rules: Sequence[Rule],
    ctx: VisitorContext,
    *,
    all_reps: Sequence[str],
    available: Iterable[str],
    last_turn: Mapping[str, int],
) -> Decision:
    """Run the rules for one inbound chat; no rule matching means every rep, everyone."""
    available_set = set(available)
    ready = [rep for rep in all_reps if rep in available_set]
    rule = first_matching(rules, ctx)
    if rule is None:
        return Decision(queue="org", alerted=tuple(ready), candidates=tuple(all_reps))
    candidates = tuple(rule.rep_ids)
    ready_set = set(ready)
    if rule.mode is RouteMode.EVERYONE:
        alerted = tuple(rep for rep in candidates if rep in ready_set)
    else:
        chosen = pick_round_robin(candidates, ready_set, last_turn)
        alerted = (chosen,) if chosen else ()
    return Decision(queue=f"rule:{rule.id}", alerted=alerted, candidates=candidates)
