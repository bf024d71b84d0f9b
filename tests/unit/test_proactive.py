"""Unit tests for auto pounce rules, rotation and its state machine (pounce.domain.proactive)."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pounce.domain.model import Outcome, RouteMode
from pounce.domain.proactive import (
    DEFAULT_GREETING,
    Activity,
    Effect,
    Pounce,
    PounceRule,
    RepStatus,
    Skip,
    Stage,
    Template,
    eligible,
    fill,
    first_targeting,
    greet,
    greet_skip,
    in_quiet_period,
    matching_rule,
    nudge_due,
    pick_rep,
    rep_marked,
    rep_replied,
    report,
    rotation_queue,
    rule_matches_now,
    summarize,
    targets,
    template_for,
    timeout,
    visitor_replied,
)
from pounce.domain.routing import Rule, VisitorContext


@dataclass
class FakeClock:
    """Time that moves only when the test says so."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


PRICING = PounceRule(id="r1", url_pattern="/pricing*", min_seconds_on_page=20, min_pages_viewed=2)
ANY_PAGE = PounceRule(id="r2", min_seconds_on_page=60)

# --------------------------------------------------------------------------- matching


def test_a_rule_matches_page_pages_viewed_and_time_on_page() -> None:
    on_pricing = Activity(url="https://acme.test/pricing?plan=pro", pages_viewed=2)
    assert targets(PRICING, on_pricing)
    assert matching_rule([PRICING], on_pricing) is None  # not long enough yet
    later = Activity(url=on_pricing.url, seconds_on_page=20, pages_viewed=2)
    assert matching_rule([PRICING], later) == PRICING


@pytest.mark.parametrize(
    "activity",
    [
        Activity(url="https://acme.test/blog", seconds_on_page=99, pages_viewed=5),  # page
        Activity(url="https://acme.test/pricing", seconds_on_page=99, pages_viewed=1),  # pages
        Activity(url="https://acme.test/pricing", seconds_on_page=19.9, pages_viewed=2),  # time
    ],
)
def test_a_rule_does_not_match_until_every_criterion_is_met(activity: Activity) -> None:
    assert matching_rule([PRICING], activity) is None


def test_visitor_attributes_must_match() -> None:
    rule = PounceRule(id="vip", attributes={"plan": "enterprise*"})
    assert matching_rule([rule], Activity(url="/", attributes={"plan": "Enterprise-2"})) == rule
    assert matching_rule([rule], Activity(url="/", attributes={"plan": "free"})) is None
    assert matching_rule([rule], Activity(url="/")) is None


def test_rules_apply_in_order_and_the_first_targeting_one_sets_the_wait() -> None:
    on_pricing = Activity(url="https://acme.test/pricing", pages_viewed=3)
    assert first_targeting([PRICING, ANY_PAGE], on_pricing) == PRICING
    assert first_targeting([ANY_PAGE, PRICING], on_pricing) == ANY_PAGE
    elsewhere = Activity(url="https://acme.test/blog", pages_viewed=3, seconds_on_page=61)
    assert first_targeting([PRICING, ANY_PAGE], elsewhere) == ANY_PAGE
    assert matching_rule([PRICING, ANY_PAGE], elsewhere) == ANY_PAGE
    assert first_targeting([], on_pricing) is None


# --------------------------------------------------------------------------- quiet period


def test_quiet_period() -> None:
    clock = FakeClock()
    pounced = clock()
    assert in_quiet_period(pounced, clock.advance(3600), quiet_hours=24)
    assert in_quiet_period(pounced, clock.advance(22.9 * 3600), quiet_hours=24)
    assert not in_quiet_period(pounced, clock.advance(0.2 * 3600), quiet_hours=24)
    assert not in_quiet_period(None, clock(), quiet_hours=24)
    assert not in_quiet_period(pounced, pounced, quiet_hours=0)


