"""Unit tests for who may claim, write in and close a conversation (pounce.domain.ownership)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from pounce.domain.model import Actor, ConversationStatus, Role
from pounce.domain.ownership import (
    ConversationState,
    Refusal,
    can_see,
    claim_refusal,
    close_refusal,
    send_refusal,
)

ORG = "org_a"
OTHER_ORG = "org_b"
ME = "u_me"
SOMEONE = "u_other"

REP = Actor(user_id=ME, org_id=ORG, role=Role.REP)
ADMIN = Actor(user_id=ME, org_id=ORG, role=Role.ADMIN)
OUTSIDER_REP = Actor(user_id=ME, org_id=OTHER_ORG, role=Role.REP)
OUTSIDER_ADMIN = Actor(user_id=ME, org_id=OTHER_ORG, role=Role.ADMIN)


def conv(status: ConversationStatus, owner: str | None) -> ConversationState:
    return ConversationState(org_id=ORG, status=status, owner_id=owner)


OPEN = ConversationStatus.OPEN
ACTIVE = ConversationStatus.ACTIVE
CLOSED = ConversationStatus.CLOSED

Check = Callable[[Actor, ConversationState], Refusal | None]

# --------------------------------------------------------------------------- named cases


def test_claim_unowned_open_conversation() -> None:
    assert claim_refusal(REP, conv(OPEN, None)) is None
    assert claim_refusal(ADMIN, conv(OPEN, None)) is None


def test_claim_taken_by_someone_else() -> None:
    assert claim_refusal(REP, conv(ACTIVE, SOMEONE)) is Refusal.ALREADY_TAKEN
    assert claim_refusal(ADMIN, conv(ACTIVE, SOMEONE)) is Refusal.ALREADY_TAKEN


def test_owner_may_reclaim_idempotently() -> None:
    state = conv(ACTIVE, ME)
    assert claim_refusal(REP, state) is None
    assert claim_refusal(REP, state) is None


def test_claim_closed() -> None:
    assert claim_refusal(REP, conv(CLOSED, None)) is Refusal.CLOSED
    assert claim_refusal(REP, conv(CLOSED, ME)) is Refusal.CLOSED
    assert claim_refusal(REP, conv(CLOSED, SOMEONE)) is Refusal.CLOSED


def test_send_only_by_owner() -> None:
    assert send_refusal(REP, conv(ACTIVE, ME)) is None
    assert send_refusal(REP, conv(ACTIVE, SOMEONE)) is Refusal.NOT_OWNER
    assert send_refusal(ADMIN, conv(ACTIVE, SOMEONE)) is Refusal.NOT_OWNER
    assert send_refusal(REP, conv(OPEN, None)) is Refusal.NOT_OWNER
    assert send_refusal(REP, conv(CLOSED, ME)) is Refusal.CLOSED


def test_admin_may_close_others_conversations_rep_may_not() -> None:
    assert close_refusal(ADMIN, conv(ACTIVE, SOMEONE)) is None
    assert close_refusal(ADMIN, conv(OPEN, None)) is None
    assert close_refusal(REP, conv(ACTIVE, SOMEONE)) is Refusal.NOT_OWNER
    assert close_refusal(REP, conv(OPEN, None)) is Refusal.NOT_OWNER
    assert close_refusal(REP, conv(ACTIVE, ME)) is None


def test_other_org_is_not_found_even_when_closed_or_owned() -> None:
    """Another org's conversation must not leak its state, not even that it is closed."""
    foreign = ConversationState(org_id=OTHER_ORG, status=CLOSED, owner_id=ME)
    for actor in (REP, ADMIN):
        for check in (claim_refusal, send_refusal, close_refusal):
            assert check(actor, foreign) is Refusal.NOT_FOUND


def test_can_see() -> None:
    state = conv(ACTIVE, SOMEONE)
    assert can_see(REP, state)
    assert can_see(ADMIN, state)
    assert not can_see(OUTSIDER_REP, state)
    assert not can_see(OUTSIDER_ADMIN, state)


def test_routed_to_does_not_change_decisions() -> None:
    plain = conv(OPEN, None)
    routed = ConversationState(org_id=ORG, status=OPEN, owner_id=None, routed_to=(SOMEONE,))
    for actor in (REP, ADMIN):
        for check in (claim_refusal, send_refusal, close_refusal):
            assert check(actor, plain) == check(actor, routed)


# --------------------------------------------------------------------------- every combination

ACTORS = {
    "rep": REP,
    "admin": ADMIN,
    "outsider_rep": OUTSIDER_REP,
    "outsider_admin": OUTSIDER_ADMIN,
}
OWNERS = {"unowned": None, "mine": ME, "theirs": SOMEONE}

# (actor, owner) -> expected, for a conversation that is in the actor's org and not closed.
CLAIM = {
    ("rep", "unowned"): None,
    ("rep", "mine"): None,
    ("rep", "theirs"): Refusal.ALREADY_TAKEN,
    ("admin", "unowned"): None,
    ("admin", "mine"): None,
    ("admin", "theirs"): Refusal.ALREADY_TAKEN,
}
SEND = {
    ("rep", "unowned"): Refusal.NOT_OWNER,
    ("rep", "mine"): None,
    ("rep", "theirs"): Refusal.NOT_OWNER,
    ("admin", "unowned"): Refusal.NOT_OWNER,
    ("admin", "mine"): None,
    ("admin", "theirs"): Refusal.NOT_OWNER,
}
CLOSE = {
    ("rep", "unowned"): Refusal.NOT_OWNER,
    ("rep", "mine"): None,
    ("rep", "theirs"): Refusal.NOT_OWNER,
    ("admin", "unowned"): None,
    ("admin", "mine"): None,
    ("admin", "theirs"): None,
}


def _expected(
    table: dict[tuple[str, str], Refusal | None], actor: str, status: ConversationStatus, owner: str
) -> Refusal | None:
    if actor.startswith("outsider"):
        return Refusal.NOT_FOUND
    if status is CLOSED:
        return Refusal.CLOSED
    return table[(actor, owner)]


CASES = [
    pytest.param(
        check,
        table,
        actor,
        status,
        owner,
        id=f"{check.__name__}-{actor}-{status}-{owner}",
    )
    for (check, table), actor, status, owner in itertools.product(
        [(claim_refusal, CLAIM), (send_refusal, SEND), (close_refusal, CLOSE)],
        ACTORS,
        list(ConversationStatus),
        OWNERS,
    )
]


@pytest.mark.parametrize(("check", "table", "actor", "status", "owner"), CASES)
def test_every_combination(
    check: Check,
    table: dict[tuple[str, str], Refusal | None],
    actor: str,
    status: ConversationStatus,
    owner: str,
) -> None:
    state = conv(status, OWNERS[owner])
    assert check(ACTORS[actor], state) == _expected(table, actor, status, owner)
