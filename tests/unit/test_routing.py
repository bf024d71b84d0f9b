"""Unit tests for routing rules and round-robin fairness (pounce.domain.routing)."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pounce.domain.model import RouteMode
from pounce.domain.routing import (
    Decision,
    Rule,
    VisitorContext,
    decide,
    first_matching,
    pick_round_robin,
    rule_matches,
    url_matches,
)

# --------------------------------------------------------------------------- url_matches


@pytest.mark.parametrize(
    ("pattern", "url"),
    [
        ("", "https://acme.test/pricing"),
        ("", ""),
        ("https://acme.test/*", "https://acme.test/pricing?plan=pro"),
        ("*acme.test*", "https://acme.test/pricing"),
        ("/pricing*", "https://acme.test/pricing?plan=pro"),
        ("/pricing*", "https://acme.test/pricing/enterprise"),
        ("/pricing", "https://acme.test/pricing"),
        ("/pricing", "https://acme.test/pricing?plan=pro"),  # path alone matches
        ("/pricing?plan=pro", "https://acme.test/pricing?plan=pro"),  # path + query
        ("/pricing?plan=*", "https://acme.test/pricing?plan=enterprise"),
        ("/pricing?*", "https://acme.test/pricing?plan=pro"),
        ("/", "https://acme.test"),  # no path means "/"
        ("/", "https://acme.test/"),
        ("/docs/*/install", "https://acme.test/docs/v2/install"),
        ("/p?", "https://acme.test/pa"),  # `?` is one character
        ("/PRICING*", "https://Acme.Test/pricing"),
        ("/pricing*", "HTTPS://ACME.TEST/PRICING?PLAN=PRO"),
        ("HTTPS://ACME.TEST/*", "https://acme.test/x"),
        ("  /pricing  ", "  https://acme.test/pricing "),
        ("/pricing", "/pricing"),  # a bare path as the url
    ],
)
def test_url_matches(pattern: str, url: str) -> None:
    assert url_matches(pattern, url)


@pytest.mark.parametrize(
    ("pattern", "url"),
    [
        ("/pricing", "https://acme.test/pricing/enterprise"),
        ("/pricing", "https://acme.test/about"),
        ("/pricing?plan=pro", "https://acme.test/pricing?plan=enterprise"),
        ("/pricing?plan=pro", "https://acme.test/pricing"),
        ("https://acme.test/*", "https://other.test/pricing"),
        ("https://acme.test/*", "http://acme.test/pricing"),
        ("/p?", "https://acme.test/pab"),
        ("/p?", "https://acme.test/p"),
        ("/", "https://acme.test/pricing"),
        ("/docs/*/install", "https://acme.test/docs/v2/setup"),
    ],
)
def test_url_does_not_match(pattern: str, url: str) -> None:
    assert not url_matches(pattern, url)


@given(st.text(max_size=80))
def test_empty_pattern_matches_any_url(url: str) -> None:
    assert url_matches("", url)


@given(st.from_regex(r"/[a-z0-9/_-]{0,30}", fullmatch=True))
def test_star_after_path_matches_any_query(path: str) -> None:
    url = f"https://acme.test{path}?q=1"
    assert url_matches(path + "*", url)
    assert url_matches(path.upper(), url.upper())


# --------------------------------------------------------------------------- rule_matches


def test_rule_without_criteria_matches_everything() -> None:
    rule = Rule(id="r")
    assert rule_matches(rule, VisitorContext())
    assert rule_matches(
        rule,
        VisitorContext(
            url="https://acme.test/x", attributes={"plan": "pro"}, company="Acme", country="DE"
        ),
    )


@pytest.mark.parametrize(
    ("rule_country", "visitor_country", "expected"),
    [
        ("DE", "DE", True),
        ("de", "DE", True),
        ("DE", "de", True),
        ("DE", "FR", False),
        ("DE", None, False),
        (None, "FR", True),
        ("", "FR", True),
    ],
)
def test_rule_country(
    rule_country: str | None, visitor_country: str | None, expected: bool
) -> None:
    rule = Rule(id="r", country=rule_country)
    assert rule_matches(rule, VisitorContext(country=visitor_country)) is expected


@pytest.mark.parametrize(
    ("rule_company", "visitor_company", "expected"),
    [
        ("Acme", "Acme", True),
        ("acme", "ACME", True),
        ("Straße GmbH", "STRASSE GMBH", True),  # casefold, not lower
        ("Acme", "Acme Corp", False),
        ("Acme", None, False),
        ("Acme", "", False),
        (None, "Initech", True),
    ],
)
def test_rule_company(
    rule_company: str | None, visitor_company: str | None, expected: bool
) -> None:
    rule = Rule(id="r", company=rule_company)
    assert rule_matches(rule, VisitorContext(company=visitor_company)) is expected


@pytest.mark.parametrize(
    ("rule_attrs", "visitor_attrs", "expected"),
    [
        ({"plan": "pro"}, {"plan": "pro"}, True),
        ({"plan": "pro"}, {"plan": "PRO"}, True),
        ({"plan": "PRO"}, {"plan": "pro"}, True),
        ({"plan": "pro"}, {"plan": "enterprise"}, False),
        ({"plan": "pro"}, {}, False),  # missing attribute never matches
        ({"plan": "*"}, {}, False),
        ({"plan": "*"}, {"plan": ""}, True),
        ({"plan": "ent*"}, {"plan": "enterprise"}, True),
        ({"plan": "ent*"}, {"plan": "pro"}, False),
        ({"seats": "1?"}, {"seats": "12"}, True),
        ({"seats": "1?"}, {"seats": "120"}, False),
        ({"plan": "pro", "region": "eu-*"}, {"plan": "pro", "region": "eu-west"}, True),
        ({"plan": "pro", "region": "eu-*"}, {"plan": "pro", "region": "us-east"}, False),
        ({"plan": "pro", "region": "eu-*"}, {"plan": "pro"}, False),
        ({}, {"plan": "anything"}, True),
        ({"plan": "pro"}, {"plan": "pro", "extra": "ignored"}, True),
    ],
)
def test_rule_attributes(
    rule_attrs: dict[str, str], visitor_attrs: dict[str, str], expected: bool
) -> None:
    rule = Rule(id="r", attributes=rule_attrs)
    assert rule_matches(rule, VisitorContext(attributes=visitor_attrs)) is expected


FULL_RULE = Rule(
    id="full",
    url_pattern="/pricing*",
    attributes={"plan": "ent*"},
    company="Acme",
    country="DE",
)
FULL_CTX = VisitorContext(
    url="https://acme.test/pricing?x=1",
    attributes={"plan": "enterprise"},
    company="acme",
    country="de",
)


def test_rule_with_all_criteria_matches_when_all_hold() -> None:
    assert rule_matches(FULL_RULE, FULL_CTX)


@pytest.mark.parametrize(
    "broken",
    [
        VisitorContext(
            url="https://acme.test/about",
            attributes={"plan": "enterprise"},
            company="acme",
            country="de",
        ),
        VisitorContext(
            url="https://acme.test/pricing",
            attributes={"plan": "pro"},
            company="acme",
            country="de",
        ),
        VisitorContext(
            url="https://acme.test/pricing",
            attributes={"plan": "enterprise"},
            company="Initech",
            country="de",
        ),
        VisitorContext(
            url="https://acme.test/pricing",
            attributes={"plan": "enterprise"},
            company="acme",
            country="fr",
        ),
    ],
    ids=["url", "attribute", "company", "country"],
)
def test_rule_needs_every_criterion(broken: VisitorContext) -> None:
    assert not rule_matches(FULL_RULE, broken)


# --------------------------------------------------------------------------- first_matching


def test_first_matching_returns_first_in_order() -> None:
    general = Rule(id="general")
    pricing = Rule(id="pricing", url_pattern="/pricing*")
    ctx = VisitorContext(url="https://acme.test/pricing")
    assert first_matching([pricing, general], ctx) is pricing
    assert first_matching([general, pricing], ctx) is general


def test_first_matching_skips_non_matching() -> None:
    de = Rule(id="de", country="DE")
    fr = Rule(id="fr", country="FR")
    fr2 = Rule(id="fr2", country="FR")
    assert first_matching([de, fr, fr2], VisitorContext(country="FR")) is fr


def test_first_matching_none() -> None:
    assert first_matching([], VisitorContext()) is None
    assert first_matching([Rule(id="de", country="DE")], VisitorContext(country="FR")) is None


def test_first_matching_accepts_any_iterable() -> None:
    rules = (r for r in [Rule(id="de", country="DE"), Rule(id="any")])
    match = first_matching(rules, VisitorContext(country="FR"))
    assert match is not None
    assert match.id == "any"


# --------------------------------------------------------------------------- pick_round_robin


def test_round_robin_nobody_available() -> None:
    assert pick_round_robin(["a", "b"], [], {}) is None
    assert pick_round_robin(["a", "b"], ["c"], {}) is None
    assert pick_round_robin([], ["a"], {}) is None


def test_round_robin_never_served_go_first_in_list_order() -> None:
    assert pick_round_robin(["a", "b", "c"], ["c", "b", "a"], {}) == "a"
    assert pick_round_robin(["c", "b", "a"], ["a", "b", "c"], {}) == "c"
    # b and d were never given a chat: they go before a and c, b first (list order).
    turns = {"a": 1, "c": 2}
    assert pick_round_robin(["a", "b", "c", "d"], ["a", "b", "c", "d"], turns) == "b"
    assert pick_round_robin(["a", "b", "c", "d"], ["a", "c", "d"], turns) == "d"


def test_round_robin_longest_waiting_first() -> None:
    turns = {"a": 7, "b": 3, "c": 5}
    assert pick_round_robin(["a", "b", "c"], ["a", "b", "c"], turns) == "b"
    assert pick_round_robin(["a", "b", "c"], ["a", "c"], turns) == "c"
    assert pick_round_robin(["a", "b", "c"], ["a"], turns) == "a"


def test_round_robin_ignores_turns_of_non_candidates() -> None:
    assert pick_round_robin(["a", "b"], ["a", "b", "z"], {"a": 2, "b": 3, "z": 0}) == "a"


def _serve(candidates: Sequence[str], available_at: Sequence[set[str]]) -> list[str | None]:
    """Run pick_round_robin over a sequence of chats the way the service records turns."""
    turns: dict[str, int] = {}
    picks: list[str | None] = []
    for available in available_at:
        chosen = pick_round_robin(candidates, available, turns)
        if chosen is not None:
            turns[chosen] = max(turns.values(), default=0) + 1
        picks.append(chosen)
    return picks


@pytest.mark.parametrize(("n", "k"), [(1, 1), (10, 1), (12, 3), (100, 4), (300, 7), (35, 5)])
def test_round_robin_always_available_is_exactly_cyclic(n: int, k: int) -> None:
    reps = [f"rep{i}" for i in range(k)]
    picks = _serve(reps, [set(reps)] * n)
    assert picks == [reps[i % k] for i in range(n)]
    if n % k == 0:
        assert Counter(picks) == dict.fromkeys(reps, n // k)


def test_round_robin_unavailable_rep_keeps_place() -> None:
    reps = ["a", "b", "c"]
    everyone = {"a", "b", "c"}
    # a, b, c served once; then b is away for two chats; on return b has waited longest.
    picks = _serve(reps, [everyone, everyone, everyone, {"a", "c"}, {"a", "c"}, everyone])
    assert picks == ["a", "b", "c", "a", "c", "b"]


def test_round_robin_unavailable_new_rep_keeps_first_place() -> None:
    picks = _serve(["a", "b"], [{"b"}, {"b"}, {"a", "b"}, {"a", "b"}])
    assert picks == ["b", "b", "a", "b"]


# --------------------------------------------------------------------------- decide


REPS = ("u1", "u2", "u3", "u4")


def test_decide_without_rule_alerts_every_available_rep_of_org() -> None:
    d = decide(
        [Rule(id="de", country="DE")],
        VisitorContext(country="FR"),
        all_reps=REPS,
        available=["u4", "u2", "outsider"],
        last_turn={"u2": 1},
    )
    assert d == Decision(queue="org", alerted=("u2", "u4"), candidates=REPS)


def test_decide_without_rules_nobody_available() -> None:
    d = decide([], VisitorContext(), all_reps=REPS, available=[], last_turn={})
    assert d == Decision(queue="org", alerted=(), candidates=REPS)


def test_decide_everyone_mode_alerts_all_available_candidates() -> None:
    rule = Rule(id="sales", rep_ids=("u3", "u1", "u2"), mode=RouteMode.EVERYONE)
    d = decide(
        [rule],
        VisitorContext(),
        all_reps=REPS,
        available={"u1", "u3", "u4"},
        last_turn={"u3": 9},
    )
    assert d == Decision(queue="rule:sales", alerted=("u3", "u1"), candidates=("u3", "u1", "u2"))


def test_decide_everyone_mode_nobody_available() -> None:
    rule = Rule(id="sales", rep_ids=("u1", "u2"), mode=RouteMode.EVERYONE)
    d = decide([rule], VisitorContext(), all_reps=REPS, available={"u3"}, last_turn={})
    assert d.alerted == ()
    assert d.queue == "rule:sales"


def test_decide_round_robin_alerts_exactly_one() -> None:
    rule = Rule(id="sales", rep_ids=("u1", "u2", "u3"))
    assert rule.mode is RouteMode.ROUND_ROBIN
    d = decide(
        [rule],
        VisitorContext(),
        all_reps=REPS,
        available={"u1", "u2", "u3", "u4"},
        last_turn={"u1": 3, "u2": 1, "u3": 2},
    )
    assert d == Decision(queue="rule:sales", alerted=("u2",), candidates=("u1", "u2", "u3"))


def test_decide_round_robin_nobody_available() -> None:
    rule = Rule(id="sales", rep_ids=("u1", "u2"))
    d = decide([rule], VisitorContext(), all_reps=REPS, available={"u3"}, last_turn={})
    assert d == Decision(queue="rule:sales", alerted=(), candidates=("u1", "u2"))


def test_decide_never_alerts_a_candidate_outside_the_org() -> None:
    """A rule may still list a rep who has left; they are not among all_reps."""
    for mode in RouteMode:
        rule = Rule(id="r", rep_ids=("gone", "u1"), mode=mode)
        d = decide([rule], VisitorContext(), all_reps=REPS, available={"gone", "u1"}, last_turn={})
        assert d.alerted == ("u1",)


def test_decide_uses_first_matching_rule() -> None:
    rules = [
        Rule(id="pricing", url_pattern="/pricing*", rep_ids=("u1",)),
        Rule(id="all", rep_ids=("u2",)),
    ]
    on_pricing = decide(
        rules,
        VisitorContext(url="https://acme.test/pricing"),
        all_reps=REPS,
        available=REPS,
        last_turn={},
    )
    elsewhere = decide(
        rules,
        VisitorContext(url="https://acme.test/blog"),
        all_reps=REPS,
        available=REPS,
        last_turn={},
    )
    assert (on_pricing.queue, on_pricing.alerted) == ("rule:pricing", ("u1",))
    assert (elsewhere.queue, elsewhere.alerted) == ("rule:all", ("u2",))


def test_decide_accepts_a_one_shot_iterable_of_available_reps() -> None:
    d = decide([], VisitorContext(), all_reps=REPS, available=iter(REPS), last_turn={})
    assert d.alerted == REPS


# --------------------------------------------------------------------------- simulation


def _simulate(
    seed: int, chats: int, steady: Sequence[str], flaky: Sequence[str], p_available: float
) -> tuple[list[str], list[set[str]], list[str | None]]:
    """Feed `decide` a stream of chats, recording turns the way services.routing does."""
    rng = random.Random(seed)
    candidates = list(steady) + list(flaky)
    rng.shuffle(candidates)
    rule = Rule(id="rr", rep_ids=tuple(candidates), mode=RouteMode.ROUND_ROBIN)
    all_reps = [*candidates, "not_a_candidate"]
    turns: dict[str, int] = {}
    availability: list[set[str]] = []
    picks: list[str | None] = []
    for _ in range(chats):
        available = set(steady) | {r for r in flaky if rng.random() < p_available}
        available.add("not_a_candidate")
        d = decide(
            [rule], VisitorContext(), all_reps=all_reps, available=available, last_turn=turns
        )
        assert d.queue == "rule:rr"
        assert d.candidates == tuple(candidates)
        assert len(d.alerted) == 1
        chosen = d.alerted[0]
        turns[chosen] = max(turns.values(), default=0) + 1
        availability.append(available)
        picks.append(chosen)
    return candidates, availability, picks


def _check_fifo(
    candidates: Sequence[str], availability: Sequence[set[str]], picks: Sequence[str | None]
) -> None:
    """Independent model: the chosen rep is the available candidate whose last chat is
    oldest; reps never given one come first, in candidate-list order."""
    last: dict[str, int] = {}
    for t, (available, chosen) in enumerate(zip(availability, picks, strict=True)):
        ready = [r for r in candidates if r in available]
        if not ready:
            assert chosen is None
            continue
        never = [r for r in ready if r not in last]
        expected = never[0] if never else min(ready, key=lambda r: last[r])
        assert chosen == expected, f"chat {t}"
        last[chosen] = t


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 42, 1234])
def test_round_robin_simulation_is_fair(seed: int) -> None:
    steady = ["s1", "s2", "s3"]
    flaky = ["f1", "f2", "f3", "f4"]
    candidates, availability, picks = _simulate(seed, 300, steady, flaky, p_available=0.4)
    _check_fifo(candidates, availability, picks)

    # What is guaranteed: between two chats given to the same rep, every rep that was
    # available at the second of them got a chat. For two reps available for every
    # chat this means their chats strictly alternate, so their counts differ by <= 1.
    served_at: dict[str, list[int]] = {}
    for t, rep in enumerate(picks):
        assert rep is not None
        served_at.setdefault(rep, []).append(t)
    for rep, times in served_at.items():
        for before, after in itertools.pairwise(times):
            between = set(picks[before + 1 : after])
            for other in availability[after] & set(candidates) - {rep}:
                assert other in between, (rep, other, before, after)

    for a in steady:
        for b in steady:
            if a < b:
                seq = [p for p in picks if p in (a, b)]
                assert all(x != y for x, y in itertools.pairwise(seq)), (a, b)
    counts = Counter(picks)
    steady_counts = [counts[r] for r in steady]
    assert max(steady_counts) - min(steady_counts) <= 1
    # Flaky reps get no more than the steady ones: whenever a flaky rep is picked
    # twice, every steady rep was picked in between.
    for rep in flaky:
        assert counts[rep] <= min(steady_counts) + 1
    assert sum(counts.values()) == 300
    assert "not_a_candidate" not in counts


def test_round_robin_simulation_without_steady_reps_matches_model() -> None:
    candidates, availability, picks = _simulate_allow_empty(seed=7)
    _check_fifo(candidates, availability, picks)
    assert None in picks  # the seed produces some chats with nobody available


def _simulate_allow_empty(seed: int) -> tuple[list[str], list[set[str]], list[str | None]]:
    rng = random.Random(seed)
    candidates = ["a", "b", "c"]
    rule = Rule(id="rr", rep_ids=tuple(candidates))
    turns: dict[str, int] = {}
    availability: list[set[str]] = []
    picks: list[str | None] = []
    for _ in range(300):
        available = {r for r in candidates if rng.random() < 0.3}
        d = decide(
            [rule], VisitorContext(), all_reps=candidates, available=available, last_turn=turns
        )
        chosen = d.alerted[0] if d.alerted else None
        assert len(d.alerted) == (1 if available else 0)
        if chosen is not None:
            turns[chosen] = max(turns.values(), default=0) + 1
        availability.append(available)
        picks.append(chosen)
    return candidates, availability, picks


# --------------------------------------------------------------------------- properties

rep_names = st.sampled_from([f"r{i}" for i in range(8)])


@settings(max_examples=300)
@given(
    candidates=st.lists(rep_names, unique=True, max_size=8),
    all_reps=st.lists(rep_names, unique=True, max_size=8),
    available=st.sets(rep_names),
    last_turn=st.dictionaries(rep_names, st.integers(min_value=-5, max_value=50)),
    mode=st.sampled_from(list(RouteMode)),
)
def test_decide_alerts_only_available_candidates(
    candidates: list[str],
    all_reps: list[str],
    available: set[str],
    last_turn: Mapping[str, int],
    mode: RouteMode,
) -> None:
    rule = Rule(id="r", rep_ids=tuple(candidates), mode=mode)
    d = decide(
        [rule], VisitorContext(), all_reps=all_reps, available=available, last_turn=last_turn
    )
    eligible = [r for r in candidates if r in available and r in all_reps]
    assert d.candidates == tuple(candidates)
    assert set(d.alerted) <= set(eligible)
    if mode is RouteMode.EVERYONE:
        assert d.alerted == tuple(eligible)
    else:
        assert len(d.alerted) == (1 if eligible else 0)
        if eligible:
            chosen = d.alerted[0]
            assert chosen in candidates
            assert chosen in available
            assert last_turn.get(chosen, -1) == min(last_turn.get(r, -1) for r in eligible)


@given(
    candidates=st.lists(rep_names, unique=True, max_size=8),
    available=st.sets(rep_names),
    last_turn=st.dictionaries(rep_names, st.integers(min_value=0, max_value=50)),
)
def test_pick_round_robin_chooses_an_available_candidate(
    candidates: list[str], available: set[str], last_turn: Mapping[str, int]
) -> None:
    chosen = pick_round_robin(candidates, available, last_turn)
    ready = [r for r in candidates if r in available]
    if not ready:
        assert chosen is None
    else:
        assert chosen in ready