def test_greet_skip_checks_every_condition_in_order() -> None:
    ok = {
        "enabled": True,
        "online": True,
        "in_conversation": False,
        "quiet": False,
        "rule": PRICING,
    }
    assert greet_skip(**ok) is None  # type: ignore[arg-type]
    assert greet_skip(**{**ok, "enabled": False}) is Skip.DISABLED  # type: ignore[arg-type]
    assert greet_skip(**{**ok, "online": False}) is Skip.OFFLINE  # type: ignore[arg-type]
    assert greet_skip(**{**ok, "in_conversation": True}) is Skip.IN_CONVERSATION  # type: ignore[arg-type]
    assert greet_skip(**{**ok, "quiet": True}) is Skip.QUIET  # type: ignore[arg-type]
    assert greet_skip(**{**ok, "rule": None}) is Skip.NO_MATCH  # type: ignore[arg-type]


# --------------------------------------------------------------------------- rotation

REPS = ["ann", "bob", "cat"]


def _statuses(**overrides: RepStatus) -> dict[str, RepStatus]:
    base = {rep: RepStatus(available=True, auto_pounce=True) for rep in REPS}
    return {**base, **overrides}


def _rotate(n: int, statuses: dict[str, RepStatus], max_open: int = 3) -> list[str]:
    """Pick `n` times, recording each turn like the store does."""
    turns: dict[str, int] = {}
    picked = []
    for turn in range(1, n + 1):
        rep = pick_rep(REPS, statuses, max_open_chats=max_open, last_turn=turns)
        assert rep is not None
        turns[rep] = turn
        picked.append(rep)
    return picked


def test_rotation_is_fair_round_robin() -> None:
    picked = _rotate(30, _statuses())
    assert picked[:3] == REPS
    assert Counter(picked) == {"ann": 10, "bob": 10, "cat": 10}


def test_rotation_skips_disabled_away_and_busy_reps() -> None:
    statuses = _statuses(
        bob=RepStatus(available=True, auto_pounce=False),
        cat=RepStatus(available=False, auto_pounce=True),
    )
    assert set(_rotate(5, statuses)) == {"ann"}
    busy = _statuses(ann=RepStatus(available=True, auto_pounce=True, open_chats=3))
    assert set(_rotate(6, busy)) == {"bob", "cat"}
    assert set(_rotate(6, busy, max_open=0)) == set(REPS)  # 0: no limit
    nobody = {r: RepStatus(available=False, auto_pounce=True) for r in REPS}
    assert pick_rep(REPS, nobody, max_open_chats=3, last_turn={}) is None


def test_a_skipped_rep_keeps_their_place() -> None:
    turns = {"ann": 5, "bob": 6, "cat": 7}
    away = _statuses(ann=RepStatus(available=False, auto_pounce=True))
    assert pick_rep(REPS, away, max_open_chats=3, last_turn=turns) == "bob"
    assert pick_rep(REPS, _statuses(), max_open_chats=3, last_turn=turns) == "ann"


@given(
    st.lists(st.tuples(st.booleans(), st.booleans(), st.integers(0, 4)), min_size=3, max_size=3),
    st.integers(1, 40),
)
def test_rotation_only_ever_picks_eligible_reps_and_evenly(
    flags: list[tuple[bool, bool, int]], n: int
) -> None:
    statuses = {
        rep: RepStatus(available=a, auto_pounce=on, open_chats=busy)
        for rep, (a, on, busy) in zip(REPS, flags, strict=True)
    }
    ready = eligible(REPS, statuses, max_open_chats=3)
    turns: dict[str, int] = {}
    counts: Counter[str] = Counter()
    for turn in range(n):
        rep = pick_rep(REPS, statuses, max_open_chats=3, last_turn=turns)
        if not ready:
            assert rep is None
            return
        assert rep in ready
        turns[rep] = turn
        counts[rep] += 1
    assert max(counts.values()) - min(counts[r] for r in ready) <= 1


def test_rotation_follows_the_routing_rules() -> None:
    rules = [
        Rule(id="ent", url_pattern="/enterprise*", rep_ids=("cat",), mode=RouteMode.EVERYONE),
        Rule(id="all", url_pattern="/pricing*", rep_ids=("ann", "bob")),
    ]
    queue, candidates = rotation_queue(rules, VisitorContext(url="/enterprise/x"), REPS)
    assert (queue, candidates) == ("auto_pounce:ent", ("cat",))
    queue, candidates = rotation_queue(rules, VisitorContext(url="/pricing"), REPS)
    assert (queue, candidates) == ("auto_pounce:all", ("ann", "bob"))
    queue, candidates = rotation_queue(rules, VisitorContext(url="/blog"), REPS)
    assert (queue, candidates) == ("auto_pounce:org", tuple(REPS))
    # Only the rule's reps are ever spoken as, even if others are free.
    assert pick_rep(("cat",), _statuses(), max_open_chats=3, last_turn={}) == "cat"


