"""Auto pounce: which visitors to greet, as which rep, and what happens after the greeting.

Pure rules over plain values; times are epoch seconds handed in by the caller's clock.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from pounce.domain.model import Outcome
from pounce.domain.routing import (
    Rule,
    VisitorContext,
    first_matching,
    pick_round_robin,
    rule_matches,
    url_matches,
)

DEFAULT_GREETING = "Hi{visitor.first_name| there}! 👋 Anything I can help you find on this page?"
DEFAULT_NUDGE = "Just checking in — happy to answer any questions while you look around."
MARKABLE = frozenset({Outcome.SPAM, Outcome.NO_RESPONSE_NEEDED})


# --------------------------------------------------------------------------- who to greet


@dataclass(frozen=True, slots=True)
class PounceRule:
    """An admin's rule: greet visitors on matching pages after a while; empty criteria match."""

    id: str
    url_pattern: str = ""
    min_seconds_on_page: float = 0.0
    min_pages_viewed: int = 0
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Activity:
    """What a visitor is doing now: the page, how long they have been on it, how many pages."""

    url: str
    seconds_on_page: float = 0.0
    pages_viewed: int = 1
    attributes: Mapping[str, str] = field(default_factory=dict)


def targets(rule: PounceRule, activity: Activity) -> bool:
    """The rule is about this visitor and page (time on page aside)."""
    if activity.pages_viewed < rule.min_pages_viewed:
        return False
    as_route = Rule(id=rule.id, url_pattern=rule.url_pattern, attributes=rule.attributes)
    return rule_matches(as_route, VisitorContext(url=activity.url, attributes=activity.attributes))


# The greeting job is due exactly `min_seconds_on_page` after the page view, and time on
# page is a difference of float timestamps: run on the dot, it can come out a hair short
# (1800000000.3 - 1800000000.0 is 0.29999995...). A millisecond of slack keeps such a job
# from dropping its greeting.
TIME_ON_PAGE_SLACK = 0.001


def rule_matches_now(rule: PounceRule, activity: Activity) -> bool:
    return (
        targets(rule, activity)
        and activity.seconds_on_page + TIME_ON_PAGE_SLACK >= rule.min_seconds_on_page
    )


def first_targeting(rules: Iterable[PounceRule], activity: Activity) -> PounceRule | None:
    """The first rule, in order, that targets the visitor: when to look again is its time."""
    return next((r for r in rules if targets(r, activity)), None)


def matching_rule(rules: Iterable[PounceRule], activity: Activity) -> PounceRule | None:
    """The first rule, in order, fully met now (page, pages viewed, attributes, time)."""
    return next((r for r in rules if rule_matches_now(r, activity)), None)


def in_quiet_period(last_pounced_at: float | None, now: float, quiet_hours: float) -> bool:
    """Never pounce on the same visitor twice within `quiet_hours`."""
    return last_pounced_at is not None and now - last_pounced_at < quiet_hours * 3600.0


class Skip(StrEnum):
    """Why a due greeting is not sent."""

    DISABLED = "disabled"
    OFFLINE = "offline"
    IN_CONVERSATION = "in_conversation"
    QUIET = "quiet_period"
    NO_MATCH = "no_match"
    NO_REP = "no_rep"


def greet_skip(
    *,
    enabled: bool,
    online: bool,
    in_conversation: bool,
    quiet: bool,
    rule: PounceRule | None,
) -> Skip | None:
    """Why not to greet now, checked in this order; None means go ahead and pick a rep."""
    if not enabled:
        return Skip.DISABLED
    if not online:
        return Skip.OFFLINE
    if in_conversation:
        return Skip.IN_CONVERSATION
    if quiet:
        return Skip.QUIET
    if rule is None:
        return Skip.NO_MATCH
    return None


# --------------------------------------------------------------------------- as which rep


@dataclass(frozen=True, slots=True)
class RepStatus:
    """What rotation looks at for one rep."""

    available: bool
    auto_pounce: bool
    open_chats: int = 0