# --------------------------------------------------------------------------- the state machine


def test_nudge_only_without_a_reply_and_only_once() -> None:
    clock = FakeClock()
    p = greet("ann", clock())
    step = nudge_due(p, clock.advance(30), visitor_replied=False)
    assert step.effects == {Effect.SEND_NUDGE}
    assert step.pounce.stage is Stage.NUDGED and step.pounce.nudged_at == clock()
    again = nudge_due(step.pounce, clock.advance(30), visitor_replied=False)
    assert again.effects == frozenset() and again.pounce == step.pounce
    replied = nudge_due(p, clock(), visitor_replied=True)
    assert replied.effects == frozenset() and replied.pounce == p


def test_a_visitor_reply_cancels_the_nudge_alerts_and_starts_the_countdown() -> None:
    clock = FakeClock()
    p = greet("ann", clock())
    step = visitor_replied(p, clock.advance(12), rep_timeout=60)
    assert step.effects == {Effect.CANCEL_NUDGE, Effect.ALERT_REP, Effect.SCHEDULE_TIMEOUT}
    assert step.pounce.stage is Stage.AWAITING_REP
    assert step.pounce.deadline == clock() + 60
    # A second message from the visitor does not restart anything.
    assert visitor_replied(step.pounce, clock.advance(5), rep_timeout=60).effects == frozenset()
    # Nor does a nudge that wakes up afterwards.
    assert nudge_due(step.pounce, clock(), visitor_replied=True).effects == frozenset()


def test_the_rep_replying_in_time_is_outcome_replied() -> None:
    clock = FakeClock()
    waiting = visitor_replied(greet("ann", clock()), clock.advance(10), rep_timeout=60).pounce
    step = rep_replied(waiting, clock.advance(15))
    assert step.effects == {Effect.CANCEL_TIMEOUT}
    assert step.pounce.stage is Stage.DONE and step.pounce.outcome is Outcome.REPLIED
    assert step.pounce.rep_replied_at == clock()
    # The timer, had it been too late to cancel, changes nothing now.
    late = timeout(step.pounce, clock.advance(60))
    assert late.pounce == step.pounce and late.effects == frozenset()


def test_the_rep_joining_before_any_reply_stops_the_nudge() -> None:
    clock = FakeClock()
    step = rep_replied(greet("ann", clock()), clock.advance(3))
    assert step.effects == {Effect.CANCEL_NUDGE}
    assert step.pounce.outcome is Outcome.REPLIED and step.pounce.visitor_replied_at is None


def test_timeout_is_a_missed_response_and_disables_the_rep() -> None:
    clock = FakeClock()
    waiting = visitor_replied(greet("ann", clock()), clock.advance(10), rep_timeout=60).pounce
    early = timeout(waiting, clock.advance(59))
    assert early.pounce == waiting and early.effects == frozenset()
    step = timeout(waiting, clock.advance(1))
    assert step.effects == {Effect.DISABLE_REP, Effect.REROUTE}
    assert step.pounce.stage is Stage.DONE
    assert step.pounce.outcome is Outcome.MISSED_RESPONSE and step.pounce.outcome_at == clock()
    # Firing again (a retried job) is a no-op: exactly one missed response.
    assert timeout(step.pounce, clock.advance(1)).effects == frozenset()


def test_a_reply_stored_before_the_timer_ran_still_counts() -> None:
    clock = FakeClock()
    waiting = visitor_replied(greet("ann", clock()), clock.advance(10), rep_timeout=60).pounce
    replied_at = clock.advance(58)
    step = timeout(waiting, clock.advance(5), rep_replied_at=replied_at)
    assert step.pounce.outcome is Outcome.REPLIED and step.effects == frozenset()
    assert step.pounce.rep_replied_at == replied_at


@pytest.mark.parametrize("outcome", [Outcome.SPAM, Outcome.NO_RESPONSE_NEEDED])
def test_marking_spam_or_no_response_needed(outcome: Outcome) -> None:
    clock = FakeClock()
    waiting = visitor_replied(greet("ann", clock()), clock.advance(10), rep_timeout=60).pounce
    step = rep_marked(waiting, outcome, clock.advance(20))
    assert step.effects == {Effect.CANCEL_NUDGE, Effect.CANCEL_TIMEOUT, Effect.CLOSE}
    assert step.pounce.outcome is outcome and step.pounce.stage is Stage.DONE
    # Marking a finished pounce closes the conversation but keeps the first outcome.
    done = rep_replied(waiting, clock()).pounce
    again = rep_marked(done, outcome, clock.advance(1))
    assert again.pounce.outcome is Outcome.REPLIED and again.effects == {Effect.CLOSE}


@pytest.mark.parametrize("outcome", [Outcome.REPLIED, Outcome.MISSED_RESPONSE])
def test_a_rep_cannot_mark_other_outcomes(outcome: Outcome) -> None:
    with pytest.raises(ValueError, match="may mark only"):
        rep_marked(greet("ann", 0.0), outcome, 1.0)


EVENTS = ["nudge", "nudge_after_reply", "visitor", "rep", "spam", "none_needed", "timeout"]


@given(st.lists(st.sampled_from(EVENTS), max_size=12), st.floats(0.1, 120))
def test_the_machine_reaches_at_most_one_outcome_and_keeps_it(
    script: list[str], rep_timeout: float
) -> None:
    clock = FakeClock()
    p = greet("ann", clock())
    outcomes = []
    nudges = 0
    for event in script:
        now = clock.advance(rep_timeout)
        if event == "nudge":
            step = nudge_due(p, now, visitor_replied=p.visitor_replied_at is not None)
        elif event == "nudge_after_reply":
            step = nudge_due(p, now, visitor_replied=True)
        elif event == "visitor":
            step = visitor_replied(p, now, rep_timeout=rep_timeout)
        elif event == "rep":
            step = rep_replied(p, now)
        elif event == "spam":
            step = rep_marked(p, Outcome.SPAM, now)
        elif event == "none_needed":
            step = rep_marked(p, Outcome.NO_RESPONSE_NEEDED, now)
        else:
            step = timeout(p, now)
        nudges += Effect.SEND_NUDGE in step.effects
        if step.pounce.outcome is not None and p.outcome is None:
            outcomes.append(step.pounce.outcome)
        if p.outcome is not None:
            assert step.pounce.outcome is p.outcome  # never changes once set
        if Effect.SEND_NUDGE in step.effects:
            assert p.visitor_replied_at is None
        if Effect.DISABLE_REP in step.effects:
            assert step.pounce.outcome is Outcome.MISSED_RESPONSE
        p = step.pounce
    assert len(outcomes) <= 1 and nudges <= 1
    assert (p.stage is Stage.DONE) == (p.outcome is not None)


# --------------------------------------------------------------------------- greetings


def test_templates_by_page_pattern_in_order() -> None:
    templates = [
        Template(id="t1", url_pattern="/pricing*", body="Questions about plans?"),
        Template(id="t2", url_pattern="", body="Hello!"),
    ]
    assert template_for(templates, "https://acme.test/pricing/team").id == "t1"  # type: ignore[union-attr]
    assert template_for(templates, "https://acme.test/blog").id == "t2"  # type: ignore[union-attr]
    assert template_for(templates[:1], "https://acme.test/blog") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi {visitor.first_name}!", "Hi Ada!"),
        ("Hi {visitor.first_name|there}!", "Hi Ada!"),
        ("I'm {rep.first_name} from {org.name}.", "I'm Bob from Acme."),
        ("{unknown.thing|fallback} stays", "fallback stays"),
        (
            "Plain {braces} and {visitor} are left alone",
            "Plain {braces} and {visitor} are left alone",
        ),
    ],
)
def test_fill_placeholders(text: str, expected: str) -> None:
    values = {"visitor.first_name": "Ada", "rep.first_name": "Bob", "org.name": "Acme"}
    assert fill(text, values) == expected