def rotation_queue(
    routing_rules: Sequence[Rule], ctx: VisitorContext, all_reps: Sequence[str]
) -> tuple[str, tuple[str, ...]]:
    """The queue name and candidate reps: the routing rules' pick, else every rep.

    Auto pounce obeys the routing rules: a visitor only ever hears from a rep an inbound
    chat from them could have reached. The queue is separate from inbound round-robin.
    """
    rule = first_matching(routing_rules, ctx)
    if rule is None:
        return "auto_pounce:org", tuple(all_reps)
    return f"auto_pounce:{rule.id}", tuple(rule.rep_ids)


def at_capacity(open_chats: int, max_open_chats: int) -> bool:
    """A rep with this many open chats takes no more from routing, auto pounce or a
    transfer; a limit of 0 means none."""
    return max_open_chats > 0 and open_chats >= max_open_chats


def eligible(
    candidates: Sequence[str], reps: Mapping[str, RepStatus], *, max_open_chats: int
) -> list[str]:
    """Candidates who are available, have auto pounce on and are not busy beyond the limit."""
    out = []
    for rep in candidates:
        status = reps.get(rep)
        if status is None or not (status.available and status.auto_pounce):
            continue
        if at_capacity(status.open_chats, max_open_chats):
            continue
        out.append(rep)
    return out


def pick_rep(
    candidates: Sequence[str],
    reps: Mapping[str, RepStatus],
    *,
    max_open_chats: int,
    last_turn: Mapping[str, int],
) -> str | None:
    """Fair rotation: the eligible candidate whose last auto pounce is oldest (FIFO)."""
    ready = eligible(candidates, reps, max_open_chats=max_open_chats)
    return pick_round_robin(candidates, ready, last_turn)


# --------------------------------------------------------------------------- after the greeting


class Stage(StrEnum):
    GREETED = "greeted"  # greeting sent, waiting for the visitor
    NUDGED = "nudged"  # the one nudge sent, still waiting
    AWAITING_REP = "awaiting_rep"  # the visitor replied: the rep's countdown runs
    DONE = "done"  # an outcome is recorded


class Effect(StrEnum):
    """What the caller must do besides storing the new state."""

    SEND_NUDGE = "send_nudge"
    CANCEL_NUDGE = "cancel_nudge"
    ALERT_REP = "alert_rep"
    SCHEDULE_TIMEOUT = "schedule_timeout"
    CANCEL_TIMEOUT = "cancel_timeout"
    DISABLE_REP = "disable_rep"
    REROUTE = "reroute"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Pounce:
    """One auto pounce on one visitor, spoken as `rep_id`."""

    rep_id: str
    greeted_at: float
    stage: Stage = Stage.GREETED
    nudged_at: float | None = None
    visitor_replied_at: float | None = None
    deadline: float | None = None
    rep_replied_at: float | None = None
    outcome: Outcome | None = None
    outcome_at: float | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """The state after an event, and the effects it asks for."""

    pounce: Pounce
    effects: frozenset[Effect] = frozenset()


def greet(rep_id: str, now: float) -> Pounce:
    return Pounce(rep_id=rep_id, greeted_at=now)


def _done(p: Pounce, outcome: Outcome, now: float, *effects: Effect) -> Step:
    return Step(replace(p, stage=Stage.DONE, outcome=outcome, outcome_at=now), frozenset(effects))


def nudge_due(p: Pounce, now: float, *, visitor_replied: bool) -> Step:
    """The nudge goes out once, and only if nobody has said anything since the greeting."""
    if p.stage is not Stage.GREETED or visitor_replied:
        return Step(p)
    return Step(replace(p, stage=Stage.NUDGED, nudged_at=now), frozenset({Effect.SEND_NUDGE}))


def visitor_replied(p: Pounce, now: float, *, rep_timeout: float) -> Step:
    """The visitor's first reply starts the rep's countdown; later replies change nothing."""
    if p.stage not in (Stage.GREETED, Stage.NUDGED):
        return Step(p)
    return Step(
        replace(p, stage=Stage.AWAITING_REP, visitor_replied_at=now, deadline=now + rep_timeout),
        frozenset({Effect.CANCEL_NUDGE, Effect.ALERT_REP, Effect.SCHEDULE_TIMEOUT}),
    )


def rep_replied(p: Pounce, now: float) -> Step:
    """The rep wrote: that is the action the countdown asks for (or joining before a reply)."""
    if p.stage is Stage.DONE:
        return Step(p)
    p = replace(p, rep_replied_at=now)
    if p.stage is Stage.AWAITING_REP:
        return _done(p, Outcome.REPLIED, now, Effect.CANCEL_TIMEOUT)
    return _done(p, Outcome.REPLIED, now, Effect.CANCEL_NUDGE)


def rep_marked(p: Pounce, outcome: Outcome, now: float) -> Step:
    """Spam or No response needed: an action too; the conversation closes either way."""
    if outcome not in MARKABLE:
        raise ValueError(f"a rep may mark only {sorted(MARKABLE)}, not {outcome!r}")
    if p.stage is Stage.DONE:
        return Step(p, frozenset({Effect.CLOSE}))
    return _done(p, outcome, now, Effect.CANCEL_NUDGE, Effect.CANCEL_TIMEOUT, Effect.CLOSE)


def timeout(p: Pounce, now: float, *, rep_replied_at: float | None = None) -> Step:
    """The countdown ran out: a missed response, the rep is switched off, the chat re-routed.

    `rep_replied_at` is a rep message stored after the visitor's reply that the rep's own
    hook has not recorded yet: it still counts as the action, so there is no penalty.
    """
    if p.stage is not Stage.AWAITING_REP or p.deadline is None:
        return Step(p)
    if rep_replied_at is not None:
        return _done(replace(p, rep_replied_at=rep_replied_at), Outcome.REPLIED, now)
    if now < p.deadline:
        return Step(p)  # not yet (the timer is set for the deadline, so only a stray event)
    return _done(p, Outcome.MISSED_RESPONSE, now, Effect.DISABLE_REP, Effect.REROUTE)


# --------------------------------------------------------------------------- what it says


@dataclass(frozen=True, slots=True)
class Template:
    id: str
    url_pattern: str
    body: str


_PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[a-z_]+)+)(?:\|([^{}]*))?\}")
_SPACE_BEFORE_PUNCT = re.compile(r" +([!?.,;:])")


def template_for(templates: Iterable[Template], url: str) -> Template | None:
    """The first template, in order, whose page pattern matches (empty matches any page)."""
    return next((t for t in templates if url_matches(t.url_pattern, url)), None)


def fill(text: str, values: Mapping[str, str | None]) -> str:
    """Fill `{visitor.first_name}`-style placeholders; `{name|fallback}` for unknown values.

    An unknown value with no fallback disappears, and the space it leaves before
    punctuation goes with it ("Hi {visitor.first_name}!" → "Hi!").
    """

    def one(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return value if value else (match.group(2) or "")

    filled = _PLACEHOLDER.sub(one, text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", filled).strip()


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True, slots=True)
class RepReport:
    rep_id: str
    pounces: int = 0
    replies: int = 0
    response_seconds_median: float | None = None
    replied: int = 0
    missed_responses: int = 0
    spam: int = 0
    no_response_needed: int = 0


def summarize(rep_id: str, pounces: Iterable[Pounce]) -> RepReport:
    """Pounces sent, visitor replies, median seconds from a reply to the rep's, outcomes."""
    items = list(pounces)
    waits = [
        p.rep_replied_at - p.visitor_replied_at
        for p in items
        if p.outcome is Outcome.REPLIED
        and p.visitor_replied_at is not None
        and p.rep_replied_at is not None
    ]
    counts = {o: sum(1 for p in items if p.outcome is o) for o in Outcome}
    return RepReport(
        rep_id=rep_id,
        pounces=len(items),
        replies=sum(1 for p in items if p.visitor_replied_at is not None),
        response_seconds_median=round(statistics.median(waits), 3) if waits else None,
        replied=counts[Outcome.REPLIED],
        missed_responses=counts[Outcome.MISSED_RESPONSE],
        spam=counts[Outcome.SPAM],
        no_response_needed=counts[Outcome.NO_RESPONSE_NEEDED],
    )


def report(pounces: Iterable[Pounce]) -> list[RepReport]:
    """One summary per rep auto pounce spoke as, ordered by rep id."""
    by_rep: dict[str, list[Pounce]] = {}
    for p in pounces:
        by_rep.setdefault(p.rep_id, []).append(p)
    return [summarize(rep_id, by_rep[rep_id]) for rep_id in sorted(by_rep)]