def test_unknown_values_fall_back_or_vanish_cleanly() -> None:
    assert fill("Hi {visitor.first_name}!", {}) == "Hi!"
    assert fill("Hi {visitor.first_name|there}!", {"visitor.first_name": None}) == "Hi there!"
    assert fill(DEFAULT_GREETING, {}).startswith("Hi there! 👋")


# --------------------------------------------------------------------------- reports


def test_report_per_rep() -> None:
    clock = FakeClock()
    t0 = clock()

    def waiting(rep: str, reply_after: float) -> Pounce:
        return visitor_replied(greet(rep, t0), t0 + reply_after, rep_timeout=60).pounce

    ann = [
        rep_replied(waiting("ann", 5), t0 + 15).pounce,  # 10 s
        rep_replied(waiting("ann", 5), t0 + 35).pounce,  # 30 s
        rep_replied(waiting("ann", 5), t0 + 25).pounce,  # 20 s
        timeout(waiting("ann", 5), t0 + 70).pounce,
        greet("ann", t0),  # never answered by the visitor
    ]
    bob = [
        rep_marked(waiting("bob", 1), Outcome.SPAM, t0 + 9).pounce,
        rep_marked(waiting("bob", 1), Outcome.NO_RESPONSE_NEEDED, t0 + 9).pounce,
        rep_replied(greet("bob", t0), t0 + 2).pounce,  # joined before any reply
    ]
    rows = {r.rep_id: r for r in report([*ann, *bob])}
    assert rows["ann"].pounces == 5 and rows["ann"].replies == 4
    assert rows["ann"].response_seconds_median == 20.0
    assert rows["ann"].replied == 3 and rows["ann"].missed_responses == 1
    assert rows["bob"].pounces == 3 and rows["bob"].replies == 2
    assert rows["bob"].spam == 1 and rows["bob"].no_response_needed == 1
    assert rows["bob"].replied == 1 and rows["bob"].response_seconds_median is None
    total = summarize("", [*ann, *bob])
    assert total.pounces == 8 and total.missed_responses == 1
    assert report([]) == []


def test_every_outcome_is_reachable() -> None:
    clock = FakeClock()
    reached = set()
    for script in itertools.permutations(["visitor", "rep", "spam", "none", "timeout"], 2):
        p = greet("ann", clock())
        for event in script:
            now = clock.advance(61)
            if event == "visitor":
                p = visitor_replied(p, now, rep_timeout=60).pounce
            elif event == "rep":
                p = rep_replied(p, now).pounce
            elif event == "spam":
                p = rep_marked(p, Outcome.SPAM, now).pounce
            elif event == "none":
                p = rep_marked(p, Outcome.NO_RESPONSE_NEEDED, now).pounce
            else:
                p = timeout(p, now).pounce
        if p.outcome is not None:
            reached.add(p.outcome)
    assert reached == set(Outcome)


def test_a_greeting_due_on_the_dot_is_not_a_hair_short() -> None:
    """Its job runs exactly when due; the float difference of the stamps may fall short."""
    rule = PounceRule(id="r", min_seconds_on_page=0.3)
    on_the_dot = 1800000000.3 - 1800000000.0
    assert on_the_dot < 0.3
    assert rule_matches_now(rule, Activity(url="/", seconds_on_page=on_the_dot))
    assert not rule_matches_now(rule, Activity(url="/", seconds_on_page=0.29))


def test_the_models_brief_has_the_ideas_placeholders_filled() -> None:
    from pounce.services.proactive import greeting_brief

    page = {"url": "https://acme.test/pricing", "title": "Pricing"}
    unknown = {"visitor.first_name": None, "rep.first_name": None, "page.title": "Pricing"}
    brief = greeting_brief(page, DEFAULT_GREETING, unknown)
    assert "{" not in brief and "Idea: Hi there! 👋 Anything I can help you find" in brief
    known = {**unknown, "visitor.first_name": "Dana"}
    idea = "Hi {visitor.first_name}, I'm {rep.first_name}: questions about {page.title}?"
    brief = greeting_brief(page, idea, known)
    assert brief.endswith("Idea: Hi Dana, I'm: questions about Pricing?")
    assert '"Pricing"' in brief
